/*! RefDesk chat widget: <script src="https://CACHE/widget.js" data-api="https://API" data-library="Name" async></script>
 * Options: README. ES2017, no dependencies. All text via textContent. */
(function () {
'use strict';
if (window.RefDeskWidget) return;

var script = document.currentScript;
var ds = (script && script.dataset) || {};
var scriptUrl = new URL((script && script.src) || location.href, location.href);
var API = (ds.api ? new URL(ds.api, scriptUrl).href : scriptUrl.origin).replace(/\/+$/, '');
var presenceAt = ds.api ? new URL('.', scriptUrl).href.replace(/\/+$/, '') : API;
var TITLE = ds.title || 'Ask a librarian';
var LIBRARY = ds.library || '';
var LEFT = ds.position === 'left';
var ALT = ds.contact !== 'off';
var FULL = ds.layout === 'page'; // the panel is the page: open, no launcher (a direct chat link)
var PRESENCE_MS = Math.max(1, parseFloat(ds.presenceInterval) || 60) * 1000;
var POLL_OPEN = 1e4, POLL_CLOSED = 2e4, POLL_HIDDEN = 6e4, LIVE_TRIES = 3, PING_MS = 3e5;
var TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf'], MAXF = 10485760; // what the server takes too
var KEY = 'refdesk.session', VKEY = 'refdesk.visitor', IKEY = 'refdesk.invited', MAX = 2000, KEEP = 200, PAGE = 100, ENDED = 'This chat has ended', AWAY = 'No librarian is online right now'; // PAGE: a GET's most messages

// Undo the host page's element rules first.
var CSS = `
.refdesk-root,.refdesk-root *{all:revert;box-sizing:border-box}
.refdesk-root{font:15px/1.45 system-ui,"Segoe UI",Roboto,Arial,sans-serif;color:#1f2328;text-align:left;letter-spacing:normal}
.refdesk-root [hidden]{display:none!important}
.refdesk-root button,.refdesk-root input,.refdesk-root textarea{font:inherit;margin:0;text-transform:none;letter-spacing:normal}
.refdesk-root :focus-visible{outline:3px solid #111827;outline-offset:2px}
.refdesk-head :focus-visible,.refdesk-launcher:focus-visible{outline-color:#f5b400}
.refdesk-head a{color:#fff}
.refdesk-sr{position:absolute!important;width:1px;height:1px;margin:-1px;padding:0;border:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.refdesk-launcher{position:fixed;bottom:20px;right:20px;z-index:2147483000;display:inline-flex;align-items:center;gap:10px;max-width:calc(100vw - 40px);padding:12px 18px;border:0;border-radius:999px;background:#4b5563;color:#fff;font-weight:600;cursor:pointer;box-shadow:0 4px 14px #0000004d;text-align:left}
.refdesk-launcher.refdesk-on{background:#1d4e89}
.refdesk-dot{flex:none;width:12px;height:12px;border-radius:50%;background:#c7ccd3;box-shadow:0 0 0 2px #ffffffd9}
.refdesk-on .refdesk-dot{background:#22c55e}
.refdesk-badge{flex:none;min-width:22px;padding:1px 7px;border-radius:11px;background:#d92d20;color:#fff;font-size:13px;text-align:center}
.refdesk-panel{position:fixed;bottom:88px;right:20px;z-index:2147483001;display:flex;flex-direction:column;width:370px;max-width:calc(100vw - 40px);height:560px;max-height:calc(100vh - 108px);background:#fff;border-radius:12px;box-shadow:0 12px 40px #00000047;overflow:hidden}
.refdesk-left .refdesk-launcher,.refdesk-left .refdesk-panel,.refdesk-left .refdesk-invite{left:20px;right:auto}
.refdesk-head{display:flex;align-items:flex-start;gap:8px;padding:12px 12px 12px 16px;background:#1d4e89;color:#fff}
.refdesk-head>div{flex:1;min-width:0}
.refdesk-title{margin:0;font-size:17px;line-height:1.3}
.refdesk-lib,.refdesk-state{margin:2px 0 0;font-size:13px;color:#dbe6f5}
.refdesk-close{flex:none;width:36px;height:36px;border:0;border-radius:8px;background:transparent;color:#fff;font-size:24px;line-height:1;cursor:pointer}
.refdesk-notice{margin:0;padding:8px 16px;background:#fff7e0;color:#5c4400;font-size:13px;border-bottom:1px solid #f0e0b0}
.refdesk-log{flex:1;overflow-y:auto;padding:12px;background:#f5f6f8;display:flex;flex-direction:column;gap:8px}
.refdesk-intro{margin:auto 0 0;color:#4b5563;font-size:14px;text-align:center}
.refdesk-msg{max-width:85%;padding:8px 11px;border-radius:12px;background:#fff;border:1px solid #dfe3e8;align-self:flex-start;overflow-wrap:anywhere}
.refdesk-me{align-self:flex-end;background:#dce8f7;border-color:#c3d6ee}
.refdesk-sys{align-self:center;max-width:95%;background:#eef0f3;border-color:#e1e4e8;font-size:14px}
.refdesk-end{align-self:center;color:#4b5563;font-size:13px;font-style:italic}
.refdesk-who{display:block;font-size:12px;font-weight:700;color:#374151}
.refdesk-text{white-space:pre-wrap}
.refdesk-meta{display:block;margin-top:2px;font-size:12px;color:#4b5563}
.refdesk-pending{opacity:.75}
.refdesk-failed{border-color:#d92d20}
.refdesk-failed .refdesk-meta{color:#b42318}
.refdesk-text a,.refdesk-alt a,.refdesk-link{color:#0b4ea2;text-decoration:underline}
.refdesk-link{padding:0;border:0;background:none;cursor:pointer;font-size:12px}
.refdesk-compose,.refdesk-ended{padding:10px 12px 12px;border-top:1px solid #dfe3e8;background:#fff}
.refdesk-row{display:flex;gap:8px;align-items:flex-end}
.refdesk-root textarea,.refdesk-root input{display:block;width:100%;padding:8px 10px;border:1px solid #8a94a3;border-radius:8px;background:#fff;color:#1f2328}
.refdesk-root textarea{resize:none;min-height:44px;max-height:140px}
.refdesk-btn{flex:none;padding:9px 16px;border:0;border-radius:8px;background:#1d4e89;color:#fff;font-weight:600;cursor:pointer}
.refdesk-btn:hover{background:#163d6c}
.refdesk-att{flex:none;width:40px;height:44px;padding:0;border:1px solid #8a94a3;border-radius:8px;background:#fff;color:#1d4e89;cursor:pointer}
.refdesk-att svg{display:block;width:22px;height:22px;margin:auto;fill:currentColor}
.refdesk-file{display:block;margin-top:4px}
.refdesk-file img{display:block;height:120px;max-width:100%;object-fit:contain;border-radius:6px}
.refdesk-compose .refdesk-err{margin:4px 0 0}
.refdesk-hint{display:flex;justify-content:space-between;gap:8px;margin-top:4px;font-size:12px;color:#4b5563}
.refdesk-hint>span+span{white-space:nowrap}
.refdesk-warn{color:#b42318;font-weight:600}
.refdesk-form{flex:1;overflow-y:auto;padding:14px 16px 16px}
.refdesk-form p{margin:0 0 10px}
.refdesk-form label{display:block;margin:10px 0 4px;font-weight:600;font-size:14px}
.refdesk-form .refdesk-btn{margin-top:14px;width:100%}
.refdesk-opt{font-weight:400;color:#4b5563}
.refdesk-err{margin:8px 0 0;color:#b42318;font-size:14px}
.refdesk-rate,.refdesk-mail{margin:0 0 10px}
.refdesk-rate .refdesk-link{min-width:32px;min-height:32px;margin-right:4px;border:1px solid #8a94a3;border-radius:6px;font-size:14px;text-decoration:none}
.refdesk-rate [aria-pressed="true"]{background:#1d4e89;color:#fff}
.refdesk-rate label,.refdesk-mail label{display:block;margin:8px 0 4px;font-size:14px}
.refdesk-rate .refdesk-btn{margin-top:6px}
.refdesk-alt,.refdesk-del{margin:0;padding:6px 12px;border-top:1px solid #dfe3e8;background:#fff;color:#4b5563;font-size:13px;text-align:center}
.refdesk-root [aria-invalid="true"]{border-color:#b42318;border-width:2px}
.refdesk-invite{position:fixed;bottom:80px;right:20px;z-index:2147483000;max-width:calc(100vw - 40px);padding:12px 14px;border-radius:12px;background:#fff;box-shadow:0 8px 28px #00000047}
.refdesk-invite p{margin:0 0 8px}
.refdesk-invite .refdesk-link{margin-left:12px;font-size:14px}
@media (prefers-reduced-motion:no-preference){.refdesk-invite{animation:refdesk-in .3s ease-out}}
@keyframes refdesk-in{from{opacity:0;transform:translateY(10px)}}
.refdesk-full .refdesk-panel{top:0;left:0;right:0;bottom:0;width:100%;max-width:none;height:100%;max-height:none;border-radius:0;box-shadow:none}
@media (max-width:480px){.refdesk-panel,.refdesk-left .refdesk-panel{top:0;left:0;right:0;bottom:0;width:100%;max-width:none;height:100%;max-height:none;border-radius:0}
.refdesk-launcher{bottom:12px;right:12px;max-width:calc(100vw - 24px);padding:10px 14px;font-size:14px}.refdesk-left .refdesk-launcher{left:12px}}`;

function blank() { return { session_id: null, token: null, live_url: null, cursor: null, closed: false, rated: false, unread: 0, open: false, msgs: [] }; }
var st = blank();
try {
  var saved = JSON.parse(window.sessionStorage.getItem(KEY) || 'null');
  if (saved && typeof saved === 'object') {
    st = Object.assign(blank(), saved);
    st.msgs = (Array.isArray(st.msgs) ? st.msgs : []).filter((m) => m && typeof m.key === 'string');
    if (!st.session_id || !st.token) { st.session_id = st.token = st.live_url = st.cursor = null; }
  }
} catch (e) { /* start fresh */ }

function save() {
  try {
    if (st.session_id || st.msgs.length) window.sessionStorage.setItem(KEY, JSON.stringify(st));
    else window.sessionStorage.removeItem(KEY);
  } catch (e) { /* ignore */ }
}

var presence = null, isOpen = false, pollTimer = null, polling = false, pollFailures = 0, idlePolls = 0, sending = false;
var ws = null, wsFails = 0, wsTimer = null, catchUp = null; // catchUp: a socket not yet caught up

function el(tag, attrs, kids) {
  var e = document.createElement(tag);
  Object.keys(attrs || {}).forEach((k) => {
    var v = attrs[k];
    if (v == null || v === false) return;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  });
  (kids || []).forEach((c) => { if (c) e.append(c); });
  return e;
}
function uuid() { // randomUUID needs a secure context
  if (crypto.randomUUID) return crypto.randomUUID();
  return '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) => (c ^ crypto.getRandomValues(new Uint8Array(1))[0] & 15 >> c / 4).toString(16));
}
// A returning visitor's random id, kept until the patron deletes (none without localStorage).
function visitor() {
  try {
    var v = localStorage.getItem(VKEY);
    if (!/^[\w-]{22,64}$/.test(v || '')) localStorage.setItem(VKEY, v = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24)))).replace(/\+/g, '-').replace(/\//g, '_'));
    return v;
  } catch (e) { return undefined; }
}
function clip() { // a paperclip
  var ns = 'http://www.w3.org/2000/svg', svg = document.createElementNS(ns, 'svg'), path = document.createElementNS(ns, 'path');
  svg.setAttribute('viewBox', '0 0 24 24'); svg.setAttribute('aria-hidden', 'true'); svg.setAttribute('focusable', 'false');
  var d = 'M16.5 6v11.5a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10.5a1 1 0 0 1-2 0V6H10v9.5a2.5 2.5 0 0 0 5 0V5a4 4 0 0 0-8 0v12.5a5.5 5.5 0 0 0 11 0V6z';
  path.setAttribute('d', d); path.style.d = 'path("' + d + '")'; // where d is a CSS property, the reset (all:revert) drops the attribute
  svg.append(path);
  return svg;
}
var sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// http(s) links made clickable, from text nodes only (never HTML).
function fillText(node, text) {
  var re = /\bhttps?:\/\/[^\s<>"']+/gi, i = 0, m;
  while ((m = re.exec(text))) {
    var url = m[0].replace(/[.,;:!?)\]}]+$/, '');
    node.append(text.slice(i, m.index), el('a', { href: url, target: '_blank', rel: 'noopener noreferrer nofollow', text: url }));
    i = m.index + url.length; re.lastIndex = i;
  }
  node.append(text.slice(i));
}
function dateText(iso, opts) {
  var d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleString([], Object.assign({ hour: 'numeric', minute: '2-digit' }, opts));
}

