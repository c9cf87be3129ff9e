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
    document.addEventListener("click", openInDialog);
    navigationMenus();
  });

  // The main navigation's sections are <details> menus that work without this; here
  // one closes when another opens, on a click outside it, and on Escape (focus goes
  // back to its name, as a menu button's does).
  function navigationMenus() {
    var groups = document.querySelectorAll("details.nav-group");
    groups.forEach(function (group) {
      group.addEventListener("toggle", function () {
        if (!group.open) { return; }
        groups.forEach(function (other) { if (other !== group) { other.open = false; } });
      });
      group.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && group.open) {
          group.open = false;
          group.querySelector("summary").focus();
        }
      });
    });
    document.addEventListener("click", function (event) {
      groups.forEach(function (group) {
        if (group.open && !group.contains(event.target)) { group.open = false; }
      });
    });
  }

  // A link with data-dialog="<selector>" opens that part of the page it points at in
  // a modal dialog (the publish confirmation); without JavaScript, or if anything is
  // missing, the link simply opens the page. Forms in the dialog post as on the page.
  function openInDialog(event) {
    var link = event.target.closest("a[data-dialog]");
    if (!link || !window.HTMLDialogElement || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    event.preventDefault();
    fetch(link.href, { credentials: "same-origin" }).then(function (response) {
      return response.text();
    }).then(function (html) {
      var page = new DOMParser().parseFromString(html, "text/html");
      var content = page.querySelector(link.getAttribute("data-dialog"));
      if (!content) { window.location.href = link.href; return; }
      var dialog = document.createElement("dialog");
      dialog.className = "panel dialog";
      var heading = content.querySelector("h1");
      if (heading && heading.id) { dialog.setAttribute("aria-labelledby", heading.id); }
      content.classList.remove("panel");
      dialog.appendChild(document.importNode(content, true));
      dialog.querySelectorAll("form:not([action])").forEach(function (form) {
        form.setAttribute("action", link.href);
      });
      dialog.querySelectorAll("a[href]").forEach(function (a) {
        var here = a.pathname === window.location.pathname;
        if (a.hasAttribute("data-dialog-close") || here) {
          a.addEventListener("click", function (click) {
            if (a.hasAttribute("data-dialog-close")) { click.preventDefault(); }
            dialog.close();
          });
        }
      });
      dialog.addEventListener("close", function () {
        dialog.remove();
        link.focus();
      });
      document.body.appendChild(dialog);
      dialog.showModal();
      if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
    }).catch(function () { window.location.href = link.href; });
  }
})();
