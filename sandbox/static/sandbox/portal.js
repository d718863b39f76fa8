/*
 * portal.js: small behaviours of the sandbox portal's pages (no inline handlers, no build step).
 *
 * - [data-tabs]: a tab strip; an app tab's form (form[data-b24-lazy]) is POSTed into its iframe
 *   the first time the tab is shown, as a portal loads a placement only when it is opened.
 * - form[data-confirm]: asks before a destructive POST.
 * - form[data-autosubmit]: the user switcher submits when a user is picked.
 * - [data-secret]: a masked client_secret with a Reveal button.
 */
(function (window, document) {
  'use strict';

  document.documentElement.classList.add('js');

  function submitLazyForms(panel) {
    panel.querySelectorAll('form[data-b24-lazy]').forEach((form) => {
      form.removeAttribute('data-b24-lazy');
      form.submit();
    });
  }

  function setUpTabs(container) {
    const tabs = Array.from(container.querySelectorAll('[role="tab"]'));
    const panelOf = (tab) => document.getElementById(tab.getAttribute('aria-controls'));

    function select(tab, updateHash) {
      tabs.forEach((other) => {
        const selected = other === tab;
        other.setAttribute('aria-selected', selected ? 'true' : 'false');
        other.tabIndex = selected ? 0 : -1;
        const panel = panelOf(other);
        if (panel) panel.hidden = !selected;
      });
      const panel = panelOf(tab);
      if (panel) submitLazyForms(panel);
      // The hash names the tab ("#app-3"), not an element, so the browser does not jump to it.
      if (updateHash) window.history.replaceState(null, '', `#${tab.id.replace(/^tab-/, '')}`);
    }

    tabs.forEach((tab, index) => {
      tab.addEventListener('click', () => select(tab, true));
      tab.addEventListener('keydown', (event) => {
        const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (!step) return;
        const next = tabs[(index + step + tabs.length) % tabs.length];
        next.focus();
        select(next, true);
      });
    });

    const wanted = window.location.hash.slice(1);
    const initial = tabs.find((tab) => tab.id === `tab-${wanted}`) || tabs.find((tab) => tab.getAttribute('aria-selected') === 'true') || tabs[0];
    if (initial) select(initial, false);
  }

  function setUp() {
    document.querySelectorAll('[data-tabs]').forEach(setUpTabs);

    document.querySelectorAll('form[data-confirm]').forEach((form) => {
      form.addEventListener('submit', (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });

    document.querySelectorAll('form[data-autosubmit] select').forEach((select) => {
      select.addEventListener('change', () => select.form.submit());
    });

    document.querySelectorAll('[data-secret]').forEach((box) => {
      const button = box.querySelector('[data-reveal]');
      const mask = box.querySelector('.secret-mask');
      const value = box.querySelector('.secret-value');
      if (!button || !mask || !value) return;
      button.addEventListener('click', () => {
        const reveal = value.hidden;
        value.hidden = !reveal;
        mask.hidden = reveal;
        button.textContent = reveal ? 'Hide' : 'Reveal';
      });
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', setUp);
  } else {
    setUp();
  }
})(window, document);
