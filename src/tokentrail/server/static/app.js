/* tokentrail dashboard: charts from the page's embedded JSON, the heatmap metric switch, and
   live refresh. Data is only ever inserted as text (textContent) or handed to ECharts with
   HTML escaped: session titles and project paths are user content. */
(function () {
  "use strict";

  var charts = [];
  var POLL_MS = Number(document.body.dataset.pollMs || 5000);
  var marker = document.body.dataset.marker || "";

  // -- formatting (the same rules as the server's) ----------------------------------------

  function usd(v) {
    if (v === null || v === undefined) return "unpriced";
    var a = Math.abs(v);
    if (a >= 1000) return "$" + Math.round(v).toLocaleString("en-US");
    if (a >= 0.01 || v === 0) return "$" + v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    if (a >= 0.0001) return "$" + v.toFixed(4);
    return "<$0.0001";
  }
  function tokens(v) {
    if (v === null || v === undefined) return "not reported";
    var a = Math.abs(v);
    if (a < 10000) return Math.round(v).toLocaleString("en-US");  // exact below 10,000
    var units = [[1e9, "B"], [1e6, "M"], [1e3, "k"]];
    for (var i = 0; i < units.length; i++) {
      if (a >= units[i][0]) {
        var s = v / units[i][0];
        var d = Math.abs(s) < 10 ? 2 : Math.abs(s) < 100 ? 1 : 0;
        var t = s.toFixed(d);
        if (d) t = t.replace(/\.?0+$/, "");
        return t + units[i][1];
      }
    }
    return Math.round(v).toLocaleString("en-US");
  }
  function int(v) { return v === null || v === undefined ? "—" : Math.round(v).toLocaleString("en-US"); }
  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // a moment as the server shows times: the page's zone, a 24-hour clock (14:05:09)
  var ZONE = document.body.dataset.tz || "UTC";
  var OFFSET_MIN = Number(document.body.dataset.offsetMin || 0);
  function clock(moment) {
    var parts = {};
    try {
      new Intl.DateTimeFormat("en-GB", { timeZone: ZONE, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" })
        .formatToParts(moment).forEach(function (p) { parts[p.type] = p.value; });
      return parts.hour + ":" + parts.minute + ":" + parts.second;
    } catch (e) {
      // a zone the browser does not know by name: the offset the server gave
      return new Date(moment.getTime() + OFFSET_MIN * 60000).toISOString().slice(11, 19);
    }
  }

  // the page's colours, read in one go before the charts are drawn: each read of the
  // computed style after a chart went in recomputes the page's styles (a read a colour, about
  // twenty per drawing of the overview, were a tenth of its charts' time)
  var CSS_VARS = ["--muted", "--border", "--font", "--panel", "--text", "--warn", "--heat-0", "--heat-1", "--heat-2", "--heat-3", "--heat-4"];
  var cssValues = {};
  function readCss() {
    var style = getComputedStyle(document.documentElement);
    cssValues = {};
    CSS_VARS.forEach(function (name) { cssValues[name] = style.getPropertyValue(name).trim(); });
  }
  function css(name) {
    if (!(name in cssValues)) cssValues[name] = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return cssValues[name];
  }
  var PALETTE = ["#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#a855f7", "#14b8a6", "#ec4899", "#94a3b8"];
  var KINDS = [
    ["input", "Input", "#6366f1"],
    ["cache_read", "Cache read", "#38bdf8"],
    ["cache_write", "Cache write", "#a78bfa"],
    ["output", "Output", "#f59e0b"]
  ];

  function base() {
    var text = css("--muted"), grid = css("--border");
    return {
      textStyle: { fontFamily: css("--font") || "system-ui", color: text },
      grid: { left: 8, right: 12, top: 36, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", confine: true, backgroundColor: css("--panel"), borderColor: grid, textStyle: { color: css("--text"), fontSize: 12 } },
      legend: { type: "plain", top: 0, left: 0, right: 0, textStyle: { color: text, fontSize: 11 }, icon: "roundRect", itemWidth: 10, itemHeight: 10 },
      axisCommon: { axisLine: { lineStyle: { color: grid } }, splitLine: { lineStyle: { color: grid, type: "dashed" } }, axisLabel: { color: text, fontSize: 11 } }
    };
  }

  // every series named at once (never a paged legend): the legend wraps, the plot moves down
  function legendGrid(el, b, names) {
    var chars = names.reduce(function (n, name) { return n + String(name).length + 4; }, 0);
    var rows = Math.max(1, Math.ceil(chars * 6.5 / Math.max(el.clientWidth, 200)));
    return Object.assign({}, b.grid, { top: 14 + 20 * rows });
  }

  var animate = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function make(el) {
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    var setOption = chart.setOption.bind(chart);
    // short animations on the first draw; none when the page refreshes itself
    chart.setOption = function (option) {
      return setOption(Object.assign({ animation: animate, animationDuration: 300 }, option));
    };
    charts.push(chart);
    return chart;
  }

  function readData() {
    var node = document.getElementById("chart-data");
    if (!node) return null;
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  function shortDay(iso) {
    var p = iso.split("-");
    var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    return months[Number(p[1]) - 1] + " " + Number(p[2]);
  }

  // a bar's period: a day ("Mar 3"), an ISO week ("wk of Mar 3") or a month ("Mar 2026")
  function periodLabel(iso, interval, long) {
    if (interval === "month") return shortDay(iso).split(" ")[0] + " " + iso.slice(0, 4);
    if (interval === "week") return (long ? "Week of " : "wk ") + shortDay(iso);
    return long ? iso : shortDay(iso);
  }

  // -- charts -------------------------------------------------------------------------------

  function dailyChart(el, d) {
    if (!d.days.length || !d.series.length) return empty(el, "No usage in this range");
    var b = base();
    var series = d.series.map(function (s, i) {
      return {
        name: s.model === null ? "(no model)" : s.model,
        type: "bar", stack: "cost", barMaxWidth: 28,
        itemStyle: { color: PALETTE[i % PALETTE.length] },
        emphasis: { focus: "series" },
        data: s.values.map(function (v) { return v === null ? 0 : v; }),
        unpriced: s.unpriced_requests
      };
    });
    make(el).setOption({
      textStyle: b.textStyle, grid: legendGrid(el, b, series.map(function (x) { return x.name; })), legend: b.legend,
      tooltip: Object.assign({}, b.tooltip, {
        axisPointer: { type: "shadow" },
        formatter: function (items) {
          var day = d.days[items[0].dataIndex];
          var total = 0, lines = [];
          items.forEach(function (it) {
            var s = d.series[it.seriesIndex], v = s.values[it.dataIndex], u = s.unpriced_requests[it.dataIndex];
            if (v === 0 && !u) return;
            if (v !== null) total += v;
            var label = v === null ? "unpriced" : usd(v) + (u ? " +" + u + " unpriced" : "");
            lines.push(it.marker + esc(it.seriesName) + ": <b>" + esc(label) + "</b>");
          });
          return "<b>" + esc(periodLabel(day, d.interval, true)) + "</b> · " + esc(usd(total)) + (lines.length ? "<br>" + lines.join("<br>") : "<br>no usage");
        }
      }),
      xAxis: Object.assign({ type: "category", data: d.days.map(function (day) { return periodLabel(day, d.interval, false); }) }, b.axisCommon, { splitLine: { show: false } }),
      yAxis: Object.assign({ type: "value", axisLabel: { formatter: function (v) { return usd(v); }, color: b.textStyle.color, fontSize: 11 } }, { splitLine: b.axisCommon.splitLine }),
      series: series
    });
  }

  function timelineChart(el, t) {
    if (!t.points.some(function (p) { return p.requests > 0; })) return empty(el, "No usage in this range");
    var b = base();
    var field = { input: "input_tokens", cache_read: "cache_read_tokens", cache_write: "cache_write_tokens", output: "output_tokens" };
    var series = KINDS.map(function (k) {
      return {
        name: k[1], type: "bar", stack: "tokens", barMaxWidth: 26, itemStyle: { color: k[2] },
        data: t.points.map(function (p) {
          var v = p[field[k[0]]];
          return p.requests === 0 ? 0 : (v === null ? null : v);
        })
      };
    });
    series.push({
      name: "Cumulative", type: "line", yAxisIndex: 1, showSymbol: false, smooth: true,
      lineStyle: { width: 2, color: css("--text") }, itemStyle: { color: css("--text") },
      data: t.points.map(function (p) { return p.cumulative_tokens; })
    });
    make(el).setOption({
      textStyle: b.textStyle, grid: legendGrid(el, b, series.map(function (x) { return x.name; })), legend: b.legend,
      tooltip: Object.assign({}, b.tooltip, {
        formatter: function (items) {
          var p = t.points[items[0].dataIndex];
          var lines = ["<b>" + esc(p.label) + "</b> · " + esc(int(p.requests)) + " requests"];
          if (p.requests) {
            lines.push("Tokens: <b>" + esc(tokens(p.total_tokens)) + "</b> · " + esc(usd(p.cost_usd)));
            KINDS.forEach(function (k) { lines.push(esc(k[1]) + ": " + esc(tokens(p[field[k[0]]]))); });
          }
          lines.push("Cumulative: " + esc(tokens(p.cumulative_tokens)) + " tokens · " + esc(usd(p.cumulative_cost_usd)));
          return lines.join("<br>");
        }
      }),
      xAxis: Object.assign({ type: "category", data: t.points.map(function (p) { return t.interval === "day" ? shortDay(p.label) : p.label; }) }, b.axisCommon, { splitLine: { show: false } }),
      yAxis: [
        { type: "value", minInterval: 1, axisLabel: { formatter: tokens, color: b.textStyle.color, fontSize: 11 }, splitLine: b.axisCommon.splitLine },
        { type: "value", minInterval: 1, axisLabel: { formatter: tokens, color: b.textStyle.color, fontSize: 11 }, splitLine: { show: false } }
      ],
      series: series
    });
  }

  var METRIC_LABEL = { cost: "Cost", tokens: "Tokens", output_tokens: "Output tokens", sessions: "Sessions" };
  var METRIC_FIELD = { cost: "cost_usd", tokens: "total_tokens", output_tokens: "output_tokens", sessions: "sessions" };

  function heatmapChart(el, h, metric) {
    var field = METRIC_FIELD[metric] || "cost_usd";
    var known = [], unknown = [], max = 0;
    h.days.forEach(function (d) {
      var v = d[field];
      if (v === null) unknown.push([d.date, 1]);
      else { known.push([d.date, v]); if (v > max) max = v; }
    });
    var fmt = metric === "cost" ? usd : metric === "sessions" ? int : tokens;
    var byDate = {};
    h.days.forEach(function (d) { byDate[d.date] = d; });
    var narrow = el.clientWidth < 560;
    // a phone shows the whole year the header names, as two half-years one above the other
    var spans = [[h.since, h.until]];
    if (narrow) {
      var mid = new Date(h.since + "T00:00:00Z");
      mid.setUTCDate(mid.getUTCDate() + Math.floor((Date.parse(h.until) - Date.parse(h.since)) / 86400000 / 2));
      var midIso = mid.toISOString().slice(0, 10);
      var next = new Date(mid.getTime() + 86400000).toISOString().slice(0, 10);
      if (midIso < h.until) spans = [[h.since, midIso], [next, h.until]];
    }
    var rowHeight = narrow ? 10 : 15;
    var b = base();
    var calendars = spans.map(function (span, i) {
      return {
        range: span, top: (narrow ? 22 : 46) + i * (rowHeight * 7 + 30), left: 34, right: 8,
        cellSize: ["auto", rowHeight],
        splitLine: { show: false },
        itemStyle: { color: css("--heat-0"), borderColor: css("--panel"), borderWidth: 2 },
        yearLabel: { show: false },
        monthLabel: { color: b.textStyle.color, fontSize: 11 },
        dayLabel: { firstDay: 1, nameMap: ["", "Mon", "", "Wed", "", "Fri", ""], color: b.textStyle.color, fontSize: 10 }
      };
    });
    if (narrow) el.style.height = (22 + spans.length * (rowHeight * 7 + 30)) + "px";
    function inSpan(i) { return function (p) { return p[0] >= spans[i][0] && p[0] <= spans[i][1]; }; }
    var series = [];
    spans.forEach(function (span, i) {
      series.push({ name: METRIC_LABEL[metric], type: "heatmap", coordinateSystem: "calendar", calendarIndex: i, data: known.filter(inSpan(i)) });
      series.push({ name: "unpriced", type: "heatmap", coordinateSystem: "calendar", calendarIndex: i, data: unknown.filter(inSpan(i)), itemStyle: { color: css("--warn") }, tooltip: {} });
    });
    make(el).setOption({
      textStyle: b.textStyle,
      tooltip: Object.assign({}, b.tooltip, {
        trigger: "item",
        formatter: function (it) {
          var date = it.value[0], d = byDate[date];
          if (!d) return "<b>" + esc(date) + "</b><br>no usage";
          return "<b>" + esc(date) + "</b><br>" +
            "Cost: <b>" + esc(usd(d.cost_usd)) + "</b>" + (d.unpriced_requests ? " (+" + d.unpriced_requests + " unpriced)" : "") + "<br>" +
            "Tokens: " + esc(tokens(d.total_tokens)) + " · output " + esc(tokens(d.output_tokens)) + "<br>" +
            "Sessions started: " + esc(int(d.sessions)) + " · requests " + esc(int(d.requests));
        }
      }),
      visualMap: {
        show: !narrow, min: 0, max: max || 1, calculable: false, orient: "horizontal", right: 0, top: 0,
        itemWidth: 10, itemHeight: 90, seriesIndex: series.map(function (_, i) { return i; }).filter(function (i) { return i % 2 === 0; }),
        text: [fmt(max || 0), "0"], textStyle: { color: b.textStyle.color, fontSize: 11 },
        inRange: { color: [css("--heat-1"), css("--heat-2"), css("--heat-3"), css("--heat-4")] }
      },
      calendar: calendars,
      series: series
    });
  }

  function sessionChart(el, s) {
    if (!s.requests.length) return;
    var b = base();
    var cumulative = [], running = 0, any = false;
    s.requests.forEach(function (r) {
      if (r.cost !== null) { running += r.cost; any = true; }
      cumulative.push(any ? Math.round(running * 1e6) / 1e6 : null);
    });
    // t is the wall-clock time in the page's zone (as in the table): drawn as it is
    var labels = s.requests.map(function (r) { return shortDay(r.t.slice(0, 10)) + " " + r.t.slice(11, 16); });
    // many bars: ECharts' large mode draws them as one path, and no entry animation
    var many = s.requests.length > 300;
    var series = KINDS.map(function (k) {
      return { name: k[1], type: "bar", stack: "tokens", barMaxWidth: 18, itemStyle: { color: k[2] },
        large: many, animation: !many,
        data: s.requests.map(function (r) { return r[k[0]]; }) };
    });
    series.push({ name: "Cumulative cost", type: "line", yAxisIndex: 1, showSymbol: s.requests.length < 60, symbolSize: 4,
      lineStyle: { width: 2, color: css("--text") }, itemStyle: { color: css("--text") }, data: cumulative });
    make(el).setOption({
      textStyle: b.textStyle, grid: legendGrid(el, b, series.map(function (x) { return x.name; })), legend: b.legend,
      tooltip: Object.assign({}, b.tooltip, {
        formatter: function (items) {
          var r = s.requests[items[0].dataIndex];
          var lines = ["<b>" + esc(r.t.slice(0, 10) + " " + r.t.slice(11, 19)) + "</b> · " + esc(r.model || "no model")];
          KINDS.forEach(function (k) { lines.push(esc(k[1]) + ": " + esc(tokens(r[k[0]]))); });
          lines.push("Cost: <b>" + esc(usd(r.cost)) + "</b>");
          lines.push("Cumulative: " + esc(usd(cumulative[items[0].dataIndex])));
          return lines.join("<br>");
        }
      }),
      xAxis: Object.assign({ type: "category", data: labels }, b.axisCommon, { splitLine: { show: false } }),
      yAxis: [
        { type: "value", axisLabel: { formatter: tokens, color: b.textStyle.color, fontSize: 11 }, splitLine: b.axisCommon.splitLine },
        { type: "value", axisLabel: { formatter: usd, color: b.textStyle.color, fontSize: 11 }, splitLine: { show: false } }
      ],
      dataZoom: s.requests.length > 80 ? [{ type: "inside" }] : [],
      series: series
    });
  }

  // a session's running totals over time: cumulative tokens (left axis) and cost (right).
  // Times arrive as wall-clock times of the page's zone, drawn as they are (useUTC).
  function cumulativeChart(el, points) {
    if (!points.length) return;
    var b = base();
    var at = points.map(function (p) { return Date.parse(p.t + "Z"); });
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    var stamp = function (ms) {
      var d = new Date(ms);
      return d.getUTCFullYear() + "-" + two(d.getUTCMonth() + 1) + "-" + two(d.getUTCDate()) + " " + two(d.getUTCHours()) + ":" + two(d.getUTCMinutes());
    };
    var tokenColor = "#6366f1", costColor = css("--text");
    make(el).setOption({
      useUTC: true,
      textStyle: b.textStyle, grid: legendGrid(el, b, ["Cumulative tokens", "Cumulative cost"]), legend: b.legend,
      tooltip: Object.assign({}, b.tooltip, {
        formatter: function (items) {
          var p = points[items[0].dataIndex];
          return "<b>" + esc(stamp(at[items[0].dataIndex])) + "</b><br>" +
            "Tokens so far: <b>" + esc(tokens(p.tokens)) + "</b><br>" +
            "Cost so far: <b>" + esc(usd(p.cost)) + "</b>";
        }
      }),
      xAxis: Object.assign({ type: "time", splitNumber: el.clientWidth < 560 ? 3 : 6 }, b.axisCommon, {
        splitLine: { show: false }, axisLabel: { color: b.textStyle.color, fontSize: 11, hideOverlap: true }
      }),
      yAxis: [
        { type: "value", axisLabel: { formatter: tokens, color: b.textStyle.color, fontSize: 11 }, splitLine: b.axisCommon.splitLine },
        { type: "value", axisLabel: { formatter: usd, color: b.textStyle.color, fontSize: 11 }, splitLine: { show: false } }
      ],
      series: [
        { name: "Cumulative tokens", type: "line", step: "end", showSymbol: points.length < 40, symbolSize: 4,
          lineStyle: { width: 2, color: tokenColor }, itemStyle: { color: tokenColor },
          areaStyle: { color: tokenColor, opacity: 0.08 },
          data: points.map(function (p, i) { return [at[i], p.tokens]; }) },
        { name: "Cumulative cost", type: "line", yAxisIndex: 1, step: "end", showSymbol: points.length < 40, symbolSize: 4,
          lineStyle: { width: 2, color: costColor, type: "dashed" }, itemStyle: { color: costColor },
          data: points.map(function (p, i) { return [at[i], p.cost]; }) }
      ]
    });
  }

  function empty(el, text) {
    var p = document.createElement("p");
    p.className = "empty";
    p.textContent = text;
    el.replaceChildren(p);
    el.style.height = "auto";
  }

  function disposeCharts() {
    charts.forEach(function (c) { c.dispose(); });
    charts = [];
  }

  function initCharts() {
    disposeCharts();
    var data = readData();
    if (!data || !window.echarts) { document.body.dataset.chartsReady = "0"; return; }
    readCss();
    var daily = document.getElementById("chart-daily");
    if (daily && data.daily) dailyChart(daily, data.daily);
    var timeline = document.getElementById("chart-timeline");
    if (timeline && data.timeline) timelineChart(timeline, data.timeline);
    var heat = document.getElementById("chart-heatmap");
    if (heat && data.heatmap) heatmapChart(heat, data.heatmap, currentMetric(data.metric));
    var session = document.getElementById("chart-session");
    if (session && data.requests) sessionChart(session, data);
    var cumulative = document.getElementById("chart-cumulative");
    if (cumulative && data.cumulative) cumulativeChart(cumulative, data.cumulative);
    bindMetricSwitch(data);
    document.body.dataset.chartsReady = String(charts.length);
    // for bench/dashboard_bench.py: when the first charts were drawn, from navigation start
    if (charts.length && !performance.getEntriesByName("charts-drawn").length) performance.mark("charts-drawn");
  }

  function currentMetric(fallback) {
    var m = new URLSearchParams(location.search).get("metric");
    return METRIC_FIELD[m] ? m : (fallback || "cost");
  }

  function bindMetricSwitch(data) {
    var group = document.getElementById("heatmap-metric");
    if (!group || !data.heatmap) return;
    group.querySelectorAll("a[data-metric]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var metric = link.dataset.metric;
        var url = new URL(location.href);
        if (metric === "cost") url.searchParams.delete("metric"); else url.searchParams.set("metric", metric);
        history.replaceState(null, "", url);
        group.querySelectorAll("a[data-metric]").forEach(function (other) {
          var on = other === link;
          other.classList.toggle("active", on);
          if (on) other.setAttribute("aria-current", "true"); else other.removeAttribute("aria-current");
        });
        var heat = document.getElementById("chart-heatmap");
        var old = window.echarts.getInstanceByDom(heat);
        if (old) { charts = charts.filter(function (c) { return c !== old; }); old.dispose(); }
        readCss();
        heatmapChart(heat, data.heatmap, metric);
      });
    });
  }

  // -- live refresh ---------------------------------------------------------------------------

  var live = document.getElementById("live");
  var liveText = document.getElementById("live-text");

  function setLive(ok, text) {
    if (!live) return;
    live.classList.toggle("offline", !ok);
    if (text) liveText.textContent = text;
  }

  function refresh() {
    return fetch(location.href, { headers: { Accept: "text/html" }, cache: "no-store", credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("content");
        var main = document.getElementById("content");
        if (!fresh || !main) return;
        var nodes = Array.prototype.map.call(fresh.childNodes, function (n) { return document.importNode(n, true); });
        main.replaceChildren.apply(main, nodes);
        animate = false;
        initCharts();
        setLive(true, "Updated " + clock(new Date()));
        live.classList.remove("updated");
        void live.offsetWidth;
        live.classList.add("updated");
      });
  }

  function poll() {
    if (document.hidden) { setTimeout(poll, POLL_MS); return; }
    fetch("/api/v1/version", { headers: { "If-None-Match": '"' + marker + '"' }, cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 304) { setLive(true); return null; }
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      })
      .then(function (body) {
        if (!body || body.version === marker) return null;
        var next = body.version;
        return refresh().then(function () { marker = next; document.body.dataset.marker = next; });
      })
      .catch(function () { setLive(false, "Offline"); })
      .then(function () { setTimeout(poll, POLL_MS); });
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { charts.forEach(function (c) { c.resize(); }); }, 120);
  });

  // on a phone the filter fields fold behind a button (CSS hides them once scripts run)
  document.documentElement.classList.add("js");
  var toggle = document.getElementById("filters-toggle");
  if (toggle) {
    var form = toggle.closest("form");
    if (document.getElementById("filter-errors")) form.classList.add("open");
    toggle.setAttribute("aria-expanded", String(form.classList.contains("open")));
    toggle.addEventListener("click", function () {
      var open = form.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }

  initCharts();
  if (marker) setTimeout(poll, POLL_MS);
})();
