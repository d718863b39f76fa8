// The colour theme switch: shows the choice at once (the server already rendered the saved one
// into <html data-theme>, so there is no flash on load); htmx posts it to be remembered.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-theme-switch] input[name=theme]")) return;
    document.documentElement.setAttribute("data-theme", input.value);
  });
})();
