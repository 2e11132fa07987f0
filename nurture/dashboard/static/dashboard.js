// Draws the product page's charts with Chart.js from the page's JSON block (#chart-data).
// No inline script: the page's Content-Security-Policy allows scripts from this server only.
(function () {
  "use strict";
  var block = document.getElementById("chart-data");
  if (!block || typeof Chart === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  var palette = { cold: "#84c5f4", warm: "#f7c948", hot: "#e12d39" };
  var common = { responsive: true, maintainAspectRatio: false, animation: false };

  document.querySelectorAll("canvas.funnel-chart").forEach(function (canvas) {
    var funnel = data.funnels[Number(canvas.dataset.index)];
    new Chart(canvas, {
      type: "bar",
      data: { labels: funnel.labels, datasets: [{ label: funnel.track, data: funnel.values, backgroundColor: "#2f6fb0" }] },
      options: Object.assign({
        indexAxis: "y",
        plugins: { legend: { display: false } },
        scales: { y: { ticks: { autoSkip: false } } }
      }, common)
    });
  });

  var flow = document.getElementById("stage-flow-chart");
  if (flow) {
    new Chart(flow, {
      type: "bar",
      data: {
        labels: data.stageFlow.weeks,
        datasets: data.stageFlow.series.map(function (line) {
          return { label: line.stage, data: line.values, backgroundColor: palette[line.stage] };
        })
      },
      options: Object.assign({ scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }, common)
    });
  }

  var engagement = document.getElementById("engagement-chart");
  if (engagement) {
    new Chart(engagement, {
      type: "bar",
      data: {
        labels: data.engagement.labels,
        datasets: [
          { label: "open %", data: data.engagement.open_rate, backgroundColor: "#84c5f4" },
          { label: "click %", data: data.engagement.click_rate, backgroundColor: "#186faf" }
        ]
      },
      options: Object.assign({ scales: { y: { beginAtZero: true, max: 100 } } }, common)
    });
  }
  document.body.dataset.chartsDrawn = String(document.querySelectorAll("canvas").length);
})();
