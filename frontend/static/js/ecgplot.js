/* ECG on paper with Plotly: 25 mm/s, 10 mm/mV, 1 mm / 5 mm grid, calibration pulse,
 * cart layouts (3×4 + lead II rhythm strip, 12×1, one lead), fiducial markers and a caliper box.
 *
 * Coordinates are physical: x in seconds, y in mV, each row shifted down by a fixed number of
 * mV. The y axis is anchored to x with scaleratio 0.4 (1 mV = 10 mm is 0.4 × the length of
 * 1 s = 25 mm), so the grid stays true to scale whatever the zoom.
 *
 * Size: the whole window drawn (the whole record up to 30 s) fits the box's width when that keeps
 * at least 60 % of paper scale (a laptop shows all 12 leads at once); below that (a phone) it is
 * drawn at true scale (25 mm/s in CSS millimetres, 96 px per inch) and the box scrolls sideways,
 * ~3 s at a time. "One lead" is drawn at twice the scale of the other layouts.
 */
"use strict";

window.QTLensEcg = (function () {
  const MM_PER_S = 25;
  const MM_PER_MV = 10;
  const ROW_SPACING_MV = 3.0;
  const PULSE_START_S = -0.45;
  const CALIPER_SHAPE_NAME = "caliper";
  const GRID_MAJOR = "#f19c9c";
  const GRID_MINOR = "#fbdcdc";
  const TRACE_COLOUR = "#111";
  const BASELINE_COLOUR = "#0969da";  // the series' baseline median beat, under the current one
  const FIDUCIAL_STYLE = {
    qrs_onset_s: { colour: "#1f6feb", label: "QRS onset" },
    t_peak_s: { colour: "#8957e5", label: "T peak" },
    t_end_s: { colour: "#d1242f", label: "T end" },
  };
  const TRUE_PX_PER_MM = 96 / 25.4;  // CSS pixels per millimetre
  const MIN_FIT_SCALE = 0.6;  // fit the box only while that keeps ≥ 60 % of paper scale
  const MARGIN = { l: 10, r: 10, t: 10, b: 30 };
  // The one Plotly configuration of every chart: no logo, and no "Share"/cloud button (it
  // would send the data to Plotly's servers; the CSP's connect-src 'self' blocks it anyway).
  const PLOT_CONFIG = window.QTLens.plotConfig({ scrollZoom: false,
    modeBarButtonsToRemove: ["lasso2d", "select2d"] });

  const CART_COLUMNS = [["I", "II", "III"], ["aVR", "aVL", "aVF"], ["V1", "V2", "V3"], ["V4", "V5", "V6"]];

  /** Which lead goes where: [{lead, row, t0, t1}] for a layout. */
  function panels(layout, leadNames, duration, singleLead) {
    const present = new Set(leadNames);
    if (layout === "single") {
      return [{ lead: singleLead || leadNames[0], row: 0, t0: 0, t1: duration }];
    }
    if (layout === "12x1" || !CART_COLUMNS.flat().some((l) => present.has(l))) {
      return leadNames.map((lead, row) => ({ lead, row, t0: 0, t1: duration }));
    }
    const columnWidth = duration / 4;
    const out = [];
    CART_COLUMNS.forEach((column, c) => column.forEach((lead, row) => {
      if (present.has(lead)) out.push({ lead, row, t0: c * columnWidth, t1: (c + 1) * columnWidth });
    }));
    const rhythm = present.has("II") ? "II" : leadNames[0];
    out.push({ lead: rhythm, row: 3, t0: 0, t1: duration, rhythm: true });
    return out;
  }

  function rowOffset(row) {
    return -row * ROW_SPACING_MV;
  }

  /** A 1 mV, 200 ms calibration pulse at the start of each row. */
  function calibrationPulses(rows, startS) {
    const x = startS + PULSE_START_S;
    return Array.from({ length: rows }, (_, row) => {
      const y0 = rowOffset(row);
      return {
        type: "path", layer: "above", line: { color: TRACE_COLOUR, width: 1.2 },
        path: `M ${x} ${y0} L ${x + 0.05} ${y0} L ${x + 0.05} ${y0 + 1} ` +
          `L ${x + 0.25} ${y0 + 1} L ${x + 0.25} ${y0} L ${x + 0.3} ${y0}`,
      };
    });
  }

  const MEDIAN_CELL_S = 1.3;
  const MEDIAN_AXIS_TITLE = "one median beat per lead, each on its own time line · " +
    "small square 40 ms, large square 200 ms";
  const MEDIAN_FIDUCIALS = { ...FIDUCIAL_STYLE, qrs_offset_s: { colour: "#0a3069", label: "QRS offset" },
    p_onset_s: { colour: "#1a7f37", label: "P onset" } };

  /** The stroke of a median-beat mark: solid where it can be dragged (``movable``; wider too,
   * since SVG hit-tests a dotted stroke only on its dots) or was moved by a clinician
   * (``moved``, also on a locked record), else dotted. One rule for the plot and its legend. */
  function medianStroke(movable, moved) {
    return { width: movable ? 3 : 1, dash: movable || moved ? "solid" : "dot" };
  }

  /** What the fiducial marks of ``layout`` look like and mean: [{colour, label, solid}], for the
   * page's legend. Marks are drawn dotted, except median-beat marks that are draggable
   * (``movable``) or were moved (``moved``), which are solid (:func:`medianStroke`): the legend
   * shows the glyph that is drawn. */
  function legend(layout, movable, moved) {
    const solid = layout === "median" && medianStroke(movable, moved).dash === "solid";
    return Object.values(layout === "median" ? MEDIAN_FIDUCIALS : FIDUCIAL_STYLE)
      .map((style) => ({ colour: style.colour, label: style.label, solid }));
  }

  const BAND_OFFSET_MV = -1.5;  // the explanation band sits this far below each lead's baseline
  const SIGNED_SCALE = [[0, "#2166ac"], [0.5, "rgba(255,255,255,0)"], [1, "#b2182b"]];
  const MAGNITUDE_SCALE = [[0, "rgba(255,255,255,0)"], [1, "#b2182b"]];

  /** One lead's attribution ({start_s, fs_hz, values} in [−1, 1]) as coloured squares under
   * its trace: x = shift + start_s + i / fs_hz, kept where it falls inside [x0, x1]. The colour
   * follows sign(v)·√|v| so that weaker evidence stays visible beside the strongest. */
  function heatBand(series, signed, lead, offset, shift, x0, x1) {
    const x = [];
    const colour = [];
    series.values.forEach((v, i) => {
      const t = shift + series.start_s + i / series.fs_hz;
      if (t >= x0 && t <= x1) { x.push(t); colour.push(Math.sign(v) * Math.sqrt(Math.abs(v))); }
    });
    return {
      type: "scatter", mode: "markers", x, y: x.map(() => offset + BAND_OFFSET_MV),
      name: `explanation-${lead}`, hoverinfo: "skip", showlegend: false,
      marker: { symbol: "square", size: 6, color: colour, cmin: signed ? -1 : 0, cmax: 1,
        colorscale: signed ? SIGNED_SCALE : MAGNITUDE_SCALE, line: { width: 0 } },
    };
  }

  /** Median beats of every lead in a 3×4 grid, each with the fiducials in force marked (the
   * clinician's moved ones, else the measured global ones); with ``baselineBeats`` (the series'
   * baseline ECG) its median beat is overlaid, aligned on R. With ``movable`` the marks can be
   * dragged; ``marks`` lists each mark's shape index, fiducial and cell origin (x of R, s). */
  function buildMedian(fiducials, explanation, baselineBeats, movable) {
    const beats = (fiducials && fiducials.median_beats) || {};
    const marks = (fiducials && (fiducials.fiducials_in_force || fiducials.global_fiducials)) || {};
    const movableMarks = [];
    const traces = [];
    const annotations = [];
    const shapes = calibrationPulses(3, 0);
    const leads = CART_COLUMNS.flat().filter((lead) => beats[lead]);
    leads.forEach((lead, index) => {
      const column = Math.floor(index / 3);
      const row = index % 3;
      const beat = beats[lead];
      const origin = column * MEDIAN_CELL_S - beat.start_s;  // x of the R peak in this cell
      const offset = rowOffset(row);
      const before = baselineBeats && baselineBeats[lead];
      if (before) {
        traces.push({
          type: "scatter", mode: "lines", hoverinfo: "name", name: `${lead} baseline`, showlegend: false,
          x: before.samples_mv.map((_, i) => origin + before.start_s + i / before.fs_hz),
          y: before.samples_mv.map((v) => v + offset),
          line: { color: BASELINE_COLOUR, width: 1.2, dash: "dash" },
        });
      }
      traces.push({
        type: "scatter", mode: "lines", hoverinfo: "name", name: `${lead} median`, showlegend: false,
        x: beat.samples_mv.map((_, i) => origin + beat.start_s + i / beat.fs_hz),
        y: beat.samples_mv.map((v) => v + offset), line: { color: TRACE_COLOUR, width: 1.2 },
      });
      annotations.push({ x: column * MEDIAN_CELL_S + 0.03, y: offset + 1.2, text: lead, showarrow: false,
        xanchor: "left", font: { size: 13, color: "#222" } });
      const explained = explanation && explanation.median_beats.find((m) => m.lead === lead);
      if (explained) {
        traces.push(heatBand(explained, explanation.signed, lead, offset, origin, -Infinity, Infinity));
      }
      for (const [key, style] of Object.entries(MEDIAN_FIDUCIALS)) {
        const t = marks[key];
        if (t === null || t === undefined) continue;
        movableMarks.push({ index: shapes.length, key: key.replace(/_s$/, ""), origin });
        shapes.push({ type: "line", x0: origin + t, x1: origin + t, y0: offset - 1.2, y1: offset + 1.2,
          layer: "above", editable: Boolean(movable), name: `fiducial-${key}`,
          line: { color: style.colour, ...medianStroke(movable, marks.moved) } });
      }
    });
    return { traces, annotations, shapes, rows: 3, duration: 4 * MEDIAN_CELL_S, marks: movableMarks };
  }

  /** Traces, annotations and shapes for the chosen layout. */
  function build(signal, layout, singleLead, fiducials, explanation, baselineBeats, movable) {
    if (layout === "median") return buildMedian(fiducials, explanation, baselineBeats, movable);
    const fs = signal.fs_hz;
    const duration = signal.duration_s;
    const laid = panels(layout, signal.lead_names, duration, singleLead);
    const traces = [];
    const annotations = [];
    const shapes = [];
    const rows = Math.max(...laid.map((p) => p.row)) + 1;
    shapes.push(...calibrationPulses(rows, signal.start_s));
    for (const panel of laid) {
      const leadIndex = signal.lead_names.indexOf(panel.lead);
      if (leadIndex < 0) continue;
      const first = Math.floor(panel.t0 * fs);
      const last = Math.min(signal.signal_mv[leadIndex].length, Math.ceil(panel.t1 * fs));
      const x = [];
      const y = [];
      const offset = rowOffset(panel.row);
      for (let i = first; i < last; i += 1) {
        x.push(signal.start_s + i / fs);
        y.push(signal.signal_mv[leadIndex][i] + offset);
      }
      traces.push({
        type: "scatter", mode: "lines", x, y, name: panel.lead, hoverinfo: "x+name",
        line: { color: TRACE_COLOUR, width: 1 }, showlegend: false,
        meta: { lead: panel.lead, offset },
      });
      annotations.push({
        x: signal.start_s + panel.t0 + 0.05, y: offset + 1.2, text: panel.lead, showarrow: false,
        xanchor: "left", font: { size: 13, color: "#222" },
      });
      if (panel.rhythm || layout !== "3x4") addFiducials(shapes, fiducials, panel, offset, signal.start_s);
      const explained = explanation && explanation.leads.find((l) => l.lead === panel.lead);
      if (explained) {
        const series = { start_s: explanation.start_s, fs_hz: explanation.fs_hz, values: explained.values };
        traces.push(heatBand(series, explanation.signed, panel.lead, offset, 0,
          signal.start_s + panel.t0, signal.start_s + panel.t1));
      }
    }
    return { traces, annotations, shapes, rows, duration };
  }

  function addFiducials(shapes, fiducials, panel, offset, startS) {
    if (!fiducials || !Array.isArray(fiducials.beats)) return;
    for (const beat of fiducials.beats) {
      for (const [key, style] of Object.entries(FIDUCIAL_STYLE)) {
        const t = beat[key];
        if (t === null || t === undefined || t < startS + panel.t0 || t > startS + panel.t1) continue;
        // A beat left out of the median beat (ectopic or premature) carries the marks of its
        // own delineation: dashed, where the median beat's marks are dotted.
        shapes.push({
          type: "line", x0: t, x1: t, y0: offset - 1.2, y1: offset + 1.2, layer: "above",
          line: { color: style.colour, width: 1, dash: beat.in_median === false ? "dash" : "dot" },
          name: `fiducial-${key}`,
        });
      }
    }
  }

  /** Plot axes at paper scale. ``cells``: the x axis holds side-by-side median beats, not one
   * time line, so it carries no seconds (a label "2 s" there would be the third column's R
   * wave, not a time) but says how to read the grid. */
  function axes(rows, duration, startS, cells) {
    const top = 1.8;
    const bottom = rowOffset(rows - 1) - 1.8;  // room for the explanation band
    return {
      xaxis: {
        range: [startS + PULSE_START_S - 0.05, startS + duration], dtick: 0.2, tick0: 0,
        gridcolor: GRID_MAJOR, gridwidth: 1, zeroline: false, showticklabels: !cells,
        minor: { dtick: 0.04, gridcolor: GRID_MINOR, gridwidth: 0.5, showgrid: true },
        ticksuffix: " s", ticklabelstep: 5, tickfont: { size: 10 }, fixedrange: false,
        title: cells ? { text: MEDIAN_AXIS_TITLE, font: { size: 11 }, standoff: 4 } : undefined,
      },
      yaxis: {
        range: [bottom, top], dtick: 0.5, tick0: 0, gridcolor: GRID_MAJOR, gridwidth: 1,
        zeroline: false, showticklabels: false,
        minor: { dtick: 0.1, gridcolor: GRID_MINOR, gridwidth: 0.5, showgrid: true },
        scaleanchor: "x", scaleratio: MM_PER_MV / MM_PER_S, fixedrange: false,
      },
    };
  }

  /** Draw (or redraw) the ECG; returns a promise resolved when Plotly has rendered.
   * The plot gets its physical size (see the top of this file); ``box`` is the scrolling element
   * whose width decides whether the drawing may grow beyond true scale. */
  function draw(container, signal, options) {
    const { layout = "3x4", singleLead = null, fiducials = null, caliper = null, explanation = null,
      baselineBeats = null, movable = false, box = container.parentElement } = options || {};
    const built = build(signal, layout, singleLead, fiducials, explanation, baselineBeats, movable);
    drawnMarks.set(container, built.marks || []);
    const shapes = built.shapes.slice();
    if (caliper) shapes.push(caliperShape(caliper));
    const plotAxes = axes(built.rows, built.duration, layout === "median" ? 0 : signal.start_s,
      layout === "median");
    const xMm = (plotAxes.xaxis.range[1] - plotAxes.xaxis.range[0]) * MM_PER_S;
    const yMm = (plotAxes.yaxis.range[1] - plotAxes.yaxis.range[0]) * MM_PER_MV;
    const available = Math.max(0, (box ? box.clientWidth : 0) - MARGIN.l - MARGIN.r - 2);
    const fit = available / xMm;
    const pxPerMm = (fit >= MIN_FIT_SCALE * TRUE_PX_PER_MM ? fit : TRUE_PX_PER_MM) *
      (layout === "single" ? 2 : 1);
    const width = Math.round(xMm * pxPerMm) + MARGIN.l + MARGIN.r;
    const height = Math.round(yMm * pxPerMm) + MARGIN.t + MARGIN.b;
    container.style.width = `${width}px`;
    container.style.height = `${height}px`;
    const plotLayout = {
      ...plotAxes,
      margin: MARGIN, width, height, autosize: false,
      paper_bgcolor: "#fff", plot_bgcolor: "#fff", dragmode: "zoom",
      annotations: built.annotations, shapes, showlegend: false,
    };
    return Plotly.react(container, built.traces, plotLayout, PLOT_CONFIG);
  }

  const drawnMarks = new WeakMap();  // plot container → its movable median-beat marks

  /** The fiducial the user dragged on the median beats, from Plotly's relayout event data:
   * ``{key: "t_end", ms}`` (ms from R, the mean of the line's ends), or null for other edits. */
  function fiducialFromRelayout(container, event) {
    for (const mark of drawnMarks.get(container) || []) {
      const x0 = event[`shapes[${mark.index}].x0`];
      if (x0 === undefined) continue;
      const x1 = event[`shapes[${mark.index}].x1`] ?? x0;
      return { key: mark.key, ms: ((x0 + x1) / 2 - mark.origin) * 1000 };
    }
    return null;
  }

  /** Millimetres per second on screen as drawn now (25 = true scale). */
  function mmPerSecond(container) {
    const axis = container._fullLayout && container._fullLayout.xaxis;
    if (!axis) return null;
    const seconds = axis.range[1] - axis.range[0];
    return (axis._length / TRUE_PX_PER_MM) / seconds;
  }

  function caliperShape(box) {
    return {
      type: "rect", name: CALIPER_SHAPE_NAME, editable: true, layer: "above",
      x0: box.x0, x1: box.x1, y0: box.y0, y1: box.y1,
      line: { color: "#0969da", width: 2 }, fillcolor: "rgba(9,105,218,0.08)",
    };
  }

  /** A caliper box spanning ~400 ms × 1 mV on the first row, placed in the visible window. */
  function defaultCaliper(signal) {
    const start = signal.start_s + 1.0;
    return { x0: start, x1: start + 0.4, y0: 0, y1: 1 };
  }

  /** The caliper box after the user dragged it: reads Plotly's relayout event data. */
  function caliperFromRelayout(container, event) {
    const shapes = container.layout.shapes || [];
    const index = shapes.findIndex((s) => s.name === CALIPER_SHAPE_NAME);
    if (index < 0) return null;
    const shape = { ...shapes[index] };
    for (const key of ["x0", "x1", "y0", "y1"]) {
      const updated = event[`shapes[${index}].${key}`];
      if (updated !== undefined) shape[key] = updated;
    }
    return { x0: shape.x0, x1: shape.x1, y0: shape.y0, y1: shape.y1 };
  }

  /** Width in ms and height in mV of a caliper box. */
  function caliperReading(box) {
    return { ms: Math.abs(box.x1 - box.x0) * 1000, mv: Math.abs(box.y1 - box.y0) };
  }

  return { draw, legend, mmPerSecond, defaultCaliper, caliperFromRelayout, caliperReading,
    fiducialFromRelayout };
})();
