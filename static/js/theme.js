// The colour theme switch: shows the choice at once; htmx posts it to be remembered on the server.
// The server renders the saved choice into <html data-theme> on every page it knows the user for.
// The deal tab's first paint (a skeleton sent before the user is verified) cannot know it, so the
// filled tab carries it as data-theme-choice and it is applied as soon as the tab is swapped in.
(function () {
  "use strict";
  function apply(theme) {
    if (theme === "auto" || theme === "light" || theme === "dark") {
      document.documentElement.setAttribute("data-theme", theme);
    }
  }
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-theme-switch] input[name=theme]")) return;
    apply(input.value);
  });
  document.addEventListener("htmx:afterSettle", function () {
    var carrier = document.querySelector("[data-theme-choice]");
    if (!carrier) return;
    apply(carrier.getAttribute("data-theme-choice"));
    carrier.removeAttribute("data-theme-choice"); // once: a later switch must not be undone by it
  });
})();
