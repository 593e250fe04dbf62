// Template editor: show the fields of the chosen message type, count UTF-16 units,
// and insert personalization placeholders at the cursor.
(function () {
  "use strict";
  var lastField = null;

  function showTypeFields(select) {
    var card = select.closest("[data-card]");
    if (!card) { return; }
    card.querySelectorAll("[data-types]").forEach(function (group) {
      group.hidden = group.dataset.types.split(" ").indexOf(select.value) === -1;
    });
  }

  function updateCounter(textarea) {
    var counter = document.getElementById(textarea.id + "-count");
    if (!counter) { return; }
    var span = counter.querySelector("span");
    // JavaScript string lengths are UTF-16 code units, as LINE counts them.
    span.textContent = textarea.value.length;
    counter.classList.toggle("text-danger", textarea.value.length > Number(textarea.dataset.max));
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-type-select]")) { showTypeFields(event.target); }
  });

  document.addEventListener("input", function (event) {
    if (event.target.matches("textarea[data-max]")) { updateCounter(event.target); }
  });

  document.addEventListener("focusin", function (event) {
    var el = event.target;
    if (el.closest("form[data-message-editor]") && (el.tagName === "TEXTAREA" ||
        (el.tagName === "INPUT" && (el.type === "text" || el.type === "url")))) {
      lastField = el;
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-insert]");
    if (!button) { return; }
    var field = lastField || document.querySelector("form[data-message-editor] textarea[data-max]:not([hidden])");
    if (!field) { return; }
    var text = button.dataset.insert;
    var start = field.selectionStart === null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd === null ? field.value.length : field.selectionEnd;
    field.value = field.value.slice(0, start) + text + field.value.slice(end);
    field.focus();
    field.setSelectionRange(start + text.length, start + text.length);
    field.dispatchEvent(new Event("input", { bubbles: true }));
  });

  // Campaign wizard: show only the inputs that belong to the chosen options.
  function syncChoices() {
    document.querySelectorAll("[data-show-when]").forEach(function (block) {
      var parts = block.dataset.showWhen.split("=");
      var checked = document.querySelector("input[name='" + parts[0] + "']:checked");
      block.hidden = !checked || parts[1].split("|").indexOf(checked.value) === -1;
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("input[type=radio]")) { syncChoices(); }
  });
  document.addEventListener("DOMContentLoaded", syncChoices);
})();