function retryAfter(v) {
  var s = parseFloat(v);
  if (isNaN(s) && v) s = (Date.parse(v) - Date.now()) / 1000;
  return Math.min(300, Math.max(1, isNaN(s) ? 5 : s)) * 1000;
}
async function api(method, path, body, auth, at) {
  var headers = {};
  if (body) headers['Content-Type'] = 'application/json';
  if (auth) headers.Authorization = 'Bearer ' + st.token;
  var ctl = new AbortController(), timer = setTimeout(() => ctl.abort(), 2e4);
  try {
    var res = await fetch((at || API) + path, {
      method, headers, credentials: 'omit', cache: 'no-store',
      body: body && JSON.stringify(body), signal: ctl.signal
    });
    var data = await res.json().catch(() => null);
    return { status: res.status, data: data || {}, wait: retryAfter(res.headers.get('Retry-After')) };
  } catch (e) {
    return { status: 0, data: {}, wait: 0 };
  } finally { clearTimeout(timer); }
}
function errText(r, fallback) {
  var e = r.data.error;
  return (e && typeof e.message === 'string' && e.message) || fallback;
}
var base = () => '/chat/sessions/' + encodeURIComponent(st.session_id), sessionPath = () => base() + '/messages';

var root, launcher, launchLabel, badge, panel, stateLine, notice, log, intro, logEnd;
var compose, ta, counter, ended, rate, mail, del, form, fq, fc, fn, fErr, alt, altKey;
var nodes = {}, blobs = {}, thumbs = {}; // message key -> element; a file picked on this page, its picture's object URL
var picker, attach, fileErr;

