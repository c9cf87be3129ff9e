// The draft editor's autosave: each edit form is sent in the background with the
// draft's revision; the server answers with the refreshed item list and the new
// revision, or refuses a stale revision (412) so that an edit made elsewhere is never
// overwritten. Without this file every form still works as a normal post.
(function () {
  "use strict";

  var editor, statusEl, revision, conflicted = false, queue = Promise.resolve();
  var savedAt = null, detailsTimer = null, sortable = null, refocusSearch = false;

  function setStatus(state, text) {
    statusEl.dataset.state = state;
    statusEl.textContent = text;
  }

  function refreshSavedText() {
    if (!savedAt || statusEl.dataset.state !== "saved") { return; }
    var minutes = Math.floor((Date.now() - savedAt) / 60000);
    setStatus("saved", minutes < 1 ? "Saved just now" : "Saved " + minutes + " min ago");
  }

  function setRevision(value) {
    revision = value;
    editor.dataset.revision = value;
    document.querySelectorAll('#editor input[name="revision"]').forEach(function (input) {
      input.value = value;
    });
  }

  function announce(text) {
    var region = document.getElementById("move-announcer");
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  function showConflict(lost) {
    conflicted = true;
    document.getElementById("conflict").hidden = false;
    var lostEl = document.getElementById("conflict-lost");
    if (lost) {
      lostEl.textContent = "Not saved: " + lost + ".";
      lostEl.hidden = false;
    }
    setStatus("conflict", "Not saved: the draft changed elsewhere");
    document.getElementById("conflict-reload").focus();
  }

  function describe(data) {
    var op = data.get("op");
    var label = data.get("label") || "the details";
    if (op === "required" || op === "optional") { return "making " + label + " " + op; }
    if (op === "remove") { return "removing " + label; }
    if (op === "up" || op === "down" || op === "move") { return "moving " + label; }
    if (op === "use_latest") { return "taking the newest version of " + label; }
    if (data.get("target")) { return "adding " + label; }
    return "your change to the name or description";
  }

  // Send one edit; edits are sent one after another so each carries the revision
  // the previous one produced.
  function send(form, data, after) {
    if (conflicted) {
      showConflict(describe(data));
      return queue;
    }
    queue = queue.then(function () {
      data.set("revision", revision);
      setStatus("saving", "Saving…");
      return fetch(form.action, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-Coursepack-Autosave": "1" }
      }).then(function (response) {
        return response.text().then(function (body) {
          if (response.status === 412) { showConflict(describe(data)); return; }
          if (!response.ok) {
            setStatus("error", "Not saved: " + (body || "the server refused the change"));
            return;
          }
          setRevision(response.headers.get("X-Revision"));
          replaceItems(body);
          savedAt = Date.now();
          setStatus("saved", "Saved just now");
          var message = response.headers.get("X-Message");
          if (after) { after(message); } else if (message) { announce(message); }
          var search = document.getElementById("id_q");
          if (data.get("target") && search && window.htmx) {
            // The results say what is already in the draft: ask for them again.
            refocusSearch = true;
            window.htmx.trigger(search, "search");
          }
        });
      }).catch(function () {
        setStatus("error", "Not saved: the server could not be reached; try again");
      });
    });
    return queue;
  }

  function replaceItems(html) {
    var region = document.getElementById("draft-items-region");
    region.innerHTML = html;
    var count = region.querySelectorAll("li[data-item-id]").length;
    var title = document.querySelector("#contents-title .section-count");
    if (title) { title.textContent = "(" + count + " item" + (count === 1 ? "" : "s") + ")"; }
    bindSortable();
  }

  function focusAfterMove(itemId, direction, name) {
    return function () {
      var item = document.getElementById("item-" + itemId);
      if (!item) { return; }
      var button = item.querySelector('button[data-move="' + direction + '"]');
      if (!button || button.disabled) {
        button = item.querySelector('button[data-move="' + (direction === "up" ? "down" : "up") + '"]');
      }
      if (button) { button.focus(); }
      var list = item.parentElement.querySelectorAll("li[data-item-id]");
      announce("Moved " + name + " to position " + item.dataset.position + " of " + list.length + ".");
    };
  }

  function bindSortable() {
    var list = document.getElementById("draft-items");
    if (!list || !window.Sortable) { return; }
    if (sortable) { sortable.destroy(); }
    sortable = window.Sortable.create(list, {
      handle: ".drag-handle",
      draggable: "li[data-item-id]",
      animation: 120,
      forceFallback: true,
      onEnd: function (event) {
        if (event.oldIndex === event.newIndex) { return; }
        var item = event.item;
        var form = item.querySelector("form.item-form");
        var data = new FormData(form);
        data.set("op", "move");
        data.set("to", String(event.newIndex + 1));
        send(form, data, function () {
          announce("Moved " + item.dataset.name + " to position " + (event.newIndex + 1) + ".");
        });
      }
    });
  }

  function onSubmit(event) {
    var form = event.target;
    if (!editor.contains(form) || form.method.toLowerCase() !== "post") { return; }
    event.preventDefault();
    var data = new FormData(form);
    var submitter = event.submitter;
    if (submitter && submitter.name) { data.set(submitter.name, submitter.value); }
    var after = null;
    if (submitter && submitter.dataset.move) {
      var item = form.closest("li[data-item-id]");
      after = focusAfterMove(item.dataset.itemId, submitter.dataset.move, item.dataset.name);
    } else if (form.id === "details-form") {
      window.clearTimeout(detailsTimer);
    }
    send(form, data, after);
  }

  function scheduleDetails() {
    if (conflicted) { showConflict("your change to the name or description"); return; }
    setStatus("pending", "Unsaved changes…");
    window.clearTimeout(detailsTimer);
    detailsTimer = window.setTimeout(function () {
      var form = document.getElementById("details-form");
      send(form, new FormData(form));
    }, 700);
  }

  document.addEventListener("DOMContentLoaded", function () {
    editor = document.getElementById("editor");
    statusEl = document.getElementById("save-status");
    if (!editor || !statusEl) { return; }
    revision = editor.dataset.revision;
    setStatus("idle", "All changes saved");
    document.addEventListener("submit", onSubmit);
    var details = document.getElementById("details-form");
    details.addEventListener("input", scheduleDetails);
    details.addEventListener("change", scheduleDetails);
    // htmx swaps in new search results: they carry the revision of the page load.
    document.body.addEventListener("htmx:afterSwap", function () {
      setRevision(revision);
      if (refocusSearch) {
        refocusSearch = false;
        document.getElementById("id_q").focus();
      }
    });
    window.addEventListener("beforeunload", function (event) {
      if (statusEl.dataset.state === "saving" || statusEl.dataset.state === "pending") {
        event.preventDefault();
      }
    });
    window.setInterval(refreshSavedText, 30000);
    bindSortable();
  });
})();
