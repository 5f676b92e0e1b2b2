"""Validation of the delineator against cardiologists' marks (LUDB, QTDB), beside anchor delineators.

For every record (QTDB: every 10 s window holding marked beats) QTLens runs once
(:func:`models.ecg.measure.analyse`), and every anchor (:mod:`models.ecg.anchors`: NeuroKit2's
``ecg_delineate`` methods and openecg) runs **its own way**: on the raw lead at the record's own
sampling rate, with its own cleaning and its own R peaks. Every method is then scored against
the same marked beats.

**Tuning and check parts.** The development records are split once and for all by
:func:`record_part`: a record is in the *check* part when the first byte of
SHA-256(``"<dataset>/<record id>"``) is odd, else in the *tuning* part (LUDB 27 check / 33
tuning, QTDB 14 / 16). Delineator settings may be chosen on the tuning part only; reported
figures and the tests' assertions use the check part. The report gives both parts.

How beats and fiducials are matched (documented in the report):

* **Beats.** Each marked beat (its QRS peak mark) is paired with the nearest R the method found
  within 150 ms, one to one. The *evaluated span* runs from the first to the last marked QRS
  peak (LUDB marks only the middle of each record; QTDB windows hold only their own marked beats).
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
  onset / latest offset marked over the leads (LUDB; T peak: the median over leads; the CSE
  definition of the global QT) or the single multi-lead mark (QTDB); QTLens gives its global
  fiducials; an anchor's per-lead beats are grouped across leads (R peaks within 100 ms, a group
  found in at least half the leads is a beat) and its fiducials combined the way QTLens combines
  T ends: earliest onset / latest offset over the leads, dropping a lone lead more than 40 ms
  beyond all others (T peak: median). ``global_consensus`` (LUDB): the same, but the reference is
  the median over leads of the marks — robust to a single lead's early or late mark.
* **Best NeuroKit2.** Per scope and fiducial, the NeuroKit2 method with the lowest error SD
  among those with sensitivity ≥ 0.8 (:data:`BEST_MIN_SENSITIVITY`); none qualifies → the one
  with the highest sensitivity. A method that finds few fiducials cannot win on a small SD.
  openecg is reported beside it, not ranked (it was trained on these records).
* **QT.** ``qt``: the global QT (T end − QRS onset of the ``global`` scope; for LUDB the
  cardiologists' global QT of the CSE definition) of every paired beat, per method:
  Bland–Altman statistics and plots. ``lead_qt`` (LUDB): the QT of lead II and of lead V5 (the
  leads the LQTS criteria use) against the same lead's marks. ``qt_availability``: of the
  records (QTDB: windows) whose marked QRS is < 120 ms (LUDB: the median over leads), the
  share where QTLens reports its QT concept; LUDB adds ``qt_availability_global_qrs``, the same
  over the records whose marked *global* QRS (earliest onset → latest offset over the leads, the
  AHA definition of QRS duration, Kligfield et al. 2007, which QTLens measures and withholds QT
  at) is < 120 ms.

CSE tolerances for the error SD (2 SD of the referees): P on 10.2, P off 12.7, QRS on 6.5,
QRS off 11.6, T end 30.6 ms (The CSE Working Party, Circulation 1985).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from models.data.base import DatasetRecord, RecordDataset
from models.data.registry import cached_record_dataset, open_record_dataset
from models.data.wfdb_annotated import ALL_LEADS, AnnotatedWave
from models.ecg.anchors import (
    NEUROKIT_METHODS,
    OPENECG,
    LeadBeats,
    anchor_names,
    neurokit_leads,
    openecg_lead,
)
from models.ecg.concept_measures import WIDE_QRS_MS
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
_ONSETS = frozenset({"P_on", "QRS_on"})
#: CSE tolerances (2 SD, ms) where defined.
CSE_TOLERANCE_MS: dict[str, float] = {"P_on": 10.2, "P_off": 12.7, "QRS_on": 6.5, "QRS_off": 11.6, "T_end": 30.6}
MATCH_WINDOW_S = 0.150
LEAD_OUTLIER_S = 0.040
#: R peaks of different leads within this window are the same beat (s).
GRID_WINDOW_S = 0.100
#: The best anchor of a fiducial is the lowest SD among anchors at least this sensitive.
BEST_MIN_SENSITIVITY = 0.8
#: Parts of the development split (:func:`record_part`).
PARTS: tuple[str, ...] = ("tuning", "check")
#: Leads whose own QT the LQTS criteria use (Schwartz PJ et al., Circulation 124:2181, 2011).
LQTS_LEADS: tuple[str, ...] = ("II", "V5")
QTDB_WINDOW_S = 10.0
QTLENS = "qtlens"


def record_part(dataset: str, record_id: str) -> str:
    """The part of the development split a record belongs to: ``"check"`` when the first byte of
    SHA-256(``"<dataset>/<record id>"``) is odd, else ``"tuning"``. The only place the split is
    defined; tune on ``"tuning"``, report and test on ``"check"``."""
    digest = hashlib.sha256(f"{dataset}/{record_id}".encode()).digest()
    return "check" if digest[0] % 2 else "tuning"


@dataclass(frozen=True)
class Anchors:
    """The anchor delineators to run: NeuroKit2 methods and whether openecg runs."""

    neurokit: tuple[str, ...] = NEUROKIT_METHODS
    openecg: bool = False

    def names(self) -> list[str]:
        """Report names of the anchors."""
        return anchor_names(self.neurokit, self.openecg)


@dataclass(frozen=True)
class ScopeBeats:
    """One method's fiducials on the detected beats of one scope (s from the record start);
    ``qt_beats``: the beats whose QT is the method's QT (``None``: every beat)."""

    r_peak_s: np.ndarray
    times_s: dict[str, np.ndarray]
    qt_beats: np.ndarray | None = None


