/* A job page that follows its job: every data-poll-seconds it asks for the page again and puts the new status block
 * in place of the old one (inside an aria-live region), until the job has finished (the new block no longer asks to
 * be polled). No reload and no meta refresh (WCAG 2.2.1); without JavaScript the page's "Refresh now" link works. */
(function () {
  "use strict";
  var box = document.getElementById("job-status");
  if (!box || !box.getAttribute("data-job-poll")) { return; }
  var url = box.getAttribute("data-job-poll");
  var seconds = Math.max(2, parseInt(box.getAttribute("data-poll-seconds"), 10) || 5);
  function poll() {
    window.fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok) { throw new Error("job page " + r.status); } return r.text(); })
      .then(function (html) {
        var fresh = new window.DOMParser().parseFromString(html, "text/html").getElementById("job-status");
        if (!fresh) { return; }
        box.innerHTML = fresh.innerHTML;
        if (fresh.getAttribute("data-job-poll")) {
          window.setTimeout(poll, seconds * 1000);
        } else {
          box.removeAttribute("data-job-poll");
          box.setAttribute("data-job-finished", "1");
        }
      })
      .catch(function () { window.setTimeout(poll, seconds * 2000); });
  }
  window.setTimeout(poll, seconds * 1000);
})();
