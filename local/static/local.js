/* RefDesk local stand-ins: a Slack-like view of the staff channel and a phone simulator,
 * driving the local dev stack's /_local/api. Plain JS; every piece of message text is put
 * on the page with textContent (never innerHTML). */
(function () {
  'use strict';

  var LIBRARIANS = [['U0AMANDA', 'Amanda Reyes'], ['U0BEN', 'Ben Okafor'], ['U0PRIYA', 'Priya Natarajan']];
  var NAMES = {};
  LIBRARIANS.forEach(function (l) { NAMES[l[0]] = l[1]; });
  var EMOJI = {
    white_check_mark: '\u2705', heavy_check_mark: '\u2714\ufe0f', x: '\u274c', lock: '\ud83d\udd12',
    outbox_tray: '\ud83d\udce4',
    envelope: '\u2709\ufe0f', email: '\ud83d\udce7', eyes: '\ud83d\udc40', warning: '\u26a0\ufe0f',
    speech_balloon: '\ud83d\udcac', iphone: '\ud83d\udcf1', computer: '\ud83d\udcbb', globe_with_meridians: '\ud83c\udf10',
    hourglass_flowing_sand: '\u23f3', hourglass: '\u231b', wave: '\ud83d\udc4b', books: '\ud83d\udcda',
    memo: '\ud83d\udcdd', bell: '\ud83d\udd14', rotating_light: '\ud83d\udea8', no_entry: '\u26d4',
    large_green_circle: '\ud83d\udfe2', red_circle: '\ud83d\udd34', arrows_counterclockwise: '\ud83d\udd04',
    telephone_receiver: '\ud83d\udcde', raising_hand: '\ud83d\ude4b', zzz: '\ud83d\udca4', door: '\ud83d\udeaa'
  };
  var POLL_MS = 1500;
  var BOT_USER = 'U0REFDESK';
  var SHARED_CHANNELS = ['C0PARTNER1']; // the stand-in's Slack Connect channel (local/slack_standin.py)

  // ---- helpers ------------------------------------------------------------------------
  var $ = window.RefDeskLocal.$, el = window.RefDeskLocal.el, api = window.RefDeskLocal.api;
  function tsTime(ts) {
    var d = new Date(parseFloat(ts) * 1000);
    return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
  }
  function emoji(name) { return EMOJI[name] || ':' + name + ':'; }

  // Slack mrkdwn -> readable plain text: mentions, links and escapes undone, :emoji: shown.
  function slackPlain(text) {
    return String(text == null ? '' : text)
      .replace(/<@([A-Z0-9]+)(?:\|([^>]*))?>/g, function (m, id, label) { return '@' + (label || (NAMES[id] || id).split(' ')[0]); })
      .replace(/<#[A-Z0-9]+\|([^>]*)>/g, '#$1')
      .replace(/<!(here|channel|everyone)[^>]*>/g, '@$1')
      .replace(/<((?:https?|mailto|tel):[^|>]+)\|([^>]+)>/g, function (m, url, label) {
        return label === url ? url : label + ' (' + url.replace(/^(mailto|tel):/, '') + ')';
      })
      .replace(/<((?:https?|mailto|tel):[^>]+)>/g, function (m, url) { return url.replace(/^(mailto|tel):/, ''); })
      .replace(/:([a-z0-9_+-]+):/g, function (m, name) { return EMOJI[name] || m; })
      .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  }
  // Appends text with *bold* and `code` spans, built as DOM nodes (no HTML parsing).
  function appendMrkdwn(node, text) {
    var plain = slackPlain(text);
    var re = /\*([^*\n]+)\*|`([^`\n]+)`/g, i = 0, m;
    while ((m = re.exec(plain))) {
      node.appendChild(document.createTextNode(plain.slice(i, m.index)));
      node.appendChild(m[1] != null ? el('strong', null, m[1]) : el('code', null, m[2]));
      i = re.lastIndex;
    }
    node.appendChild(document.createTextNode(plain.slice(i)));
  }
  function textOf(obj) { return obj && typeof obj.text === 'string' ? obj.text : ''; }

  // ---- who is acting ------------------------------------------------------------------
  var me = $('me');
  LIBRARIANS.forEach(function (l) {
    var o = el('option', null, l[1] + ' (' + l[0] + ')');
    o.value = l[0];
    me.appendChild(o);
  });
  try { if (NAMES[localStorage.getItem('refdesk.local.me')]) me.value = localStorage.getItem('refdesk.local.me'); } catch (e) { /* ignore */ }
  me.addEventListener('change', function () {
    try { localStorage.setItem('refdesk.local.me', me.value); } catch (e) { /* ignore */ }
    document.querySelectorAll('.reply select').forEach(function (s) { if (!s.dataset.touched) s.value = me.value; });
    if (typeof refreshSlack === 'function') refreshSlack(); // ephemerals are per person
  });

  // ---- /refdesk on | off | status -----------------------------------------------------
  var dutyOut = $('duty-out');
  function command(text) {
    return async function () {
      var who = NAMES[me.value];
      dutyOut.hidden = false;
      dutyOut.classList.remove('err');
      dutyOut.textContent = '/refdesk ' + text + ' as ' + who + '\u2026';
      try {
        var r = await api('POST', '/slack/command', { text: text, user: me.value });
        var body = r.body || {};
        var answer = typeof body === 'string' ? body : (body.text || JSON.stringify(body));
        dutyOut.textContent = '/refdesk ' + text + ' (' + who + '): ' + slackPlain(answer);
        if (r.status && r.status >= 400) dutyOut.classList.add('err');
      } catch (err) {
        dutyOut.classList.add('err');
        dutyOut.textContent = '/refdesk ' + text + ' failed: ' + err.message;
      }
    };
  }
  $('duty-on').addEventListener('click', command('on'));
  $('duty-off').addEventListener('click', command('off'));
  $('duty-status').addEventListener('click', command('status'));
  $('duty-stats').addEventListener('click', command('stats 30d')); // the chart appears in the channel

  // ---- staff channel ------------------------------------------------------------------
  var threadsBox = $('threads'), emptyNote = $('empty'), conn = $('conn');
  var threads = {}; // root ts -> {box, card, replies, form, cardSig, repliesSig}

  function isBot(m) { return !!m.username || !NAMES[m.user]; }
  function authorName(m) {
    if (NAMES[m.user]) return NAMES[m.user];
    return m.username || (m.user && m.user !== BOT_USER ? m.user : 'RefDesk');
  }
  function isRoot(m) { return !m.thread_ts || m.thread_ts === m.ts; }
  function buttonsOf(m) {
    var out = [];
    (m.blocks || []).forEach(function (b) {
      if (!b) return;
      var els = b.type === 'actions' ? (b.elements || []) : [b.accessory];
      els.forEach(function (e) { if (e && e.type === 'button' && e.action_id) out.push(e); });
    });
    return out;
  }

  function usersSelectsOf(m) {
    var out = [];
    (m.blocks || []).forEach(function (b) {
      if (b && b.type === 'actions') (b.elements || []).forEach(function (e) { if (e && e.type === 'users_select' && e.action_id) out.push(e); });
    });
    return out;
  }

  function staticSelectsOf(m) {
    var out = [];
    (m.blocks || []).forEach(function (b) {
      if (b && b.type === 'actions') (b.elements || []).forEach(function (e) { if (e && e.type === 'static_select' && e.action_id) out.push(e); });
    });
    return out;
  }

  function renderBody(m) {
    var body = el('div', 'body');
    var shown = 0;
    (m.blocks || []).forEach(function (b) {
      if (!b) return;
      var t = b.type, div;
      if (t === 'section') {
        div = el('div', 'blk section');
        appendMrkdwn(div, textOf(b.text));
        (b.fields || []).forEach(function (f) { div.appendChild(document.createTextNode('\n')); appendMrkdwn(div, textOf(f)); });
      } else if (t === 'context') {
        div = el('div', 'blk context');
        (b.elements || []).forEach(function (e, i) {
          if (i) div.appendChild(document.createTextNode('  '));
          appendMrkdwn(div, e.type === 'image' ? (e.alt_text || '') : textOf(e));
        });
      } else if (t === 'header') {
        div = el('div', 'blk header', slackPlain(textOf(b.text)));
      } else if (t === 'divider') {
        div = el('hr', 'blk divider');
      } else if (t === 'image') {
        div = el('div', 'blk context', '[image] ' + (b.alt_text || ''));
      }
      if (div) { body.appendChild(div); shown++; }
    });
    var files = Array.isArray(m.files) ? m.files : [];
    if (!shown && (m.text || !files.length)) {
      var div = el('div', 'blk');
      appendMrkdwn(div, m.text);
      body.appendChild(div);
    }
    files.forEach(function (f) { // files_upload_v2 (a patron's MMS picture), as the stand-in serves it
      var fig = el('figure', 'file');
      if (/^image\//.test(f.mimetype) && /^https?:\/\//.test(f.url_private || '')) {
        var img = el('img');
        img.src = f.url_private;
        img.alt = f.title || f.name || 'picture';
        fig.appendChild(img);
      }
      fig.appendChild(el('figcaption', null, (f.title || f.name || 'file') + ' \u00b7 ' + Math.ceil((f.size || 0) / 1024) + ' KB'));
      body.appendChild(fig);
    });
    var buttons = buttonsOf(m);
    if (buttons.length) {
      var bar = el('div', 'card-actions');
      buttons.forEach(function (b) {
        var label = textOf(b.text) || b.action_id;
        var btn = el('button', b.style === 'danger' ? 'danger' : null, slackPlain(label));
        btn.type = 'button';
        if (b.confirm && b.confirm.text) btn.title = textOf(b.confirm.text);
        btn.addEventListener('click', async function () {
          btn.disabled = true;
          btn.textContent = slackPlain(label) + '\u2026';
          try {
            var r = await api('POST', '/slack/click', { ts: m.ts, action_id: b.action_id, user: me.value });
            if (r.status && r.status >= 400) throw new Error('the app answered HTTP ' + r.status);
          } catch (err) {
            btn.disabled = false;
            btn.textContent = slackPlain(label);
            bar.appendChild(el('span', 'err', ' ' + err.message));
          }
        });
        bar.appendChild(btn);
      });
      body.appendChild(bar);
    }
    usersSelectsOf(m).forEach(function (u) { // "Transfer to…": a users_select, sent with selected_user
      var pick = el('select', 'transfer');
      pick.setAttribute('aria-label', textOf(u.placeholder) || u.action_id);
      pick.appendChild(el('option', null, textOf(u.placeholder) || 'Pick someone\u2026')).value = '';
      LIBRARIANS.forEach(function (l) { pick.appendChild(el('option', null, l[1])).value = l[0]; });
      pick.addEventListener('change', async function () {
        if (!pick.value) return;
        pick.disabled = true;
        try {
          var r = await api('POST', '/slack/click', { ts: m.ts, action_id: u.action_id, selected_user: pick.value, user: me.value });
          if (r.status && r.status >= 400) throw new Error('the app answered HTTP ' + r.status);
        } catch (err) {
          pick.disabled = false;
          body.appendChild(el('span', 'err', ' ' + err.message));
        }
      });
      body.appendChild(pick);
    });
    staticSelectsOf(m).forEach(function (s) { // "Quick reply…": a static_select, sent with selected_option
      var menu = el('select', 'quick-reply');
      menu.setAttribute('aria-label', textOf(s.placeholder) || s.action_id);
      menu.appendChild(el('option', null, textOf(s.placeholder) || 'Choose\u2026')).value = '';
      (s.options || []).forEach(function (o) { menu.appendChild(el('option', null, textOf(o.text))).value = o.value; });
      menu.addEventListener('change', async function () {
        if (!menu.value) return;
        menu.disabled = true;
        try {
          var r = await api('POST', '/slack/select', { ts: m.ts, action_id: s.action_id, value: menu.value, user: me.value });
          if (r.status && r.status >= 400) throw new Error('the app answered HTTP ' + r.status);
          menu.value = '';
        } catch (err) {
          body.appendChild(el('span', 'err', ' ' + err.message));
        } finally {
          menu.disabled = false;
        }
      });
      body.appendChild(menu);
    });
    if (m.reactions && m.reactions.length) {
      var rx = el('div', 'reactions');
      m.reactions.forEach(function (r) {
        var name = typeof r === 'string' ? r : (r && r.name) || '';
        var chip = el('span', 'reaction', emoji(name) + ' ' + name.replace(/_/g, ' '));
        chip.title = ':' + name + ':';
        rx.appendChild(chip);
      });
      body.appendChild(rx);
    }
    return body;
  }

  function renderMessage(m, tag) {
    var row = el(tag || 'div', 'msg');
    var name = authorName(m);
    var av = el('div', 'avatar' + (isBot(m) ? ' bot' : ''), (name || '?').charAt(0).toUpperCase());
    av.setAttribute('aria-hidden', 'true');
    var main = el('div');
    var head = el('div', 'msg-head');
    head.appendChild(el('span', 'who', name));
    if (isBot(m)) head.appendChild(el('span', 'tag', 'APP'));
    if (!isBot(m) && /^\s*note:/i.test(m.text || '')) head.appendChild(el('span', 'tag internal', 'internal note'));
    if (m.ephemeral) {
      var only = NAMES[m.visible_to] ? NAMES[m.visible_to].split(' ')[0] : 'one librarian';
      head.appendChild(el('span', 'tag internal', 'only visible to ' + only));
    }
    head.appendChild(el('span', 'time', tsTime(m.ts)));
    if (m.edited) head.appendChild(el('span', 'edited', '(edited)'));
    main.appendChild(head);
    main.appendChild(renderBody(m));
    row.appendChild(av);
    row.appendChild(main);
    return row;
  }

  function makeThread(rootTs, ephemeral) {
    var box = el('article', ephemeral ? 'thread ephemeral' : 'thread');
    box.dataset.ts = rootTs;
    var card = el('div', 'card');
    var replies = el('ol', 'replies');
    replies.setAttribute('aria-label', 'Replies');
    if (ephemeral) { // a slash command's answer and the like: not a conversation
      box.appendChild(card);
      box.appendChild(replies);
      return { box: box, card: card, replies: replies, cardSig: '', repliesSig: '' };
    }
    var form = el('form', 'reply');
    var as = el('label', 'as', 'Reply as ');
    var sel = el('select');
    LIBRARIANS.forEach(function (l) {
      var o = el('option', null, l[1]);
      o.value = l[0];
      sel.appendChild(o);
    });
    sel.value = me.value;
    sel.addEventListener('change', function () { sel.dataset.touched = '1'; });
    as.appendChild(sel);
    var ta = el('textarea');
    ta.rows = 1;
    ta.placeholder = 'Reply\u2026 ("note: \u2026" stays internal)';
    ta.setAttribute('aria-label', 'Reply in this thread');
    var send = el('button', null, 'Reply');
    send.type = 'submit';
    var err = el('p', 'err');
    err.setAttribute('role', 'alert');
    // A file attached as in Slack's composer: the reply is then a file_share (refdesk.attachments).
    var attach = el('input');
    attach.type = 'file';
    attach.setAttribute('aria-label', 'Attach a file');
    form.appendChild(as);
    form.appendChild(ta);
    form.appendChild(attach);
    form.appendChild(send);
    form.appendChild(err);
    ta.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); form.requestSubmit ? form.requestSubmit() : submit(ev); }
    });
    async function submit(ev) {
      ev.preventDefault();
      var text = ta.value.trim(), file = attach.files && attach.files[0];
      if (!text && !file) { ta.focus(); return; }
      send.disabled = true;
      err.textContent = '';
      try {
        var body = { thread_ts: rootTs, text: text, user: sel.value };
        if (file) body.files = [{ name: file.name, content_type: file.type || 'application/octet-stream', data: await base64Of(file) }];
        var r = await api('POST', '/slack/reply', body);
        if (r.status && r.status >= 400) throw new Error('the app answered HTTP ' + r.status);
        ta.value = '';
        attach.value = '';
        refreshSlack();
      } catch (e) {
        err.textContent = 'Not sent: ' + e.message;
      } finally {
        send.disabled = false;
        ta.focus();
      }
    }
    form.addEventListener('submit', submit);
    box.appendChild(card);
    box.appendChild(replies);
    box.appendChild(form);
    return { box: box, card: card, replies: replies, form: form, cardSig: '', repliesSig: '' };
  }

  function base64Of(file) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(String(reader.result).split(',')[1] || ''); };
      reader.onerror = function () { reject(new Error('the file could not be read')); };
      reader.readAsDataURL(file);
    });
  }

  function renderSlack(messages) {
    var roots = [], byThread = {};
    messages.forEach(function (m) {
      if (!m || !m.ts) return;
      // As in Slack, an ephemeral message (a Reveal's original, a private note) is shown only to
      // the person it was posted to: the librarian chosen in "You are".
      if (m.ephemeral && m.visible_to && m.visible_to !== me.value) return;
      if (isRoot(m)) roots.push(m);
      else (byThread[m.thread_ts] = byThread[m.thread_ts] || []).push(m);
    });
    Object.keys(byThread).forEach(function (ts) { // replies whose root is missing
      if (!roots.some(function (r) { return r.ts === ts; })) {
        roots.push({ ts: ts, text: '(thread root not recorded)', username: 'unknown', blocks: [] });
      }
    });
    roots.sort(function (a, b) { return parseFloat(a.ts) - parseFloat(b.ts); });
    var stick = threadsBox.scrollHeight - threadsBox.scrollTop - threadsBox.clientHeight < 60;
    var added = false;
    roots.forEach(function (root) {
      var t = threads[root.ts];
      if (!t) {
        t = threads[root.ts] = makeThread(root.ts, !!root.ephemeral);
        threadsBox.appendChild(t.box);
        added = true;
      }
      var sig = JSON.stringify(root);
      if (sig !== t.cardSig) {
        t.cardSig = sig;
        t.card.textContent = '';
        t.card.appendChild(renderMessage(root));
        // a closed card keeps only READ 1-6 and the topic menu (refdesk.assessment)
        t.box.classList.toggle('closed', !root.ephemeral && (/^\[closed\]/.test(root.text || '') || !buttonsOf(root).length));
        t.box.setAttribute('aria-label', 'Conversation ' + slackPlain(root.text || '').slice(0, 80));
      }
      var reps = (byThread[root.ts] || []).slice().sort(function (a, b) { return parseFloat(a.ts) - parseFloat(b.ts); });
      var rsig = JSON.stringify(reps);
      if (rsig !== t.repliesSig) {
        t.repliesSig = rsig;
        t.replies.textContent = '';
        reps.forEach(function (r) { t.replies.appendChild(renderMessage(r, 'li')); });
        t.replies.hidden = !reps.length;
      }
    });
    Object.keys(threads).forEach(function (ts) { // another librarian's ephemeral answer: not shown
      if (threads[ts].box.classList.contains('ephemeral') && !roots.some(function (r) { return r.ts === ts; })) {
        threads[ts].box.remove();
        delete threads[ts];
      }
    });
    emptyNote.hidden = roots.some(function (r) { return !r.ephemeral; });
    if (added && stick) threadsBox.scrollTop = threadsBox.scrollHeight;
  }

  var slackBusy = false;
  async function refreshSlack() {
    if (slackBusy) return;
    slackBusy = true;
    try {
      var data = await api('GET', '/slack/messages');
      // The Slack Connect channel has a pane of its own (partner.js).
      renderSlack((Array.isArray(data.messages) ? data.messages : []).filter(function (m) {
        return !m || SHARED_CHANNELS.indexOf(m.channel) < 0;
      }));
      conn.textContent = 'live';
      conn.className = 'conn ok';
    } catch (err) {
      conn.textContent = 'local API unreachable (' + err.message + ')';
      conn.className = 'conn bad';
    } finally {
      slackBusy = false;
    }
  }

  // ---- phone simulator ----------------------------------------------------------------
  var num = $('num'), smsBox = $('sms'), smsEmpty = $('sms-empty'), smsText = $('sms-text'), smsStatus = $('sms-status');
  var smsPic = $('sms-pic'), MAX_PIC = 700 * 1024; // the control API takes requests up to 1 MB (base64 grows it)
  var phone = null; // {number, sent: [{body, t}], got: [{key, body, t, note}]}
  var renderedSig = '';

  function phoneKey(n) { return 'refdesk.local.phone.' + n; }
  function loadPhone(n) {
    var p = null;
    try { p = JSON.parse(sessionStorage.getItem(phoneKey(n)) || 'null'); } catch (e) { /* ignore */ }
    phone = p && p.number === n ? p : { number: n, sent: [], got: [] };
    renderPhone();
  }
  function savePhone() {
    try { sessionStorage.setItem(phoneKey(phone.number), JSON.stringify(phone)); } catch (e) { /* ignore */ }
  }
  function msgTime(m) {
    var v = m.date_sent || m.date_created || m.created_at || m.at || m.timestamp || m.time;
    var t = typeof v === 'number' ? (v < 1e12 ? v * 1000 : v) : Date.parse(v);
    return isNaN(t) ? null : t;
  }
  function renderPhone() {
    var all = phone.sent.map(function (s) { return { dir: 'out', body: s.body, t: s.t }; })
      .concat(phone.got.map(function (g) { return { dir: 'in', body: g.body, t: g.t, note: g.note }; }));
    all.sort(function (a, b) { return a.t - b.t; });
    var sig = phone.number + JSON.stringify(all);
    if (sig === renderedSig) return;
    renderedSig = sig;
    smsBox.querySelectorAll('.bubble').forEach(function (b) { b.remove(); });
    all.forEach(function (m) {
      var b = el('div', 'bubble ' + m.dir, m.body);
      var d = new Date(m.t);
      b.appendChild(el('small', null, (m.dir === 'out' ? 'You' : 'Library') + ' \u00b7 ' +
        d.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' }) + (m.note ? ' \u00b7 ' + m.note : '')));
      smsBox.appendChild(b);
    });
    smsEmpty.hidden = all.length > 0;
    smsBox.scrollTop = smsBox.scrollHeight;
  }
  function twimlMessages(twiml) {
    if (!twiml || typeof twiml !== 'string') return [];
    var doc = new DOMParser().parseFromString(twiml, 'text/xml');
    if (doc.getElementsByTagName('parsererror').length) return [];
    return Array.prototype.map.call(doc.getElementsByTagName('Message'), function (m) {
      var body = m.getElementsByTagName('Body')[0];
      return (body || m).textContent;
    }).filter(function (t) { return t; });
  }

  $('sms-form').addEventListener('submit', async function (ev) {
    ev.preventDefault();
    var body = smsText.value.trim();
    var from = num.value.trim();
    var pic = smsPic && smsPic.files && smsPic.files[0];
    if (!body && !pic) { smsText.focus(); return; }
    if (pic && pic.size > MAX_PIC) {
      smsStatus.className = 'sms-status err';
      smsStatus.textContent = 'Pictures up to 700 KB here (the local control API takes 1 MB requests).';
      return;
    }
    if (!/^\+[1-9]\d{6,14}$/.test(from)) {
      smsStatus.className = 'sms-status err';
      smsStatus.textContent = 'Use an E.164 number such as +15551234567.';
      num.focus();
      return;
    }
    if (from !== phone.number) loadPhone(from);
    smsText.value = '';
    var media;
    if (pic) {
      var data = await new Promise(function (ok, fail) {
        var reader = new FileReader();
        reader.onload = function () { ok(String(reader.result).split(',')[1] || ''); };
        reader.onerror = fail;
        reader.readAsDataURL(pic);
      });
      media = [{ content_type: pic.type || 'application/octet-stream', data: data }];
      smsPic.value = '';
    }
    var t = Date.now();
    phone.sent.push({ body: (body ? body + (pic ? '\n' : '') : '') + (pic ? '[picture: ' + pic.name + ']' : ''), t: t });
    savePhone();
    renderPhone();
    smsStatus.className = 'sms-status';
    smsStatus.textContent = 'Sending\u2026';
    try {
      var r = await api('POST', '/phone/send', media ? { from: from, body: body, media: media } : { from: from, body: body });
      twimlMessages(r.twiml).forEach(function (text, i) {
        phone.got.push({ key: 'twiml:' + t + ':' + i, body: text, t: t + 1 + i, note: 'TwiML reply' });
      });
      savePhone();
      renderPhone();
      smsStatus.textContent = 'Delivered to the webhook (HTTP ' + (r.status || 200) + ').';
      if (r.status && r.status >= 400) smsStatus.className = 'sms-status err';
    } catch (err) {
      smsStatus.className = 'sms-status err';
      smsStatus.textContent = 'Failed: ' + err.message;
    }
    smsText.focus();
  });
  smsText.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      $('sms-form').requestSubmit();
    }
  });
  num.addEventListener('change', function () { loadPhone(num.value.trim()); refreshPhone(); });
  $('sms-clear').addEventListener('click', function () {
    phone.sent = [];
    phone.got = phone.got.filter(function (g) { return g.key.indexOf('twiml:') !== 0; });
    savePhone();
    renderPhone();
  });

  var phoneBusy = false;
  async function refreshPhone() {
    if (phoneBusy || !phone) return;
    phoneBusy = true;
    var n = phone.number;
    try {
      var data = await api('GET', '/phone/messages?number=' + encodeURIComponent(n));
      if (n !== phone.number) return;
      var known = {};
      phone.got.forEach(function (g) { known[g.key] = true; });
      var changed = false;
      (Array.isArray(data.messages) ? data.messages : []).forEach(function (m, i) {
        if (!m) return;
        if (m.to && m.to !== n) return;
        var key = m.sid || ('idx:' + i);
        if (known[key]) return;
        var mms = Array.isArray(m.media_urls) ? m.media_urls : [];
        phone.got.push({ key: key, body: String(m.body == null ? '' : m.body), t: msgTime(m) || Date.now() + i,
          note: mms.length ? (mms.some(function (u) { return /\/contact\.vcf$/.test(u); }) ? 'MMS with the library\u2019s contact card' : 'MMS') : null });
        changed = true;
      });
      if (changed) { savePhone(); renderPhone(); }
    } catch (err) {
      smsStatus.className = 'sms-status err';
      smsStatus.textContent = 'Could not read texts: ' + err.message;
    } finally {
      phoneBusy = false;
    }
  }

  // ---- start --------------------------------------------------------------------------
  loadPhone(num.value.trim());
  refreshSlack();
  refreshPhone();
  setInterval(function () {
    if (document.hidden) return;
    refreshSlack();
    refreshPhone();
  }, POLL_MS);
})();
