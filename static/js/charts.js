// Draws the console's plotly charts. The Content-Security-Policy forbids inline script, so each
// chart arrives as <div data-plotly-figure> holding its figure in a JSON data block
// (governance/charts.py); this file draws every such div on page load and after htmx swaps.
(function () {
  "use strict";

  function draw(root) {
    var divs = (root || document).querySelectorAll("[data-plotly-figure]");
    divs.forEach(function (div) {
      var block = div.querySelector('script[type="application/json"]');
      if (!block || !window.Plotly) return;
      var figure = JSON.parse(block.textContent);
      div.removeAttribute("data-plotly-figure"); // drawn once, even if htmx settles twice
      block.remove();
      window.Plotly.newPlot(div, figure.data, figure.layout, figure.config);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  // htmx swaps in fragments that may hold charts.
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
})();
