"""Validation of the delineator against cardiologists' marks (LUDB, QTDB), beside NeuroKit2.

For every record (QTDB: every 10 s window holding marked beats) QTLens runs once
(:func:`models.ecg.measure.analyse`), and NeuroKit2's ``ecg_delineate`` runs with each requested
method on **the same filtered leads and the same R peaks** (QTLens' beats). Every method is then
scored against the same marked beats.

How beats and fiducials are matched (documented in the report):

* **Beats.** Each marked beat (its QRS peak mark) is paired with the nearest detected R within
  150 ms, one to one. The *evaluated span* runs from the first to the last marked QRS peak (LUDB
  marks only the middle of each record; QTDB windows hold only their own marked beats).
* **Fiducials.** P onset/offset, QRS onset/offset, T peak, T end. For a marked fiducial of a
  paired beat, the method's fiducial of that beat within 150 ms is a true positive (its error
  ``method − mark`` in ms is kept); otherwise a false negative. A method's fiducial on a detected
  beat in the evaluated span that is not a true positive is a false positive. Sensitivity =
  TP / (TP + FN), PPV = TP / (TP + FP); errors are reported as mean ± SD over true positives
  (Martínez JP et al., IEEE TBME 51:570, 2004). QTLens places fiducials only on the beats of its
  median beat (ectopic or premature beats get none and count as false negatives). QTDB marks only
  selected beats (≥ 30 per record), so there an unmarked beat's fiducial counts as a false
  positive: read QTDB's PPV as a lower bound.
* **Scopes.** ``per_lead`` (LUDB): each lead's marks against each method's delineation of that
  lead. ``global``: one fiducial per beat for the whole record — the reference is the earliest
  onset / latest offset marked over the leads (LUDB; T peak: the median over leads) or the single
  multi-lead mark (QTDB); QTLens gives its global fiducials; NeuroKit2's per-lead fiducials are
  combined the way QTLens combines T ends: earliest onset / latest offset over the leads, dropping
  a lone lead more than 40 ms beyond all others (T peak: median). ``global_consensus`` (LUDB):
  the same, but the reference is the median over leads of the marks — robust to a single lead's
  early or late mark.
* **QT.** For every paired beat with a marked QRS onset and T end in the ``global`` scope,
  QT = T end − QRS onset of the reference and of each method: Bland–Altman statistics and plots.

CSE tolerances for the error SD (2 SD of the referees): P on 10.2, P off 12.7, QRS on 6.5,
QRS off 11.6, T end 30.6 ms (The CSE Working Party, Circulation 1985).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from models.data.base import DatasetRecord, RecordDataset
from models.data.registry import open_dataset
from models.data.wfdb_annotated import ALL_LEADS, AnnotatedWave
from models.ecg.measure import (
    MeasureConfig,
    Measurements,
    analyse,
    measure_analysis,
)

DatasetName = Literal["ludb", "qtdb"]

#: Fiducials scored, with the WaveFiducials field each one is.
FIDUCIALS: dict[str, str] = {
    "P_on": "p_onset_s",
    "P_off": "p_offset_s",
    "QRS_on": "qrs_onset_s",
    "QRS_off": "qrs_offset_s",
    "T_peak": "t_peak_s",
    "T_end": "t_end_s",
}
#: NeuroKit2 output keys of each scored fiducial.
_NEUROKIT_KEYS: dict[str, str] = {
    "P_on": "ECG_P_Onsets",
    "P_off": "ECG_P_Offsets",
    "QRS_on": "ECG_R_Onsets",
    "QRS_off": "ECG_R_Offsets",
    "T_peak": "ECG_T_Peaks",
    "T_end": "ECG_T_Offsets",
}
#: Fiducials that come before the R peak (assigned to the next R), the others to the previous R.
_BEFORE_R = frozenset({"P_on", "P_off", "QRS_on"})
_ONSETS = frozenset({"P_on", "QRS_on"})
#: CSE tolerances (2 SD, ms) where defined.
CSE_TOLERANCE_MS: dict[str, float] = {"P_on": 10.2, "P_off": 12.7, "QRS_on": 6.5, "QRS_off": 11.6, "T_end": 30.6}
NEUROKIT_METHODS: tuple[str, ...] = ("dwt", "prominence", "peak", "cwt")
MATCH_WINDOW_S = 0.150
LEAD_OUTLIER_S = 0.040
QTDB_WINDOW_S = 10.0
QTLENS = "qtlens"


@dataclass(frozen=True)
class ScopeBeats:
    """One method's fiducials on the detected beats of one scope (s from the record start)."""

    r_peak_s: np.ndarray
    times_s: dict[str, np.ndarray]


