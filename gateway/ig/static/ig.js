// The only script on the IG pages (CSP script-src 'self'): every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Error summaries take focus, so a screen reader hears the problems first (GOV.UK pattern).
  var summary = document.querySelector("[data-focus-on-load]");
  if (summary) { summary.focus(); }

  var print = document.querySelector("[data-print]");
  if (print) { print.addEventListener("click", function () { window.print(); }); }

  // A running verification: poll its status and move the progress bar; reload when it finishes.
  var box = document.getElementById("verification");
  if (box && box.dataset.status === "running") {
    var bar = document.getElementById("progress");
    var text = document.getElementById("progress-text");
    var poll = function () {
      fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          bar.max = s.total || 1;
          bar.value = s.total ? s.checked : 0;
          text.textContent = s.checked + " of " + s.total + " entries checked.";
          if (s.status === "running") { window.setTimeout(poll, 500); } else { window.location.reload(); }
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    };
    window.setTimeout(poll, 300);
  }
});
