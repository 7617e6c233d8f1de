// the print button works only with JavaScript; without it, Ctrl+P does the same
(function () {
  var button = document.getElementById("print-button");
  if (!button) return;
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
})();
