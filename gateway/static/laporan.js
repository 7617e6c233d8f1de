// /laporan: hovering or focusing a point of the map names its report beside the map.
// The page works without it: every point is a link with its own <title>.
(function () {
  var map = document.getElementById("report-map");
  var out = document.getElementById("map-hover");
  if (!map || !out) return;
  function show(event) {
    var link = event.target.closest && event.target.closest(".map-point");
    out.textContent = link ? link.getAttribute("data-id") : "";
  }
  map.addEventListener("mouseover", show);
  map.addEventListener("focusin", show);
  map.addEventListener("mouseleave", function () { out.textContent = ""; });
})();
