/* RefDesk local stand-ins: the Mailbox, the e-mails Amazon SES (the embedded moto) accepted -
 * librarians' replies to follow-ups that left an e-mail address - newest first, read from
 * GET /_local/api/mail. Plain JS; every piece of e-mail text goes on the page with textContent. */
(function () {
  'use strict';

  var POLL_MS = 1500;
  var OPEN_KEY = 'refdesk.local.mailbox.open';

  var $ = window.RefDeskLocal.$, el = window.RefDeskLocal.el;

  var box = $('mailbox'), list = $('mail'), empty = $('mail-empty'), count = $('mail-count'), sender = $('mail-sender');
  if (!box || !list) return;
  try { box.open = sessionStorage.getItem(OPEN_KEY) === '1'; } catch (e) { /* ignore */ }
  box.addEventListener('toggle', function () {
    try { sessionStorage.setItem(OPEN_KEY, box.open ? '1' : '0'); } catch (e) { /* ignore */ }
  });

  function render(messages) {
    list.querySelectorAll('.mail').forEach(function (m) { m.remove(); });
    messages.slice().reverse().forEach(function (m) {
      var subject = String(m.subject || '(no subject)');
      var article = el('article', 'mail');
      article.setAttribute('aria-label', 'E-mail: ' + subject);
      var head = el('dl', 'mail-head');
      [['Subject', subject], ['To', (Array.isArray(m.to) ? m.to : []).join(', ')], ['From', String(m.from || '')]]
        .forEach(function (row) {
          head.appendChild(el('dt', null, row[0]));
          head.appendChild(el('dd', 'mail-' + row[0].toLowerCase(), row[1]));
        });
      article.appendChild(head);
      article.appendChild(el('pre', 'mail-body', String(m.body == null ? '' : m.body)));
      list.appendChild(article);
    });
    empty.hidden = messages.length > 0;
    count.textContent = messages.length === 0 ? 'no e-mail sent'
      : messages.length === 1 ? '1 e-mail sent' : messages.length + ' e-mails sent';
    count.className = 'conn';
  }

  var busy = false, shown = null;
  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      var res = await fetch('/_local/api/mail', { cache: 'no-store' });
      var data = null;
      try { data = await res.json(); } catch (e) { /* not JSON */ }
      if (!res.ok) throw new Error(res.status + ' ' + (data && data.error || res.statusText));
      var messages = Array.isArray(data && data.messages) ? data.messages : [];
      if (data.sender) sender.textContent = data.sender;
      var signature = JSON.stringify(messages);
      if (signature !== shown) {
        shown = signature;
        render(messages);
      }
    } catch (err) {
      count.textContent = 'mailbox unavailable (' + err.message + ')';
      count.className = 'conn bad';
      shown = null; // shown again in full once it answers
    } finally {
      busy = false;
    }
  }

  refresh();
  setInterval(function () { if (!document.hidden) refresh(); }, POLL_MS);
})();
