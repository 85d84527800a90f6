// Draws the console's plotly charts. The Content-Security-Policy forbids inline script, so each
// chart arrives as <div data-plotly-figure="{figure JSON}"> (governance/access/charts.py); this file
// draws every such div on page load and after htmx swaps.
(function () {
  "use strict";

  function draw(root) {
    if (!window.Plotly) return;
    root.querySelectorAll("[data-plotly-figure]").forEach(function (div) {
      var figure = JSON.parse(div.getAttribute("data-plotly-figure"));
      div.removeAttribute("data-plotly-figure"); // drawn once, however often this runs
      window.Plotly.newPlot(div, figure.data, figure.layout, figure.config);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  // htmx swaps in fragments that may hold charts: htmx:load fires on each new node (afterSettle
  // fires on the swap target, which an outerHTML swap has already detached, so it never reaches
  // document). Drawn divs lose their marker, so drawing the whole document again is cheap.
  document.addEventListener("htmx:load", function () { draw(document); });
})();
