// Shows each <time data-local> of a page in the browser's own time zone: the text as
// "8 Dec, 15:05 CET" and the exact moment on hover. The server wrote both in its zone (UTC), so
// without this script the page still says when, only not in local time. No inline script: CSP.
(function () {
  "use strict";
  function localise(root) {
    var times = (root || document).querySelectorAll("time[data-local='true']");
    var thisYear = new Date().getFullYear();
    for (var i = 0; i < times.length; i++) {
      var element = times[i];
      var moment = new Date(element.getAttribute("datetime"));
      if (isNaN(moment.getTime())) continue;
      var short = { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
      if (moment.getFullYear() !== thisYear) short.year = "numeric";
      element.textContent = moment.toLocaleString(undefined, short);
      element.title = moment.toLocaleString(undefined, {
        weekday: "long", day: "numeric", month: "long", year: "numeric",
        hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "long"
      });
      element.setAttribute("data-local", "shown");
    }
  }
  document.addEventListener("DOMContentLoaded", function () { localise(document); });
  document.addEventListener("htmx:afterSettle", function (event) { localise(event.target); });
})();
