/* Helpers shared by the local pages' scripts (local.js, partner.js, mailbox.js): look up an
 * element, make one whose text is set as text (never HTML), and call the control API. */
window.RefDeskLocal = (function () {
  'use strict';

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  async function api(method, path, body) {
    var opts = { method: method, headers: {}, cache: 'no-store' };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    var res = await fetch('/_local/api' + path, opts);
    var data = null;
    try { data = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) {
      var msg = data && (data.error && (data.error.message || data.error)) || res.statusText;
      throw new Error(res.status + ' ' + (typeof msg === 'string' ? msg : JSON.stringify(msg)));
    }
    return data || {};
  }
  return { $: $, el: el, api: api };
}());