@dataclass(frozen=True)
class ScopeResult:
    """Reference marks and every method's fiducials for one scope of one segment.

    Attributes:
        scope: ``"per_lead"``, ``"global"`` or ``"global_consensus"``.
        lead: the lead (``per_lead``) or ``"all"``.
        reference: marked beats: QRS peak time and the marked fiducials (s).
        methods: per method name, its fiducials on the detected beats.
        span_s: the evaluated span (first → last marked QRS peak).
    """

    scope: str
    lead: str
    reference: list[dict[str, float]]
    methods: dict[str, ScopeBeats]
    span_s: tuple[float, float]


@dataclass
class FiducialScore:
    """Counts and errors of one method on one fiducial."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    errors_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float | int | None]:
        """Sensitivity, PPV and error mean ± SD (ms)."""
        errors = np.asarray(self.errors_ms)
        detected = self.true_positives + self.false_positives
        marked = self.true_positives + self.false_negatives
        return {
            "n_reference": marked,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
            "sensitivity": self.true_positives / marked if marked else None,
            "ppv": self.true_positives / detected if detected else None,
            "mean_ms": float(errors.mean()) if errors.size else None,
            "sd_ms": float(errors.std()) if errors.size else None,
        }


def reference_beats(waves: Sequence[AnnotatedWave]) -> list[dict[str, float]]:
    """Marked beats of one lead: per QRS mark, its fiducials and those of its P (peak ≤ 400 ms
    before the QRS peak) and T (peak 50-800 ms after)."""
    beats = []
    for qrs in (w for w in waves if w.wave == "QRS"):
        beat = {"R": qrs.peak_s, "QRS_on": qrs.onset_s, "QRS_off": qrs.offset_s}
        p_waves = [w for w in waves if w.wave == "P" and 0.0 < qrs.peak_s - w.peak_s <= 0.4]
        t_waves = [w for w in waves if w.wave == "T" and 0.05 <= w.peak_s - qrs.peak_s <= 0.8]
        if p_waves:
            beat.update(P_on=p_waves[-1].onset_s, P_off=p_waves[-1].offset_s)
        if t_waves:
            beat.update(T_peak=t_waves[0].peak_s, T_end=t_waves[0].offset_s)
        beats.append({key: value for key, value in beat.items() if value is not None})
    return beats


def _pairs(reference: Sequence[dict[str, float]], r_peak_s: np.ndarray) -> dict[int, int]:
    """Marked beat index → detected beat index, nearest within 150 ms, one to one."""
    candidates = sorted(
        (abs(r_peak_s[d] - beat["R"]), a, d)
        for a, beat in enumerate(reference)
        for d in np.flatnonzero(np.abs(r_peak_s - beat["R"]) <= MATCH_WINDOW_S)
    )
    pairs: dict[int, int] = {}
    taken: set[int] = set()
    for _, a, d in candidates:
        if a not in pairs and d not in taken:
            pairs[a] = int(d)
            taken.add(int(d))
    return pairs


def score_scope(result: ScopeResult, scores: dict[str, dict[str, FiducialScore]]) -> None:
    """Add one scope's true/false positives, false negatives and errors to ``scores``."""
    for method, beats in result.methods.items():
        pairs = _pairs(result.reference, beats.r_peak_s)
        start, stop = result.span_s
        in_span = (beats.r_peak_s >= start - MATCH_WINDOW_S) & (beats.r_peak_s <= stop + MATCH_WINDOW_S)
        for fiducial in FIDUCIALS:
            score = scores.setdefault(method, {}).setdefault(fiducial, FiducialScore())
            times = beats.times_s[fiducial]
            matched: set[int] = set()
            for a, beat in enumerate(result.reference):
                if fiducial not in beat:
                    continue
                d = pairs.get(a)
                if d is not None and np.isfinite(times[d]) and abs(times[d] - beat[fiducial]) <= MATCH_WINDOW_S:
                    score.true_positives += 1
                    score.errors_ms.append(float((times[d] - beat[fiducial]) * 1000.0))
                    matched.add(d)
                else:
                    score.false_negatives += 1
            detected = np.flatnonzero(in_span & np.isfinite(times))
            score.false_positives += sum(1 for d in detected if d not in matched)