function build() {
  document.head.appendChild(el('style', { text: CSS }));

  badge = el('span', { class: 'refdesk-badge', hidden: true });
  launchLabel = el('span', { text: TITLE });
  launcher = el('button', {
    type: 'button', class: 'refdesk-launcher', 'aria-expanded': 'false', 'aria-controls': 'refdesk-panel', hidden: FULL,
    onclick: () => (isOpen ? close() : open(true))
  }, [el('span', { class: 'refdesk-dot', 'aria-hidden': 'true' }), launchLabel, badge]);

  stateLine = el('p', { class: 'refdesk-state' });
  var head = el('div', { class: 'refdesk-head' }, [
    el('div', null, [
      el('h2', { class: 'refdesk-title', id: 'refdesk-title', text: TITLE }),
      LIBRARY ? el('p', { class: 'refdesk-lib', text: LIBRARY }) : null,
      stateLine,
      el('p', { class: 'refdesk-lib' }, [el('a', { href: API + '/privacy.html', target: '_blank', text: 'Privacy' })])
    ]),
    FULL ? null : el('button', { type: 'button', class: 'refdesk-close', 'aria-label': 'Close chat', onclick: () => { close(); } },
      [el('span', { 'aria-hidden': 'true', text: '\u00d7' })])
  ]);

  notice = el('p', { class: 'refdesk-notice', hidden: true });
  intro = el('p', { class: 'refdesk-intro', text: 'Ask us anything \u2014 a librarian' + (LIBRARY ? ' at ' + LIBRARY : '') + ' will answer right here.' });
  logEnd = el('div', { 'aria-hidden': 'true' });
  log = el('div', { class: 'refdesk-log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': 'Conversation', tabindex: '0' }, [intro, logEnd]);

  ta = el('textarea', {
    id: 'refdesk-input', rows: '2', maxlength: String(MAX), placeholder: 'Type your question',
    'aria-describedby': 'refdesk-keys refdesk-count', oninput: onInput, onkeydown: onKey
  });
  counter = el('span', { id: 'refdesk-count', text: '0 / ' + MAX });
  compose = el('form', { class: 'refdesk-compose', novalidate: true, onsubmit: onSend }, [
    el('label', { for: 'refdesk-input', class: 'refdesk-sr', text: 'Type your question' }),
    el('div', { class: 'refdesk-row' }, [ta, attach = el('button', { type: 'button', class: 'refdesk-att', 'aria-label': 'Attach a picture or PDF', title: 'Attach a picture or PDF', onclick: () => picker.click() }, [clip()]),
      el('button', { type: 'submit', class: 'refdesk-btn', text: 'Send' })]),
    picker = el('input', { type: 'file', accept: TYPES.join(), hidden: true, tabindex: '-1', onchange: onPick }),
    fileErr = el('p', { class: 'refdesk-err', role: 'alert' }),
    el('div', { class: 'refdesk-hint' }, [el('span', { id: 'refdesk-keys', text: 'Enter to send, Shift+Enter for a new line' }), counter])
  ]);
  ended = el('div', { class: 'refdesk-ended', hidden: true }, [
    rate = el('form', { class: 'refdesk-rate', novalidate: true, onsubmit: onRate }),
    mail = el('form', { class: 'refdesk-mail', novalidate: true, onsubmit: onMail }, [
      el('label', { for: 'refdesk-em', text: 'E-mail me this conversation' }),
      el('div', { class: 'refdesk-row' }, [el('input', { id: 'refdesk-em', type: 'email', autocomplete: 'email', maxlength: '254' }), el('button', { type: 'submit', class: 'refdesk-btn', text: 'Send' })]),
      el('p', { role: 'status' })]),
    el('button', { type: 'button', class: 'refdesk-btn', text: 'Start a new chat', onclick: newChat })
  ]);

  fq = el('textarea', { id: 'refdesk-fq', rows: '4', maxlength: String(MAX), required: true });
  fc = el('input', { id: 'refdesk-fc', type: 'text', required: true, autocomplete: 'email', maxlength: '200'});
  fn = el('input', { id: 'refdesk-fn', type: 'text', autocomplete: 'name', maxlength: '200' });
  fErr = el('p', { class: 'refdesk-err', role: 'alert' });
  form = el('form', { class: 'refdesk-form', novalidate: true, onsubmit: onOffline, oninput: onFix, hidden: true }, [
    el('p', { text: AWAY + '. Leave your question and how to reach you, and we\u2019ll get back to you.' }),
    el('label', { for: 'refdesk-fq', text: 'Your question' }), fq,
    el('label', { for: 'refdesk-fc', text: 'Email or phone so we can reply' }), fc,
    el('label', { for: 'refdesk-fn' }, ['Your name ', el('span', { class: 'refdesk-opt', text: '(optional)' })]), fn,
    fErr, el('button', { type: 'submit', class: 'refdesk-btn', text: 'Send question' })
  ]);

  panel = el('div', {
    id: 'refdesk-panel', class: 'refdesk-panel', role: 'dialog',
    'aria-labelledby': 'refdesk-title', hidden: true
  }, [head, notice, log, compose, ended, del = el('p', { class: 'refdesk-del', hidden: true }, [
    el('button', { type: 'button', class: 'refdesk-link', text: 'Delete this conversation', onclick: onDelete })]), form, alt = el('p', { class: 'refdesk-alt', hidden: true })]);

  invitation = el('div', { 'aria-live': 'polite' });
  root = el('div', { class: 'refdesk-root' + (LEFT ? ' refdesk-left' : '') + (FULL ? ' refdesk-full' : '') }, [launcher, panel, invitation]);
  root.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && isOpen) { ev.preventDefault(); close(true); }
  });
  document.body.appendChild(root);

  st.msgs.forEach(renderMsg);
  renderRate();
  renderPresence();
  updateBadge();
}