@dataclass(frozen=True)
class ScopeResult:
    """Reference marks and every method's fiducials for one scope of one segment.

    Attributes:
        scope: ``"per_lead"``, ``"global"`` or ``"global_consensus"``.
        lead: the lead (``per_lead``) or ``"all"``.
        reference: marked beats: QRS peak time and the marked fiducials (s).
        methods: per method name, its fiducials on the detected beats.
        span_s: the evaluated span (first → last marked QRS peak).
        qtlens_qt_ms: QTLens' QT concept of the segment (global scopes; ``None`` = unavailable).
        record_id: the record the segment belongs to.
        part: the record's part of the development split (:func:`record_part`).
    """

    scope: str
    lead: str
    reference: list[dict[str, float]]
    methods: dict[str, ScopeBeats]
    span_s: tuple[float, float]
    qtlens_qt_ms: float | None = None
    record_id: str = ""
    part: str = ""


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
    """Per method, (reference QT, method QT) in ms for every paired beat with both marks (for
    QTLens, the beats of the median beat: its QT is the median beat's; a beat left out of it is
    delineated for the record's marks, and no QT is measured on it)."""
    out: dict[str, list[tuple[float, float]]] = {}
    for method, beats in result.methods.items():
        pairs = _pairs(result.reference, beats.r_peak_s)
        for a, beat in enumerate(result.reference):
            d = pairs.get(a)
            if d is None or "QRS_on" not in beat or "T_end" not in beat:
                continue
            if beats.qt_beats is not None and not beats.qt_beats[d]:
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
    return ScopeBeats(r_peak_s, times, np.array([beat.in_median for beat in measurements.beats]))


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


def _beat_grid(peaks_per_lead: Sequence[np.ndarray]) -> np.ndarray:
    """Beats across leads: R peaks (s) of all leads grouped within 100 ms; a group found in at
    least half the leads is a beat, at its median time (s)."""
    leads = peaks_per_lead
    peaks = np.sort(np.concatenate(list(leads))) if leads else np.zeros(0)
    grid: list[float] = []
    group: list[float] = []
    for peak in [*peaks, math.inf]:
        if group and peak - group[0] > GRID_WINDOW_S:
            if len(group) >= max(1, len(leads) / 2):
                grid.append(float(np.median(group)))
            group = []
        group.append(peak)
    return np.asarray(grid)


