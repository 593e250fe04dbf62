// Remember the browser's time zone: a user who has none takes it at login (see the README).
(function () {
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && document.cookie.indexOf("tz=" + tz) === -1) {
      document.cookie = "tz=" + tz + "; path=/; SameSite=Lax; max-age=31536000";
    }
  } catch (e) { /* older browsers: times stay in the server's zone */ }
})();

// Ask before destructive actions: any form or button with data-confirm.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var message = (event.submitter && event.submitter.dataset.confirm) || form.dataset.confirm;
  if (message && !window.confirm(message)) { event.preventDefault(); }
}, true);

// Copy buttons: <button data-copy="#input-id">.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) { return; }
  var target = document.querySelector(button.dataset.copy);
  if (target && navigator.clipboard) {
    navigator.clipboard.writeText(target.value || target.textContent).then(function () {
      button.textContent = "Copied";
    });
  }
});

// Import column mapping: the column chosen as the LINE id (or display name) is shown as such,
// not offered as an attribute, since the import never makes it one.
document.addEventListener("change", function (event) {
  if (!event.target.matches("select[data-claims]")) { return; }
  var claimed = Object.create(null);
  event.target.form.querySelectorAll("select[data-claims]").forEach(function (select) {
    if (select.value) { claimed[select.value] = select.dataset.claims; }
  });
  event.target.form.querySelectorAll("[data-column]").forEach(function (block) {
    var label = claimed[block.dataset.column] || "";
    var shown = block.querySelector("[data-claimed-as]");
    shown.textContent = label;
    shown.hidden = !label;
    block.querySelector("[data-attribute-type]").hidden = Boolean(label);
  });
});

// Progress bars: <div class="progress-bar" data-width="42">. The width is set here because the
// Content-Security-Policy refuses style="" attributes; htmx:load covers the page and every swap.
document.addEventListener("htmx:load", function (event) {
  var root = event.detail.elt;
  var bars = root.matches("[data-width]") ? [root] : [];
  bars.concat(Array.from(root.querySelectorAll("[data-width]"))).forEach(function (bar) {
    bar.style.width = bar.dataset.width + "%";
  });
});

// Polling marked data-poll-visible skips its requests while the tab is hidden.
document.addEventListener("htmx:beforeRequest", function (event) {
  if (document.hidden && event.detail.elt.closest("[data-poll-visible]")) {
    event.preventDefault();
  }
});