def qt_pairs(result: ScopeResult) -> dict[str, list[tuple[float, float]]]:
    """Per method, (reference QT, method QT) in ms for every paired beat with both marks."""
    out: dict[str, list[tuple[float, float]]] = {}
    for method, beats in result.methods.items():
        pairs = _pairs(result.reference, beats.r_peak_s)
        for a, beat in enumerate(result.reference):
            d = pairs.get(a)
            if d is None or "QRS_on" not in beat or "T_end" not in beat:
                continue
            on, end = beats.times_s["QRS_on"][d], beats.times_s["T_end"][d]
            if np.isfinite(on) and np.isfinite(end):
                reference = (beat["T_end"] - beat["QRS_on"]) * 1000.0
                out.setdefault(method, []).append((reference, float((end - on) * 1000.0)))
    return out


def _qtlens_beats(measurements: Measurements, lead: str | None, offset_s: float) -> ScopeBeats:
    """QTLens' per-beat fiducials of one lead (or the global view) on all detected beats."""
    rows = measurements.lead_beat_fiducials(lead)
    r_peak_s = np.array([row["r_peak_s"] for row in rows], dtype=np.float64) + offset_s
    times = {
        name: np.array([np.nan if row[field] is None else row[field] for row in rows], dtype=np.float64) + offset_s
        for name, field in FIDUCIALS.items()
    }
    return ScopeBeats(r_peak_s, times)


