/* Draw every Vega-Lite chart of the page from its JSON data block (<script type="application/json">).
 * The CSP forbids eval, so vega runs with the AST expression interpreter (vega-interpreter, ast: true). */
(function () {
  "use strict";
  function draw(el) {
    var block = document.getElementById(el.getAttribute("data-chart"));
    if (!block) { return; }
    var spec;
    try { spec = JSON.parse(block.textContent); } catch (e) { return; }
    window.vegaEmbed(el, spec, {
      actions: false,
      renderer: "svg",
      ast: true,
      expr: window.vegaInterpreter.expressionInterpreter,
      defaultStyle: false,
      tooltip: { disableDefaultStyle: true }
    }).then(function () {
      // The element's aria-label is the chart's text alternative and a table gives every figure, so the drawing
      // itself is hidden from assistive technology (Vega's unnamed graphics-symbol roles fail WCAG 1.1.1).
      var svg = el.querySelector("svg");
      if (svg) { svg.setAttribute("aria-hidden", "true"); }
      el.classList.add("chart-drawn");
    }).catch(function (err) {
      el.classList.add("chart-failed");
      el.textContent = "The chart could not be drawn; the table gives the same figures.";
      if (window.console) { window.console.error(err); }
    });
  }
  function start() {
    var charts = document.querySelectorAll("[data-chart]");
    for (var i = 0; i < charts.length; i++) { draw(charts[i]); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
