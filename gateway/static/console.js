// The channel health table refreshes itself every 15 s: the page is fetched again and its
// table swapped in, so the texts stay the server's. Without this script the page still works.
(function () {
  "use strict";
  var box = document.getElementById("channel-table");
  if (!box || !window.fetch || !window.DOMParser) { return; }
  function refresh() {
    fetch(box.getAttribute("data-refresh") + window.location.search,
          { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok && !r.redirected ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html")
          .getElementById("channel-table");
        if (fresh) { box.innerHTML = fresh.innerHTML; }
      })
      .catch(function () { /* offline for a moment: the next round tries again */ });
  }
  window.setInterval(refresh, 15000);
})();
