/*
 * Usage charts: small SVG charts drawn from JSON data blocks.
 *
 * A chart is an element with data-usage-chart="columns" (one column per row, series
 * stacked) or "bars" (one horizontal bar per row). Its data comes from the
 * <script type="application/json"> element named by data-source, optionally from the
 * list under the key data-rows. data-fields lists the series, data-labels their names.
 *
 * Colours are SVG presentation attributes and classes, never style attributes, so the
 * page keeps its strict Content Security Policy. Every chart sits next to a table with
 * the same figures; the SVG carries a summary for screen readers.
 */
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";
  var COLOURS = ["#3867d6", "#8fb0f0", "#e58e26", "#c0392b"];
  var offset = 0;

  function colour(i) {
    return COLOURS[(i + offset) % COLOURS.length];
  }

  function svgEl(name, attrs, parent) {
    var node = document.createElementNS(SVG_NS, name);
    Object.keys(attrs || {}).forEach(function (key) {
      node.setAttribute(key, String(attrs[key]));
    });
    if (parent) {
      parent.appendChild(node);
    }
    return node;
  }

  function formatNumber(value) {
    return Number(value).toLocaleString();
  }

  function compact(value) {
    if (value >= 1e9) { return (value / 1e9).toFixed(1).replace(/\.0$/, "") + "G"; }
    if (value >= 1e6) { return (value / 1e6).toFixed(1).replace(/\.0$/, "") + "M"; }
    if (value >= 1e3) { return (value / 1e3).toFixed(1).replace(/\.0$/, "") + "k"; }
    return String(value);
  }

  // Round the axis maximum up to 1, 2 or 5 times a power of ten.
  function niceMax(value) {
    if (value <= 0) { return 1; }
    var power = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i += 1) {
      if (value <= steps[i] * power) { return steps[i] * power; }
    }
    return 10 * power;
  }

  function readRows(chart) {
    var source = document.getElementById(chart.dataset.source || "");
    if (!source) { return null; }
    var data;
    try {
      data = JSON.parse(source.textContent);
    } catch (error) {
      return null;
    }
    if (chart.dataset.rows) { data = data[chart.dataset.rows]; }
    return Array.isArray(data) ? data : null;
  }

  function total(row, fields) {
    return fields.reduce(function (sum, field) { return sum + (Number(row[field]) || 0); }, 0);
  }

  function legend(svg, fields, labels, width) {
    var x = width;
    for (var i = fields.length - 1; i >= 0; i -= 1) {
      var label = labels[i] || fields[i];
      x -= label.length * 7 + 26;
      svgEl("rect", { x: x, y: 2, width: 10, height: 10, fill: colour(i) }, svg);
      var text = svgEl("text", { x: x + 14, y: 11, "font-size": 11, fill: "currentColor" }, svg);
      text.textContent = label;
    }
  }

  function summary(rows, fields, labels, labelField) {
    var parts = fields.map(function (field, i) {
      var sum = rows.reduce(function (acc, row) { return acc + (Number(row[field]) || 0); }, 0);
      return (labels[i] || field) + ": " + formatNumber(sum) + " in total";
    });
    var first = rows.length ? rows[0][labelField] : "";
    var last = rows.length ? rows[rows.length - 1][labelField] : "";
    return parts.join("; ") + (rows.length ? " (" + first + " to " + last + ")" : "");
  }

  function drawColumns(chart, rows, fields, labels) {
    var width = 720, height = 220, left = 44, right = 8, top = 20, bottom = 24;
    var plotW = width - left - right, plotH = height - top - bottom;
    var max = niceMax(Math.max.apply(null, rows.map(function (r) { return total(r, fields); }).concat([0])));
    var svg = svgEl("svg", {
      viewBox: "0 0 " + width + " " + height, width: "100%", role: "img", class: "usage-chart-svg",
      "aria-label": (chart.dataset.title || "Chart") + ". " + summary(rows, fields, labels, "day")
    });
    [0, 0.5, 1].forEach(function (fraction) {
      var y = top + plotH - fraction * plotH;
      svgEl("line", { x1: left, x2: width - right, y1: y, y2: y, stroke: "currentColor", "stroke-opacity": 0.15 }, svg);
      var tick = svgEl("text", { x: left - 6, y: y + 4, "text-anchor": "end", "font-size": 10, fill: "currentColor" }, svg);
      tick.textContent = compact(max * fraction);
    });
    var slot = plotW / Math.max(rows.length, 1);
    var barW = Math.max(1, slot * 0.75);
    rows.forEach(function (row, index) {
      var x = left + index * slot + (slot - barW) / 2;
      var y = top + plotH;
      fields.forEach(function (field, i) {
        var value = Number(row[field]) || 0;
        if (!value) { return; }
        var h = (value / max) * plotH;
        y -= h;
        var rect = svgEl("rect", {
          x: x.toFixed(2), y: y.toFixed(2), width: barW.toFixed(2), height: Math.max(h, 0.5).toFixed(2),
          fill: colour(i), class: "usage-chart-bar"
        }, svg);
        svgEl("title", {}, rect).textContent = row.day + " · " + (labels[i] || field) + ": " + formatNumber(value);
      });
    });
    var marks = rows.length > 1 ? [0, Math.floor((rows.length - 1) / 2), rows.length - 1] : [0];
    marks.forEach(function (index, position) {
      if (!rows[index]) { return; }
      // The outer labels align to the plot's edges so that they are never clipped.
      var anchor = ["start", "middle", "end"][marks.length === 1 ? 1 : position];
      var x = anchor === "start" ? left : anchor === "end" ? width - right : left + index * slot + slot / 2;
      var text = svgEl("text", { x: x, y: height - 6, "text-anchor": anchor, "font-size": 10, fill: "currentColor" }, svg);
      text.textContent = rows[index].day;
    });
    if (fields.length > 1) { legend(svg, fields, labels, width); }
    chart.appendChild(svg);
  }

  function drawBars(chart, rows, fields, labels) {
    var shown = rows.slice(0, 10);
    var rowH = 22, width = 420, labelW = 170, right = 60;
    var height = shown.length * rowH + 4;
    var max = Math.max.apply(null, shown.map(function (r) { return total(r, fields); }).concat([1]));
    var svg = svgEl("svg", {
      viewBox: "0 0 " + width + " " + height, width: "100%", role: "img", class: "usage-chart-svg",
      "aria-label": (chart.dataset.title || "Chart") + ". " + summary(shown, fields, labels, "label")
    });
    shown.forEach(function (row, index) {
      var y = index * rowH + 2;
      var name = String(row.label);
      var text = svgEl("text", { x: 0, y: y + 14, "font-size": 11, fill: "currentColor" }, svg);
      text.textContent = name.length > 26 ? name.slice(0, 25) + "…" : name;
      var x = labelW;
      fields.forEach(function (field, i) {
        var value = Number(row[field]) || 0;
        var w = (value / max) * (width - labelW - right);
        var rect = svgEl("rect", {
          x: x.toFixed(2), y: y + 3, width: Math.max(w, value ? 1 : 0).toFixed(2), height: rowH - 8,
          fill: colour(i), class: "usage-chart-bar"
        }, svg);
        svgEl("title", {}, rect).textContent = name + " · " + (labels[i] || field) + ": " + formatNumber(value);
        x += w;
      });
      var figure = svgEl("text", { x: x + 4, y: y + 14, "font-size": 11, fill: "currentColor" }, svg);
      figure.textContent = compact(total(row, fields));
    });
    chart.appendChild(svg);
  }

  function draw(chart) {
    if (chart.dataset.drawn) { return; }
    var rows = readRows(chart);
    if (!rows) { return; }
    var fields = (chart.dataset.fields || "requests").split(",");
    // data-palette="alert" draws in the warning colours (moderation charts).
    offset = chart.dataset.palette === "alert" ? 2 : 0;
    var labels = (chart.dataset.labels || "").split(",");
    if (chart.dataset.usageChart === "bars") {
      drawBars(chart, rows, fields, labels);
    } else {
      drawColumns(chart, rows, fields, labels);
    }
    chart.dataset.drawn = "1";
  }

  function drawAll(root) {
    (root || document).querySelectorAll("[data-usage-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawAll(); });
  } else {
    drawAll();
  }
  // Fragments swapped in by htmx (the key detail page) bring their own charts.
  document.addEventListener("htmx:afterSwap", function (event) { drawAll(event.target); });
})();
