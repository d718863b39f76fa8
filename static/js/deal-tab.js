// Deal Desk's deal tab, inside the Bitrix24 deal card. The server does all the work (htmx);
// this file only handles what a browser must: fitting the iframe to its content (BX24.js),
// keeping the widget token fresh, keyboard moves between cells, and the catalog listbox.
"use strict";

(function () {
  const body = document.body;
  let bx24Ready = false;

  // ------------------------------------------------------------------ fit the iframe (BX24.js)

  let lastHeight = 0;
  let scheduled = false;

  function contentHeight() {
    const main = document.getElementById("deal-tab");
    return Math.ceil((main ? main.getBoundingClientRect().bottom : body.scrollHeight) + window.scrollY);
  }

  function fit() {
    scheduled = false;
    if (!bx24Ready) return;
    const height = contentHeight();
    if (Math.abs(height - lastHeight) < 2) return;
    lastHeight = height;
    if (height >= window.innerHeight) {
      window.BX24.fitWindow(); // grows to the document's height, at 100% width
    } else {
      // fitWindow never shrinks below the current frame, so a shorter page says its height.
      window.BX24.resizeWindow(document.documentElement.clientWidth, height);
    }
  }

  function scheduleFit() {
    if (!scheduled) {
      scheduled = true;
      window.requestAnimationFrame(fit);
    }
  }

  if (window.BX24 && typeof window.BX24.init === "function") {
    window.BX24.init(function () {
      bx24Ready = true;
      scheduleFit();
      offerCardReload();
      offerTabReload();
    });
  }
  if ("ResizeObserver" in window) {
    new ResizeObserver(scheduleFit).observe(body);
  }

  // ------------------------------------------------------------------ the widget token

  function setToken(token) {
    body.setAttribute("hx-headers", JSON.stringify({ "X-Widget-Token": token }));
    document.querySelectorAll('input[name="widget_token"]').forEach(function (input) {
      input.value = token;
    });
  }

  function showNotice(text, withReload) {
    const notice = document.getElementById("session-notice");
    if (!notice) return;
    notice.textContent = text;
    if (withReload) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button small";
      button.textContent = body.dataset.reload || "Reload";
      button.addEventListener("click", reloadTab);
      notice.append(" ", button);
    }
    notice.hidden = false;
  }

  // The token expired (the tab sat unused, e.g. over a laptop's sleep): open the tab again the
  // way the portal does, with a fresh token from BX24.js.
  function reloadTab() {
    const deal = body.dataset.deal;
    if (!bx24Ready || !deal || !body.dataset.placementUrl) {
      window.location.reload();
      return;
    }
    window.BX24.refreshAuth(function (auth) {
      const form = document.createElement("form");
      form.method = "post";
      form.action = body.dataset.placementUrl;
      const fields = {
        AUTH_ID: auth.access_token,
        REFRESH_ID: auth.refresh_token,
        AUTH_EXPIRES: "3600",
        member_id: auth.member_id,
        PLACEMENT: "CRM_DEAL_DETAIL_TAB",
        PLACEMENT_OPTIONS: JSON.stringify({ ID: deal }),
      };
      Object.keys(fields).forEach(function (name) {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        input.value = fields[name] || "";
        form.append(input);
      });
      body.append(form);
      form.submit();
    });
  }

  body.addEventListener("htmx:afterRequest", function (event) {
    const xhr = event.detail.xhr;
    if (!xhr) return;
    const token = xhr.getResponseHeader("X-Widget-Token");
    if (token) setToken(token);
    if (xhr.status === 403) {
      showNotice(body.dataset.expired || "", true);
    } else if (xhr.status >= 500) {
      showNotice(body.dataset.offline || "", false);
    }
  });
  body.addEventListener("htmx:sendError", function () {
    showNotice(body.dataset.offline || "", false);
  });

  // ------------------------------------------------------------------ cells: Enter, Escape, errors

  function cellBelow(input, step) {
    const row = input.closest("tr[data-row]");
    if (!row) return null;
    let next = step > 0 ? row.nextElementSibling : row.previousElementSibling;
    while (next && !next.matches("tr[data-row]")) {
      next = step > 0 ? next.nextElementSibling : next.previousElementSibling;
    }
    return next ? next.querySelector('[data-cell="' + input.dataset.cell + '"]') : null;
  }

  body.addEventListener("focusin", function (event) {
    const input = event.target;
    if (input.matches && input.matches("[data-cell]")) {
      input.dataset.original = input.type === "checkbox" ? String(input.checked) : input.value;
    }
  });

  body.addEventListener("keydown", function (event) {
    const input = event.target;
    if (!input.matches) return;
    if (input.matches("input[data-cell]:not([type=checkbox])")) {
      if (event.key === "Enter") {
        // Like a spreadsheet: Enter goes down (Shift+Enter up); the change is recalculated.
        event.preventDefault();
        const target = cellBelow(input, event.shiftKey ? -1 : 1);
        input.dispatchEvent(new Event("change", { bubbles: true }));
        if (target) {
          target.focus();
          target.select();
        } else {
          input.blur();
        }
      } else if (event.key === "Escape") {
        event.preventDefault();
        if (input.value !== input.dataset.original && input.dataset.original !== undefined) {
          input.value = input.dataset.original;
          input.dispatchEvent(new Event("input", { bubbles: true }));
        }
        input.blur();
      }
    } else if (input.id === "product-search") {
      searchKeys(event, input);
    } else if (input.matches('#product-results [role="option"]')) {
      optionKeys(event, input);
    }
  });

  // A recalculation is dropped while another request is in flight (hx-sync abort, so it never
  // cancels a save): once that one is back, recalculate again if cells changed meanwhile.
  let editedSinceSent = null;
  ["input", "change"].forEach(function (name) {
    // Capturing: noted before htmx (on the rows) sends the request this very event may trigger.
    body.addEventListener(
      name,
      function (event) {
        if (event.target.matches && event.target.matches("[data-cell]")) editedSinceSent = event.target;
      },
      true,
    );
  });
  body.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.elt && event.detail.elt.id === "editor-rows") editedSinceSent = null;
  });
  body.addEventListener("htmx:afterRequest", function (event) {
    const cell = editedSinceSent;
    if (cell && event.detail.elt && event.detail.elt.id === "editor-rows" && body.contains(cell)) {
      editedSinceSent = null;
      cell.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  // After a recalculation only the error texts change: mark their inputs invalid or valid.
  function markInvalid(root) {
    (root || document).querySelectorAll(".cell-error[id]").forEach(function (error) {
      const input = document.getElementById(error.id.replace(/-error$/, ""));
      if (!input) return;
      if (error.textContent.trim()) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    });
  }
  body.addEventListener("htmx:oobAfterSwap", function () {
    markInvalid(document);
  });

  // ------------------------------------------------------------------ the catalog listbox

  function options() {
    return Array.prototype.slice.call(document.querySelectorAll('#product-results [role="option"]'));
  }

  function closeResults() {
    const results = document.getElementById("product-results");
    const search = document.getElementById("product-search");
    if (results) results.hidden = true;
    if (search) search.setAttribute("aria-expanded", "false");
  }

  function searchKeys(event, search) {
    const list = options();
    if (event.key === "ArrowDown" && list.length) {
      event.preventDefault();
      list[0].focus();
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (list.length && !document.getElementById("product-results").hidden) list[0].click();
    } else if (event.key === "Escape") {
      if (search.value) {
        event.preventDefault();
        search.value = "";
        closeResults();
      }
    }
  }

  function optionKeys(event, option) {
    const list = options();
    const index = list.indexOf(option);
    if (event.key === "ArrowDown" && index < list.length - 1) {
      event.preventDefault();
      list[index + 1].focus();
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      (index > 0 ? list[index - 1] : document.getElementById("product-search")).focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      closeResults();
      document.getElementById("product-search").focus();
    }
  }

  body.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches('[role="option"]')) {
      options().forEach(function (option) {
        option.setAttribute("aria-selected", option === event.target ? "true" : "false");
      });
    }
  });

  body.addEventListener("htmx:afterSwap", function (event) {
    const target = event.detail.target;
    if (target && target.id === "product-results") {
      const results = document.getElementById("product-results");
      const search = document.getElementById("product-search");
      if (search && results) search.setAttribute("aria-expanded", results.hidden ? "false" : "true");
    }
    markInvalid(document);
    refocus();
  });

  // ------------------------------------------------------------------ buttons

  // Moving a row keeps the focus on the same button of the moved row, so it can be pressed again.
  let pendingFocus = null;
  body.addEventListener("htmx:configRequest", function (event) {
    const submitter = event.detail.triggeringEvent && event.detail.triggeringEvent.submitter;
    const value = submitter ? submitter.value || "" : "";
    const move = /^(up|down):(\d+)$/.exec(value);
    pendingFocus = move ? move[1] + ":" + (Number(move[2]) + (move[1] === "up" ? -1 : 1)) : null;
    // Saving goes to Bitrix24 and may take a moment: say so (the status line is aria-live).
    const status = document.getElementById("save-status");
    if (status && /^(save|undo|overwrite)$/.test(value) && body.dataset.saving) {
      status.textContent = body.dataset.saving;
    }
  });

  function refocus() {
    if (!pendingFocus) return;
    const button = document.querySelector('button[value="' + pendingFocus + '"]');
    pendingFocus = null;
    if (button && !button.disabled) button.focus();
  }

  // After a save the deal card around the tab still shows the old amount: offer to refresh it
  // (reloadData, bitrix24-protocol.md §5.2). Not automatic: the portal may reload the whole card.
  function offerCardReload() {
    if (!bx24Ready || !window.BX24.placement) return;
    document.querySelectorAll("[data-reload-card]").forEach(function (button) {
      button.hidden = false;
    });
  }
  body.addEventListener("htmx:afterSettle", offerCardReload);

  // A tab whose sign-in Bitrix24 stopped accepting opens again with a fresh one from BX24.js.
  function offerTabReload() {
    if (!bx24Ready) return;
    document.querySelectorAll("[data-reload-tab]").forEach(function (button) {
      button.hidden = false;
    });
  }
  body.addEventListener("htmx:afterSettle", offerTabReload);
  body.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-reload-tab]")) reloadTab();
  });
  body.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-reload-card]")) {
      window.BX24.placement.call("reloadData", {});
    }
  });

  // "Add the first product" goes to the catalog search when there is one (no JS: adds a row).
  body.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-focus]");
    if (!button) return;
    const target = document.querySelector(button.dataset.focus);
    if (target) {
      event.preventDefault();
      target.focus();
    }
  });
})();
