/* RefDesk local stand-ins: the Slack Connect channel shared with a partner organisation. A
 * developer plays the partner's members here: a new message opens a conversation in the staff
 * channel, a reply in its thread joins it, and the desk's answers appear in that thread. It
 * drives POST /_local/api/slack/partner, which sends the signed event exactly as Slack does for
 * a shared channel. Plain JS; every piece of message text goes on the page with textContent. */
(function () {
  'use strict';

  var POLL_MS = 1500;
  var BOT_USER = 'U0REFDESK';
  var LIBRARY = { U0AMANDA: 'Amanda Reyes', U0BEN: 'Ben Okafor', U0PRIYA: 'Priya Natarajan' };
  // Replaced by GET /_local/api/config's slack_partner when the page starts.
  var shared = {
    channel: 'C0PARTNER1', channel_name: 'riverside-library', team_id: 'T0PARTNER',
    team_name: 'Riverside University', users: { U0PARTNER1: 'Jordan Lee', U0PARTNER2: 'Tom Becker' }
  };

  var $ = window.RefDeskLocal.$, el = window.RefDeskLocal.el, api = window.RefDeskLocal.api;
  // Slack's text as a person reads it: links and mentions resolved, escapes undone.
  function plain(text) {
    return String(text == null ? '' : text)
      .replace(/<@([A-Z0-9]+)(?:\|([^>]*))?>/g, function (m, id, label) {
        return '@' + (label || (shared.users[id] || LIBRARY[id] || id).split(' ')[0]);
      })
      .replace(/<#[A-Z0-9]+\|([^>]*)>/g, '#$1')
      .replace(/<!(here|channel|everyone)[^>]*>/g, '@$1')
      .replace(/<([^|>]+)\|([^>]+)>/g, function (m, url, label) { return label + ' (' + url + ')'; })
      .replace(/<([^>]+)>/g, '$1')
      .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  }
  function tsTime(ts) {
    var d = new Date(parseFloat(ts) * 1000);
    return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
  }
  function author(m) {
    if (m.user === BOT_USER) return { name: m.username || 'RefDesk', tag: 'APP', cls: 'bot' };
    if (shared.users[m.user]) return { name: shared.users[m.user], tag: shared.team_name, cls: 'partner' };
    if (LIBRARY[m.user]) return { name: LIBRARY[m.user], tag: 'library', cls: '' };
    return { name: m.user || '?', tag: '', cls: '' };
  }

  var box = $('partner-threads'), empty = $('partner-empty'), who = $('partner-user');
  var form = $('partner-form'), text = $('partner-text'), status = $('partner-status');
  var threads = {}; // root ts -> {node, replies, sig}

  function fillUsers() {
    var chosen = who.value;
    who.textContent = '';
    Object.keys(shared.users).forEach(function (id) {
      var o = el('option', null, shared.users[id] + ' (' + id + ')');
      o.value = id;
      who.appendChild(o);
    });
    if (shared.users[chosen]) who.value = chosen;
    $('partner-name').textContent = shared.channel_name;
    $('partner-team').textContent = 'shared with ' + shared.team_name + ' (' + shared.team_id + ')';
  }

  function row(m, tag) {
    var a = author(m);
    var item = el(tag || 'div', 'msg');
    var av = el('div', 'avatar ' + a.cls, a.name.charAt(0).toUpperCase());
    av.setAttribute('aria-hidden', 'true');
    var main = el('div');
    var head = el('div', 'msg-head');
    head.appendChild(el('span', 'who', a.name));
    if (a.tag) head.appendChild(el('span', 'tag', a.tag));
    head.appendChild(el('span', 'time', tsTime(m.ts)));
    main.appendChild(head);
    main.appendChild(el('div', 'blk', plain(m.text)));
    item.appendChild(av);
    item.appendChild(main);
    return item;
  }

  async function post(body, field, err) {
    err.textContent = '';
    try {
      var r = await api('POST', '/slack/partner', body);
      if (r.status && r.status >= 400) throw new Error('the app answered HTTP ' + r.status);
      field.value = '';
      refresh();
    } catch (e) {
      err.textContent = 'Not posted: ' + e.message;
    }
  }

  function makeThread(rootTs) {
    var node = el('article', 'sthread');
    node.dataset.ts = rootTs;
    var root = el('div', 'sroot');
    var replies = el('ol', 'replies');
    replies.setAttribute('aria-label', 'Replies in the shared thread');
    var reply = el('form', 'reply');
    var ta = el('textarea');
    ta.rows = 1;
    ta.placeholder = 'Reply in this shared thread as the partner\u2026';
    ta.setAttribute('aria-label', 'Reply in the shared thread');
    var send = el('button', null, 'Reply as partner');
    send.type = 'submit';
    var err = el('p', 'err');
    err.setAttribute('role', 'alert');
    reply.appendChild(ta);
    reply.appendChild(send);
    reply.appendChild(err);
    reply.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var value = ta.value.trim();
      if (!value) { ta.focus(); return; }
      post({ text: value, user: who.value, thread_ts: rootTs }, ta, err);
    });
    ta.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); reply.requestSubmit(); }
    });
    node.appendChild(root);
    node.appendChild(replies);
    node.appendChild(reply);
    return { node: node, root: root, replies: replies, sig: '' };
  }

  function render(messages) {
    var mine = messages.filter(function (m) { return m && m.ts && m.channel === shared.channel && !m.ephemeral; });
    var roots = [], byThread = {};
    mine.forEach(function (m) {
      if (!m.thread_ts || m.thread_ts === m.ts) roots.push(m);
      else (byThread[m.thread_ts] = byThread[m.thread_ts] || []).push(m);
    });
    roots.sort(function (a, b) { return parseFloat(a.ts) - parseFloat(b.ts); });
    roots.forEach(function (m) {
      var t = threads[m.ts];
      if (!t) {
        t = threads[m.ts] = makeThread(m.ts);
        box.appendChild(t.node);
      }
      var reps = (byThread[m.ts] || []).slice().sort(function (a, b) { return parseFloat(a.ts) - parseFloat(b.ts); });
      var sig = JSON.stringify([m, reps]);
      if (sig === t.sig) return;
      t.sig = sig;
      t.root.textContent = '';
      t.root.appendChild(row(m));
      t.replies.textContent = '';
      reps.forEach(function (r) { t.replies.appendChild(row(r, 'li')); });
      t.replies.hidden = !reps.length;
    });
    empty.hidden = roots.length > 0;
  }

  var busy = false;
  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      var data = await api('GET', '/slack/messages');
      render(Array.isArray(data.messages) ? data.messages : []);
    } catch (e) {
      status.textContent = 'Could not read the shared channel: ' + e.message;
    } finally {
      busy = false;
    }
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var value = text.value.trim();
    if (!value) { text.focus(); return; }
    post({ text: value, user: who.value }, text, status);
  });
  text.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); form.requestSubmit(); }
  });

  fillUsers();
  api('GET', '/config').then(function (config) {
    if (config && config.slack_partner && config.slack_partner.channel) {
      shared = config.slack_partner;
      fillUsers();
    }
  }).catch(function () { /* the defaults above are the stand-in's */ }).then(refresh);
  setInterval(function () { if (!document.hidden) refresh(); }, POLL_MS);
})();
