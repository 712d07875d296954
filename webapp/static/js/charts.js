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
  /* A map to choose an area with (the observation forms): fetched and drawn when its <details> opens; a click on an
   * area writes "Name (CODE)" into the field named by data-choose-into, as the field's own list would. */
  function chooser(el) {
    var details = el.closest("details");
    var input = document.getElementById(el.getAttribute("data-choose-into"));
    var status = details ? details.querySelector("[data-choose-status]") : null;
    if (!details || !input) { return; }
    if (status) { status.textContent = "Click a ward on the map, or type its name above."; }
    function load() {
      if (!details.open || el.getAttribute("data-loaded")) { return; }
      el.setAttribute("data-loaded", "1");
      window.fetch(el.getAttribute("data-map-src"), { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error("map " + r.status); } return r.json(); })
        .then(function (spec) {
          return window.vegaEmbed(el, spec, {
            actions: false, renderer: "svg", ast: true, expr: window.vegaInterpreter.expressionInterpreter,
            defaultStyle: false, tooltip: { disableDefaultStyle: true }
          });
        })
        .then(function (result) {
          var svg = el.querySelector("svg");
          if (svg) { svg.setAttribute("aria-hidden", "true"); }
          el.classList.add("chart-drawn");
          result.view.addEventListener("click", function (event, item) {
            var p = item && item.datum && item.datum.properties;
            if (!p || !p.code) { return; }
            input.value = p.name + " (" + p.code + ")";
            if (status) { status.textContent = "Area: " + p.name + "."; }
            input.focus();
          });
        })
        .catch(function (err) {
          el.classList.add("chart-failed");
          el.textContent = "The map could not be drawn; type the name above.";
          if (window.console) { window.console.error(err); }
        });
    }
    details.addEventListener("toggle", load);
    // Opened before this script ran (a quick click while the page's scripts were still loading): the toggle event
    // has gone by, so draw it now.
    load();
  }
  function start() {
    var charts = document.querySelectorAll("[data-chart]");
    for (var i = 0; i < charts.length; i++) { draw(charts[i]); }
    var maps = document.querySelectorAll("[data-map-src]");
    for (var j = 0; j < maps.length; j++) { chooser(maps[j]); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
