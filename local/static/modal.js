/* RefDesk local stand-ins: modals. What views.open opened in the Slack stand-in (the Invite
 * modal) is shown as a dialog; Submit sends a signed view_submission through the control API
 * (POST /_local/api/slack/submit), Cancel closes it. Plain JS; view text goes on the page with
 * textContent. */
(function () {
  'use strict';

  var POLL_MS = 1000;
  var $ = window.RefDeskLocal.$, el = window.RefDeskLocal.el, api = window.RefDeskLocal.api;
  var dialog = $('modal'), form = $('modal-form'), title = $('modal-title'), body = $('modal-body');
  var status = $('modal-status'), submit = $('modal-submit'), cancel = $('modal-cancel'), me = $('me');
  if (!dialog || !form) return;
  var shown = null; // the view id on screen
  var busy = false;

  function textOf(t) { return t && typeof t === 'object' ? String(t.text || '') : String(t || ''); }
  function plain(s) { return String(s).replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&').replace(/[*_]/g, ''); }

  function render(view) {
    shown = view.id;
    title.textContent = textOf(view.title) || 'Modal';
    submit.textContent = textOf(view.submit) || 'Submit';
    cancel.textContent = textOf(view.close) || 'Cancel';
    status.textContent = '';
    body.replaceChildren();
    (view.blocks || []).forEach(function (b, i) {
      if (b.type === 'section') body.appendChild(el('p', null, plain(textOf(b.text))));
      if (b.type === 'context') (b.elements || []).forEach(function (e) { body.appendChild(el('p', 'hint', plain(textOf(e)))); });
      if (b.type !== 'input' || !b.element) return;
      var id = 'modal-input-' + i, e = b.element, input;
      var label = el('label', null, textOf(b.label) + (b.optional ? ' (optional)' : ''));
      label.htmlFor = id;
      if (e.type === 'static_select') {
        input = el('select');
        input.appendChild(el('option', null, textOf(e.placeholder) || 'Choose\u2026')).value = '';
        (e.options || []).forEach(function (o) { input.appendChild(el('option', null, textOf(o.text))).value = o.value; });
      } else {
        input = el(e.multiline ? 'textarea' : 'input');
        if (e.max_length) input.maxLength = e.max_length;
      }
      input.id = id;
      input.dataset.block = b.block_id;
      input.required = !b.optional;
      body.appendChild(label);
      body.appendChild(input);
    });
    if (!dialog.open) dialog.showModal();
  }

  function hide() {
    shown = null;
    if (dialog.open) dialog.close();
  }

  form.addEventListener('submit', async function (ev) {
    ev.preventDefault();
    if (!shown) return;
    var values = {};
    body.querySelectorAll('[data-block]').forEach(function (input) {
      if (input.value !== '') values[input.dataset.block] = input.value;
    });
    submit.disabled = true;
    try {
      var r = await api('POST', '/slack/submit', { view_id: shown, values: values, user: me ? me.value : undefined });
      if (r.status >= 400) throw new Error('the app answered HTTP ' + r.status);
      if (r.closed) hide();
    } catch (err) {
      status.textContent = 'Not submitted: ' + err.message;
    } finally {
      submit.disabled = false;
    }
  });

  cancel.addEventListener('click', async function () {
    var id = shown;
    hide();
    if (id) { try { await api('POST', '/slack/views/close', { view_id: id }); } catch (e) { /* ignore */ } }
  });

  async function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      var views = (await api('GET', '/slack/views')).views || [];
      var latest = views[views.length - 1];
      if (latest && latest.id !== shown) render(latest);
      if (!latest && shown) hide();
    } catch (e) { /* the staff view shows the connection state */ } finally {
      busy = false;
    }
  }
  refresh();
  setInterval(refresh, POLL_MS);
})();
