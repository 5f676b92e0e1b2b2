/* Worklist: upload (drag-and-drop or picker) and the list of records. */
"use strict";

(function () {
  const { api, el, fmt, percent, showStatus, when } = window.QTLens;
  const dropzone = document.getElementById("dropzone");
  const fileInput = document.getElementById("file-input");
  const statusNode = document.getElementById("upload-status");
  const body = document.getElementById("worklist-body");
  const statusFilter = document.getElementById("status-filter");
  const sortOrder = document.getElementById("sort-order");
  const maxBytes = Number(dropzone.dataset.maxMb) * 1024 * 1024;
  const qtcHeading = document.getElementById("qtc-heading");
  const uploadSeries = document.getElementById("upload-series");
  const uploadBaseline = document.getElementById("upload-baseline");

  /** The series cell: the record's series (baseline marked) and a small form to change it. */
  function seriesCell(record) {
    const input = el("input", { value: record.series_id || "", maxlength: 32, size: 12, placeholder: "new or SER-…",
      "aria-label": `Series of ${record.id}`, dataset: { testid: `series-input-${record.id}` } });
    const baseline = el("input", { type: "checkbox", "aria-label": `${record.id} is the baseline`,
      dataset: { testid: `series-baseline-${record.id}` } });
    baseline.checked = record.is_baseline;
    const save = el("button", { type: "button", dataset: { testid: `series-save-${record.id}` } }, "Set");
    save.addEventListener("click", async () => {
      try {
        await api("PUT", `/api/v1/records/${record.id}/series`,
          { series: input.value.trim() || null, baseline: baseline.checked });
        loadRecords();
      } catch (error) {
        showStatus(statusNode, error.message, true);
      }
    });
    // A review locks the record's series too (the API answers 423): the controls say so.
    [input, baseline, save].forEach((node) => { node.disabled = record.status === "reviewed"; });
    return el("td", { class: "series" }, input, el("label", {}, baseline, " baseline"), save);
  }

  function riskCell(record, task) {
    const p = record.risks[task];
    if (p === undefined) return el("td", {}, "–");
    const band = record.risk_bands[task];
    const points = (record.risk_points || {})[task];
    const shown = points === undefined ? percent(p) : `${points} pts`;
    // The band's word is its own element: on a phone it goes under the number, so "96 %
    // intermediate" needs the width of "intermediate", not of the whole phrase.
    return el("td", {}, el("span", { class: `band band-${band}` }, shown,
      el("span", { class: "band-word" }, ` ${band}`)));
  }

  /** The primary QTc in force, marked "adjusted" when a clinician value is in force (the risks
   * of the row are then in force too: the same numbers the record page shows). */
  function qtcCell(record) {
    return el("td", { dataset: { testid: "qtc" } }, fmt(record.qtc_ms, 0),
      record.adjusted ? el("span", { class: "adjusted", title: "A clinician's value is in force; QTc and risks include it",
        dataset: { testid: "adjusted" } }, "adjusted") : null);
  }

  /** The review state: a reviewed record says by whom and when, and that it is locked. */
  function statusCell(record) {
    if (record.status !== "reviewed") return el("td", {}, el("span", { class: `status-${record.status}` }, record.status));
    return el("td", { dataset: { testid: "review-state" } },
      el("span", { class: "status-reviewed" }, "reviewed · locked"),
      el("span", { class: "by" }, `by ${record.reviewed_by || "a clinician"}, ${when(record.reviewed_at)}`));
  }

  async function loadRecords() {
    const params = new URLSearchParams({ sort: sortOrder.value });
    if (statusFilter.value) params.set("status", statusFilter.value);
    try {
      const records = await api("GET", "/api/v1/records?" + params);
      body.replaceChildren();
      if (records.length) {
        const formula = records[0].qtc_name.replace(/^qtc_/, "");
        qtcHeading.textContent = `QTc ${formula.charAt(0).toUpperCase()}${formula.slice(1)} (ms)`;
      }
      if (records.length === 0) {
        body.append(el("tr", {}, el("td", { colspan: 9, class: "hint" }, "No records yet: upload an ECG above.")));
      }
      for (const r of records) {
        // What a cardiologist triages by comes first: on a phone the columns after it are one
        // sideways scroll away.
        body.append(el("tr", { dataset: { recordId: r.id } },
          el("td", {}, el("a", { href: `/records/${r.id}` }, r.id)),
          qtcCell(r),
          riskCell(r, "lqts_risk"),
          riskCell(r, "tdp_risk"),
          statusCell(r),
          el("td", {}, r.age_years ?? "–"),
          el("td", {}, r.sex ?? "–"),
          el("td", {}, when(r.uploaded_at)),
          seriesCell(r)));
      }
    } catch (error) {
      showStatus(statusNode, error.message, true);
    }
  }

  async function upload(files) {
    if (!files.length) return;
    const total = Array.from(files).reduce((sum, f) => sum + f.size, 0);
    if (total > maxBytes) {
      showStatus(statusNode, `The files are larger than ${dropzone.dataset.maxMb} MB.`, true);
      return;
    }
    const form = new FormData();
    for (const file of files) form.append("files", file, file.name);
    if (uploadSeries.value.trim()) form.append("series", uploadSeries.value.trim());
    if (uploadBaseline.checked) form.append("baseline", "true");
    showStatus(statusNode, `Uploading ${files.length} file(s)…`, false);
    dropzone.classList.add("busy");
    try {
      const record = await api("POST", "/api/v1/records", form);
      showStatus(statusNode, `Stored as ${record.id}. Analysing…`, false);
      await api("POST", `/api/v1/records/${record.id}/predictions`);
      window.location.assign(`/records/${record.id}`);
    } catch (error) {
      showStatus(statusNode, `Not stored: ${error.message}`, true);
      loadRecords();
    } finally {
      dropzone.classList.remove("busy");
      fileInput.value = "";
    }
  }

  fileInput.addEventListener("change", () => upload(fileInput.files));
  dropzone.addEventListener("dragover", (event) => { event.preventDefault(); dropzone.classList.add("over"); });
  dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropzone.classList.remove("over");
    upload(event.dataTransfer.files);
  });
  dropzone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); fileInput.click(); }
  });
  statusFilter.addEventListener("change", loadRecords);
  sortOrder.addEventListener("change", loadRecords);
  loadRecords();
})();
