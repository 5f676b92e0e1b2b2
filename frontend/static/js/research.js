/* Researcher dashboard: filters → GET /api/v1/analytics/interventions → Plotly charts, the
 * per-concept table and the export forms. Every number comes from the API. */
"use strict";

(function () {
  const { api, el, fmt, showStatus } = window.QTLens;
  const form = document.getElementById("filter-form");
  const statusNode = document.getElementById("research-status");
  const totalsNode = document.getElementById("totals");
  const chartsNode = document.getElementById("charts");
  const FILTERS = ["from", "to", "model", "user", "concept"];
  const EXPORT_FILTERS = ["from", "to", "model"];
  const TASK_COLOURS = ["#0969da", "#bf3989", "#1a7f37", "#9a6700"];
  const ACTION_COLOURS = { overrides: "#0969da", reverts: "#8c959f" };
  const PLOT_CONFIG = window.QTLens.plotConfig({ displayModeBar: false, responsive: true });
  const UNIT_TITLES = { "": "findings: share of overrides disagreeing", "a.u.": "arbitrary units" };

  /** Digits each concept is shown with, from the registry (rendered into the concept filter). */
  const conceptDecimals = Object.fromEntries(Array.from(
    document.querySelectorAll("#filter-concept option[data-decimals]"),
    (option) => [option.value, Number(option.dataset.decimals)]));

  function layout(extra) {
    return Object.assign({
      height: 300, margin: { l: 60, r: 10, t: 10, b: 90 }, font: { size: 12 },
      barmode: "group", legend: { orientation: "h", y: 1.12 },
      xaxis: { automargin: true, tickangle: -30 }, yaxis: { automargin: true, rangemode: "tozero" },
    }, extra);
  }

  function draw(id, traces, extra) {
    return Plotly.react(id, traces, layout(extra), PLOT_CONFIG);
  }

  function actionBars(x, rows, hover) {
    return ["overrides", "reverts"].map((action) => ({
      type: "bar", name: action, x, y: rows.map((r) => r[action]),
      marker: { color: ACTION_COLOURS[action] }, hovertext: hover,
      hovertemplate: `%{x}: %{y} ${action}${hover ? "<br>%{hovertext}" : ""}<extra></extra>`,
    }));
  }

  function perTaskBars(tasks, concepts, value, valueText) {
    return tasks.map((task, i) => ({
      type: "bar", name: task.label, x: concepts.map((c) => c.label),
      y: concepts.map((c) => value(c, task)), marker: { color: TASK_COLOURS[i % TASK_COLOURS.length] },
      hovertemplate: `%{x}<br>${task.label}: ${valueText}<extra></extra>`,
    }));
  }

  /** A y axis for counts: whole-number ticks, one per unit while the counts are small. */
  function countAxis(counts) {
    const axis = { automargin: true, rangemode: "tozero", tickformat: "d" };
    if (Math.max(0, ...counts) <= 8) axis.dtick = 1;
    return axis;
  }

  function actionCounts(rows) {
    return rows.flatMap((r) => [r.overrides, r.reverts]);
  }

  function plural(count, noun) {
    return `${count} ${noun}${count === 1 ? "" : "s"}`;
  }

  /** Day axis: whole days as ticks while the span is short, Plotly's choice beyond a week. */
  function dayAxis(days) {
    const axis = { type: "date", automargin: true, tickformat: "%d %b %Y", hoverformat: "%d %b %Y" };
    if (days.length > 0 && days.length <= 7) {
      const dayMs = 86400000;
      axis.dtick = dayMs;
      axis.range = [Date.parse(days[0]) - dayMs / 2, Date.parse(days[days.length - 1]) + dayMs / 2];
    }
    return axis;
  }

  /** A probability change in percentage points with its sign ("+3.0", "−1.2", "0.0"). */
  function signedPoints(change) {
    if (change === null) return "–";
    const text = fmt(Math.abs(100 * change), 1);
    if (Number(text) === 0) return text;
    return (change > 0 ? "+" : "−") + text;
  }

  function digits(concept) {
    return (concept in conceptDecimals ? conceptDecimals[concept] : 2) + 1;
  }

  /** One bar panel per unit: ms, mV, a.u. and findings never share an axis. */
  function drawDifference(concepts) {
    const withValue = concepts.filter((c) => c.mean_abs_difference !== null);
    const units = [...new Set(withValue.map((c) => c.unit))];
    const axisSuffix = (i) => (i === 0 ? "" : String(i + 1));  // Plotly: x, x2, x3…
    const traces = units.map((unit, i) => {
      const mine = withValue.filter((c) => c.unit === unit);
      const suffix = unit ? ` ${unit}` : "";
      return {
        type: "bar", name: unit || "findings", x: mine.map((c) => c.label),
        y: mine.map((c) => c.mean_abs_difference), xaxis: `x${axisSuffix(i)}`, yaxis: `y${axisSuffix(i)}`,
        hovertext: mine.map((c) => `${fmt(c.mean_abs_difference, digits(c.concept))}${suffix} over ${plural(c.overrides, "override")}`),
        hovertemplate: "%{x}: %{hovertext}<extra></extra>", marker: { color: TASK_COLOURS[0] },
      };
    });
    const axes = {};
    units.forEach((unit, i) => {
      axes[`xaxis${axisSuffix(i)}`] = { automargin: true, tickangle: -30 };
      axes[`yaxis${axisSuffix(i)}`] = { automargin: true, rangemode: "tozero",
        title: { text: UNIT_TITLES[unit] || unit, font: { size: 11 } } };
    });
    return draw("chart-difference", traces, Object.assign(axes, {
      grid: { rows: 1, columns: Math.max(units.length, 1), pattern: "independent", xgap: 0.25 },
      showlegend: false,
    }));
  }

  function modelLabel(model) {
    return `${model.model_name} (${model.model_checksum.slice(0, 8)})`;
  }

  function renderCharts(body) {
    const concepts = body.by_concept;
    const labels = concepts.map((c) => c.label);
    const taskText = (values) => body.tasks.map((t) =>
      `${t.label}: mean |Δ| ${values[t.name] === null ? "–" : fmt(100 * values[t.name], 1) + " pp"}`).join("<br>");
    return Promise.all([
      draw("chart-overrides", actionBars(labels, concepts), { yaxis: countAxis(actionCounts(concepts)) }),
      drawDifference(concepts),
      draw("chart-risk", perTaskBars(body.tasks, concepts, (c, t) =>
        c.mean_risk_change[t.name] === null ? null : 100 * c.mean_risk_change[t.name], "%{y:+.1f} pp"),
        { yaxis: { automargin: true, title: { text: "percentage points", font: { size: 11 } }, zeroline: true } }),
      draw("chart-flips", perTaskBars(body.tasks, concepts, (c, t) => c.band_flips[t.name], "%{y} flips"),
        { yaxis: countAxis(concepts.flatMap((c) => Object.values(c.band_flips))) }),
      draw("chart-users", actionBars(body.by_user.map((u) => u.user), body.by_user,
        body.by_user.map((u) => taskText(u.mean_abs_risk_change))), { yaxis: countAxis(actionCounts(body.by_user)) }),
      draw("chart-models", actionBars(body.by_model.map(modelLabel), body.by_model),
        { yaxis: countAxis(actionCounts(body.by_model)) }),
      draw("chart-time", ["overrides", "reverts"].map((action) => ({
        type: "scatter", mode: "lines+markers", name: action, x: body.over_time.map((d) => d.day),
        y: body.over_time.map((d) => d[action]), line: { color: ACTION_COLOURS[action] },
      })), { height: 260, margin: { l: 60, r: 10, t: 10, b: 50 },
        xaxis: dayAxis(body.over_time.map((d) => d.day)), yaxis: countAxis(actionCounts(body.over_time)) }),
    ]);
  }

  function renderTable(body) {
    const head = document.getElementById("concept-stats-head");
    const rows = document.getElementById("concept-stats-body");
    head.replaceChildren(el("tr", {},
      el("th", { scope: "col" }, "Concept"), el("th", { scope: "col" }, "Unit"),
      el("th", { scope: "col", class: "num" }, "Overrides"), el("th", { scope: "col", class: "num" }, "Reverts"),
      el("th", { scope: "col", class: "num" }, "Mean |model − clinician|"),
      body.tasks.flatMap((t) => [
        el("th", { scope: "col", class: "num" }, `${t.label}: mean Δ (pp)`),
        el("th", { scope: "col", class: "num" }, `${t.label}: band flips`)])));
    rows.replaceChildren();
    if (body.by_concept.length === 0) {
      rows.append(el("tr", {}, el("td", { colspan: 5 + 2 * body.tasks.length, class: "hint" },
        "No interventions match these filters.")));
    }
    for (const c of body.by_concept) {
      rows.append(el("tr", { dataset: { concept: c.concept } },
        el("th", { scope: "row" }, c.label), el("td", {}, c.unit || "finding"),
        el("td", { class: "num", dataset: { testid: `overrides-${c.concept}` } }, c.overrides),
        el("td", { class: "num" }, c.reverts),
        el("td", { class: "num" }, fmt(c.mean_abs_difference, digits(c.concept))),
        body.tasks.flatMap((t) => [
          el("td", { class: "num" }, signedPoints(c.mean_risk_change[t.name])),
          el("td", { class: "num" }, c.band_flips[t.name])])));
    }
  }

  function renderTotals(totals) {
    const span = totals.first_at
      ? ` · ${totals.first_at.slice(0, 10)} to ${totals.last_at.slice(0, 10)} (UTC)` : "";
    totalsNode.textContent = `${plural(totals.events, "event")}: ` +
      `${plural(totals.overrides, "override")}, ${plural(totals.reverts, "revert")} by ` +
      `${plural(totals.users, "clinician")} on ${plural(totals.predictions, "prediction")} of ` +
      `${plural(totals.records, "record")}${span}`;
  }

  /** Keep the chosen value while refilling a select's options from the API's facets. */
  function fillSelect(select, entries) {
    const chosen = select.value;
    const first = select.options[0];
    select.replaceChildren(first, ...entries.map(([value, label]) => el("option", { value }, label)));
    if (chosen && !entries.some(([value]) => value === chosen)) {
      select.append(el("option", { value: chosen }, chosen));
    }
    select.value = chosen;
  }

  function currentFilters() {
    const data = new FormData(form);
    const params = new URLSearchParams();
    for (const name of FILTERS) {
      const value = String(data.get(name) || "").trim();
      if (value) params.set(name, value);
    }
    return params;
  }

  /** The export forms carry the date and model filters; blank ones stay out of the query. */
  function syncExports(params) {
    for (const exportForm of document.querySelectorAll("form.export")) {
      for (const name of EXPORT_FILTERS) {
        const input = exportForm.elements.namedItem(name);
        input.value = params.get(name) || "";
        input.disabled = !params.has(name);
      }
    }
  }

  async function load(params) {
    showStatus(statusNode, "Loading…", false);
    syncExports(params);
    try {
      const body = await api("GET", "/api/v1/analytics/interventions?" + params);
      fillSelect(form.elements.namedItem("model"),
        body.facets.models.map((m) => [m.checksum, `${m.name} (${m.checksum.slice(0, 8)})`]));
      fillSelect(form.elements.namedItem("user"), body.facets.users.map((u) => [u, u]));
      renderTotals(body.totals);
      renderTable(body);
      chartsNode.hidden = body.totals.events === 0;
      if (!chartsNode.hidden) await renderCharts(body);
      showStatus(statusNode, body.totals.events === 0 ? "No interventions match these filters." : "", false);
    } catch (error) {
      showStatus(statusNode, error.message, true);
    }
  }

  function apply() {
    const params = currentFilters();
    const query = params.toString();
    history.replaceState(null, "", query ? `?${query}` : location.pathname);
    return load(params);
  }

  // What the filter fields show is what the export buttons send, applied or not yet.
  form.addEventListener("change", () => syncExports(currentFilters()));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  document.getElementById("filter-clear").addEventListener("click", () => {
    for (const name of FILTERS) form.elements.namedItem(name).value = "";
    apply();
  });

  // Filters in the address (a shared or reloaded link) fill the form before the first load.
  const initial = new URLSearchParams(location.search);
  for (const name of FILTERS) {
    const value = initial.get(name);
    const field = form.elements.namedItem(name);
    if (!value) continue;
    if (field.tagName === "SELECT" && !Array.from(field.options).some((o) => o.value === value)) {
      field.append(el("option", { value }, value));
    }
    field.value = value;
  }
  load(currentFilters());
})();
