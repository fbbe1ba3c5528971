/* What a site puts after gtag.js; a file, because the pages allow no inline script. */
window.gtag('js', new Date());
window.gtag('config', 'G-DEMO000000');
window.__standins.googleConfigured = true;