def _combined(leads: Sequence[ScopeBeats]) -> ScopeBeats:
    """One method's global fiducials per beat from its per-lead ones (:func:`combine_leads`),
    each lead's beat matched to the nearest beat of the grid (:func:`_beat_grid`)."""
    grid = _beat_grid([lead.r_peak_s for lead in leads])
    times = {}
    for fiducial in FIDUCIALS:
        per_lead = np.full((len(leads), grid.size), np.nan)
        for row, lead in enumerate(leads):
            for beat, r_peak in enumerate(lead.r_peak_s):
                if grid.size:
                    nearest = int(np.argmin(np.abs(grid - r_peak)))
                    if abs(grid[nearest] - r_peak) <= GRID_WINDOW_S:
                        per_lead[row, nearest] = lead.times_s[fiducial][beat]
        times[fiducial] = np.array([combine_leads(per_lead[:, beat], fiducial) for beat in range(grid.size)])
    return ScopeBeats(grid, times)


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


def _anchor_leads(segment_mv: np.ndarray, fs_hz: float, anchors: Anchors) -> list[dict[str, LeadBeats]]:
    """Per lead row, every anchor's own beats and fiducials (samples from the segment start)."""
    rows = []
    for lead_mv in segment_mv:
        by_anchor: dict[str, LeadBeats] = {}
        if anchors.neurokit:
            for method, beats in neurokit_leads(lead_mv, fs_hz, anchors.neurokit).items():
                by_anchor[f"neurokit_{method}"] = beats
        if anchors.openecg:
            by_anchor[OPENECG] = openecg_lead(lead_mv, fs_hz)
        rows.append(by_anchor)
    return rows


def _scope_beats(beats: LeadBeats, fs_hz: float, offset_s: float) -> ScopeBeats:
    """An anchor's lead beats in seconds from the record start."""
    return ScopeBeats(
        beats.r_samples / fs_hz + offset_s,
        {name: values / fs_hz + offset_s for name, values in beats.fiducials.items()},
    )


def evaluate_segment(
    record: DatasetRecord,
    segment_s: Segment,
    anchors: Anchors,
    config: MeasureConfig | None = None,
) -> list[ScopeResult]:
    """Run QTLens and every anchor on one segment of ``record`` and collect every scope's marks
    and fiducials (times in s from the record start)."""
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
    anchor_rows = _anchor_leads(segment.signal_mv, ecg.fs_hz, anchors)
    per_lead_methods: dict[str, dict[str, ScopeBeats]] = {}
    for row, lead in enumerate(segment.lead_names):
        per_lead_methods[lead] = {QTLENS: _qtlens_beats(measurements, lead, offset)}
        for name, beats in anchor_rows[row].items():
            per_lead_methods[lead][name] = _scope_beats(beats, ecg.fs_hz, offset)
    global_methods = {QTLENS: _qtlens_beats(measurements, None, offset)}
    for name in anchors.names():
        global_methods[name] = _combined([by_method[name] for by_method in per_lead_methods.values()])
    qt = measurements.value("qt")
    results: list[ScopeResult] = []
    if ALL_LEADS in inside:
        reference = inside[ALL_LEADS]
        if reference:
            results.append(ScopeResult("global", ALL_LEADS, reference, global_methods, _span(reference), qt))
        return results
    for lead, reference in inside.items():
        if lead in per_lead_methods and reference:
            results.append(ScopeResult("per_lead", lead, reference, per_lead_methods[lead], _span(reference)))
    grid = _beat_grid([np.array([beat["R"] for beat in beats]) for beats in inside.values()])
    for scope, reducer in (("global", _extreme), ("global_consensus", _median)):
        reference = _global_reference(inside, grid, reducer)
        if reference:
            results.append(ScopeResult(scope, ALL_LEADS, reference, global_methods, _span(reference), qt))
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


def evaluate_record(dataset: DatasetName, root: str, record_id: str, anchors: Anchors) -> list[ScopeResult]:
    """Every scope result of one record, tagged with its id and part (picklable: runs in a
    worker process)."""
    record = _reader(dataset, Path(root), cached=True).load(record_id)
    part = record_part(dataset, record_id)
    return [
        replace(result, record_id=record_id, part=part)
        for segment in segments(record)
        for result in evaluate_segment(record, segment, anchors)
    ]


