// Progressive enhancement for /lapor: a "use my location" button that fills lat/lon.
// The form works fully without this script.
(function () {
  "use strict";
  var box = document.querySelector("[data-locate]");
  var lat = document.getElementById("lat");
  var lon = document.getElementById("lon");
  if (!box || !lat || !lon || !("geolocation" in navigator)) return;
  var button = document.createElement("button");
  button.type = "button";
  button.className = "button button-secondary";
  button.textContent = box.getAttribute("data-label");
  var status = document.createElement("p");
  status.setAttribute("role", "status");
  box.appendChild(button);
  box.appendChild(status);
  button.addEventListener("click", function () {
    status.textContent = box.getAttribute("data-busy");
    button.disabled = true;
    navigator.geolocation.getCurrentPosition(function (pos) {
      lat.value = pos.coords.latitude.toFixed(6);
      lon.value = pos.coords.longitude.toFixed(6);
      status.textContent = "";
      button.disabled = false;
    }, function () {
      status.textContent = box.getAttribute("data-failed");
      button.disabled = false;
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });
}());
