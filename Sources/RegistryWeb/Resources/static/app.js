// Progressive enhancement only: every page works without this file.
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", function () {
  // Filter a table's rows by what is typed (the worklist).
  document.querySelectorAll("input[data-filter]").forEach(function (input) {
    var body = document.getElementById(input.getAttribute("data-filter"));
    if (!body) return;
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      body.querySelectorAll("tr").forEach(function (row) {
        row.hidden = needle !== "" && row.textContent.toLowerCase().indexOf(needle) < 0;
      });
    });
  });
  // Ask before a destructive action (voids, sign-out of every session).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
  // A refused form: move focus to the list of what to fix.
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
});
