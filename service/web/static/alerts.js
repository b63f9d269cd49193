// Alert inbox: fetch the list fragment every few seconds and swap it in when it changed,
// so a new urgent reply appears without a reload. Without JavaScript the page still works
// (Refresh link). The fragment is rendered and escaped by the server.
(function () {
  "use strict";
  var box = document.getElementById("alert-list");
  var status = document.getElementById("inbox-status");
  if (!box || !window.fetch) { return; }
  var interval = (parseInt(box.dataset.interval, 10) || 4) * 1000;
  var baseTitle = document.title.replace(/^\(\d+\) /, "");

  function ids() {
    return Array.prototype.map.call(box.querySelectorAll("[data-alert-id]"), function (el) {
      return el.dataset.alertId;
    });
  }

  function busy() {
    // Never swap the list while someone is typing a note or focused on a button in it.
    return box.contains(document.activeElement) && document.activeElement !== box;
  }

  function apply(response) {
    var urgent = parseInt(response.headers.get("X-Urgent-Open") || "0", 10);
    document.title = (urgent ? "(" + urgent + ") " : "") + baseTitle;
    if (response.status === 204) { return null; }
    box.dataset.signature = response.headers.get("X-Inbox-Signature") || "";
    return response.text().then(function (html) {
      var before = ids();
      box.innerHTML = html;
      var fresh = ids().filter(function (id) { return before.indexOf(id) === -1; });
      if (fresh.length && status) {
        status.textContent = fresh.length + " new alert" + (fresh.length > 1 ? "s" : "");
      }
    });
  }

  function poll() {
    if (busy()) { return schedule(); }
    var url = box.dataset.feed + "?since=" + encodeURIComponent(box.dataset.signature || "");
    fetch(url, { credentials: "same-origin", redirect: "manual", cache: "no-store" })
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status >= 300 && response.status !== 304 && response.status !== 204) {
          if (status) { status.textContent = "Signed out: reload the page to see new alerts."; }
          return "stop";
        }
        return apply(response);
      })
      .then(function (result) { if (result !== "stop") { schedule(); } })
      .catch(function () { schedule(); });
  }

  function schedule() { window.setTimeout(poll, interval); }
  schedule();
})();
