// Remember the browser's time zone so the server shows times in it.
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
