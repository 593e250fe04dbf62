// Charts of the analytics pages. Data comes from <script type="application/json"> blocks
// (Django's json_script); each <canvas data-chart="kind" data-source="id"> gets one chart.
(function () {
  "use strict";

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function timeLabel(iso, bucketSeconds) {
    var d = new Date(iso);
    if (bucketSeconds >= 3600) {
      return d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    }
    var opts = { hour: "2-digit", minute: "2-digit" };
    if (bucketSeconds < 60) { opts.second = "2-digit"; }
    return d.toLocaleTimeString([], opts);
  }

  var builders = {
    timeline: function (data) {
      return {
        type: "bar",
        data: {
          labels: data.labels.map(function (t) { return timeLabel(t, data.bucket_seconds); }),
          datasets: [{ label: "Accepted by LINE", data: data.values, backgroundColor: "#198754" }]
        },
        options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
      };
    },
    daily: function (data) {
      return {
        type: "bar",
        data: {
          labels: Object.keys(data),
          datasets: [{ label: "Accepted by LINE", data: Object.values(data), backgroundColor: "#198754" }]
        },
        options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
      };
    },
    journeys: function (data) {
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: [
            { label: "Replied (free)", data: data.replied, backgroundColor: "#20c997" },
            { label: "Pushed", data: data.pushed, backgroundColor: "#0d6efd" }
          ]
        },
        options: {
          scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } }
        }
      };
    },
    quota: function (data) {
      // Per connection: accepted this month, added up day by day, and its limit dashed.
      var colours = ["#198754", "#0d6efd", "#fd7e14", "#6f42c1", "#d63384", "#20c997", "#6c757d"];
      var datasets = [];
      data.connections.forEach(function (c, i) {
        var colour = colours[i % colours.length];
        datasets.push({
          label: c.name, data: c.cumulative, borderColor: colour, backgroundColor: colour,
          pointRadius: 2, spanGaps: false
        });
        if (c.limit !== null) {
          datasets.push({
            label: c.name + " \u00b7 monthly limit", data: data.labels.map(function () { return c.limit; }),
            borderColor: colour, backgroundColor: "transparent", borderDash: [6, 4], borderWidth: 1.5,
            pointRadius: 0
          });
        }
      });
      return {
        type: "line",
        data: { labels: data.labels.map(function (d) { return d.slice(8); }), datasets: datasets },
        options: {
          scales: {
            x: { title: { display: true, text: "Day of " + (data.labels[0] || "").slice(0, 7) } },
            y: { beginAtZero: true, ticks: { precision: 0 } }
          }
        }
      };
    }
  };

  function drawCharts(root) {
    if (typeof window.Chart === "undefined") { return; }
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) { return; }
      var build = builders[canvas.dataset.chart];
      var data = readJson(canvas.dataset.source);
      if (!build || !data) { return; }
      var config = build(data);
      config.options.maintainAspectRatio = false;
      config.options.animation = false;
      new window.Chart(canvas, config);
      canvas.dataset.drawn = "1";
    });
  }

  function enableTooltips(root) {
    if (!window.bootstrap) { return; }
    root.querySelectorAll('[data-bs-toggle="tooltip"]').forEach(function (el) {
      window.bootstrap.Tooltip.getOrCreateInstance(el);
    });
  }

  function init(root) {
    drawCharts(root);
    enableTooltips(root);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (event) { init(event.target.parentNode || document); });
})();
