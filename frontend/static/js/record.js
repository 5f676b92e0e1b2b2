/* Record page: the ECG on paper, the concept panel, the risk, overrides and calipers.
 * All numbers come from the API; this script never computes a risk. */
"use strict";

(function () {
  const { api, el, fmt, percent, showStatus, when } = window.QTLens;
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
  const oodNode = document.getElementById("ood-note");
  const commentInput = document.getElementById("edit-comment");
  const contribTask = document.getElementById("contrib-task");
  const changeSection = document.getElementById("change-section");
  const changeBody = document.getElementById("change-body");
  const seriesNote = document.getElementById("series-note");
  const windowSelect = document.getElementById("window-select");
  const legendNode = document.getElementById("fiducial-legend");
  const reviewState = document.getElementById("review-state");
  const reviewButton = document.getElementById("review-button");
  const reopenButton = document.getElementById("reopen-button");

  const fiducialPanel = document.getElementById("fiducial-panel");
  const fiducialSelect = document.getElementById("fiducial-select");

  const state = { record: null, signal: null, prediction: null, caliper: null, caliperAnchor: null,
    followed: null, explanation: null, fiducialDraft: null, otherQtc: false };
  const NUDGE_S = 0.004;  // one keyboard step moves a caliper edge by 4 ms (two samples at 500 Hz)
  const WINDOW_S = 30;  // the longest stretch of signal one request returns (the API's limit)

  /** Whether this user may change values now: a clinician, on a record not locked by a review. */
  function editable() {
    return canEdit && !(state.record && state.record.status === "reviewed");
  }

  /** The fiducial legend; ``movable``: the median-beat marks can be dragged (drawn solid, as
   * are marks a clinician moved). */
  function renderLegend(movable) {
    const fiducials = plottedFiducials();
    const moved = Boolean(fiducials && fiducials.fiducials_in_force && fiducials.fiducials_in_force.moved);
    const entries = window.QTLensEcg.legend(layoutSelect.value, movable, moved).map((entry) => {
      const swatch = el("span", { class: entry.solid ? "swatch solid" : "swatch", "aria-hidden": "true" });
      swatch.style.borderColor = entry.colour;
      return el("li", {}, swatch, entry.label);
    });
    const where = layoutSelect.value === "3x4" ? "on the lead II rhythm strip" : "on every lead";
    const alone = layoutSelect.value !== "median" && fiducials && Array.isArray(fiducials.beats)
      && fiducials.beats.some((b) => b.in_median === false && b.t_end_s !== null && b.t_end_s !== undefined);
    const note = alone ? [el("li", { class: "hint", "data-testid": "fiducial-legend-alone" },
      "dashed: a beat left out of the median beat (ectopic or premature), marked on its own; "
      + "no value is measured from it")] : [];
    legendNode.replaceChildren(el("li", { class: "hint" }, `Fiducials ${where}:`), ...entries, ...note);
  }

  /** The prediction's delineation with the marks in force, and a keyboard draft on top. */
  function plottedFiducials() {
    if (!state.prediction) return null;
    const fiducials = state.prediction.fiducials;
    if (!state.fiducialDraft) return fiducials;
    const { key, ms } = state.fiducialDraft;
    return { ...fiducials, fiducials_in_force: { ...fiducials.fiducials_in_force, [`${key}_s`]: ms / 1000 } };
  }

  async function redraw() {
    const movable = editable() && Boolean(state.prediction);
    renderLegend(movable);
    if (fiducialPanel) fiducialPanel.hidden = layoutSelect.value !== "median" || !movable;
    if (!state.signal) return;
    await window.QTLensEcg.draw(plotNode, state.signal, {
      layout: layoutSelect.value,
      singleLead: leadSelect.value,
      fiducials: plottedFiducials(),
      movable,
      caliper: state.caliper,
      explanation: state.explanation,
      baselineBeats: state.prediction && state.prediction.series
        ? state.prediction.series.baseline_median_beats : null,
    });
    const speed = window.QTLensEcg.mmPerSecond(plotNode);
    const box = document.getElementById("ecg-scroll");
    // Only a box wider than its view is scrolled: say so only then.
    const scrolls = box.scrollWidth > box.clientWidth + 1;
    document.getElementById("scale-line").textContent =
      `Drawn at ${fmt(speed, 0)} mm/s and ${fmt(speed * 0.4, 0)} mm/mV (paper: 25 mm/s, 10 mm/mV; ` +
      "small squares 40 ms × 0.1 mV). " +
      (scrolls ? "Scroll sideways within the box for the whole record; " : "") +
      "Drag to zoom, double-click to reset.";
  }

  function renderRisk(prediction) {
    riskPanel.replaceChildren();
    for (const risk of prediction.risks) {
      // A points head (e.g. the Schwartz score) shows its points, not a percentage.
      const value = risk.points !== null && risk.points !== undefined
        ? `${risk.points} / ${risk.max_points} points` : percent(risk.probability);
      riskPanel.append(el("div", { class: "risk", dataset: { task: risk.task } },
        el("span", { class: "risk-label" }, risk.label),
        el("span", { class: `risk-value band-${risk.band}`,
                     dataset: { testid: `risk-${risk.task}`, probability: risk.probability } }, value),
        el("span", { class: `band band-${risk.band}` }, risk.band)));
      if (risk.basis === "change") {
        riskPanel.append(el("div", { class: "hint", dataset: { testid: `risk-basis-${risk.task}` } },
          `From the change against baseline ECG ${prediction.series.baseline_record_id}.`));
      }
      if (risk.head) {
        riskPanel.append(el("div", { class: "hint", dataset: { testid: `risk-head-${risk.task}` } },
          `From: ${risk.head} · `, el("a", { href: `/about#${risk.task}` }, "about this model")));
      }
      if (risk.band_cutoffs) {
        // A calibrated head's "low" may sit at a high probability: say where its bands begin.
        riskPanel.append(el("div", { class: "hint", dataset: { testid: `risk-bands-${risk.task}` } },
          `Bands of this head: ${risk.band_cutoffs}.`));
      }
      if (risk.meaning || risk.learned_from) {
        riskPanel.append(el("div", { class: "risk-meaning", dataset: { testid: `risk-source-${risk.task}` } },
          risk.meaning || `Learned from: ${risk.learned_from}`));
      }
    }
    const primary = prediction.risks.find((r) => r.task === contribTask.value) || prediction.risks[0];
    const inPoints = primary.points !== null && primary.points !== undefined;
    const entries = Object.entries(primary.contributions)
      .filter((e) => e[1] !== 0)
      .sort((a, b) => Math.abs(a[1]) - Math.abs(b[1]));
    const labels = Object.fromEntries([...prediction.concepts, ...prediction.changes].map((c) => [c.name, c.label]));
    // Nothing pushes it (a Schwartz score of 0 on most ECGs): say so instead of drawing empty axes.
    const contribEmpty = document.getElementById("contrib-empty");
    const contribPlot = document.getElementById("contrib-plot");
    contribEmpty.hidden = entries.length > 0;
    contribPlot.hidden = entries.length === 0;
    if (entries.length === 0) {
      contribEmpty.textContent = inPoints
        ? `No item of the ${primary.head || "score"} scores on this ECG: ${primary.points} of ${primary.max_points} points.`
        : `No concept moves the ${primary.label} away from the head's baseline on this ECG.`;
      Plotly.purge(contribPlot);
      return;
    }
    Plotly.react("contrib-plot", [{
      type: "bar", orientation: "h", x: entries.map((e) => e[1]), y: entries.map((e) => labels[e[0]] || e[0]),
      marker: { color: entries.map((e) => (e[1] > 0 ? "#d1242f" : "#1f883d")) },
      hovertemplate: inPoints
        ? "%{y}: %{x:.1f} points<extra></extra>" : "%{y}: %{x:.2f} log-odds<extra></extra>",
    }], {
      title: { text: `What pushes the ${primary.label}`, font: { size: 12 } },
      margin: { l: 130, r: 10, t: 30, b: 30 }, height: Math.max(200, 16 * entries.length + 60),
      xaxis: { title: { text: inPoints ? "points" : "log-odds contribution", font: { size: 10 } }, zeroline: true },
      yaxis: { tickfont: { size: 10 } },
    }, { displayModeBar: false, responsive: true });
  }

  function renderOod(prediction) {
    const ood = prediction.ood;
    oodNode.hidden = !ood;
    if (!ood) return;
    oodNode.classList.toggle("ood-high", ood.high);
    oodNode.dataset.high = String(ood.high);
    oodNode.replaceChildren(
      el("strong", {}, ood.high ? "Unlike the training ECGs: " : "Typical of the training ECGs: "),
      ood.message);
  }

  function renderSuggestion(prediction) {
    const s = prediction.suggestion;
    suggestionNode.hidden = !s;
    conceptBody.querySelectorAll("tr.suggested").forEach((row) => row.classList.remove("suggested"));
    if (!s) return;
    const row = conceptBody.querySelector(`tr[data-concept="${s.concept}"]`);
    const follow = editable() && row
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

  /** The model's estimate: the value with its unit, then "± uncertainty" on its own line. */
  function valueCell(concept, unit) {
    if (concept.kind === "binary") {
      return concept.probability === null ? "–" : `${fmt(100 * concept.probability, 0)} %`;
    }
    return [el("span", { class: "num" }, `${fmt(concept.model_value, concept.decimals)}${unit}`),
      concept.uncertainty !== null
        ? el("span", { class: "unc" }, `± ${fmt(concept.uncertainty, concept.decimals)}`) : null];
  }

  function editCell(concept) {
    if (!concept.can_be_typed) {  // a view of other concepts (QTc prolonged): set those instead
      const from = concept.derived_from.map((name) => (state.prediction.concepts.find((c) => c.name === name) || {}).label || name);
      return el("td", { class: "edit hint" }, from.length ? `follows ${from.join(", ")}` : "not typed");
    }
    const locked = !editable();
    const input = el("input", {
      type: "number", step: concept.kind === "binary" ? 1 : 10 ** -concept.decimals,
      min: concept.kind === "binary" ? 0 : null, max: concept.kind === "binary" ? 1 : null,
      inputmode: "decimal", "aria-label": `Your value for ${concept.label}`, disabled: locked,
      value: concept.overridden ? fmt(concept.value, concept.decimals) : "",
      dataset: { testid: `override-${concept.name}` },
    });
    // Enter in the field sets the value, so the button is for the mouse and stays out of the Tab
    // order: one Tab stop per concept.
    const apply = el("button", { type: "button", disabled: locked, tabindex: "-1",
      "aria-label": `Set ${concept.label}`, dataset: { testid: `apply-${concept.name}` } }, "Set");
    const submit = () => {
      if (!editable()) return;
      if (input.value === "") {  // empty, or what the browser cannot read as a number (letters)
        if (input.validity.badInput) showStatus(editStatus, `${concept.label}: type a number.`, true);
        return;
      }
      override(concept.name, Number(input.value), state.followed === concept.name ? "suggestion" : "typed");
    };
    apply.addEventListener("click", submit);
    input.addEventListener("keydown", (event) => { if (event.key === "Enter") submit(); });
    const cell = el("td", { class: "edit" }, input, apply);
    if (concept.overridden) {
      const revert = el("button", { type: "button", class: "link-button revert", disabled: locked,
        dataset: { testid: `revert-${concept.name}` } }, "Revert");
      revert.addEventListener("click", () => revertConcept(concept.name));
      cell.append(revert);
    }
    return cell;
  }

  /** The measured value, or "n/a" with the pipeline's reason as visible text. */
  function measuredCell(concept, unit) {
    if (concept.measured_value !== null) {
      return el("td", {}, `${fmt(concept.measured_value, concept.decimals)}${unit}`,
        concept.measured_low_confidence ? el("span", { class: "reason", title: concept.measured_low_confidence,
          dataset: { testid: `low-confidence-${concept.name}` } }, `low confidence: ${concept.measured_low_confidence}`) : null);
    }
    return el("td", { class: "na" }, "n/a",
      concept.measured_reason ? el("span", { class: "reason", dataset: { testid: `reason-${concept.name}` } },
        concept.measured_reason) : null);
  }

  /** The value in force of a concept a clinician did not set but that moved with one they did
   * (a QTc after QT was set): shown under the model's, with what it follows. ``null`` when it is
   * the model's own value (at the concept's precision). */
  function movedLine(c, unit, labels) {
    if (c.overridden || c.value === null || c.model_value === null) return null;
    const shown = c.kind === "binary" ? (c.value >= 0.5 ? "present" : "absent") : `${fmt(c.value, c.decimals)}${unit}`;
    const model = c.kind === "binary" ? (c.model_value >= 0.5 ? "present" : "absent") : `${fmt(c.model_value, c.decimals)}${unit}`;
    if (shown === model) return null;
    const from = c.derived_from.map((name) => labels[name] || name).join(", ");
    return el("span", { class: "in-force", dataset: { testid: `in-force-${c.name}` } },
      `in force ${shown}`, from ? el("span", { class: "normal" }, `from ${from}`) : null);
  }

  /** A QTc by another formula than the primary one (a setting): one click away, shown anyway
   * when a clinician set it. */
  function otherQtc(c, prediction) {
    return c.sets === "qt" && c.name !== prediction.primary_qtc && !c.overridden;
  }

  function otherQtcToggle(prediction) {
    const others = prediction.concepts.filter((c) => otherQtc(c, prediction));
    if (!others.length) return null;
    const disagreeing = others.filter((c) => c.disagreement).length;
    const toggle = el("button", { type: "button", class: "link-button", "aria-expanded": String(state.otherQtc),
      dataset: { testid: "other-qtc-toggle" } },
    state.otherQtc ? "hide the other QTc formulas"
      : `other QTc formulas (${others.length}${disagreeing ? `, ${disagreeing} disagree with the measurement` : ""})`);
    toggle.addEventListener("click", () => {
      state.otherQtc = !state.otherQtc;
      renderConcepts(prediction);
      conceptBody.querySelector("[data-testid=other-qtc-toggle]").focus();
    });
    return el("span", { class: "normal" }, toggle);
  }

  function renderConcepts(prediction) {
    conceptBody.replaceChildren();
    const labels = Object.fromEntries(prediction.concepts.map((c) => [c.name, c.label]));
    for (const c of prediction.concepts) {
      if (otherQtc(c, prediction) && !state.otherQtc) continue;
      const unit = c.unit ? ` ${c.unit}` : "";
      const moved = movedLine(c, unit, labels);
      const row = el("tr", { class: `flag-${c.flag}${c.overridden ? " overridden" : ""}${moved ? " moved" : ""}`,
        dataset: { concept: c.name } },
        el("th", { scope: "row" }, c.label,
          c.flag !== "normal" ? el("span", { class: `flag flag-${c.flag}` }, c.flag) : null,
          el("span", { class: "normal" }, c.normal_range),
          c.flag_note ? el("span", { class: "normal" }, c.flag_note) : null,
          c.overridden ? el("span", { class: "normal" }, `set by ${c.overridden_by}`) : null,
          c.name === prediction.primary_qtc ? otherQtcToggle(prediction) : null,
          c.disagreement ? el("div", { class: "disagreement", dataset: { testid: `disagreement-${c.name}` } },
            `Model and measurement disagree: ${c.disagreement}`) : null),
        el("td", { class: "model", dataset: { testid: `model-${c.name}` } }, valueCell(c, unit), moved),
        measuredCell(c, unit));
      if (canEdit) row.append(editCell(c));
      conceptBody.append(row);
    }
  }

  /** The change of each concept against the series' baseline ECG, beside the absolute values. */
  function renderChanges(prediction) {
    const series = prediction.series;
    changeSection.hidden = !series;
    if (!series) return;
    seriesNote.textContent = `Series ${series.series_id}` +
      (series.baseline_record_id ? ` · baseline ECG ${series.baseline_record_id} (dashed blue in the median beats)` : "") +
      (series.note ? ` · ${series.note}` : "");
    changeBody.replaceChildren();
    for (const c of prediction.changes) {
      const unit = c.unit ? ` ${c.unit}` : "";
      const rounded = c.value === null ? null : Math.round(c.value * 10 ** c.decimals) / 10 ** c.decimals;
      const value = rounded === null ? "n/a" : `${rounded > 0 ? "+" : ""}${fmt(rounded + 0, c.decimals)}${unit}`;
      const source = prediction.concepts.find((x) => x.name === c.source);
      const sourceUnit = source && source.unit ? ` ${source.unit}` : "";
      const decimals = source ? source.decimals : 0;
      changeBody.append(el("tr", { class: `flag-${c.flag}`, dataset: { change: c.name, testid: `change-${c.name}` } },
        el("th", { scope: "row", title: c.flag_note || "" }, c.label,
          c.flag !== "normal" ? el("span", { class: `flag flag-${c.flag}` }, c.flag) : null),
        el("td", { dataset: { testid: `change-value-${c.name}` } }, value),
        el("td", { class: "hint" }, `${fmt(c.baseline_value, decimals)} → ${fmt(c.current_value, decimals)}${sourceUnit}`)));
    }
  }

  /** The cart's own reading beside QTLens' value in force of the same quantity. */
  function renderDevice(device, prediction) {
    document.getElementById("device-card").hidden = !device;
    if (!device) return;
    const concepts = Object.fromEntries((prediction ? prediction.concepts : []).map((c) => [c.name, c]));
    document.getElementById("device-source").textContent =
      `Measured by the electrocardiograph (${device.source}), as stored in the uploaded file.`;
    document.getElementById("device-body").replaceChildren(...device.values.map((v) => {
      const own = concepts[v.name];
      const ours = own ? `${fmt(own.value, own.decimals)} ${own.unit}`
        : v.name === "qtc" ? "formula not stated by the file" : "not measured by QTLens";
      return el("tr", { dataset: { quantity: v.name } },
        el("th", { scope: "row" }, v.label),
        el("td", { dataset: { testid: `cart-${v.name}` } }, `${fmt(v.value, 0)} ${v.unit}`),
        el("td", { class: own ? "" : "hint" }, ours));
    }));
    const statements = device.statements.length ? device.statements : ["(none in the file)"];
    document.getElementById("device-statements").replaceChildren(
      ...statements.map((line) => el("li", {}, line)));
  }

  /** How the record was measured (which QT, the lead QT), in the server's words, under the
   * concepts; a paced rhythm beside the risks it changes the reading of. */
  function renderNotes(prediction) {
    const paced = prediction.measurement_notes.find((note) => note.kind === "paced");
    const pacingNode = document.getElementById("pacing-note");
    pacingNode.hidden = !paced;
    pacingNode.textContent = paced ? paced.text : "";
    document.getElementById("measurement-notes").replaceChildren(...prediction.measurement_notes
      .filter((note) => note !== paced)
      .map((note) => el("li", { dataset: { testid: `note-${note.kind}` } }, note.text)));
  }

  function render(prediction) {
    state.prediction = prediction;
    if (state.record) renderDevice(state.record.device, prediction);
    renderConcepts(prediction);
    renderChanges(prediction);
    renderRisk(prediction);
    renderSuggestion(prediction);
    renderOod(prediction);
    renderNotes(prediction);
    document.getElementById("model-line").textContent =
      `Model ${prediction.model_name} on ${prediction.device}, ${fmt(prediction.latency_ms, 0)} ms.`;
  }

  /** Render a new state, then give the focus back to the field that had it (Enter keeps you
   * in the field you typed in, though the table's rows are rebuilt). */
  function renderKeepingFocus(prediction) {
    const focused = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.testid : null;
    render(prediction);
    const again = focused ? conceptBody.querySelector(`[data-testid="${focused}"]`) : null;
    if (again && !again.disabled) again.focus();
  }

  /** An edit's answer leaves out the stored delineation (median beats, beat marks: no edit
   * changes them) and carries the marks in force: keep the delineation this page has. */
  function withDelineation(prediction) {
    return { ...prediction, fiducials: { ...state.prediction.fiducials, ...prediction.fiducials } };
  }

  async function override(concept, value, source) {
    showStatus(editStatus, "Updating…", false);
    try {
      const result = await api("POST", `/api/v1/predictions/${state.prediction.id}/interventions`, {
        concept, value, source, comment: commentInput && commentInput.value ? commentInput.value : null,
      });
      if (commentInput) commentInput.value = "";
      renderKeepingFocus(withDelineation(result.prediction));
      redraw();
      showRiskChange(result, "Saved.");
    } catch (error) {
      showStatus(editStatus, error.message, true);
    }
  }

  async function revertConcept(concept) {
    try {
      const result = await api("DELETE", `/api/v1/predictions/${state.prediction.id}/interventions/${concept}`);
      renderKeepingFocus(withDelineation(result.prediction));
      redraw();
      showStatus(editStatus, "Reverted to the model value.", false);
    } catch (error) {
      showStatus(editStatus, error.message, true);
    }
  }

  /** Report an edit's effect on the risks in the status line. */
  function showRiskChange(result, prefix) {
    const changes = result.prediction.risks.map((risk) => (risk.points !== null && risk.points !== undefined
      ? `${risk.label} now ${risk.points} / ${risk.max_points} points`
      : `${risk.label} ${percent(result.risks_before[risk.task])} → ${percent(result.risks_after[risk.task])}`));
    showStatus(editStatus, `${prefix} ${changes.join("; ")}`, false);
  }

  /** Send a median-beat mark's new position (ms from R): one logged ``fiducial`` move that
   * re-sets the intervals it defines; a refused move is redrawn where it was. */
  async function moveFiducial(key, ms) {
    state.fiducialDraft = null;
    showStatus(editStatus, "Updating…", false);
    try {
      const result = await api("POST", `/api/v1/predictions/${state.prediction.id}/fiducials`, {
        [`${key}_ms`]: Math.round(ms * 10) / 10,
        comment: commentInput && commentInput.value ? commentInput.value : null,
      });
      if (commentInput) commentInput.value = "";
      render(withDelineation(result.prediction));
      const moved = result.fiducials.after[key] - result.fiducials.before[key];
      showRiskChange(result, `Moved ${fiducialSelect.querySelector(`option[value="${key}"]`).textContent} ` +
        `${moved > 0 ? "+" : ""}${fmt(moved, 0)} ms.`);
    } catch (error) {
      showStatus(editStatus, error.message, true);
    }
    await redraw();
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

  // Keyboard moves of a median-beat mark: 4 ms steps drawn as a draft, saved as one move.
  document.querySelectorAll("[data-fiducial-nudge]").forEach((button) => {
    button.addEventListener("click", () => {
      const key = fiducialSelect.value;
      const inForce = state.prediction.fiducials.fiducials_in_force[`${key}_s`];
      if (inForce === null || inForce === undefined) {
        showStatus(editStatus, "That mark was not found on this ECG.", true);
        return;
      }
      const from = state.fiducialDraft && state.fiducialDraft.key === key ? state.fiducialDraft.ms : inForce * 1000;
      state.fiducialDraft = { key, ms: from + Number(button.dataset.fiducialNudge) * NUDGE_S * 1000 };
      showStatus(editStatus, `${fiducialSelect.selectedOptions[0].textContent} at ` +
        `${fmt(state.fiducialDraft.ms, 0)} ms from R (not saved yet).`, false);
      redraw();
    });
  });
  const fiducialSave = document.getElementById("fiducial-save");
  if (fiducialSave) {
    fiducialSave.addEventListener("click", () => {
      if (state.fiducialDraft) moveFiducial(state.fiducialDraft.key, state.fiducialDraft.ms);
    });
    document.getElementById("fiducial-revert").addEventListener("click", () => revertConcept("fiducials"));
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
    const query = new URLSearchParams({ method: explainMethod.value || "ig" });
    if (explainTarget.value) query.set("target", explainTarget.value);  // else the API's default
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

  /** The review state for everyone, and what it allows: a reviewed record is locked. */
  function renderReview(record) {
    state.record = record;
    const locked = record.status === "reviewed";
    root.classList.toggle("locked", locked);
    reviewState.replaceChildren(locked
      ? el("strong", {}, `Reviewed by ${record.reviewed_by || "a clinician"} at ${when(record.reviewed_at)}. `)
      : el("strong", {}, "Not reviewed yet. "),
    locked ? "Values are locked for everyone until a clinician reopens the record."
      : "Marking it reviewed locks every value.");
    if (reviewButton) reviewButton.hidden = locked;
    if (reopenButton) reopenButton.hidden = !locked;
    const apply = document.getElementById("caliper-apply");
    if (apply) apply.disabled = locked;
    if (commentInput) commentInput.disabled = locked;
    if (state.prediction) { renderConcepts(state.prediction); renderSuggestion(state.prediction); }
    if (fiducialPanel) fiducialPanel.hidden = layoutSelect.value !== "median" || !movable;
  }

  async function changeReview(action, done) {
    try {
      renderReview(await api("POST", `/api/v1/records/${recordId}/${action}`));
      showStatus(editStatus, done, false);
    } catch (error) {
      showStatus(editStatus, error.message, true);
    }
  }

  if (reviewButton) reviewButton.addEventListener("click", () => changeReview("review", "Marked reviewed: values are locked."));
  if (reopenButton) reopenButton.addEventListener("click", () => changeReview("reopen", "Reopened: values can be changed again."));

  /** Load the stretch of signal that starts at ``startS`` (the whole record when it is ≤ 30 s). */
  async function loadSignal(startS) {
    const duration = Math.min(WINDOW_S, state.record.duration_s - startS);
    state.signal = await api("GET", `/api/v1/records/${recordId}/signal?start_s=${startS}&duration_s=${duration}`);
  }

  windowSelect.addEventListener("change", async () => {
    try {
      await loadSignal(Number(windowSelect.value));
      await redraw();
    } catch (error) {
      showStatus(editStatus, error.message, true);
    }
  });

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(redraw, 150);
  });

  async function start() {
    try {
      const record = await api("GET", `/api/v1/records/${recordId}`);
      document.getElementById("record-meta").textContent =
        `${record.age_years === null || record.age_years === undefined ? "age unknown" : `${record.age_years} y`} · ` +
        `${record.sex ?? "sex unknown"} · ${record.source_format} · ` +
        `${fmt(record.fs_hz, 0)} Hz · ${fmt(record.duration_s, 1)} s`;
      renderReview(record);
      renderDevice(record.device, null);
      const starts = [];
      for (let t = 0; t < record.duration_s; t += WINDOW_S) starts.push(t);
      windowSelect.replaceChildren(...starts.map((t) =>
        el("option", { value: t }, `${t} s – ${+Math.min(t + WINDOW_S, record.duration_s).toFixed(1)} s`)));
      document.getElementById("window-select-label").hidden = starts.length < 2;
      await loadSignal(0);
      leadSelect.replaceChildren(...state.signal.lead_names.map((l) => el("option", { value: l }, l)));
      await redraw();
      plotNode.on("plotly_relayout", (event) => {
        const dragged = layoutSelect.value === "median" && editable()
          ? window.QTLensEcg.fiducialFromRelayout(plotNode, event) : null;
        if (dragged) { moveFiducial(dragged.key, dragged.ms); return; }
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
        if (!editable()) { riskPanel.textContent = "Not analysed yet."; return; }
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
