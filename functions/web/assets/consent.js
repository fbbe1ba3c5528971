/* Infentre's cookie banner. Load it first and synchronously in <head>, before any tag:
 *   <script src="https://<infentre>/consent.js"></script>
 *   <link rel="stylesheet" href="https://<infentre>/consent.css">
 * It sets Google Consent Mode v2 defaults (everything denied), keeps
 * <script type="text/plain" data-consent="analytics|marketing"> inert until that purpose is
 * granted, records the choice through POST /v1/cookie-consents, asks again when the privacy
 * notice's version changes or the choice is 13 months old, honours Global Privacy Control
 * (marketing stays off), and reopens from any element with data-consent-settings.
 * It sets no cookie itself and contacts nobody but the server it was loaded from. */
(function (config) {
  'use strict';
  var w = window, d = document;
  if (!config || w.InfentreConsent) return;
  var KEY = 'infentre_consent';
  var LIFETIME_MS = 395 * 864e5;
  var PURPOSES = ['analytics', 'marketing'];
  var me = d.currentScript;
  var origin = me && me.src ? new URL(me.src, location.href).origin : location.origin;
  var gpc = navigator.globalPrivacyControl === true;

  // Consent Mode v2 defaults, before any tag can read them.
  w.dataLayer = w.dataLayer || [];
  if (typeof w.gtag !== 'function') {
    w.gtag = function () { w.dataLayer.push(arguments); };
  }
  w.gtag('consent', 'default', {
    ad_storage: 'denied',
    analytics_storage: 'denied',
    ad_user_data: 'denied',
    ad_personalization: 'denied',
    wait_for_update: 500
  });

  function stored() {
    try { return JSON.parse(w.localStorage.getItem(KEY) || 'null'); } catch (e) { return null; }
  }
  function save() {
    try { w.localStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* private mode: asked again next time */ }
  }
  var previous = stored();
  // A choice counts only under the notice version it was made under, and for 13 months.
  var state = previous && previous.version === config.version && Date.now() - previous.at < LIFETIME_MS ? previous : null;
  var visitorId = previous && previous.visitor_id;
  if (state && gpc) state.marketing = false;

  function signals(s) {
    var m = s.marketing ? 'granted' : 'denied';
    return { analytics_storage: s.analytics ? 'granted' : 'denied', ad_storage: m, ad_user_data: m, ad_personalization: m };
  }
  if (state) w.gtag('consent', 'update', signals(state));

  // Blocked scripts run, in document order, once their purpose is granted.
  function activate() {
    var blocked = d.querySelectorAll('script[type="text/plain"][data-consent]');
    for (var i = 0; i < blocked.length; i++) {
      var old = blocked[i];
      if (!state || state[old.getAttribute('data-consent')] !== true) continue;
      var s = d.createElement('script');
      for (var j = 0; j < old.attributes.length; j++) {
        var a = old.attributes[j];
        if (a.name !== 'type') s.setAttribute(a.name, a.value);
      }
      s.async = false;
      if (!old.src) s.text = old.text;
      old.parentNode.replaceChild(s, old);
    }
  }

  function record() {
    var body = { analytics: state.analytics, marketing: state.marketing };
    if (visitorId) body.visitor_id = visitorId;
    return fetch(origin + '/v1/cookie-consents', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      keepalive: true
    }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then(function (answer) {
      visitorId = state.visitor_id = answer.visitor_id;
      state.receipt_id = answer.receipt_id;
      state.recorded = true;
      save();
    }).catch(function () { /* kept here, recorded on the next page */ });
  }

  var texts = config.texts;
  var lang = ((me && me.getAttribute('data-lang')) || d.documentElement.lang || 'en').slice(0, 2).toLowerCase();
  var t = texts[lang] || texts.en;
  var banner, panel, boxes = {}, status;

  function el(tag, attrs, text) {
    var e = d.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text) e.textContent = text;
    return e;
  }
  function button(id, text, onclick) {
    var b = el('button', { type: 'button', 'class': 'ic-button', 'data-action': id }, text);
    b.addEventListener('click', onclick);
    return b;
  }
  function option(id, label, desc, checked, disabled) {
    var row = el('div', { 'class': 'ic-option' });
    var box = el('input', { type: 'checkbox', id: 'ic-' + id, 'aria-describedby': 'ic-' + id + '-desc' });
    box.checked = checked;
    box.disabled = disabled;
    row.appendChild(box);
    row.appendChild(el('label', { 'for': 'ic-' + id }, label));
    row.appendChild(el('p', { id: 'ic-' + id + '-desc', 'class': 'ic-desc' }, desc));
    panel.appendChild(row);
    return box;
  }

  function build() {
    banner = el('div', { id: 'infentre-consent', 'class': 'ic-banner', role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': 'ic-title', 'aria-describedby': 'ic-text', lang: lang });
    banner.hidden = true;
    banner.appendChild(el('h2', { id: 'ic-title' }, t.title));
    var p = el('p', { id: 'ic-text' }, t.text + ' ');
    p.appendChild(el('a', { href: config.privacy_url }, t['policy-link']));
    banner.appendChild(p);
    if (gpc) banner.appendChild(el('p', { 'class': 'ic-gpc', id: 'ic-gpc' }, t.gpc));
    panel = el('div', { 'class': 'ic-panel', id: 'ic-panel' });
    panel.hidden = true;
    option('necessary', t.necessary + ' (' + t['always-on'] + ')', t['necessary-desc'], true, true);
    boxes.analytics = option('analytics', t.analytics, t['analytics-desc'], false, false);
    boxes.marketing = option('marketing', t.marketing, t['marketing-desc'], false, gpc);
    panel.appendChild(button('save', t.save, function () { choose(boxes.analytics.checked, boxes.marketing.checked); }));
    banner.appendChild(panel);
    var actions = el('div', { 'class': 'ic-actions' });
    actions.appendChild(button('accept', t.accept, function () { choose(true, true); }));
    actions.appendChild(button('reject', t.reject, function () { choose(false, false); }));
    var more = button('choose', t.choose, function () {
      panel.hidden = !panel.hidden;
      more.setAttribute('aria-expanded', String(!panel.hidden));
      if (!panel.hidden) boxes.analytics.focus();
    });
    more.setAttribute('aria-expanded', 'false');
    more.setAttribute('aria-controls', 'ic-panel');
    actions.appendChild(more);
    banner.appendChild(actions);
    status = el('p', { 'class': 'ic-status', role: 'status' });
    d.body.insertBefore(status, d.body.firstChild);
    d.body.insertBefore(banner, d.body.firstChild);
  }

  function open(focus) {
    if (!banner) build();
    boxes.analytics.checked = !!(state && state.analytics);
    boxes.marketing.checked = !!(state && state.marketing) && !gpc;
    banner.hidden = false;
    if (focus) banner.querySelector('.ic-actions button').focus();
  }

  function choose(analytics, marketing) {
    var withdrawn = state && PURPOSES.some(function (p) { return state[p] && !(p === 'analytics' ? analytics : marketing); });
    state = { version: config.version, at: Date.now(), analytics: !!analytics, marketing: !!marketing && !gpc, visitor_id: visitorId, recorded: false };
    save();
    w.gtag('consent', 'update', signals(state));
    banner.hidden = true;
    status.textContent = t.saved;
    activate();
    var done = record();
    // A tag that already ran stops only with a new page.
    if (withdrawn) done.then(function () { location.reload(); });
  }

  function start() {
    if (state) {
      activate();
      if (!state.recorded) record();
    } else {
      open(false);
    }
    d.addEventListener('click', function (e) {
      var target = e.target && e.target.closest && e.target.closest('[data-consent-settings]');
      if (target) {
        e.preventDefault();
        open(true);
      }
    });
  }

  w.InfentreConsent = {
    open: function () { open(true); },
    choice: function () { return state ? { analytics: state.analytics, marketing: state.marketing, version: state.version } : null; }
  };
  if (d.readyState === 'loading') d.addEventListener('DOMContentLoaded', start); else start();
})(/*CONFIG*/);
