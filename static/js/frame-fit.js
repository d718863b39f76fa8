// Fit the portal's frame to the page's content, measured from a wrapper element
// ([data-frame-fit]), never from the frame's own visible width: that width loses a scroll bar's
// 15 px whenever one shows, and a frame sized from it shrinks a little more on every call.
//
// BX24.fitWindow is the only call that keeps the width at 100% (resizeWindow takes pixels), but
// it measures the document, which is never shorter than the frame, so it can only grow it
// (bitrix24-look.md §3). So: a taller content grows the frame with fitWindow; a shorter one first
// sets its height with resizeWindow (at the frame's whole width, scroll bar included) and then
// gives the width back to 100% with fitWindow, which now measures just the content.
(function () {
  "use strict";
  var last = 0;
  var pending = false;
  var ready = false;

  function wrapper() {
    return document.querySelector("[data-frame-fit]") || document.body;
  }

  function contentHeight() {
    var box = wrapper().getBoundingClientRect();
    return Math.ceil(box.bottom + window.scrollY);
  }

  function fit() {
    pending = false;
    if (!ready) return;
    var height = contentHeight();
    if (Math.abs(height - last) < 2) return;
    last = height;
    if (height >= window.innerHeight) {
      window.BX24.fitWindow();
    } else {
      window.BX24.resizeWindow(window.innerWidth, height, function () {
        window.BX24.fitWindow();
      });
    }
  }

  function schedule() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(fit);
  }

  if (window.BX24 && typeof window.BX24.init === "function") {
    window.BX24.init(function () {
      ready = true;
      schedule();
    });
  }
  function observe() {
    if ("ResizeObserver" in window) new ResizeObserver(schedule).observe(wrapper());
    document.addEventListener("htmx:afterSettle", schedule);
    document.addEventListener("toggle", schedule, true);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", observe);
  else observe();
})();
