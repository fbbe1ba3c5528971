/* A stand-in for Facebook's fbevents.js in the banner demo: served by us, it contacts nobody.
 * It sets the _fbp cookie the real pixel sets, so a test can see it only after consent. */
(function () {
  var w = window;
  document.cookie = '_fbp=fb.1.' + Date.now() + '.' + Math.floor(Math.random() * 1e9) + '; path=/; max-age=7776000; SameSite=Lax';
  w.__standins = w.__standins || {};
  w.__standins.facebook = true;
  var status = document.getElementById('tag-facebook');
  if (status) status.textContent = status.getAttribute('data-loaded');
})();
