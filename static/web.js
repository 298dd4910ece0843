// kirikae web: keeps an application's status current without a reload. The server pushes
// server-sent events ("status": {status, html, final}); the section is replaced in place.
"use strict";
document.querySelectorAll("[data-events]").forEach(function (section) {
  var source = new EventSource(section.dataset.events);
  source.addEventListener("status", function (e) {
    var update = JSON.parse(e.data);
    section.innerHTML = update.html;
    if (update.final) { source.close(); }
  });
  source.addEventListener("ended", function () {
    source.close();
    window.location.href = "/web/signin?ended=1";
  });
  source.addEventListener("refused", function () { source.close(); });
});
