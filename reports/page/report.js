// Builds the report page from the inlined report.json with Vega-Lite. Every
// chart failure is written into the page as a .chart-error element with
// data-moecheck-error, which the headless-Chromium test looks for.
(function () {
  "use strict";
  var R = JSON.parse(document.getElementById("report-data").textContent);
  var pending = 0, failed = 0, rendered = 0;
  var requested = 0;
  document.body.setAttribute("data-charts-state", "rendering");

  function num(v) {
    if (typeof v === "number") return v;
    if (v === "inf") return Infinity;
    if (v === "-inf") return -Infinity;
    return NaN;
  }
  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; });
  }
  function fmt(v, d) {
    var x = num(v);
    if (v === null || v === undefined || isNaN(x)) return "-";
    if (!isFinite(x)) return x > 0 ? "inf" : "-inf";
    return Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(d || 2) : x.toPrecision(d || 3);
  }
  function fail(id, msg) {
    failed++;
    var el = document.getElementById(id);
    var div = document.createElement("div");
    div.className = "chart-error";
    div.setAttribute("data-moecheck-error", "1");
    div.textContent = "chart failed: " + msg;
    el.appendChild(div);
  }
  function settle() {
    if (pending === 0) document.body.setAttribute("data-charts-state", failed ? "error" : "done");
    document.body.setAttribute("data-charts-rendered", String(rendered));
    document.body.setAttribute("data-charts-failed", String(failed));
  }
  function chart(id, spec) {
    pending++;
    requested++;
    document.body.setAttribute("data-charts-requested", String(requested));
    spec.$schema = "https://vega.github.io/schema/vega-lite/v5.json";
    spec.config = Object.assign({ font: "system-ui, sans-serif" }, spec.config || {});
    vegaEmbed("#" + id, spec, { renderer: "svg", actions: false })
      .then(function () { rendered++; })
      .catch(function (e) { fail(id, e && e.message ? e.message : String(e)); })
      .finally(function () { pending--; settle(); });
  }
  window.addEventListener("error", function (e) { fail("meta", "script error: " + e.message); settle(); });

  // ---- header, gate --------------------------------------------------------
  (function meta() {
    var d = R.device, b = R.build, html = "";
    if (R.backend.name === "host")
      html += '<div class="banner"><b>Host backend</b> (' + esc(R.backend.why_host) + "): variants ran as their " +
        "bit-exact host twins; device-only variants are skipped; no throughput figures.</div>";
    var dev = d.name === "none" ? "none (" + esc(d.reason || "") + ")" :
      esc(d.name) + ", sm " + esc(d.compute_capability) + ", " + d.sms + " SMs, " + d.sm_clock_mhz + " MHz SM / " +
      d.mem_clock_mhz + " MHz memory, driver CUDA " + esc(d.driver_cuda_version);
    html += "<table><tr><th>preset</th><td>" + esc(R.preset) + "</td><th>date</th><td>" + esc(R.date) +
      "</td><th>seed</th><td>" + esc(R.seed) + "</td></tr><tr><th>device</th><td colspan=5>" + dev +
      "</td></tr><tr><th>build</th><td colspan=5>" + esc(b.commit) + " (" + esc(b.build_type) + ", " +
      esc(b.compiler) + ", CUDA " + (b.cuda ? esc(b.cuda_architectures) : "off") + ")</td></tr><tr><th>points</th><td>" +
      R.configs.length + "</td><th>elapsed</th><td>" + fmt(R.elapsed_s) + " s</td><th>command</th><td><code>" +
      esc(R.command) + "</code></td></tr></table>";
    document.getElementById("meta").innerHTML = html;
    if (R.gate) {
      var g = R.gate, gh = '<div class="banner ' + (g.passed ? "good" : "bad") + '"><b>Regression gate ' +
        (g.passed ? "passed" : "REGRESSED") + "</b> against " + esc(g.baseline) + " (" + g.accuracy_compared +
        " accuracy results, " + g.throughput_compared + " timings compared)<ul>";
      g.regressions.forEach(function (x) { gh += "<li>" + esc(x) + "</li>"; });
      g.notes.forEach(function (x) { gh += "<li class=note>" + esc(x) + "</li>"; });
      document.getElementById("gate").innerHTML = gh + "</ul></div>";
    }
  })();

  // ---- error histograms and CDFs ------------------------------------------
  (function errors() {
    var rows = [], cdf = [];
    function add(name, kind, h) {
      if (!h) return;
      var total = h.zero + h.inf, acc = h.zero;
      h.counts.forEach(function (c) { total += c; });
      if (total === 0) return;
      h.counts.forEach(function (c, b) {
        var hi = Math.pow(2, h.log2_lo + b + 1);
        acc += c;
        if (c > 0) rows.push({ series: name, kind: kind, lo: hi / 2, hi: hi, share: c / total });
        cdf.push({ series: name, kind: kind, err: hi, frac: acc / total });
      });
    }
    R.aggregate.variants.forEach(function (v) { add(v.variant, "variant", v.ucond_hist); });
    add("fp32 reference", "reference", R.aggregate.references.fp32.ucond_hist);
    add("fp64 reference", "reference", R.aggregate.references.fp64.ucond_hist);
    // Trim the CDF to the populated range so the curves are readable.
    var lo = Infinity, hi = 0;
    rows.forEach(function (r) { lo = Math.min(lo, r.lo); hi = Math.max(hi, r.hi); });
    cdf = cdf.filter(function (p) { return p.err >= lo && p.err <= hi * 2; });
    var color = { field: "series", type: "nominal", title: null };
    var dash = { field: "kind", type: "nominal", scale: { domain: ["variant", "reference"], range: [[1, 0], [5, 3]] }, legend: null };
    chart("chart-cdf", {
      title: "CDF of |error| / (u·c), all points", width: 460, height: 280, data: { values: cdf },
      mark: { type: "line", interpolate: "step-after" },
      encoding: { x: { field: "err", type: "quantitative", scale: { type: "log" }, title: "|y - y_oracle| / (u_fp32 · c)" },
        y: { field: "frac", type: "quantitative", title: "fraction of elements ≤ x (exact matches count at 0)" },
        color: color, strokeDash: dash }
    });
    chart("chart-hist", {
      title: "Histogram (log2 buckets), all points", width: 460, height: 280, data: { values: rows },
      mark: { type: "line", point: true, interpolate: "monotone" },
      encoding: { x: { field: "hi", type: "quantitative", scale: { type: "log" }, title: "bucket upper edge, u·c units" },
        y: { field: "share", type: "quantitative", title: "share of elements" }, color: color, strokeDash: dash }
    });
  })();

  // ---- plain references near cancellation ----------------------------------
  (function refs() {
    var vals = [];
    function add(c, series, m) {
      var e = num(m.max_ucond);
      if (isFinite(e)) vals.push({ values: c.values, series: series, ucond: Math.max(e, 1e-12), point: c.id });
    }
    R.configs.forEach(function (c) {
      if (!c.references) return;
      add(c, "fp32 reference", c.references.fp32);
      add(c, "fp64 reference", c.references.fp64);
      c.results.forEach(function (r) { if (r.metrics) add(c, r.variant, r.metrics); });
    });
    chart("chart-refs", {
      width: 620, height: 260, data: { values: vals },
      mark: { type: "point", filled: true, opacity: 0.6 },
      encoding: { y: { field: "values", type: "nominal", title: "value distribution" },
        x: { field: "ucond", type: "quantitative", scale: { type: "log" }, title: "max |error| per point, u·c units (floored at 1e-12)" },
        color: { field: "series", type: "nominal", title: null }, yOffset: { field: "series" },
        tooltip: [{ field: "point" }, { field: "series" }, { field: "ucond", format: ".3e" }] }
    });
  })();

  // ---- accuracy ratio per (weight, x, y) format ----------------------------
  (function ratio() {
    var ar = R.accuracy_ratios, vals = [];
    document.getElementById("ratio-metric").textContent = "Baselines: " + ((ar.baselines || [ar.baseline]).join(", ") || "none") +
      " (bars labelled variant / baseline). Metric: " + ar.metric + ". Also: max u*c error vs the oracle, and the seed's checks " +
      "(cosine distance, max abs difference) against a plain fp32 reference, each as baseline / variant. " +
      "Bars: geometric mean on a log scale (ratios span 1 to 1e7); black: min-max over points; dashed: 1 (equal).";
    ar.rows.forEach(function (x) {
      [["rel L2 vs oracle", x.vs_oracle], ["rel L2 vs fp32 ref", x.vs_fp32_reference], ["max u*c vs oracle", x.max_ucond_vs_oracle],
       ["cosine dist vs fp32 ref", x.cosine_distance_vs_fp32_reference], ["max abs vs fp32 ref", x.max_abs_vs_fp32_reference]].forEach(function (p) {
        if (p[1] && p[1].geomean > 0)  // a log axis: a ratio of 0 (or none) has no place on it
          vals.push({ variant: x.variant + " / " + (x.baseline || ar.baseline), weights: x.weights,
            io: "x " + (x.x_format || "bf16") + ", y " + (x.y_format || "bf16"), against: p[0], geomean: p[1].geomean,
            min: p[1].min, max: p[1].max, points: p[1].points });
      });
    });
    if (!vals.length) {
      document.getElementById("chart-ratio").innerHTML = '<p class="note">Only one variant measured: no ratio.</p>';
      return;
    }
    chart("chart-ratio", {
      data: { values: vals },
      // One row of panels per (x, y) format pair that ran (reports from before x and y were swept: bf16).
      facet: { column: { field: "weights", type: "nominal", title: "weight format" },
        row: { field: "io", type: "nominal", title: "activations x, output y" } },
      // Ratios of one panel can be 1e7 (h kept in fp32 with an f32 output) where another's are ~1: a shared
      // axis would flatten the rest.
      resolve: { scale: { y: "independent" } },
      spec: { width: { step: 70 }, height: 220, layer: [
        { mark: "bar", encoding: { x: { field: "variant", type: "nominal", title: null }, xOffset: { field: "against" },
          y: { field: "geomean", type: "quantitative", scale: { type: "log" }, title: "baseline error / variant error (log)" },
          color: { field: "against", type: "nominal", title: "metric" },
          tooltip: [{ field: "variant" }, { field: "weights" }, { field: "io" }, { field: "against" }, { field: "geomean", format: ".3f" }, { field: "min", format: ".3f" }, { field: "max", format: ".3f" }, { field: "points" }] } },
        { mark: { type: "rule", color: "black" }, encoding: { x: { field: "variant", type: "nominal" }, xOffset: { field: "against" },
          y: { field: "min", type: "quantitative" }, y2: { field: "max" } } },
        { mark: { type: "rule", color: "#b00020", strokeDash: [4, 3] }, encoding: { y: { datum: 1 } } }
      ] }
    });
  })();

  // ---- bound tightness --------------------------------------------------------
  (function bound() {
    var vals = [];
    R.configs.forEach(function (c) {
      c.results.forEach(function (r) {
        if (!r.metrics) return;
        var b = num(r.metrics.max_bound_ratio);
        if (isFinite(b) && b > 0) vals.push({ variant: r.variant, values: c.values, ratio: b, point: c.id, T: c.T });
      });
    });
    chart("chart-bound", {
      width: 620, height: 200,
      layer: [
        { data: { values: vals }, mark: { type: "point", filled: true, opacity: 0.7 },
          encoding: { y: { field: "variant", type: "nominal", title: null },
            x: { field: "ratio", type: "quantitative", scale: { type: "log" }, title: "max error / rigorous bound (per point)" },
            yOffset: { field: "values" }, color: { field: "values", type: "nominal", title: "values" },
            tooltip: [{ field: "point" }, { field: "ratio", format: ".3e" }] } },
        { data: { values: [{ x: 1 }] }, mark: { type: "rule", color: "#b00020", strokeDash: [4, 3] }, encoding: { x: { field: "x", type: "quantitative" } } }
      ]
    });
  })();

  // ---- throughput -------------------------------------------------------------
  (function throughput() {
    var t = R.throughput, note = document.getElementById("throughput-note");
    if (!t.rows) {
      note.innerHTML = '<div class="banner">Not measured: ' + esc(t.skipped || "") + ".</div>";
      return;
    }
    note.textContent = "On " + t.device + "; streaming-read bandwidth " + fmt(t.read_gbps, 4) + " GB/s measured in the same " +
      "process. Lines: median µs per layer (band: p10-p90); dashed: roofline (bytes moved / read bandwidth); vertical " +
      "rule: crossover batch size where the variant stops beating expert_centric. " + t.method;
    var vals = [], roof = {}, cross = [];
    t.rows.forEach(function (r) {
      if (r.status !== "ok") return;
      vals.push({ preset: r.preset, T: r.T, variant: r.variant, us: r.us.median, p10: r.us.p10, p90: r.us.p90, gbps: r.gbps, pct: r.pct_read_bandwidth });
      roof[r.preset + "/" + r.T] = { preset: r.preset, T: r.T, us: r.roofline_us };
    });
    t.crossover.forEach(function (c) { if (c.T !== null) cross.push({ preset: c.preset, T: c.T, variant: c.variant }); });
    var x = { field: "T", type: "quantitative", scale: { type: "log", base: 2 }, title: "tokens per step (T)" };
    chart("chart-throughput", {
      data: { values: vals.concat(Object.keys(roof).map(function (k) { return Object.assign({ roof: true }, roof[k]); }))
        .concat(cross.map(function (c) { return Object.assign({ cross: true }, c); })) },
      facet: { column: { field: "preset", type: "nominal", title: null } }, resolve: { scale: { y: "independent" } },
      spec: { width: 300, height: 240, layer: [
        { transform: [{ filter: "datum.variant && !datum.cross" }], mark: { type: "area", opacity: 0.18 },
          encoding: { x: x, y: { field: "p10", type: "quantitative", scale: { type: "log" } }, y2: { field: "p90" }, color: { field: "variant", type: "nominal" } } },
        { transform: [{ filter: "datum.variant && !datum.cross" }], mark: { type: "line", point: true },
          encoding: { x: x, y: { field: "us", type: "quantitative", scale: { type: "log" }, title: "µs per layer" }, color: { field: "variant", type: "nominal" },
            tooltip: [{ field: "variant" }, { field: "T" }, { field: "us", format: ".1f" }, { field: "gbps", format: ".0f", title: "GB/s" }, { field: "pct", format: ".1f", title: "% of read bw" }] } },
        { transform: [{ filter: "datum.roof" }], mark: { type: "line", strokeDash: [5, 4], color: "#444" },
          encoding: { x: x, y: { field: "us", type: "quantitative" } } },
        { transform: [{ filter: "datum.cross" }], mark: { type: "rule", strokeDash: [2, 2] },
          encoding: { x: { field: "T", type: "quantitative" }, color: { field: "variant", type: "nominal" } } }
      ] }
    });
  })();

  // ---- worst cases --------------------------------------------------------------
  (function worst() {
    var h = "<table><tr><th>variant</th><th>point</th><th>status</th><th>error / bound</th><th>max u·c</th><th>max abs</th>" +
      "<th>max ulps</th><th>at (t, i)</th><th>replay</th></tr>";
    R.worst_cases.forEach(function (w) {
      h += "<tr><td>" + esc(w.variant) + "</td><td>" + esc(w.config) + "</td><td>" + esc(w.status) + "</td><td>" +
        fmt(w.max_bound_ratio) + "</td><td>" + fmt(w.max_ucond) + "</td><td>" + fmt(w.max_abs) + "</td><td>" + w.max_ulps +
        "</td><td>" + (w.at ? w.at.t + ", " + w.at.i : "-") + "</td><td><code>" + esc(w.replay) + "</code></td></tr>";
    });
    document.getElementById("worst").innerHTML = h + "</table>";
  })();
  settle();
})();
