// Deal Desk's deal tab, inside the Bitrix24 deal card. The server does all the work (htmx);
// this file only handles what a browser must (frame-fit.js fits the iframe): keeping the widget token fresh, keyboard moves between cells, the search listboxes (catalog
// and contacts), and the buttons that talk to the portal around the tab (BX24.reloadWindow).
"use strict";

(function () {
  const body = document.body;
  let bx24Ready = false;

  // The frame is fitted to the tab by frame-fit.js.

  if (window.BX24 && typeof window.BX24.init === "function") {
    window.BX24.init(function () {
      bx24Ready = true;
      offerCardReload();
      offerTabReload();
    });
  }

  // ------------------------------------------------------------------ the widget token

  function setToken(token) {
    // Other headers on <body> (X-Deal-Tab, the tab's own id) stay as they are.
    let headers = {};
    try {
      headers = JSON.parse(body.getAttribute("hx-headers") || "{}");
    } catch (error) {
      headers = {};
    }
    headers["X-Widget-Token"] = token;
    body.setAttribute("hx-headers", JSON.stringify(headers));
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
    if (xhr.status === 403 && !event.detail.elt.hasAttribute("data-opening")) {
      showNotice(body.dataset.expired || "", true);
    } else if (xhr.status >= 500) {
      showNotice(body.dataset.offline || "", false);
    }
  });
  // ------------------------------------------------------------------ the first paint (opening)
  // The skeleton page (deal_tab_opening.html) keeps its <body>: the filled tab's deal and its
  // own id (X-Deal-Tab) arrive with the fill's HX-Trigger; a refusal (403) is a page to show.
  body.addEventListener("dealtab:opened", function (event) {
    const detail = event.detail || {};
    let headers = {};
    try {
      headers = JSON.parse(body.getAttribute("hx-headers") || "{}");
    } catch (error) {
      headers = {};
    }
    headers["X-Deal-Tab"] = String(detail.tab || "");
    body.setAttribute("hx-headers", JSON.stringify(headers));
    body.dataset.deal = String(detail.deal || "");
  });
  body.addEventListener("htmx:beforeSwap", function (event) {
    const xhr = event.detail.xhr;
    const html = (xhr.getResponseHeader("Content-Type") || "").indexOf("text/html") === 0;
    if (event.detail.elt.hasAttribute("data-opening") && xhr.status === 403 && html) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
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

  // A button of the rows form (Save above all) pressed while a recalculation is on its way: htmx
  // would abort the recalculation (hx-sync replace) and log the abort as a console error. Hold the
  // press instead, and press the same button again once the recalculation is back (its answer
  // redraws the buttons, so it is found anew), unless it is disabled by then.
  let recalculating = false;
  let heldPress = null;
  // beforeSend, not beforeRequest: a request cancelled before it is sent never ends with afterRequest.
  body.addEventListener("htmx:beforeSend", function (event) {
    if (event.detail.elt && event.detail.elt.id === "editor-rows") recalculating = true;
  });
  body.addEventListener("htmx:confirm", function (event) {
    const form = event.detail.elt;
    if (!recalculating || !form || form.id !== "editor") return;
    event.preventDefault();
    const submit = event.detail.triggeringEvent;
    const button = submit && submit.submitter;
    heldPress = button && button.name ? { name: button.name, value: button.value } : { name: "", value: "" };
  });
  function pressHeld() {
    if (!heldPress || recalculating) return; // a newer recalculation started: wait for that one
    const press = heldPress;
    heldPress = null;
    const form = document.getElementById("editor");
    if (!form) return;
    const button = press.name
      ? Array.from(form.querySelectorAll("button[name]")).find(function (b) {
          return b.name === press.name && b.value === press.value;
        })
      : null;
    if (button && !button.disabled) button.click();
    else if (!press.name) form.requestSubmit();
  }
  body.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail.elt || event.detail.elt.id !== "editor-rows") return;
    recalculating = false;
    window.setTimeout(pressHeld, 0); // after the answer's buttons are in place
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

  // ------------------------------------------------------------------ the search listboxes

  // The catalog (products) and the contact search work alike: type, arrow down into the results,
  // Enter picks the first one, Escape clears.
  const LISTBOXES = { "product-search": "product-results", "contact-search": "contact-results" };

  function listboxOf(element) {
    const results = element.closest && element.closest(".results[role=listbox]");
    if (results) return { search: document.querySelector('[aria-controls="' + results.id + '"]'), results: results };
    const id = LISTBOXES[element.id];
    return id ? { search: element, results: document.getElementById(id) } : null;
  }

  function options(results) {
    return results ? Array.prototype.slice.call(results.querySelectorAll('button[role="option"]')) : [];
  }

  function closeResults(box) {
    if (box.results) box.results.hidden = true;
    if (box.search) box.search.setAttribute("aria-expanded", "false");
  }

  function searchKeys(event, box) {
    const list = options(box.results);
    const open = box.results && !box.results.hidden;
    if (event.key === "ArrowDown" && list.length && open) {
      event.preventDefault();
      list[0].focus();
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (list.length && open) list[0].click();
    } else if (event.key === "Escape") {
      if (box.search.value) {
        event.preventDefault();
        box.search.value = "";
        closeResults(box);
      }
    }
  }

  function optionKeys(event, option, box) {
    const list = options(box.results);
    const index = list.indexOf(option);
    if (event.key === "ArrowDown" && index < list.length - 1) {
      event.preventDefault();
      list[index + 1].focus();
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      (index > 0 ? list[index - 1] : box.search).focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      closeResults(box);
      box.search.focus();
    }
  }

  body.addEventListener("keydown", function (event) {
    const target = event.target;
    if (!target.matches) return;
    const box = listboxOf(target);
    if (!box || !box.search) return;
    if (target === box.search) searchKeys(event, box);
    else if (target.matches('[role="option"]')) optionKeys(event, target, box);
  });

  body.addEventListener("focusin", function (event) {
    const target = event.target;
    if (!(target.matches && target.matches('[role="option"]'))) return;
    const box = listboxOf(target);
    options(box && box.results).forEach(function (option) {
      option.setAttribute("aria-selected", option === target ? "true" : "false");
    });
  });

  body.addEventListener("htmx:afterSwap", function (event) {
    const target = event.detail.target;
    const search = target && target.id && document.querySelector('[aria-controls="' + target.id + '"]');
    if (search && target.matches(".results")) {
      const results = document.getElementById(target.id);
      search.setAttribute("aria-expanded", results && !results.hidden ? "true" : "false");
    }
    markInvalid(document);
    refocus();
  });
  body.addEventListener("htmx:afterSettle", focusNamed);

  // The server names the control to focus after an action (data-autofocus, not autofocus:
  // Chrome blocks the autofocus attribute in a cross-origin frame and logs an error for it).
  // Once: the attribute goes, so a later swap elsewhere (the freshness poll) does not move focus.
  function focusNamed() {
    const element = document.querySelector("[data-autofocus]");
    if (!element) return;
    element.removeAttribute("data-autofocus");
    element.focus();
  }

  // ------------------------------------------------------------------ buttons

  // Moving a product row keeps the focus on the same button of the moved row, so it can be pressed
  // again. (The contacts editor names the button to focus itself, with data-autofocus.)
  let pendingFocus = null;
  body.addEventListener("htmx:configRequest", function (event) {
    const submitter = event.detail.triggeringEvent && event.detail.triggeringEvent.submitter;
    const value = submitter ? submitter.value || "" : "";
    const form = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("form");
    const move = form && form.id === "editor" ? /^(up|down):(\d+)$/.exec(value) : null;
    pendingFocus = move ? move[1] + ":" + (Number(move[2]) + (move[1] === "up" ? -1 : 1)) : null;
    // Saving goes to Bitrix24 and may take a moment: say so (the status line is aria-live).
    const status = document.getElementById(form && form.id === "contacts" ? "contacts-status" : "save-status");
    if (status && /^(save|undo|overwrite)$/.test(value) && body.dataset.saving) {
      status.textContent = body.dataset.saving;
    }
  });

  function refocus() {
    if (!pendingFocus) return;
    const button = document.querySelector('#editor button[value="' + pendingFocus + '"]');
    pendingFocus = null;
    if (button && !button.disabled) button.focus();
  }

  // After a save that changed the deal's amount or primary contact, the deal card around the tab
  // still shows the old ones: offer to reload it (BX24.reloadWindow, bitrix24-protocol.md §5.4).
  // Not automatic: it reloads the whole card, and the person may be in the middle of something.
  function offerCardReload() {
    if (!bx24Ready || typeof window.BX24.reloadWindow !== "function") return;
    document.querySelectorAll("[data-reload-window]").forEach(function (button) {
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
    if (event.target.closest && event.target.closest("[data-reload-window]")) window.BX24.reloadWindow();
  });

  // Enter in a new contact's fields adds it (without JavaScript, Enter submits the form's first
  // button, a harmless search).
  body.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.target.closest && event.target.closest("#new-contact input"))) return;
    event.preventDefault();
    const create = document.querySelector('#new-contact button[value="create"]');
    if (create) create.click();
  });

  // A deal deleted in Bitrix24 (the freshness notice says so): nothing can be saved to it.
  function lockDeleted() {
    if (!document.querySelector("[data-deal-deleted]")) return;
    document.querySelectorAll('button[name="action"]').forEach(function (button) {
      if (/^(save|undo|overwrite|keep_theirs)$/.test(button.value)) button.disabled = true;
    });
  }
  body.addEventListener("htmx:afterSettle", lockDeleted);

  // The stage's colour comes from the portal; a style attribute would need 'unsafe-inline' in the
  // CSP, so it travels as data-stage-color and is set through the CSSOM, which the CSP allows.
  function paintStages() {
    document.querySelectorAll("[data-stage-color]").forEach(function (stage) {
      stage.style.setProperty("--stage", stage.dataset.stageColor);
    });
  }
  paintStages();
  body.addEventListener("htmx:afterSettle", paintStages);

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