def _reader(dataset: DatasetName, root: Path, cached: bool = False) -> RecordDataset:
    """The loader of a fiducial-annotated dataset for the folder ``root`` (checked); ``cached``:
    opened once per process (:func:`~models.data.registry.cached_record_dataset`), for worker
    tasks that each load one record."""
    if dataset not in ("ludb", "qtdb"):
        raise ValueError(f"unknown dataset {dataset!r}; choose ludb or qtdb")
    return (cached_record_dataset(dataset, str(root)) if cached
            else open_record_dataset(dataset, root))


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
    anchors: Anchors | None = None,
    workers: int = 2,
    record_ids: Sequence[str] | None = None,
    progress: bool = True,
    part: str | None = None,
) -> dict[str, object]:
    """Validate QTLens and the anchors on every dev record of ``dataset`` (see module docstring).

    Args:
        dataset: ``"ludb"`` or ``"qtdb"``.
        root: the dataset folder (e.g. ``$QTLENS_DATA_DIR/ludb``).
        anchors: the anchor delineators (default: NeuroKit2's four methods, openecg when
            installed).
        workers: processes (records are spread over them; 1 = in this process).
        record_ids: a subset of records (default: the whole dev split).
        progress: show a tqdm progress bar.
        part: only the records of this part of the split (``"tuning"`` or ``"check"``).

    Returns:
        The report as JSON-serialisable data, per part of the split (:func:`summarise`).
    """
    from tqdm import tqdm

    from models.ecg.anchors import openecg_available

    anchors = anchors or Anchors(openecg=openecg_available())
    unknown = sorted(set(anchors.neurokit) - set(NEUROKIT_METHODS))
    if unknown:
        raise ValueError(f"unknown NeuroKit2 method(s) {unknown}; choose from {NEUROKIT_METHODS}")
    reader = _reader(dataset, root)
    if part is not None and part not in PARTS:
        raise ValueError(f"unknown part {part!r}; choose from {PARTS}")
    ids = list(record_ids) if record_ids is not None else list(reader.record_ids())
    ids = [r for r in ids if part is None or record_part(dataset, r) == part]
    tasks = [(dataset, str(reader.root), record_id, anchors) for record_id in ids]
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
    return summarise(dataset, ids, anchors, all_results)


def _qt_report(pairs: Sequence[tuple[float, float]]) -> dict[str, object]:
    return {**bland_altman(pairs), "pairs_ms": [[round(a, 2), round(b, 2)] for a, b in pairs]}


def _single_mark(results: Sequence[ScopeResult]) -> bool:
    """Whether the marks are one multi-lead mark per beat (QTDB) rather than per lead (LUDB)."""
    return not any(result.scope == "global_consensus" for result in results)


def _reference_qrs_ms(result: ScopeResult) -> float | None:
    """Median marked QRS duration (ms) of a global scope's reference beats (LUDB: of the
    consensus reference, as the earliest onset / latest offset over leads is wider than any
    lead's QRS)."""
    widths = [(b["QRS_off"] - b["QRS_on"]) * 1000.0 for b in result.reference if "QRS_on" in b and "QRS_off" in b]
    return float(np.median(widths)) if widths else None


def summarise_part(results: Sequence[ScopeResult]) -> dict[str, object]:
    """Scores, QT Bland–Altman (global and LQTS-lead), QT availability and best anchors of the
    scope results of one part of the split."""
    scores: dict[str, dict[str, dict[str, FiducialScore]]] = {}
    qt: dict[str, list[tuple[float, float]]] = {}
    lead_qt: dict[str, dict[str, list[tuple[float, float]]]] = {}
    # Narrow QRS by the scope's marked QRS: per lead (the median over leads, LUDB) or global
    # (earliest onset → latest offset over the leads: the AHA definition QTLens measures).
    narrow: dict[str, dict[tuple[str, float], bool]] = {"global": {}, "global_consensus": {}}
    single = _single_mark(results)
    for result in results:
        score_scope(result, scores.setdefault(result.scope, {}))
        if result.scope == "global":
            for method, pairs in qt_pairs(result).items():
                qt.setdefault(method, []).extend(pairs)
        if result.scope in narrow:
            qrs_ms = _reference_qrs_ms(result)
            # narrow: below the QRS from which the pipeline declines QT
            if qrs_ms is not None and qrs_ms < WIDE_QRS_MS:
                narrow[result.scope][(result.record_id, result.span_s[0])] = (
                    result.qtlens_qt_ms is not None)
        elif result.scope == "per_lead" and result.lead in LQTS_LEADS:
            for method, pairs in qt_pairs(result).items():
                lead_qt.setdefault(result.lead, {}).setdefault(method, []).extend(pairs)
    summaries = {
        scope: {method: {f: s.summary() for f, s in by_fiducial.items()} for method, by_fiducial in by_method.items()}
        for scope, by_method in scores.items()
    }
    return {
        "records": sorted({result.record_id for result in results}, key=_natural),
        "scores": summaries,
        "best_neurokit": {
            scope: {fiducial: best_anchor(by_method, fiducial) for fiducial in FIDUCIALS}
            for scope, by_method in summaries.items()
        },
        "qt": {method: _qt_report(pairs) for method, pairs in qt.items()},
        "lead_qt": {lead: {m: _qt_report(p) for m, p in by_method.items()} for lead, by_method in lead_qt.items()},
        "qt_availability": _availability(narrow["global" if single else "global_consensus"]),
        **({} if single else {"qt_availability_global_qrs": _availability(narrow["global"])}),
    }