// After close: 1-5 and an optional comment, sent once; "Thanks!" from then on (kept in st).
function renderRate() {
  rate.textContent = '';
  if (st.rated) { rate.append(el('p', { role: 'status', text: 'Thanks!' })); return; }
  rate.append(el('div', { role: 'group', 'aria-label': 'Rate this chat' }, ['Rate this chat: ', ...[1, 2, 3, 4, 5].map((n) => el('button', {
    type: 'button', class: 'refdesk-link', text: '' + n, 'aria-label': 'Rate ' + n + ' of 5', 'aria-pressed': 'false',
    onclick: (ev) => { rate.querySelectorAll('[aria-pressed]').forEach((b) => b.setAttribute('aria-pressed', String(b === ev.currentTarget))); }
  }))]),
  el('label', { for: 'refdesk-rc' }, ['Comment ', el('span', { class: 'refdesk-opt', text: '(optional)' })]),
  el('textarea', { id: 'refdesk-rc', rows: '2', maxlength: '500' }),
  el('p', { class: 'refdesk-err', role: 'alert' }),
  el('button', { type: 'submit', class: 'refdesk-btn', text: 'Send' }));
}
async function onRate(ev) {
  ev.preventDefault();
  var picked = rate.querySelector('[aria-pressed="true"]'), err = rate.querySelector('.refdesk-err'), comment = rate.querySelector('textarea').value.trim();
  if (!picked) { err.textContent = 'Choose 1 to 5 first.'; return; }
  var r = await api('POST', base() + '/rating', { rating: +picked.textContent, comment: comment || undefined }, true);
  if (r.status !== 202) { err.textContent = errText(r, 'Not sent.'); return; }
  st.rated = true; save(); renderRate();
  ended.lastChild.focus(); // "Start a new chat": the Send pressed is gone
}

// "Sent" once the server queued it (202): it sends, once, after this answer.
async function onMail(ev) {
  ev.preventDefault();
  var out = mail.lastChild, r = await api('POST', base() + '/transcript', { email: mail.querySelector('input').value.trim() }, true);
  out.className = r.status === 202 ? '' : 'refdesk-err';
  out.textContent = r.status === 202 ? 'Sent' : errText(r, 'Not sent.');
}

