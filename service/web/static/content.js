// The clinic text editor's live preview: while someone types, the text is sent to the
// server (which renders it in the same sandbox as real messages, with the clinic's name
// and number) and the preview beside it is replaced. Everything is set as text, never
// as HTML. Without JavaScript the "Preview" button does the same with a page load.
(function () {
  "use strict";
  var form = document.getElementById("editor");
  var box = document.getElementById("preview");
  if (!form || !box || !window.fetch || !window.FormData) { return; }
  var textarea = form.querySelector("textarea[name=text]");
  var status = document.querySelector("[data-preview=status]");
  var timer = null;
  var sent = 0;

  function part(name) { return box.querySelector("[data-preview=" + name + "]"); }

  function show(result) {
    var subject = part("subject-line");
    subject.hidden = !result.subject;
    part("subject").textContent = result.subject || "";
    part("text").hidden = !result.ok;
    part("text").textContent = result.text || "";
    part("size").hidden = !result.segments;
    part("size").textContent = result.segments
      ? result.segments + " segment(s), " + result.units + " " + result.encoding +
        " characters with this clinic's name and number"
      : "";
    part("problem").hidden = result.ok;
    part("problem").textContent = result.ok ? "" : "This text cannot be shown: " + result.problems.join("; ");
    var list = part("checks");
    list.textContent = "";
    result.checks.forEach(function (check) {
      var item = document.createElement("li");
      item.className = check.severity === "error" ? "error" : "muted";
      item.textContent = check.message;
      list.appendChild(item);
    });
    var errors = result.checks.filter(function (c) { return c.severity === "error"; }).length;
    if (status) {
      status.textContent = result.ok
        ? "Preview updated" + (errors ? ": " + errors + " problem(s)" : "")
        : "Preview: this text cannot be shown";
    }
  }

  function refresh() {
    var mine = ++sent;
    var body = new FormData(form);
    body.delete("action");
    fetch(form.dataset.previewUrl, { method: "POST", body: body, credentials: "same-origin", redirect: "manual" })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (result) { if (mine === sent) { show(result); } })
      .catch(function () {
        if (status && mine === sent) { status.textContent = "Preview unavailable: use the Preview button"; }
      });
  }

  textarea.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 250);
  });
}());
