/* Record page: the ECG on paper, the concept panel, the risk, overrides and calipers.
 * All numbers come from the API; this script never computes a risk. */
"use strict";

(function () {
  const { api, el, fmt, percent, showStatus } = window.QTLens;
  const root = document.getElementById("record-app");
  const recordId = root.dataset.recordId;
  const canEdit = root.dataset.canEdit === "true";
  const plotNode = document.getElementById("ecg-plot");
  const layoutSelect = document.getElementById("layout-select");
  const leadSelect = document.getElementById("lead-select");
  const leadSelectLabel = document.getElementById("lead-select-label");
  const caliperToggle = document.getElementById("caliper-toggle");
  const caliperPanel = document.getElementById("caliper-panel");
  const editStatus = document.getElementById("edit-status");
  const conceptBody = document.getElementById("concept-body");
  const riskPanel = document.getElementById("risk-panel");
  const suggestionNode = document.getElementById("suggestion");
  const commentInput = document.getElementById("edit-comment");
  const contribTask = document.getElementById("contrib-task");

  const state = { signal: null, prediction: null, caliper: null, caliperAnchor: null, followed: null,
    explanation: null };
  const NUDGE_S = 0.004;  // one keyboard step moves a caliper edge by 4 ms (two samples at 500 Hz)

  function redraw() {
    if (!state.signal) return Promise.resolve();
    return window.QTLensEcg.draw(plotNode, state.signal, {
      layout: layoutSelect.value,
      singleLead: leadSelect.value,
      fiducials: state.prediction ? state.prediction.fiducials : null,
      caliper: state.caliper,
      explanation: state.explanation,
    });
  }

  function renderRisk(prediction) {
    riskPanel.replaceChildren();
    for (const risk of prediction.risks) {
      riskPanel.append(el("div", { class: "risk", dataset: { task: risk.task } },
        el("span", { class: "risk-label" }, risk.label),
        el("span", { class: `risk-value band-${risk.band}`, dataset: { testid: `risk-${risk.task}` } },
          percent(risk.probability)),
        el("span", { class: `band band-${risk.band}` }, risk.band)));
      if (risk.learned_from) {
        riskPanel.append(el("div", { class: "hint", dataset: { testid: `risk-source-${risk.task}` } },
          `Learned from: ${risk.learned_from}`));
      }
    }
    const primary = prediction.risks.find((r) => r.task === contribTask.value) || prediction.risks[0];
    const entries = Object.entries(primary.contributions)
      .filter((e) => e[1] !== 0)
      .sort((a, b) => Math.abs(a[1]) - Math.abs(b[1]));
    const labels = Object.fromEntries(prediction.concepts.map((c) => [c.name, c.label]));
    Plotly.react("contrib-plot", [{
      type: "bar", orientation: "h", x: entries.map((e) => e[1]), y: entries.map((e) => labels[e[0]] || e[0]),
      marker: { color: entries.map((e) => (e[1] > 0 ? "#d1242f" : "#1f883d")) },
      hovertemplate: "%{y}: %{x:.2f} log-odds<extra></extra>",
    }], {
      title: { text: `What pushes the ${primary.label.toLowerCase()}`, font: { size: 12 } },
      margin: { l: 130, r: 10, t: 30, b: 30 }, height: Math.max(200, 16 * entries.length + 60),
      xaxis: { title: { text: "log-odds contribution", font: { size: 10 } }, zeroline: true },
      yaxis: { tickfont: { size: 10 } },
    }, { displayModeBar: false, responsive: true });
  }

  function renderSuggestion(prediction) {
    const s = prediction.suggestion;
    suggestionNode.hidden = !s;
    conceptBody.querySelectorAll("tr.suggested").forEach((row) => row.classList.remove("suggested"));
    if (!s) return;
    const row = conceptBody.querySelector(`tr[data-concept="${s.concept}"]`);
    const follow = canEdit && row
      ? el("button", { type: "button", dataset: { testid: "follow-suggestion" } }, `Check ${s.label}`)
      : null;
    suggestionNode.replaceChildren(el("strong", {}, "Check next: "), s.reason, " ", follow || "");
    if (row) row.classList.add("suggested");
    if (follow) {
      follow.addEventListener("click", () => {
        const input = row.querySelector("input");
        state.followed = s.concept;
        row.scrollIntoView({ block: "center" });
        input.focus();
        const target = document.getElementById("caliper-target");
        if (target && [...target.options].some((o) => o.value === s.concept)) target.value = s.concept;
      });
    }
  }

  function valueCell(concept) {
    if (concept.kind === "binary") {
      return concept.probability === null ? "–" : `${fmt(100 * concept.probability, 0)} %`;
    }
    const unc = concept.uncertainty !== null ? ` ± ${fmt(concept.uncertainty, concept.decimals)}` : "";
    return `${fmt(concept.model_value, concept.decimals)}${unc}`;
  }

  function editCell(concept) {
    const input = el("input", {
      type: "number", step: concept.kind === "binary" ? 1 : "any", min: concept.kind === "binary" ? 0 : null,
      max: concept.kind === "binary" ? 1 : null, "aria-label": `Your value for ${concept.label}`,
      value: concept.overridden ? concept.value : "", dataset: { testid: `override-${concept.name}` },
    });
    const apply = el("button", { type: "button", dataset: { testid: `apply-${concept.name}` } }, "Set");
    const submit = () => {
      if (input.value === "") return;
      override(concept.name, Number(input.value), state.followed === concept.name ? "suggestion" : "typed");
    };
    apply.addEventListener("click", submit);
    input.addEventListener("keydown", (event) => { if (event.key === "Enter") submit(); });
    const cell = el("td", { class: "edit" }, input, apply);
    if (concept.overridden) {
      const revert = el("button", { type: "button", class: "link-button", dataset: { testid: `revert-${concept.name}` } }, "Revert");
      revert.addEventListener("click", () => revertConcept(concept.name));
      cell.append(revert);
    }
    return cell;
  }

  function renderConcepts(prediction) {
    conceptBody.replaceChildren();
    for (const c of prediction.concepts) {
      const unit = c.unit ? ` ${c.unit}` : "";
      const measured = c.measured_value === null
        ? el("span", { class: "hint", title: c.measured_reason || "" }, "n/a")
        : c.measured_low_confidence
          ? el("span", { class: "low-confidence", title: c.measured_low_confidence, dataset: { testid: `low-confidence-${c.name}` } },
            `${fmt(c.measured_value, c.decimals)}${unit}`, el("span", { class: "hint" }, " (low confidence)"))
          : `${fmt(c.measured_value, c.decimals)}${unit}`;
      const row = el("tr", { class: `flag-${c.flag}${c.overridden ? " overridden" : ""}`, dataset: { concept: c.name } },
        el("th", { scope: "row", title: c.flag_note || "" }, c.label,
          c.flag !== "normal" ? el("span", { class: `flag flag-${c.flag}` }, c.flag) : null,
          c.overridden ? el("div", { class: "hint" }, `set by ${c.overridden_by}`) : null),
        el("td", { dataset: { testid: `model-${c.name}` } }, `${valueCell(c)}${c.kind === "binary" ? "" : unit}`),
        el("td", {}, measured),
        el("td", { class: "hint" }, c.normal_range));
      if (canEdit) row.append(editCell(c));
      conceptBody.append(row);
    }
  }

  function render(prediction) {
    state.prediction = prediction;
    renderConcepts(prediction);
    renderRisk(prediction);
    renderSuggestion(prediction);
    document.getElementById("model-line").textContent =
      `Model ${prediction.model_name} on ${prediction.device}, ${fmt(prediction.latency_ms, 0)} ms.`;
  }

  async function override(concept, value, source) {
    showStatus(editStatus, "Updating…", false);
    try {
      const result = await api("POST", `/api/v1/predictions/${state.prediction.id}/interventions`, {
        concept, value, source, comment: commentInput && commentInput.value ? commentInput.value : null,
      });
      if (commentInput) commentInput.value = "";
      render(result.prediction);
      redraw();
      const changes = result.prediction.risks.map((risk) =>
        `${risk.label} ${percent(result.risks_before[risk.task])} → ${percent(result.risks_after[risk.task])}`);
      showStatus(editStatus, `Saved. ${changes.join("; ")}`, false);
    } catch (error) {
      showStatus(editStatus, error.message, true);
    }
  }

  async function revertConcept(concept) {
    try {
      const result = await api("DELETE", `/api/v1/predictions/${state.prediction.id}/interventions/${concept}`);
      render(result.prediction);
      showStatus(editStatus, "Reverted to the model value.", false);
    } catch (error) {
      showStatus(editStatus, error.message, true);
    }
  }

  function updateCaliperReadout() {
    const reading = window.QTLensEcg.caliperReading(state.caliper);
    document.getElementById("caliper-ms").textContent = fmt(reading.ms, 0);
    document.getElementById("caliper-mv").textContent = fmt(reading.mv, 2);
  }

  /** Move one edge of the caliper by a number of keyboard steps. */
  function nudgeCaliper(edge, steps) {
    state.caliper = { ...state.caliper, [edge]: state.caliper[edge] + steps * NUDGE_S };
    updateCaliperReadout();
    redraw();
  }

  document.querySelectorAll("[data-nudge]").forEach((button) => {
    const [edge, steps] = button.dataset.nudge.split(":");
    button.addEventListener("click", () => nudgeCaliper(edge, Number(steps)));
  });

  caliperToggle.addEventListener("click", () => {
    const on = state.caliper === null;
    state.caliper = on ? window.QTLensEcg.defaultCaliper(state.signal) : null;
    state.caliperAnchor = null;
    caliperToggle.setAttribute("aria-pressed", String(on));
    caliperPanel.hidden = !on;
    if (on) updateCaliperReadout();
    redraw();
  });

  const applyButton = document.getElementById("caliper-apply");
  if (applyButton) {
    applyButton.addEventListener("click", () => {
      const reading = window.QTLensEcg.caliperReading(state.caliper);
      override(document.getElementById("caliper-target").value, Math.round(reading.ms), "caliper");
    });
  }

  // Explanation overlay: the API's per-lead attribution drawn as a heat band under each lead.
  const explainToggle = document.getElementById("explain-toggle");
  const explainControls = document.getElementById("explain-controls");
  const explainMethod = document.getElementById("explain-method");
  const explainTarget = document.getElementById("explain-target");
  const explainStatus = document.getElementById("explain-status");

  function fillSelect(select, options, chosen) {
    if (select.options.length !== options.length) {
      select.replaceChildren(...options.map((o) => el("option", { value: o.name }, o.label)));
    }
    select.value = chosen;
  }

  async function loadExplanation() {
    if (!state.prediction) { showStatus(explainStatus, "No prediction to explain yet.", true); return; }
    const query = new URLSearchParams({ method: explainMethod.value || "ig", target: explainTarget.value || "lqts_risk" });
    showStatus(explainStatus, "Computing…", false);
    try {
      const result = await api("GET", `/api/v1/predictions/${state.prediction.id}/explanations?${query}`);
      if (explainToggle.getAttribute("aria-pressed") !== "true") return;  // switched off meanwhile
      fillSelect(explainMethod, result.methods, result.method);
      fillSelect(explainTarget, result.targets, result.target);
      state.explanation = result;
      const sign = result.signed ? "red raises, blue lowers it" : "darker = more influence";
      showStatus(explainStatus, `${result.method_label} of ${result.target_label} ` +
        `(${fmt(result.target_value, 2)} ${result.target_unit}); ${sign}.`, false);
      await redraw();
    } catch (error) {
      showStatus(explainStatus, error.message, true);
    }
  }

  explainToggle.addEventListener("click", () => {
    const on = explainToggle.getAttribute("aria-pressed") !== "true";
    explainToggle.setAttribute("aria-pressed", String(on));
    explainControls.hidden = !on;
    if (on) { loadExplanation(); return; }
    state.explanation = null;
    redraw();
  });
  explainMethod.addEventListener("change", loadExplanation);
  explainTarget.addEventListener("change", loadExplanation);

  contribTask.addEventListener("change", () => { if (state.prediction) renderRisk(state.prediction); });

  layoutSelect.addEventListener("change", () => {
    leadSelectLabel.hidden = layoutSelect.value !== "single";
    redraw();
  });
  leadSelect.addEventListener("change", redraw);

  const reviewButton = document.getElementById("review-button");
  if (reviewButton) {
    reviewButton.addEventListener("click", async () => {
      try {
        await api("POST", `/api/v1/records/${recordId}/review`);
        showStatus(editStatus, "Marked reviewed.", false);
      } catch (error) {
        showStatus(editStatus, error.message, true);
      }
    });
  }

  async function start() {
    try {
      const record = await api("GET", `/api/v1/records/${recordId}`);
      document.getElementById("record-meta").textContent =
        `${record.age_years ?? "age ?"} y · ${record.sex ?? "sex ?"} · ${record.source_format} · ` +
        `${fmt(record.fs_hz, 0)} Hz · ${fmt(record.duration_s, 1)} s`;
      state.signal = await api("GET", `/api/v1/records/${recordId}/signal?start_s=0&duration_s=10`);
      leadSelect.replaceChildren(...state.signal.lead_names.map((l) => el("option", { value: l }, l)));
      await redraw();
      plotNode.on("plotly_relayout", (event) => {
        if (!state.caliper) return;
        const box = window.QTLensEcg.caliperFromRelayout(plotNode, event);
        if (box) { state.caliper = box; updateCaliperReadout(); }
      });
      // Click two points of a trace (e.g. QRS onset, then T end) to place the caliper.
      plotNode.on("plotly_click", (event) => {
        if (!state.caliper || !event.points.length) return;
        const point = event.points[0];
        if (state.caliperAnchor === null) {
          state.caliperAnchor = { x: point.x, y: point.y };
          state.caliper = { x0: point.x, x1: point.x, y0: point.y, y1: point.y };
        } else {
          state.caliper = { x0: state.caliperAnchor.x, x1: point.x, y0: state.caliperAnchor.y, y1: point.y };
          state.caliperAnchor = null;
        }
        updateCaliperReadout();
        redraw();
      });
      let predictionId = record.latest_prediction_id;
      if (predictionId === null) {
        if (!canEdit) { riskPanel.textContent = "Not analysed yet."; return; }
        predictionId = (await api("POST", `/api/v1/records/${recordId}/predictions`)).id;
      }
      render(await api("GET", `/api/v1/predictions/${predictionId}`));
      await redraw();
    } catch (error) {
      showStatus(editStatus, error.message, true);
    }
  }

  start();
})();
