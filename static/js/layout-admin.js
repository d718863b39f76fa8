/*
 * Deal Desk card layout page: the few things htmx does not do by itself.
 * - keeps the widget token fresh (every answer carries a renewed one in X-Widget-Token);
 * - shows the polite refusal (a 403 with X-Layout-Refused) and a banner for an ended session;
 * - drag and drop of fields (the buttons do the same by keyboard), posted as the new order;
 * - filters the list of fields; puts focus back where a keyboard user was;
 * - fits the portal's iframe to the page (BX24.resizeWindow), so there is one scrollbar.
 * No inline handlers (the page's CSP-friendly rule): everything is bound here.
 */
(function () {
  'use strict';

  var TOKEN_HEADER = 'X-Widget-Token';

  function renewToken(token) {
    if (!token) return;
    var body = document.body;
    body.setAttribute('hx-headers', JSON.stringify({ 'X-Widget-Token': token }));
    document.querySelectorAll('input[name="widget_token"]').forEach(function (input) {
      input.value = token;
    });
  }

  function show(id) {
    var banner = document.getElementById(id);
    if (banner) banner.hidden = false;
  }

  document.addEventListener('htmx:afterRequest', function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status === 200) renewToken(xhr.getResponseHeader(TOKEN_HEADER));
  });

  document.addEventListener('htmx:beforeSwap', function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status === 403) {
      if (xhr.getResponseHeader('X-Layout-Refused')) {
        event.detail.shouldSwap = true; // the polite page replaces the workspace
        event.detail.isError = false;
      } else {
        event.detail.shouldSwap = false; // an expired or missing token: nothing to show but a banner
        show('session-ended');
      }
    }
  });

  document.addEventListener('htmx:sendError', function () {
    show('offline');
  });

  document.addEventListener('htmx:afterSwap', function (event) {
    var offline = document.getElementById('offline');
    if (offline) offline.hidden = true;
    if (event.detail.target && event.detail.target.id === 'workspace') {
      // A new funnel, a save, a rollback: start reading from the top, in the portal page too.
      window.scrollTo(0, 0);
      if (window.BX24 && typeof window.BX24.scrollParentWindow === 'function') window.BX24.scrollParentWindow(0);
    }
    var editor = document.getElementById('editor');
    var wanted = editor && editor.dataset.focus;
    if (!wanted) return;
    var control = document.getElementById(wanted);
    if (control && control.disabled) {
      var row = control.closest('li, section');
      control = row && row.querySelector('button:not([disabled])');
    }
    if (control) control.focus();
  });

  // --- filter the list of fields ----------------------------------------------------------------

  document.addEventListener('input', function (event) {
    var input = event.target;
    if (!input.matches || !input.matches('[data-palette-filter]')) return;
    var term = input.value.trim().toLowerCase();
    var palette = input.closest('aside');
    palette.querySelectorAll('[data-palette-group]').forEach(function (group) {
      var visible = 0;
      group.querySelectorAll('[data-palette-item]').forEach(function (item) {
        var match = !term || item.dataset.text.indexOf(term) !== -1;
        item.hidden = !match;
        if (match) visible += 1;
      });
      group.hidden = visible === 0;
    });
  });

  // --- drag and drop ------------------------------------------------------------------------------

  var dragged = null;

  document.addEventListener('dragstart', function (event) {
    var item = event.target.closest && event.target.closest('li[data-pos]');
    if (!item) return;
    dragged = item;
    item.classList.add('is-dragging');
    event.dataTransfer.effectAllowed = 'move';
    event.dataTransfer.setData('text/plain', item.dataset.pos);
  });

  function insertionPoint(list, y) {
    var items = Array.prototype.slice.call(list.querySelectorAll('li[data-pos]:not(.is-dragging)'));
    for (var i = 0; i < items.length; i += 1) {
      var box = items[i].getBoundingClientRect();
      if (y < box.top + box.height / 2) return items[i];
    }
    return null;
  }

  document.addEventListener('dragover', function (event) {
    if (!dragged) return;
    var list = event.target.closest && event.target.closest('[data-fields]');
    if (!list) return;
    event.preventDefault();
    var before = insertionPoint(list, event.clientY);
    var empty = list.querySelector('.la-empty');
    if (empty) empty.hidden = true;
    if (before) list.insertBefore(dragged, before);
    else list.appendChild(dragged);
  });

  document.addEventListener('dragend', function () {
    if (!dragged) return;
    dragged.classList.remove('is-dragging');
    dragged = null;
    var form = document.getElementById('editor');
    if (!form) return;
    // For every section in order: where each of its fields came from ("section:index").
    var order = Array.prototype.map.call(form.querySelectorAll('[data-section]'), function (section) {
      return Array.prototype.map.call(section.querySelectorAll('li[data-pos]'), function (item) {
        return item.dataset.pos;
      });
    });
    var moved = order.some(function (positions, section) {
      return positions.some(function (pos, index) {
        return pos !== section + ':' + index;
      });
    });
    if (!moved) return;
    form.querySelector('[data-order]').value = JSON.stringify(order);
    // A hidden op, not a submitter: htmx reads the form's fields, a submitter only when clicked.
    var op = document.createElement('input');
    op.type = 'hidden';
    op.name = 'op';
    op.value = 'reorder';
    form.appendChild(op);
    form.requestSubmit();
  });
  // The frame is fitted to the page by frame-fit.js.
  // --- the file picker: the chosen file's name beside the styled button --------------------------
  document.addEventListener('change', function (event) {
    var input = event.target;
    if (!input.matches || !input.matches('[data-file-input]')) return;
    var name = input.closest('label').querySelector('[data-file-name]');
    if (name && input.files && input.files.length) name.textContent = input.files[0].name;
  });
})();
