// Small enhancements every page shares. Pages work without this file.
(function () {
  "use strict";
  // An error summary takes focus so a screen reader announces it, as GOV.UK does.
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector(".error-summary");
    if (summary) { summary.focus(); }
    // Confirm destructive actions (discard, delete, retire) before their form is sent.
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  });
})();
