/* RefDesk local stand-ins: the app's Home tab, as Slack would show it to the librarian picked in
 * "You are" (the staff view's #me): opening it sends a signed app_home_opened event; the view is
 * what RefDesk last published for them (views.publish), read from GET /_local/api/slack/home.
 * Its buttons (Claim) press, and its menus (the filter) choose, through POST
 * /_local/api/slack/home/click. Text goes on the page with textContent only. */
(function () {
  'use strict';

  var POLL_MS = 1500;
  var $ = window.RefDeskLocal.$, el = window.RefDeskLocal.el, api = window.RefDeskLocal.api;
  var box = $('home'), pane = $('home-view'), status = $('home-status'), me = $('me');
  if (!box || !pane || !me) return;

  function plain(text) {
    return String(text || '').replace(/<@([A-Z0-9]+)>/g, '@$1').replace(/&lt;/g, '<').replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&').replace(/\*([^*]+)\*/g, '$1')
      .replace(/:hourglass_flowing_sand:/g, '\u23f3').replace(/:tada:/g, '\ud83c\udf89');
  }
  function textOf(obj) { return obj && typeof obj.text === 'string' ? obj.text : ''; }

  function button(b) {
    var btn = el('button', b.style === 'danger' ? 'danger' : null, plain(textOf(b.text)) || b.action_id);
    btn.type = 'button';
    btn.addEventListener('click', async function () {
      btn.disabled = true;
      try {
        await api('POST', '/slack/home/click', { user: me.value, action_id: b.action_id, value: b.value });
        status.textContent = 'Pressed ' + (textOf(b.text) || b.action_id) + '.';
      } catch (err) {
        btn.disabled = false;
        status.textContent = 'Could not press it: ' + err.message;
      }
    });
    return btn;
  }

  function menu(s) { // a static_select (the filter): picking an option sends it as Slack does, selected_option
    var pick = el('select', 'home-select');
    pick.setAttribute('aria-label', textOf(s.placeholder) || s.action_id);
    (s.options || []).forEach(function (o) { pick.appendChild(el('option', null, plain(textOf(o.text)))).value = o.value; });
    pick.value = s.initial_option ? s.initial_option.value : '';
    pick.addEventListener('change', async function () {
      pick.disabled = true;
      try {
        await api('POST', '/slack/home/click', { user: me.value, action_id: s.action_id, value: pick.value });
        status.textContent = 'Chose ' + pick.options[pick.selectedIndex].text + '.';
      } catch (err) {
        status.textContent = 'Could not choose it: ' + err.message;
      } finally {
        pick.disabled = false;
      }
    });
    return pick;
  }

  var shown = '';
  function render(view) {
    var sig = JSON.stringify(view);
    if (sig === shown) return;
    shown = sig;
    pane.textContent = '';
    if (!view) { pane.appendChild(el('p', 'empty', 'Not published yet: open the Home tab.')); return; }
    (view.blocks || []).forEach(function (b) {
      if (!b) return;
      var row;
      if (b.type === 'header') row = el('h3', 'blk header', plain(textOf(b.text)));
      else if (b.type === 'divider') row = el('hr', 'blk divider');
      else if (b.type === 'context') row = el('p', 'blk context', (b.elements || []).map(function (e) { return plain(textOf(e)); }).join('  '));
      else if (b.type === 'section') {
        row = el('div', 'blk section home-row', plain(textOf(b.text)));
        if (b.accessory && b.accessory.type === 'button') { row.appendChild(document.createTextNode(' ')); row.appendChild(button(b.accessory)); }
      } else if (b.type === 'actions') {
        row = el('div', 'card-actions');
        (b.elements || []).forEach(function (e) {
          if (e && e.type === 'button') row.appendChild(button(e));
          else if (e && e.type === 'static_select') row.appendChild(menu(e));
        });
      }
      if (row) pane.appendChild(row);
    });
  }

  async function refresh() {
    if (!box.open || document.hidden) return;
    try {
      var data = await api('GET', '/slack/home?user=' + encodeURIComponent(me.value));
      render(data.view || null);
    } catch (err) {
      status.textContent = 'Could not read the Home tab: ' + err.message;
    }
  }
  async function open() {
    try {
      await api('POST', '/slack/home', { user: me.value });
      status.textContent = 'Opened the Home tab as ' + (me.options[me.selectedIndex] || {}).text + '.';
    } catch (err) {
      status.textContent = 'Could not open it: ' + err.message;
    }
    refresh();
  }
  $('home-open').addEventListener('click', open);
  box.addEventListener('toggle', function () { if (box.open) open(); });
  me.addEventListener('change', function () { shown = ''; if (box.open) open(); });
  setInterval(refresh, POLL_MS);
})();
