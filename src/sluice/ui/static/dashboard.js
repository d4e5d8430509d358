// Sluice dashboard: live regions polled every 2 s, confirmations, the sandbox switch.
// Plain JavaScript, no dependencies. Fragments come from the server already escaped.
(function () {
  "use strict";

  var POLL_MS = 2000;

  function openDetails(region) {
    var open = [];
    region.querySelectorAll("details[open] > summary").forEach(function (summary) {
      open.push(summary.textContent);
    });
    return open;
  }

  function reopenDetails(region, open) {
    region.querySelectorAll("details > summary").forEach(function (summary) {
      if (open.indexOf(summary.textContent) >= 0) {
        summary.parentElement.open = true;
      }
    });
  }

  function toLogin() {
    var here = window.location.pathname + window.location.search;
    window.location.assign("/ui/login?next=" + encodeURIComponent(here));
  }

  function live(region) {
    var url = region.getAttribute("data-live");
    var last = null;

    function later(delay) {
      window.setTimeout(tick, delay);
    }

    function tick() {
      if (document.hidden) {
        later(POLL_MS);
        return;
      }
      fetch(url, { credentials: "same-origin", cache: "no-store",
                   headers: { "Accept": "application/json" } })
        .then(function (response) {
          if (response.status === 401) {
            toLogin();
            return null;
          }
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (data) {
          if (data === null) {
            return;
          }
          if (typeof data.html === "string" && data.html !== last) {
            var open = openDetails(region);
            last = data.html;
            region.innerHTML = data.html;
            reopenDetails(region, open);
          }
          region.classList.remove("stale");
          region.setAttribute("data-polled", String(Date.now()));
          later(POLL_MS);
        })
        .catch(function () {
          region.classList.add("stale");
          later(POLL_MS * 2);
        });
    }

    later(POLL_MS);
  }

  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(live);
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () {
        select.form.submit();
      });
    });
  });
})();