def _availability(narrow: dict[tuple[str, float], bool]) -> dict[str, object]:
    """Of the narrow-QRS records (windows), how many have QTLens' QT: ``{"narrow_qrs",
    "with_qt", "share"}``."""
    return {
        "narrow_qrs": len(narrow),
        "with_qt": sum(narrow.values()),
        "share": sum(narrow.values()) / len(narrow) if narrow else None,
    }


def _natural(record_id: str) -> tuple[int, str]:
    return (int(record_id), "") if record_id.isdigit() else (0, record_id)


def summarise(
    dataset: str, record_ids: Sequence[str], anchors: Anchors, results: Sequence[ScopeResult]
) -> dict[str, object]:
    """The report data from every scope result: one :func:`summarise_part` per part."""
    return {
        "dataset": dataset,
        "records": len(record_ids),
        "methods": [QTLENS, *anchors.names()],
        "openecg": (
            "openecg ran (its codec was trained on LUDB and QTDB: it has seen these records)"
            if anchors.openecg
            else "openecg did not run (not installed: pip install openecg)"
        ),
        "match_window_ms": MATCH_WINDOW_S * 1000.0,
        "cse_tolerance_ms": CSE_TOLERANCE_MS,
        "best_rule": f"best NeuroKit2: lowest SD among its methods with sensitivity >= {BEST_MIN_SENSITIVITY}",
        "split": {part: sorted((r for r in record_ids if record_part(dataset, r) == part), key=_natural) for part in PARTS},
        "parts": {
            part: summarise_part([r for r in results if r.part == part])
            for part in PARTS
            if any(record_part(dataset, r) == part for r in record_ids)
        },
        "definitions": __doc__,
    }


def best_anchor(
    by_method: dict[str, dict[str, dict[str, object]]], fiducial: str, family: str = "neurokit_"
) -> dict[str, object] | None:
    """The best anchor of a family (method names starting ``family``) on ``fiducial``
    (:data:`BEST_MIN_SENSITIVITY` rule, see module doc): ``{"method", "sd_ms", "sensitivity"}``,
    or ``None`` when no anchor of the family placed the fiducial."""
    candidates = [
        (method, values[fiducial])
        for method, values in by_method.items()
        if method.startswith(family) and values[fiducial]["sd_ms"] is not None
    ]
    if not candidates:
        return None
    sensitive = [c for c in candidates if c[1]["sensitivity"] >= BEST_MIN_SENSITIVITY]  # type: ignore[operator]
    if sensitive:
        method, values = min(sensitive, key=lambda c: c[1]["sd_ms"])  # type: ignore[arg-type,return-value]
    else:
        method, values = max(candidates, key=lambda c: c[1]["sensitivity"])  # type: ignore[arg-type,return-value]
    return {"method": method, "sd_ms": values["sd_ms"], "sensitivity": values["sensitivity"]}


def write_report(report: dict[str, object], out_dir: Path) -> tuple[Path, Path]:
    """Write ``<dataset>_delineation.json``, ``.html`` (Plotly, inlined) and ``.md`` (the README
    table of the check part, when it was run) into ``out_dir``."""
    from models.ecg.validation_report import render_html, render_markdown

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{report['dataset']}_delineation"
    json_path = out_dir / f"{stem}.json"
    html_path = out_dir / f"{stem}.html"
    json_path.write_text(json.dumps(report, indent=1), encoding="utf-8")
    html_path.write_text(render_html(report), encoding="utf-8")
    if "check" in report["parts"]:  # type: ignore[operator]
        (out_dir / f"{stem}.md").write_text(render_markdown(report), encoding="utf-8")
    return json_path, html_path
