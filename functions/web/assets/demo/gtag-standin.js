/* A stand-in for Google's gtag.js in the banner demo: served by us, it contacts nobody. Like
 * the real tag it reads the consent state from dataLayer and sets its cookie only when
 * analytics_storage is granted. */
(function () {
  var w = window, consent = {};
  (w.dataLayer || []).forEach(function (entry) {
    if (entry && entry[0] === 'consent') Object.assign(consent, entry[2]);
  });
  w.__standins = w.__standins || {};
  w.__standins.google = { consent: consent };
  if (consent.analytics_storage === 'granted') {
    document.cookie = '_ga=GA1.1.' + Math.floor(Math.random() * 1e9) + '.' + Math.floor(Date.now() / 1000) + '; path=/; max-age=63072000; SameSite=Lax';
  }
  var status = document.getElementById('tag-google');
  if (status) status.textContent = status.getAttribute('data-loaded');
})();