def neurokit_fiducials(lead_mv: np.ndarray, r_samples: np.ndarray, fs_hz: float, method: str) -> dict[str, np.ndarray]:
    """NeuroKit2 ``ecg_delineate`` fiducials of one filtered lead, one per R peak (samples; NaN
    when absent). Onsets are given to the next R, offsets and peaks to the previous one;
    a failure of the method on this lead leaves every fiducial absent."""
    import neurokit2 as nk

    out = {name: np.full(r_samples.size, np.nan) for name in FIDUCIALS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _, waves = nk.ecg_delineate(lead_mv, r_samples, sampling_rate=round(fs_hz), method=method)
        except (ValueError, IndexError, KeyError, TypeError, ZeroDivisionError):
            return out
    for name, key in _NEUROKIT_KEYS.items():
        for value in waves.get(key, []):
            if value is None or not np.isfinite(value):
                continue
            side = "left" if name in _BEFORE_R else "right"
            index = int(np.searchsorted(r_samples, value, side=side)) - (0 if name in _BEFORE_R else 1)
            if 0 <= index < r_samples.size:
                current = out[name][index]
                if np.isnan(current) or abs(value - r_samples[index]) < abs(current - r_samples[index]):
                    out[name][index] = float(value)
    return out


def combine_leads(values: np.ndarray, fiducial: str) -> float:
    """One global time from per-lead times of a beat: earliest onset / latest offset, dropping a
    lone lead more than 40 ms beyond all others; the median for T peak; NaN when none."""
    finite = np.sort(values[np.isfinite(values)])
    if finite.size == 0:
        return float("nan")
    if fiducial == "T_peak":
        return float(np.median(finite))
    ordered = finite if fiducial in _ONSETS else finite[::-1]
    if ordered.size >= 2 and abs(ordered[0] - ordered[1]) > LEAD_OUTLIER_S:
        return float(ordered[1])
    return float(ordered[0])


def _combined(r_peak_s: np.ndarray, leads: Sequence[ScopeBeats]) -> ScopeBeats:
    """One method's global fiducials per beat from its per-lead ones (:func:`combine_leads`)."""
    times = {}
    for fiducial in FIDUCIALS:
        per_lead = np.vstack([lead.times_s[fiducial] for lead in leads]) if leads else np.zeros((0, r_peak_s.size))
        times[fiducial] = np.array([combine_leads(per_lead[:, beat], fiducial) for beat in range(r_peak_s.size)])
    return ScopeBeats(r_peak_s, times)


def _global_reference(
    per_lead: dict[str, list[dict[str, float]]], r_peak_s: np.ndarray, reducer: Callable[[str, list[float]], float]
) -> list[dict[str, float]]:
    """Global marked beats: per detected beat, the leads' marks of the beat paired with it."""
    paired: dict[int, list[dict[str, float]]] = {}
    for reference in per_lead.values():
        for a, d in _pairs(reference, r_peak_s).items():
            paired.setdefault(d, []).append(reference[a])
    beats = []
    for d in sorted(paired):
        marks = paired[d]
        beat = {"R": float(np.median([m["R"] for m in marks]))}
        for name in FIDUCIALS:
            values = [m[name] for m in marks if name in m]
            if values:
                beat[name] = reducer(name, values)
        beats.append(beat)
    return beats


def _extreme(name: str, values: list[float]) -> float:
    if name == "T_peak":
        return float(np.median(values))
    return float(min(values) if name in _ONSETS else max(values))


def _median(name: str, values: list[float]) -> float:
    return float(np.median(values))


def _span(reference: Sequence[dict[str, float]]) -> tuple[float, float]:
    peaks = [beat["R"] for beat in reference]
    return (min(peaks), max(peaks)) if peaks else (0.0, -1.0)


def evaluate_segment(
    record: DatasetRecord,
    segment_s: Segment,
    methods: Sequence[str],
    config: MeasureConfig | None = None,
) -> list[ScopeResult]:
    """Run QTLens and NeuroKit2 on one segment of ``record`` and collect every scope's marks and
    fiducials (times in s from the record start)."""
    ecg = record.ecg
    start_s, stop_s = segment_s.start_s, segment_s.stop_s
    first, last = round(start_s * ecg.fs_hz), round(stop_s * ecg.fs_hz)
    segment = ecg.with_signal(ecg.signal_mv[:, first:last])
    analysis = analyse(segment, config)
    measurements = measure_analysis(segment, analysis)
    offset = first / ecg.fs_hz
    inside = {
        lead: [beat for beat in reference_beats(waves) if segment_s.owns(beat["R"])]
        for lead, waves in (record.fiducials or {}).items()
    }
    r_samples = analysis.beats.r_samples if analysis.beats is not None else np.zeros(0, dtype=np.int64)
    r_peak_s = r_samples / analysis.fs_hz + offset
    per_lead_methods: dict[str, dict[str, ScopeBeats]] = {}
    for row, lead in enumerate(segment.lead_names):
        per_lead_methods[lead] = {QTLENS: _qtlens_beats(measurements, lead, offset)}
        for method in methods:
            fiducials = (
                neurokit_fiducials(analysis.filtered_mv[row], r_samples, analysis.fs_hz, method)
                if r_samples.size
                else {name: np.zeros(0) for name in FIDUCIALS}
            )
            per_lead_methods[lead][f"neurokit_{method}"] = ScopeBeats(
                r_peak_s, {name: values / analysis.fs_hz + offset for name, values in fiducials.items()}
            )
    global_methods = {QTLENS: _qtlens_beats(measurements, None, offset)}
    for method in methods:
        name = f"neurokit_{method}"
        global_methods[name] = _combined(r_peak_s, [by_method[name] for by_method in per_lead_methods.values()])
    results: list[ScopeResult] = []
    if ALL_LEADS in inside:
        reference = inside[ALL_LEADS]
        results.append(ScopeResult("global", ALL_LEADS, reference, global_methods, _span(reference)))
        return results
    for lead, reference in inside.items():
        if lead in per_lead_methods and reference:
            results.append(ScopeResult("per_lead", lead, reference, per_lead_methods[lead], _span(reference)))
    for scope, reducer in (("global", _extreme), ("global_consensus", _median)):
        reference = _global_reference(inside, r_peak_s, reducer)
        if reference:
            results.append(ScopeResult(scope, ALL_LEADS, reference, global_methods, _span(reference)))
    return results


@dataclass(frozen=True)
class Segment:
    """A stretch of a record analysed at once, and the marked beats it is scored on."""

    start_s: float
    stop_s: float
    marks_from_s: float
    marks_to_s: float

    def owns(self, qrs_peak_s: float) -> bool:
        """Whether a marked beat (its QRS peak) is scored in this segment."""
        return self.marks_from_s <= qrs_peak_s <= self.marks_to_s


def segments(record: DatasetRecord, window_s: float = QTDB_WINDOW_S) -> list[Segment]:
    """The whole record when it is at most ``window_s`` long (LUDB); else consecutive windows
    starting 1.5 s before the first marked beat not yet scored, each scoring the marked beats up
    to 1 s before its end (QTDB: marked beats are spread over 15 min)."""
    duration = record.ecg.duration_s
    if duration <= window_s + 1e-9:
        return [Segment(0.0, duration, -math.inf, math.inf)]
    peaks = sorted(w.peak_s for waves in (record.fiducials or {}).values() for w in waves if w.wave == "QRS")
    windows: list[Segment] = []
    for peak in peaks:
        if windows and peak <= windows[-1].marks_to_s:
            continue
        start = max(0.0, peak - 1.5)
        stop = min(duration, start + window_s)
        windows.append(Segment(start, stop, peak, stop - 1.0))
    return windows


def evaluate_record(dataset: DatasetName, root: str, record_id: str, methods: tuple[str, ...]) -> list[ScopeResult]:
    """Every scope result of one record (picklable: runs in a worker process)."""
    record = _reader(dataset, Path(root)).load(record_id)
    return [result for segment in segments(record) for result in evaluate_segment(record, segment, methods)]


def _reader(dataset: DatasetName, root: Path) -> RecordDataset:
    """The loader of a fiducial-annotated dataset for the folder ``root`` (checked)."""
    if dataset not in ("ludb", "qtdb"):
        raise ValueError(f"unknown dataset {dataset!r}; choose ludb or qtdb")
    reader = open_dataset(dataset, root)
    assert isinstance(reader, RecordDataset)
    return reader


def bland_altman(pairs: Iterable[tuple[float, float]]) -> dict[str, float | int | None]:
    """Mean difference (method − reference), SD and 95 % limits of agreement (ms)."""
    values = np.asarray(list(pairs), dtype=np.float64).reshape(-1, 2)
    if values.shape[0] == 0:
        return {"n": 0, "mean_diff_ms": None, "sd_diff_ms": None, "loa_low_ms": None, "loa_high_ms": None}
    difference = values[:, 1] - values[:, 0]
    mean, sd = float(difference.mean()), float(difference.std(ddof=1)) if values.shape[0] > 1 else 0.0
    return {"n": int(values.shape[0]), "mean_diff_ms": mean, "sd_diff_ms": sd, "loa_low_ms": mean - 1.96 * sd, "loa_high_ms": mean + 1.96 * sd}


def run_validation(
    dataset: DatasetName,
    root: Path,
    methods: Sequence[str] = NEUROKIT_METHODS,
    workers: int = 2,
    record_ids: Sequence[str] | None = None,
    progress: bool = True,
) -> dict[str, object]:
    """Validate QTLens and NeuroKit2 on every dev record of ``dataset`` (see module docstring).

    Args:
        dataset: ``"ludb"`` or ``"qtdb"``.
        root: the dataset folder (e.g. ``$QTLENS_DATA_DIR/ludb``).
        methods: NeuroKit2 ``ecg_delineate`` methods to compare.
        workers: processes (records are spread over them; 1 = in this process).
        record_ids: a subset of records (default: the whole dev split).
        progress: show a tqdm progress bar.

    Returns:
        The report as JSON-serialisable data (scores per scope, method and fiducial; QT
        Bland–Altman statistics and pairs).
    """
    from tqdm import tqdm

    unknown = sorted(set(methods) - set(NEUROKIT_METHODS))
    if unknown:
        raise ValueError(f"unknown NeuroKit2 method(s) {unknown}; choose from {NEUROKIT_METHODS}")
    reader = _reader(dataset, root)
    ids = list(record_ids) if record_ids is not None else list(reader.record_ids())
    tasks = [(dataset, str(reader.root), record_id, tuple(methods)) for record_id in ids]
    bar = tqdm(total=len(tasks), desc=f"validate {dataset}", unit="record", disable=not progress)
    all_results: list[ScopeResult] = []
    if workers <= 1:
        for task in tasks:
            all_results.extend(evaluate_record(*task))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for results in pool.map(evaluate_record, *zip(*tasks)):
                all_results.extend(results)
                bar.update()
    bar.close()
    return summarise(dataset, ids, methods, all_results)


def summarise(
    dataset: str, record_ids: Sequence[str], methods: Sequence[str], results: Sequence[ScopeResult]
) -> dict[str, object]:
    """The report data from every scope result."""
    scores: dict[str, dict[str, dict[str, FiducialScore]]] = {}
    qt: dict[str, list[tuple[float, float]]] = {}
    for result in results:
        score_scope(result, scores.setdefault(result.scope, {}))
        if result.scope == "global":
            for method, pairs in qt_pairs(result).items():
                qt.setdefault(method, []).extend(pairs)
    return {
        "dataset": dataset,
        "records": len(record_ids),
        "methods": [QTLENS, *[f"neurokit_{m}" for m in methods]],
        "match_window_ms": MATCH_WINDOW_S * 1000.0,
        "cse_tolerance_ms": CSE_TOLERANCE_MS,
        "scores": {
            scope: {method: {f: s.summary() for f, s in by_fiducial.items()} for method, by_fiducial in by_method.items()}
            for scope, by_method in scores.items()
        },
        "qt": {method: {**bland_altman(pairs), "pairs_ms": [[round(a, 2), round(b, 2)] for a, b in pairs]} for method, pairs in qt.items()},
        "definitions": __doc__,
    }


def best_neurokit(report: dict[str, object], scope: str, fiducial: str) -> tuple[str, float]:
    """The NeuroKit2 method with the lowest error SD on ``fiducial`` in ``scope``, and that SD."""
    scores = report["scores"][scope]  # type: ignore[index]
    candidates = [
        (method, values[fiducial]["sd_ms"])
        for method, values in scores.items()
        if method != QTLENS and values[fiducial]["sd_ms"] is not None
    ]
    return min(candidates, key=lambda item: item[1])


def write_report(report: dict[str, object], out_dir: Path) -> tuple[Path, Path]:
    """Write ``<dataset>_delineation.json`` and ``.html`` (Plotly, inlined) into ``out_dir``."""
    from models.ecg.validation_report import render_html

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{report['dataset']}_delineation"
    json_path = out_dir / f"{stem}.json"
    html_path = out_dir / f"{stem}.html"
    json_path.write_text(json.dumps(report, indent=1), encoding="utf-8")
    html_path.write_text(render_html(report), encoding="utf-8")
    return json_path, html_path
