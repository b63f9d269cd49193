// Live lists (the alert and replies inboxes): fetch the list fragment every few seconds
// and swap it in when it changed, so a new reply appears without a reload. Without
// JavaScript the pages still work (reload). The fragment is rendered and escaped by the
// server. The container says where to poll and what to count:
//   data-feed, data-signature, data-interval, data-signature-header and data-count-header
//   (the response headers with the list's signature and the page title's count),
//   data-noun ("alert", "reply": for the screen-reader announcement), data-nav-count
//   (the navigation link whose count follows the list).
(function () {
  "use strict";
  var box = document.querySelector("[data-feed]");
  var status = document.querySelector("[role=status][aria-live]");
  if (!box || !window.fetch) { return; }
  var interval = (parseInt(box.dataset.interval, 10) || 4) * 1000;
  var baseTitle = document.title.replace(/^\(\d+\) /, "");
  var noun = box.dataset.noun || "item";
  var nouns = noun === "reply" ? "replies" : noun + "s";

  function ids() {
    return Array.prototype.map.call(box.querySelectorAll("[data-item-id]"), function (el) {
      return el.dataset.itemId;
    });
  }

  function busy() {
    // Never swap the list while someone is typing a note or focused on a button in it.
    return box.contains(document.activeElement) && document.activeElement !== box;
  }

  function count(response) {
    var n = parseInt(response.headers.get(box.dataset.countHeader || "X-Count") || "0", 10);
    document.title = (n ? "(" + n + ") " : "") + baseTitle;
    var link = box.dataset.navCount && document.querySelector('nav a[href="' + box.dataset.navCount + '"] .count');
    if (link) { link.querySelector(".n").textContent = String(n); link.hidden = !n; }
  }

  function apply(response) {
    count(response);
    if (response.status === 204) { return null; }
    box.dataset.signature = response.headers.get(box.dataset.signatureHeader || "X-List-Signature") || "";
    return response.text().then(function (html) {
      var before = ids();
      box.innerHTML = html;
      var fresh = ids().filter(function (id) { return before.indexOf(id) === -1; });
      if (fresh.length && status) {
        status.textContent = fresh.length + " new " + (fresh.length > 1 ? nouns : noun);
      }
    });
  }

  function poll() {
    if (busy()) { return schedule(); }
    var url = box.dataset.feed + "?since=" + encodeURIComponent(box.dataset.signature || "");
    fetch(url, { credentials: "same-origin", redirect: "manual", cache: "no-store" })
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status >= 300 && response.status !== 304 && response.status !== 204) {
          if (status) { status.textContent = "Signed out: reload the page to see new " + nouns + "."; }
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
