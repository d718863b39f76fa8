// The installer's last step: tell the portal the app is ready (BX24.installFinish), after the
// server has bound the tab and the events. Until then the portal shows no tab and sends no events.
"use strict";
if (window.BX24) {
  window.BX24.init(function () {
    window.BX24.installFinish();
  });
}
