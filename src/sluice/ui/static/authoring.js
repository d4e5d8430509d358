// Sluice dashboard, authoring pages: times shown in the browser's own zone.
// A <time datetime="...Z" data-local> gets its text in local time, with the zone's name.
(function () {
  "use strict";

  function localize(root) {
    root.querySelectorAll("time[data-local]").forEach(function (element) {
      var moment = new Date(element.getAttribute("datetime"));
      if (isNaN(moment.getTime())) {
        return;
      }
      element.textContent = moment.toLocaleString(undefined, {
        year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short"
      });
      element.setAttribute("title", Intl.DateTimeFormat().resolvedOptions().timeZone);
      element.classList.add("localized");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localize(document);
  });
})();