function renderMsg(m) {
  var old = nodes[m.key], row;
  if (m.end) row = el('div', { class: 'refdesk-end', text: m.text });
  else {
    var me = m.from === 'patron', them = m.from === 'librarian', text = el('span', { class: 'refdesk-text' });
    fillText(text, m.text);
    row = el('div', { class: 'refdesk-msg refdesk-' + (me ? 'me' : them ? 'them' : 'sys'), title: dateText(m.at) || null }, [
      el('span', { class: 'refdesk-who', text: me ? 'You' : them ? m.name || 'Librarian' : 'Library' }),
      el('span', { class: 'refdesk-sr', text: ': ' }), text, ...fileNodes(m)]);
    if (m.state) fillMeta(row, m);
  }
  if (old) log.replaceChild(row, old); else log.insertBefore(row, logEnd);
  nodes[m.key] = row;
  intro.hidden = true;
}
// A file: a librarian's as a link (a picture as its thumbnail), the patron's own by name (its picture while this page lives).
function fileNodes(m) {
  return (m.file ? [m.file] : Array.isArray(m.files) ? m.files : []).filter((f) => f && f.name).map((f) => {
    var name = String(f.name), url = /^https?:\/\//i.test(f.url) && f.url, n = +f.size;
    var src = TYPES.indexOf(f.type) > -1 && f.type !== TYPES[4] && (url || m.file && thumbs[m.key]); // a picture every browser shows
    var about = [(/\.(\w{1,5})$/.exec(name) || [])[1], n > 0 && (n < 1048576 ? Math.ceil(n / 1024) + ' KB' : (n / 1048576).toFixed(1) + ' MB')].filter(Boolean).join(', ');
    var line = '\ud83d\udcce ' + name + (url && !src && about ? ' (' + about.toUpperCase() + ')' : ''); // guide.pdf (PDF, 1.2 MB)
    var img = src && el('img', { src, alt: name });
    return el('span', { class: 'refdesk-file' }, url ? [el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', text: img ? null : line }, [img])] : [img, line]);
  });
}
function fillMeta(row, m) {
  var meta = row.querySelector('.refdesk-meta');
  row.classList.toggle('refdesk-pending', m.state === 'sending');
  row.classList.toggle('refdesk-failed', m.state === 'failed');
  if (m.state !== 'sending' && m.state !== 'failed') { if (meta) meta.remove(); return; }
  if (!meta) { meta = el('span', { class: 'refdesk-meta' }); row.appendChild(meta); }
  meta.textContent = m.state === 'sending' ? (m.file && !m.file_id ? 'Uploading ' + m.file.name + '\u2026' : 'Sending\u2026') : (m.error || 'Not sent.') + ' ';
  if (m.state === 'sending') return;
  meta.appendChild(el('button', { type: 'button', class: 'refdesk-link', text: 'Retry', 'aria-label': 'Retry sending this message', onclick: () => retry(m) }));
}
function updateMsg(m) { var row = nodes[m.key]; if (row) fillMeta(row, m); }
function scrollDown() { log.scrollTop = log.scrollHeight; }
function nearBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 80; }
function addMsg(m) {
  var stick = nearBottom() || m.from === 'patron';
  st.msgs.push(m);
  st.msgs.splice(0, st.msgs.length - KEEP).forEach((d) => { var n = nodes[d.key]; if (n) n.remove(); delete nodes[d.key]; });
  renderMsg(m);
  if (stick) scrollDown();
}
function note(text, end) {
  addMsg({ key: 'n' + uuid(), from: 'system', text, end: !!end, at: new Date().toISOString() });
}

function online() { return !!presence && presence.status === 'available'; }
function renderPresence() {
  var on = online();
  launchLabel.textContent = TITLE + (presence ? ' \u2014 ' + (on ? 'online now' : 'leave a question') : '');
  launcher.classList.toggle('refdesk-on', on);
  stateLine.textContent = !presence ? '' : on ? 'A librarian is online now' : AWAY;
  if (on) invite(); else uninvite();
  renderAlt();
  applyView();
}
// "Text us at …" (sms:) and "Add to contacts" (vCard), from /presence.
function renderAlt() {
  var c = ALT && presence && presence.contact, ok = !!c && /^\+[1-9]\d{6,14}$/.test(c.sms) && /^https?:\/\/\S+$/.test(c.card);
  var key = ok ? c.sms + ' ' + c.card + ' ' + c.sms_label : '';
  if (key === altKey) return; // unchanged: keep links and focus
  altKey = key; alt.textContent = ''; alt.hidden = !ok;
  if (!ok) return;
  alt.append(el('a', { href: 'sms:' + c.sms, text: 'Text us at ' + String(c.sms_label || c.sms) }), ' \u00b7 ',
    el('a', { href: c.card, download: 'library.vcf', text: 'Add to contacts' }));
}
function updateBadge() {
  var n = isOpen ? 0 : st.unread;
  badge.textContent = '';
  badge.hidden = !n;
  if (n) badge.append(String(n), el('span', { class: 'refdesk-sr', text: n === 1 ? ' new reply' : ' new replies' }));
}

function hasDraft() { return !!(ta.value.trim() || fq.value.trim() || fc.value.trim() || fn.value.trim()); }
function applyView() {
  var cur = form.hidden ? 'chat' : 'offline', want = st.session_id || st.msgs.length || online() ? 'chat' : 'offline';
  var swap = want !== cur && (!hasDraft() || st.session_id), refocus = swap && panel.contains(document.activeElement);
  if (swap) form.hidden = want !== 'offline';
  var chat = form.hidden;
  log.hidden = !chat;
  compose.hidden = !chat || st.closed;
  ended.hidden = !chat || !st.closed;
  del.hidden = !chat || !st.session_id;
  var away = chat && !st.closed && presence && !online();
  var line = away ? AWAY + '. We\u2019ll see your message when we\u2019re back.'
    : chat && !st.closed && st.pos > 1 ? 'You are number ' + st.pos + ' in line' : '';
  notice.hidden = !line;
  notice.textContent = line;
  if (refocus) focusFirst(); // once the new view is shown: a panel opened before presence was known
}
function focusFirst() {
  if (!form.hidden) fq.focus();
  else if (st.closed) ended.querySelector('button').focus();
  else ta.focus();
}

function open(focus) {
  if (!root) return;
  if (!isOpen) {
    isOpen = true;
    panel.hidden = false;
    launcher.setAttribute('aria-expanded', 'true');
    st.unread = 0; st.open = true; save();
    uninvite();
    updateBadge();
    applyView();
    scrollDown();
    schedulePoll(0);
    refreshPresence();
  }
  if (focus) focusFirst();
}
function close(returnFocus) {
  if (!root || !isOpen || FULL) return;
  var inside = panel.contains(document.activeElement);
  isOpen = false;
  panel.hidden = true;
  launcher.setAttribute('aria-expanded', 'false');
  st.open = false; save();
  schedulePoll();
  if (returnFocus !== false && (inside || returnFocus)) launcher.focus();
}

function onInput() {
  var n = ta.value.length;
  counter.textContent = n + ' / ' + MAX;
  counter.classList.toggle('refdesk-warn', n > MAX - 200);
  ta.style.height = 'auto';
  ta.style.height = Math.min(140, ta.scrollHeight + 2) + 'px';
}
function onKey(ev) {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
    ev.preventDefault();
    onSend(ev);
  }
}
function onSend(ev) {
  ev.preventDefault();
  var text = ta.value.trim();
  if (!text) { ta.focus(); return; }
  ta.value = ''; onInput();
  queue(text, null);
  ta.focus();
}
// A picture or PDF, sent at once with what is typed (the server checks it again).
function onPick() {
  var f = picker.files[0];
  picker.value = '';
  if (!f) return;
  fileErr.textContent = TYPES.indexOf(f.type) < 0 ? f.name + ' cannot be sent: only a picture (PNG, JPEG, GIF, WebP) or a PDF.'
    : f.size > MAXF ? f.name + ' is too large to send (10 MB at most).' : '';
  if (fileErr.textContent) return;
  var text = ta.value.trim();
  ta.value = ''; onInput();
  queue(text, null, f);
  ta.focus();
}
function onFix(ev) {
  if (ev.target.hasAttribute('aria-invalid')) { ev.target.removeAttribute('aria-invalid'); fErr.textContent = ''; }
}
function onOffline(ev) {
  ev.preventDefault();
  [fq, fc].forEach((f) => f.removeAttribute('aria-invalid'));
  fErr.textContent = '';
  var q = fq.value.trim(), c = fc.value.trim(), n = fn.value.trim();
  var bad = !q ? [fq, 'Please type your question.']
    : !c ? [fc, 'Please tell us an email address or phone number so we can reply.']
    : (c.indexOf('@') < 1 && c.replace(/\D/g, '').length < 7) ? [fc, 'Please enter a valid email address or phone number.']
    : null;
  if (bad) {
    bad[0].setAttribute('aria-invalid', 'true');
    fErr.textContent = bad[1];
    bad[0].focus();
    return;
  }
  fq.value = fc.value = fn.value = '';
  form.hidden = true;
  queue(q, { contact: c, name: n });
  applyView();
  ta.focus();
}
function queue(text, extra, file) {
  var m = { key: 'c' + uuid(), from: 'patron', text, state: 'sending', at: new Date().toISOString() };
  m.client_id = m.key.slice(1);
  if (file) {
    m.file = { name: file.name, type: file.type, size: file.size };
    blobs[m.key] = file;
    if (/^image\//.test(file.type)) thumbs[m.key] = URL.createObjectURL(file);
  }
  if (extra) { m.contact = extra.contact; if (extra.name) m.pname = extra.name; }
  addMsg(m);
  save();
  pump();
}
function retry(m) { m.state = 'sending'; m.error = null; updateMsg(m); save(); pump(); }

async function pump() {
  if (sending) return;
  sending = true;
  try {
    var m;
    while ((m = st.msgs.find((x) => x.state === 'sending'))) await deliver(m);
  } finally { sending = false; }
}

async function ensureSession() {
  if (st.session_id) return null;
  var w = Math.min(screen.width, screen.height); // the device's, also in a frame
  // where the chat started, for the librarian's card (the server checks and redacts each)
  var r = await api('POST', '/chat/sessions', { visitor_id: visitor(), context: { title: document.title.slice(0, 120), path: location.pathname,
    device: w < 600 ? 'phone' : w < 1100 && matchMedia('(pointer:coarse)').matches ? 'tablet' : 'desktop', language: navigator.language } });
  if ((r.status === 201 || r.status === 200) && r.data.session_id && r.data.token) {
    st.session_id = String(r.data.session_id); st.token = String(r.data.token);
    st.live_url = typeof r.data.live_url === 'string' ? r.data.live_url : null;
    st.cursor = null; st.closed = false; save();
    applyView();
    connect();
    return null;
  }
  return r;
}
function dropSession(text) { // no text: an ended chat stays ended
  st.session_id = st.token = st.live_url = st.cursor = null;
  st.closed = st.closed && !text;
  stopListening();
  if (text) note(text, true);
  save();
}

async function deliver(m) {
  var restarted = false;
  for (var attempt = 1; ; attempt++) {
    var r = await ensureSession();
    if (!r && m.file && !m.file_id) r = await upload(m);
    if (!r) {
      var body = { text: m.text, client_id: m.client_id, age_ms: Math.max(0, Date.now() - Date.parse(m.at)) || 0 }; // since Send, by this page's clock
      if (m.contact) { body.contact = m.contact; if (m.pname) body.name = m.pname; }
      if (m.file_id) body.file_id = m.file_id;
      r = await api('POST', sessionPath(), body, true);
      if (r.status === 201 || r.status === 200) {
        m.state = 'sent';
        if (r.data.message_id && !m.id) m.id = String(r.data.message_id);
        updateMsg(m);
        if (m.contact) { delete m.contact; delete m.pname; note(thanks(body.contact)); }
        save();
        schedulePoll(400);
        return;
      }
      var code = r.data.error && r.data.error.code;
      if ((r.status === 403 || r.status === 404 || (r.status === 409 && code === 'closed')) && !restarted && !m.file) {
        // expired or closed: a new chat
        restarted = true;
        dropSession(r.status === 409 ? ENDED : 'Your earlier chat has expired');
        st.msgs.splice(st.msgs.indexOf(m), 1); // move it below that line
        nodes[m.key].remove(); delete nodes[m.key];
        addMsg(m);
        continue;
      }
    }
    if (r.status === 429 && attempt < 6 && !r.once) { await sleep(r.wait); continue; }
    if ((r.status === 0 || r.status >= 500) && attempt < 5) { await sleep(1000 * 2 ** attempt); continue; }
    m.state = 'failed';
    if (m.file && r.status === 404) m.file_id = null; // the upload is gone: Retry uploads again
    m.error = r.msg || (r.status === 413 && !m.file ? 'Too long (2,000 characters at most).'
      : r.status === 0 ? 'Not sent: no connection.'
        : 'Not sent: ' + errText(r, 'something went wrong.'));
    updateMsg(m);
    save();
    return;
  }
}
// POST …/files, then the bytes straight to storage: null once m.file_id is known, else why not.
async function upload(m) {
  var f = blobs[m.key];
  if (!f) return { status: 1, msg: 'Not sent: attach the file again.' };
  var r = await api('POST', base() + '/files', m.file, true), u = r.data.upload;
  if (r.status !== 201 || !u || !r.data.file_id) return Object.assign(r, { once: true });
  var form = new FormData();
  Object.keys(u.fields || {}).forEach((k) => form.append(k, u.fields[k]));
  form.append('file', f);
  var ok = await fetch(u.url, { method: 'POST', body: form, credentials: 'omit', signal: AbortSignal.timeout && AbortSignal.timeout(3e5) }).then((x) => x.ok, () => false);
  if (!ok) return { status: 1, msg: 'The file could not be uploaded. Try again.' };
  m.file_id = String(r.data.file_id);
  updateMsg(m); save();
  return null;
}
function thanks(contact) {
  // the server's words ("Tue 9:00", library time), never the browser's
  var opens = presence && !presence.open_now && typeof presence.opens === 'string' && presence.opens;
  return 'Thanks \u2014 a librarian will reply by ' + (contact.indexOf('@') > 0 ? 'email ' : 'phone ')
    + (opens ? 'after we open ' + opens : 'as soon as we can') + '. You can add more details here.';
}

function newChat() {
  stopListening();
  st.msgs.forEach((m) => { var n = nodes[m.key]; if (n) n.remove(); });
  nodes = {};
  var wasOpen = st.open;
  st = blank(); st.open = wasOpen;
  intro.hidden = false;
  renderRate();
  mail.reset(); mail.lastChild.textContent = '';
  save();
  form.hidden = true;
  applyView();
  focusFirst();
}

// the library erases the chat (202)
async function onDelete() {
  if (!confirm('Delete this conversation for good?')) return;
  var r = await api('DELETE', base(), undefined, true);
  if (r.status !== 202) { note('Not deleted: ' + errText(r, 'please try again.')); return; }
  try { localStorage.removeItem(VKEY); } catch (e) { /* none kept */ }
  newChat();
  note(String(r.data.message || 'Deleted.'), true);
}

// Pushed while the live connection is open or still tried; else polled.
function pushed() {
  return ws && ws.readyState === 1 || window.WebSocket && st.live_url && wsFails < LIVE_TRIES;
}
function schedulePoll(ms) {
  clearTimeout(pollTimer);
  if (!st.session_id || st.closed || (pushed() && !catchUp)) return;
  if (ms == null) ms = catchUp ? 0 : (document.hidden ? POLL_HIDDEN : isOpen ? POLL_OPEN : POLL_CLOSED) * Math.min(3, 1.5 ** idlePolls);
  pollTimer = setTimeout(poll, ms);
}
async function poll() {
  if (polling || !st.session_id) return;
  polling = true;
  var next, sock = catchUp;
  try {
    var sid = st.session_id;
    var r = await api('GET', sessionPath() + (st.cursor ? '?after=' + encodeURIComponent(st.cursor) : ''), undefined, true);
    if (sid !== st.session_id) return;
    if (r.status === 200) {
      pollFailures = 0;
      var n = ingest(r.data);
      idlePolls = n ? 0 : idlePolls + 1;
      if (catchUp === sock && n < PAGE) catchUp = null; // else read on
    } else if (r.status === 403 || r.status === 404) dropSession(st.closed ? null : ENDED);
    else if (r.status === 429) next = r.wait;
    else { pollFailures++; next = Math.min(6e4, POLL_OPEN * 2 ** pollFailures); }
  } finally {
    polling = false;
    schedulePoll(next);
  }
}
function connect() {
  clearTimeout(wsTimer);
  if (ws || !window.WebSocket || !st.live_url || !st.session_id || st.closed) return;
  var sock, opened = 0, pinger;
  try { sock = ws = new WebSocket(st.live_url); } catch (e) { wsFails = LIVE_TRIES; schedulePoll(0); return; } // bad URL
  sock.onopen = () => {
    opened = Date.now();
    pinger = setInterval(() => sock.send('{"type":"ping"}'), PING_MS); // idle ones drop after 10 min
    catchUp = sock; // read what came meanwhile, by cursor
    schedulePoll(0);
  };
  sock.onmessage = (ev) => {
    try { var f = JSON.parse(ev.data) || {}; } catch (e) { return; }
    if (f.type === 'message') ingest({ messages: [f.message] });
    else if (f.type === 'status') ingest(f); // as GET …/messages has them
  };
  sock.onclose = () => {
    clearInterval(pinger);
    if (ws !== sock) return; // hung up on purpose
    ws = catchUp = null;
    // a failure, or a drop within a minute, counts toward polling
    wsFails = opened && Date.now() - opened > 6e4 ? 1 : wsFails + 1;
    if (opened || wsFails === LIVE_TRIES) schedulePoll(0); // polling takes over: catch up
    wsTimer = setTimeout(connect, Math.min(3e5, 1000 * 2 ** wsFails) * (0.5 + Math.random() / 2));
  };
}
function stopListening() {
  clearTimeout(pollTimer); clearTimeout(wsTimer);
  var sock = ws;
  ws = catchUp = null; wsFails = idlePolls = 0;
  if (sock) sock.close();
}
function ingest(d) {
  var list = Array.isArray(d.messages) ? d.messages : [];
  list.forEach((s) => {
    if (!s || s.id == null) return;
    var id = String(s.id);
    var mine = st.msgs.find((x) => x.id === id || (s.client_id && x.client_id === s.client_id));
    if (mine) {
      mine.id = id;
      if (mine.state) { mine.state = mine.error = null; updateMsg(mine); }
      return;
    }
    var from = s.from === 'patron' || s.from === 'librarian' ? s.from : 'system';
    addMsg({ key: 'm' + id, id, from, name: typeof s.name === 'string' ? s.name : null, text: String(s.text == null ? '' : s.text), client_id: s.client_id || null, at: s.at, files: Array.isArray(s.files) ? s.files : null });
    if (from !== 'patron' && !isOpen) st.unread++;
  });
  if (typeof d.cursor === 'string' && d.cursor) st.cursor = d.cursor;
  if ('queue' in d) { // place in line, then who joined
    var q = d.queue || {};
    if (typeof q.by === 'string' && q.by !== st.by) { st.by = q.by; note(q.by + ' joined'); }
    if (st.pos !== (q.position | 0)) { st.pos = q.position | 0; applyView(); }
  }
  if (d.status === 'open' && st.closed) { st.closed = false; applyView(); connect(); } // reopened by a reply
  if (d.status === 'closed' && !st.closed) {
    st.closed = true;
    stopListening();
    note(ENDED, true);
    var hadFocus = compose.contains(document.activeElement);
    applyView();
    if (hadFocus) focusFirst();
  }
  updateBadge();
  save();
  return list.length;
}

// desk.json's proactive chat: once per visit, on a matching page, after its delay, while online.
var inviteTimer = 0, invitation;
function invited() { try { return !!sessionStorage.getItem(IKEY); } catch (e) { return true; } } // no storage: never, not on every page
function invite() {
  var p = presence.proactive, path = location.pathname;
  if (inviteTimer || invited() || !p || !Array.isArray(p.pages) || !p.pages.some((g) => g.endsWith('*') ? path.startsWith(g.slice(0, -1)) : path === g)) return;
  inviteTimer = setTimeout(() => {
    inviteTimer = 0;
    if (!online() || isOpen || st.session_id || st.msgs.length || invited()) return;
    sessionStorage.setItem(IKEY, '1');
    invitation.append(el('div', { class: 'refdesk-invite' }, [el('p', { text: 'Questions? Chat with a librarian now.' }),
      el('button', { type: 'button', class: 'refdesk-btn', text: 'Chat', onclick: () => open(true) }),
      el('button', { type: 'button', class: 'refdesk-link', text: 'No thanks', onclick: uninvite })]));
    document.addEventListener('keydown', onInviteKey);
  }, (p.delay_seconds | 0) * 1000);
}
function uninvite() {
  if (invitation.contains(document.activeElement)) launcher.focus();
  invitation.textContent = '';
  document.removeEventListener('keydown', onInviteKey);
}
function onInviteKey(ev) { if (ev.key === 'Escape') uninvite(); }

var presenceTimer = null;
async function refreshPresence() {
  clearTimeout(presenceTimer);
  var r = await api('GET', '/presence', undefined, false, presenceAt), ok = r.status === 200 && (r.data.status === 'available' || r.data.status === 'unavailable');
  // script copied elsewhere, or a CSP allowing only the API
  if (!ok && r.status !== 429 && presenceAt !== API) { presenceAt = API; return refreshPresence(); }
  if (ok) presence = r.data;
  else if (!presence && r.status !== 429) presence = { status: 'unavailable' };
  renderPresence();
  clearTimeout(presenceTimer);
  presenceTimer = setTimeout(refreshPresence, r.status === 429 ? Math.max(r.wait, PRESENCE_MS) : PRESENCE_MS);
}

function start() {
  if (root) return;
  build();
  if (st.open || FULL) open(FULL);
  refreshPresence();
  schedulePoll(st.open ? 0 : 1000);
  connect();
  if (st.closed && st.session_id) poll(); // once: a reply may have reopened it
  pump();
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) return;
    refreshPresence();
    schedulePoll(0);
    connect(); // now, not when a throttled timer fires
  });
}

window.RefDeskWidget = Object.freeze({
  open: () => open(true),
  close: () => close()
});
if (document.body) start();
else document.addEventListener('DOMContentLoaded', start);
})();
