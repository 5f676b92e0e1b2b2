"""Measured concepts of an ECG: the signal pipeline's ground truth and the clinician's reference.

:func:`measure` runs preprocessing (:mod:`models.ecg.preprocess`), beat detection and median
beats (:mod:`models.ecg.beats`, NeuroKit2 on the most QRS-dominated lead, once more on a second lead
when that one fails its signal-quality check: :func:`_beats_on_second_lead`), delineation
(:mod:`models.ecg.delineate`) and then every measured concept's function from the registry
(:data:`models.concepts.REGISTRY` → ``Concept.measure``); derived concepts come from
:func:`models.concepts.rederive`. Every concept gets a value in its registry unit or a reason
why it is unavailable — never an exception for a bad signal.

Record-level reasons (every concept unavailable): no usable lead (all missing, flat or
saturated), signal quality too low in every lead (pure noise), record shorter than 1 s, fewer
than three complete beats. Rate-corrected concepts (``Concept.rate_corrected``) are unavailable
when the RR intervals are highly irregular — the median absolute difference between successive
RR intervals above 15 % of the median RR over at least four intervals (atrial fibrillation,
frequent ectopy): no single RR then stands for the rate the QT adapted to.

**Which QT.** The ``qt`` concept (and every QTc derived from it) is the *global* QT of the CSE
definition: earliest QRS onset over the leads → latest T end over the leads, with outlier control
(:mod:`models.ecg.delineate`). Beside it, :attr:`Measurements.lead_qt` is the QT the LQTS
criteria use: measured in lead II (V5 when lead II has no T end) from that lead's QRS onset to
its T end by the tangent method (Postema & Wilde 2014; Schwartz PJ et al., Circulation 124:2181,
2011). **Confidence.** Every concept measured up to the global T end (:data:`T_END_CONCEPTS`:
the QT, Tpeak-Tend and everything derived from them) is marked low-confidence when that T end
rests on ≤ 2 leads (:data:`MIN_T_END_SUPPORT`) or when at least :data:`MIN_T_END_SUPPORT` leads
end more than 80 ms before the T end the global one follows (a U wave or the second lobe of a
biphasic T followed in many leads, or many leads ending early: ``Delineation.t_end_split``); the
QT and what derives from it also when the QT is implausible for the heart rate (QTcF outside
:data:`PLAUSIBLE_QTCF_MS`). The note says why.

Example:
    >>> from models.ecg.measure import measure
    >>> result = measure(ecg)  # doctest: +SKIP
    >>> result.value("qtc_fridericia"), result.concepts["t_amplitude_v5"].reason  # doctest: +SKIP
    (431.2, None)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.concepts import REGISTRY, Flag, FlagLevel, derivation_order, get_concept, rederive
from models.ecg.beats import BeatConfig, Beats, build_beats, detect_r_peaks, reference_lead
from models.ecg.concept_measures import MeasureContext, Unavailable
from models.ecg.delineate import (
    Delineation,
    DelineationConfig,
    WaveFiducials,
    delineate_alone,
    delineate_beats,
)
from models.ecg.pacing import (
    PacingConfig,
    Stimulus,
    depolarisation_start_s,
    remove_pacing_stimuli,
)
from models.ecg.preprocess import (
    DEFAULT_MIN_SQI,
    LeadCheck,
    LeadStatus,
    PreprocessConfig,
    check_leads,
    fill_gaps,
    filter_ecg,
    resample,
)
from models.ecg.record import Ecg

#: Fiducial fields of :class:`WaveFiducials` that are times (s relative to R).
FIDUCIAL_FIELDS: tuple[str, ...] = (
    "p_onset_s",
    "p_peak_s",
    "p_offset_s",
    "qrs_onset_s",
    "qrs_offset_s",
    "t_onset_s",
    "t_peak_s",
    "t_end_s",
)
_T_FIELDS = ("t_peak_s", "t_end_s")
_MIN_DURATION_S = 1.0
#: A global T end supported by fewer leads than this makes the QT low-confidence.
MIN_T_END_SUPPORT = 3
#: The concepts measured up to the global T end: they (and what derives from them) share its doubts.
T_END_CONCEPTS: tuple[str, ...] = ("qt", "tpeak_tend")
#: QTcF (ms) outside this range is implausible for the heart rate: the T end was likely missed.
PLAUSIBLE_QTCF_MS: tuple[float, float] = (300.0, 650.0)
#: Leads the lead QT is measured in, in order of preference (LQTS criteria).
LEAD_QT_LEADS: tuple[str, ...] = ("II", "V5")


@dataclass(frozen=True)
class MeasureConfig:
    """Settings of the whole measurement pipeline.

    Attributes:
        analysis_fs_hz: every record is resampled to this rate before analysis (Hz).
        preprocess: filter and lead-check settings.
        pacing: pacing-stimulus detector settings (:mod:`models.ecg.pacing`).
        beats: beat selection settings.
        delineation: delineator settings (T-end method …).
        min_sqi: leads with a lower template-matching SQI are not measured on.
        min_beats: fewest complete beats a record must have.
        max_rr_irregularity: median |ΔRR| / median RR above which RR-based corrections are off.
        min_rr_intervals: fewest RR intervals needed to judge regularity.
    """

    analysis_fs_hz: float = 500.0
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    pacing: PacingConfig = field(default_factory=PacingConfig)
    beats: BeatConfig = field(default_factory=BeatConfig)
    delineation: DelineationConfig = field(default_factory=DelineationConfig)
    min_sqi: float = DEFAULT_MIN_SQI
    min_beats: int = 3
    max_rr_irregularity: float = 0.15
    min_rr_intervals: int = 4


@dataclass(frozen=True)
class Analysis:
    """The intermediate results of the pipeline (what validation and plots build on).

    Attributes:
        fs_hz: analysis sampling rate (Hz).
        filtered_mv: the filtered ``[leads, samples]`` signal at ``fs_hz``.
        lead_names: lead of each row.
        lead_checks: per lead, the verdict after lead checks and SQI.
        lead_sqi: per lead, the template-matching SQI (``nan`` when not computed).
        beats: beats and median beats (``None`` when the record could not be analysed).
        delineation: fiducials (``None`` when the record could not be analysed).
        record_reason: why nothing can be measured (``None`` when it can).
        rhythm_reason: why RR-based corrections are off (``None`` for a regular rhythm).
        alone: beats left out of the median beat, each delineated on its own window (beat
            index → :func:`~models.ecg.delineate.delineate_alone`); drawn, never measured.
        pacing_stimuli: pacing stimuli bridged on the raw signal before filtering (0: the
            record is not paced, :mod:`models.ecg.pacing`).
    """

    fs_hz: float
    filtered_mv: np.ndarray = field(repr=False)
    lead_names: tuple[str, ...]
    lead_checks: tuple[LeadCheck, ...]
    lead_sqi: dict[str, float]
    beats: Beats | None
    delineation: Delineation | None
    record_reason: str | None
    rhythm_reason: str | None
    alone: dict[int, Delineation] = field(default_factory=dict)
    pacing_stimuli: int = 0

    def context(self) -> MeasureContext:
        """The view the concept functions read."""
        return MeasureContext(
            fs_hz=self.fs_hz,
            lead_names=self.lead_names,
            lead_reasons={c.lead: c.reason for c in self.lead_checks if not c.usable},
            beats=self.beats,
            delineation=self.delineation,
            record_reason=self.record_reason,
        )


@dataclass(frozen=True)
class ConceptValue:
    """One concept's measurement: a value in ``unit`` or the reason it is unavailable;
    ``low_confidence`` says why a value should be checked by eye (``None`` = no doubt)."""

    name: str
    value: float | None
    unit: str
    reason: str | None
    flag: Flag
    low_confidence: str | None = None

    @property
    def available(self) -> bool:
        """True when measured."""
        return self.value is not None


@dataclass(frozen=True)
class MedianBeatTrace:
    """A lead's median beat for plotting: samples (mV) at ``fs_hz`` starting ``start_s`` from R."""

    lead: str
    fs_hz: float
    start_s: float
    samples_mv: np.ndarray = field(repr=False)
    fiducials: WaveFiducials


@dataclass(frozen=True)
class BeatMarks:
    """Fiducials of one beat on the full record (s from the first sample; ``None`` = not placed).

    A beat in the median beat gets the median's QRS onset, T peak and T end, its T peak and T end
    moved by ``t_shift_s`` (its T-wave lag against the median T wave). A beat left out of it (an
    ectopic or premature beat) gets the marks of its own delineation, ``alone`` (s from its R;
    ``None`` when its window does not fit in the record).
    """

    r_peak_s: float
    in_median: bool
    qrs_onset_s: float | None = None
    t_peak_s: float | None = None
    t_end_s: float | None = None
    t_shift_s: float | None = None
    alone: Delineation | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class LeadQuality:
    """A lead's status (ok / missing / flat / saturated / noisy), SQI and reason."""

    status: str
    sqi: float | None
    reason: str


@dataclass(frozen=True)
class LeadQt:
    """The QT of one lead (LQTS criteria): the lead, its QT and QTcF (ms)."""

    lead: str
    qt_ms: float
    qtc_fridericia_ms: float | None


@dataclass(frozen=True)
class Measurements:
    """Every registry concept measured on one ECG, with the fiducials behind them."""

    concepts: dict[str, ConceptValue]
    median_beats: dict[str, MedianBeatTrace]
    global_fiducials: WaveFiducials | None
    t_end_lead: str | None
    beats: tuple[BeatMarks, ...]
    lead_quality: dict[str, LeadQuality]
    record_reason: str | None
    rhythm_reason: str | None
    lead_qt: LeadQt | None = None
    t_end_support: int = 0
    pacing_stimuli: int = 0

    def value(self, name: str) -> float | None:
        """The value of one concept (``None`` when unavailable)."""
        return self.concepts[name].value

    def values(self) -> dict[str, float | None]:
        """All values by concept name, registry order."""
        return {name: entry.value for name, entry in self.concepts.items()}

    def lead_beat_fiducials(self, lead: str | None = None,
                            median_only: bool = False) -> list[dict[str, float | None]]:
        """Per detected beat, the fiducials of ``lead`` (``None`` = global) placed on the beat's R
        (s from the first sample). A beat in the median beat gets the median's (T peak and T end
        follow the beat's T lag); a beat left out of it its own delineation's, unless
        ``median_only``; a lead that was not delineated gets ``None`` fiducials."""
        median = self.global_fiducials if lead is None else (
            self.median_beats[lead].fiducials if lead in self.median_beats else None
        )
        rows: list[dict[str, float | None]] = []
        for beat in self.beats:
            row: dict[str, float | None] = {"r_peak_s": beat.r_peak_s}
            if beat.in_median:
                source, shift = median, beat.t_shift_s or 0.0
            else:
                source, shift = None if median_only else _alone_fiducials(beat, lead), 0.0
            for name in FIDUCIAL_FIELDS:
                offset = None if source is None else getattr(source, name)
                row[name] = None if offset is None else (
                    beat.r_peak_s + offset + (shift if name in _T_FIELDS else 0.0))
            rows.append(row)
        return rows

    def summary_dict(self) -> dict[str, object]:
        """The JSON-serialisable view without the traces (median beats, beat marks, global
        fiducials, lead quality): the concepts and what :mod:`models.ecg.notes` reads."""
        return {
            "concepts": [
                {
                    "name": entry.name,
                    "value": _finite(entry.value),
                    "unit": entry.unit,
                    "available": entry.available,
                    "reason": entry.reason,
                    "flag": entry.flag.level.value,
                    "flag_note": entry.flag.note,
                    "low_confidence": entry.low_confidence,
                }
                for entry in self.concepts.values()
            ],
            "lead_qt": None
            if self.lead_qt is None
            else {
                "lead": self.lead_qt.lead,
                "qt_ms": _finite(self.lead_qt.qt_ms),
                "qtc_fridericia_ms": _finite(self.lead_qt.qtc_fridericia_ms),
            },
            "t_end_support": self.t_end_support,
            "pacing_stimuli": self.pacing_stimuli,
            "t_end_lead": self.t_end_lead,
            "record_reason": self.record_reason,
            "rhythm_reason": self.rhythm_reason,
        }

    def to_dict(self) -> dict[str, object]:
        """A JSON-serialisable view (non-finite numbers become ``null``): :meth:`summary_dict`
        with the traces."""
        return {
            **self.summary_dict(),
            "median_beats": {
                lead: {
                    "fs_hz": trace.fs_hz,
                    "start_s": trace.start_s,
                    "samples_mv": [round(float(v), 5) for v in trace.samples_mv],
                    "fiducials": _fiducials_dict(trace.fiducials),
                }
                for lead, trace in self.median_beats.items()
            },
            "global_fiducials": None if self.global_fiducials is None else _fiducials_dict(self.global_fiducials),
            "beats": [
                {
                    "r_peak_s": _finite(beat.r_peak_s),
                    "in_median": beat.in_median,
                    "qrs_onset_s": _finite(beat.qrs_onset_s),
                    "t_peak_s": _finite(beat.t_peak_s),
                    "t_end_s": _finite(beat.t_end_s),
                }
                for beat in self.beats
            ],
            "lead_quality": {
                lead: {"status": quality.status, "sqi": _finite(quality.sqi), "reason": quality.reason}
                for lead, quality in self.lead_quality.items()
            },
        }


def stored_concepts(stored: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A stored measurement's (:meth:`Measurements.to_dict`) concept entries (``value``,
    ``reason``, ``low_confidence``…) by concept name."""
    return {entry["name"]: entry for entry in stored.get("concepts") or ()}


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), 6)


def _fiducials_dict(fiducials: WaveFiducials) -> dict[str, float | None]:
    names = (*FIDUCIAL_FIELDS, "t_end_iso_s", "isoelectric_mv", "t_amplitude_mv", "p_amplitude_mv")
    return {name: _finite(getattr(fiducials, name)) for name in names}


def analyse(ecg: Ecg, config: MeasureConfig | None = None) -> Analysis:
    """Preprocess, find the beats and delineate one ECG (no concept values yet).

    Args:
        ecg: the record (any rate, any leads).
        config: pipeline settings.

    Returns:
        The :class:`Analysis`; ``record_reason`` says why it stopped early, if it did.
    """
    config = config or MeasureConfig()
    fs = config.analysis_fs_hz
    names = ecg.lead_names
    checks = list(check_leads(ecg.signal_mv, ecg.fs_hz, names, config.preprocess))
    sqi = {name: float("nan") for name in names}

    stimuli: tuple[Stimulus, ...] = ()

    def stopped(reason: str, filtered: np.ndarray, beats: Beats | None = None) -> Analysis:
        return Analysis(fs, filtered, names, tuple(checks), sqi, beats, None, reason, None,
                        pacing_stimuli=len(stimuli))

    if ecg.duration_s < _MIN_DURATION_S:
        return stopped(
            f"record is only {ecg.duration_s:.2f} s long (at least {config.min_beats} beats needed)",
            np.zeros((len(names), 0)),
        )
    def conditioned(raw_mv: np.ndarray) -> np.ndarray:
        return filter_ecg(resample(raw_mv, ecg.fs_hz, fs), fs, config.preprocess)

    gap_free = fill_gaps(ecg.signal_mv)
    unpaced, stimuli = remove_pacing_stimuli(gap_free, ecg.fs_hz, config.pacing)
    filtered = conditioned(unpaced)
    # A paced record's beats are still found where the stimuli are (each beat's sharpest
    # instant, and the beat anchor the median beat was aligned on before stimuli were bridged);
    # only its waves are measured without them.
    with_stimuli = conditioned(gap_free) if stimuli else filtered
    usable = np.array([check.usable for check in checks])
    if not usable.any():
        return stopped("no usable lead: " + "; ".join(check.reason for check in checks), filtered)

    reference = reference_lead(with_stimuli, usable)
    beats = _beats_on(filtered, with_stimuli, fs, usable, reference, config)
    complete = int(beats.windowed.sum())
    if complete < config.min_beats:
        return stopped(
            f"only {complete} complete beat(s) in {ecg.duration_s:.1f} s "
            f"(at least {config.min_beats} needed)",
            filtered,
        )
    lead_checks = tuple(checks)
    checks, sqi = _sqi_checks(beats, lead_checks, config.min_sqi)
    if not checks[reference].usable:
        retry = _beats_on_second_lead(filtered, with_stimuli, fs, usable, beats, sqi, names,
                                      lead_checks, config)
        if retry is not None:
            beats, checks, sqi = retry
            reference = beats.reference_lead
    usable = np.array([check.usable for check in checks])
    if not usable[reference]:
        return stopped(
            f"signal quality too low to find the beats (SQI < {config.min_sqi} in the clearest lead)",
            filtered,
            beats,
        )
    qrs_from_s = (depolarisation_start_s(stimuli, ecg.fs_hz, beats.r_samples / fs, config.pacing)
                  if stimuli else None)
    delineation = delineate_beats(beats, names, usable, config.delineation, qrs_from_s)
    return Analysis(
        fs, filtered, names, tuple(checks), sqi, beats, delineation, None,
        _rhythm_reason(beats, config), delineate_alone(beats, names, usable, config.delineation),
        len(stimuli),
    )


def _beats_on(filtered_mv: np.ndarray, peaks_mv: np.ndarray, fs_hz: float, usable: np.ndarray,
              reference: int, config: MeasureConfig) -> Beats:
    """Beats and median beats of ``filtered_mv`` with the R peaks found on lead row ``reference``
    of ``peaks_mv`` (the same signal, with a paced record's stimuli left in; Hz: ``fs_hz``)."""
    r_samples = detect_r_peaks(peaks_mv[reference], fs_hz)
    return build_beats(filtered_mv, fs_hz, usable, r_samples, reference, config.beats)


def _beats_on_second_lead(
    filtered_mv: np.ndarray,
    peaks_mv: np.ndarray,
    fs_hz: float,
    usable: np.ndarray,
    first: Beats,
    first_sqi: dict[str, float],
    names: tuple[str, ...],
    lead_checks: tuple[LeadCheck, ...],
    config: MeasureConfig,
) -> tuple[Beats, list[LeadCheck], dict[str, float]] | None:
    """Beats found again on a second lead when the most QRS-dominated lead was too noisy to find
    them on (electrode pops, motion: its false or missed detections lower every lead's SQI).

    The second lead is the one that matched its template best against the first beats (the
    next most QRS-dominated lead when no other lead passed the SQI against them). Its beats are
    kept when that lead passes the SQI against them. Returns ``None`` when no second lead
    qualifies (the record is then declined).
    """
    reference = first.reference_lead
    others = usable & (np.arange(usable.size) != reference)
    if not others.any():
        return None
    candidates = np.flatnonzero(others)
    second = int(max(candidates, key=lambda index: first_sqi[names[index]]))
    if first_sqi[names[second]] < config.min_sqi:
        second = reference_lead(peaks_mv, others)
    beats = _beats_on(filtered_mv, peaks_mv, fs_hz, usable, second, config)
    if int(beats.windowed.sum()) < config.min_beats:
        return None
    checks, sqi = _sqi_checks(beats, lead_checks, config.min_sqi)
    return (beats, checks, sqi) if checks[second].usable else None


def _sqi_checks(
    beats: Beats, lead_checks: tuple[LeadCheck, ...], min_sqi: float
) -> tuple[list[LeadCheck], dict[str, float]]:
    """The lead checks with every lead whose template-matching SQI over ``beats`` is below
    ``min_sqi`` marked noisy, and each lead's SQI (``nan`` for a lead that failed its checks)."""
    checks = list(lead_checks)
    sqi = {check.lead: float("nan") for check in lead_checks}
    for index, check in enumerate(lead_checks):
        if check.usable:
            sqi[check.lead] = beats.lead_sqi(index)
            if sqi[check.lead] < min_sqi:
                checks[index] = LeadCheck(
                    check.lead, LeadStatus.NOISY,
                    f"lead {check.lead} is too noisy (SQI {sqi[check.lead]:.2f} < {min_sqi})",
                )
    return checks, sqi


def _rhythm_reason(beats: Beats, config: MeasureConfig) -> str | None:
    """Why RR-based rate corrections are off, or ``None`` for a regular enough rhythm."""
    rr_ms = np.diff(beats.r_samples) * 1000.0 / beats.fs_hz
    if rr_ms.size < config.min_rr_intervals:
        return None
    irregularity = float(np.median(np.abs(np.diff(rr_ms))) / np.median(rr_ms))
    if irregularity <= config.max_rr_irregularity:
        return None
    return (
        f"RR intervals are highly irregular (successive RR differences {irregularity:.0%} of the "
        "median RR, as in atrial fibrillation): no single RR corrects QT for heart rate"
    )


def measure(ecg: Ecg, config: MeasureConfig | None = None) -> Measurements:
    """Measure every registry concept on an ECG.

    Args:
        ecg: the record (any rate; 12 leads or fewer).
        config: pipeline settings (defaults: 500 Hz analysis, tangent T end).

    Returns:
        :class:`Measurements`: per concept a value (registry units) or an unavailable reason,
        the median beats with their fiducials, per-beat fiducials on the record, lead quality.
    """
    return measure_analysis(ecg, analyse(ecg, config))


def measure_analysis(ecg: Ecg, analysis: Analysis) -> Measurements:
    """The concept values and fiducials of an already analysed ECG (see :func:`measure`)."""
    context = analysis.context()
    measured: dict[str, float | None] = {}
    reasons: dict[str, str] = {}
    for concept in REGISTRY:
        if concept.measure is None:
            continue
        result = concept.measure(context)
        if isinstance(result, Unavailable):
            reasons[concept.name] = result.reason
        elif not concept.is_plausible(result):
            low, high = concept.plausible_low, concept.plausible_high
            reasons[concept.name] = (
                f"measured {result:.3g} {concept.unit} is outside the physiological range "
                f"{low:g}–{high:g}: the delineation failed"
            )
        else:
            measured[concept.name] = float(result)
    values = rederive({**{name: None for name in reasons}, **measured}, ecg.sex)
    for concept in derivation_order():
        missing = [name for name in concept.derived_from if values.get(name) is None]
        if missing:
            reasons[concept.name] = f"needs {missing[0]}: {reasons.get(missing[0], 'unavailable')}"
    if analysis.rhythm_reason is not None:
        for concept in REGISTRY:
            if concept.rate_corrected and concept.name not in reasons:
                reasons[concept.name] = analysis.rhythm_reason
    t_end_doubts = _t_end_doubts(analysis)
    qt_doubts = t_end_doubts + _qt_doubts(values.get("qt") if "qt" not in reasons else None,
                                          values.get("rr"))
    concepts = {}
    for concept in REGISTRY:
        value = None if concept.name in reasons else values.get(concept.name)
        concepts[concept.name] = ConceptValue(
            name=concept.name,
            value=value,
            unit=concept.unit,
            reason=reasons.get(concept.name),
            flag=concept.flag(value, ecg.sex) if value is not None else Flag(FlagLevel.NORMAL),
            low_confidence=None if value is None else _doubt(
                qt_doubts if _rests_on(concept.name, ("qt",))
                else t_end_doubts if _rests_on(concept.name, T_END_CONCEPTS) else []
            ),
        )
    return Measurements(
        concepts=concepts,
        median_beats=_median_traces(analysis),
        global_fiducials=None if analysis.delineation is None else analysis.delineation.global_fiducials,
        t_end_lead=None if analysis.delineation is None else analysis.delineation.t_end_lead,
        beats=_beat_marks(analysis),
        lead_quality={
            check.lead: LeadQuality(
                check.status.value,
                None if math.isnan(analysis.lead_sqi[check.lead]) else analysis.lead_sqi[check.lead],
                check.reason,
            )
            for check in analysis.lead_checks
        },
        record_reason=analysis.record_reason,
        rhythm_reason=analysis.rhythm_reason,
        lead_qt=_lead_qt(analysis, values.get("rr"), "qt" not in reasons),
        t_end_support=0 if analysis.delineation is None else analysis.delineation.t_end_support,
        pacing_stimuli=analysis.pacing_stimuli,
    )


def _rests_on(name: str, sources: tuple[str, ...]) -> bool:
    """Whether a concept is one of ``sources`` or derived from one (directly or through another)."""
    if name in sources:
        return True
    return any(_rests_on(source, sources) for source in get_concept(name).derived_from)


def _qtcf_ms(qt_ms: float, rr_ms: float | None) -> float | None:
    return None if rr_ms is None or rr_ms <= 0 else qt_ms / (rr_ms / 1000.0) ** (1.0 / 3.0)


def _t_end_doubts(analysis: Analysis) -> list[str]:
    """Why the global T end is low-confidence (see module doc); empty when it is not, or absent."""
    delineation = analysis.delineation
    if delineation is None or delineation.global_fiducials.t_end_s is None:
        return []
    reasons = []
    support = delineation.t_end_support
    if support < MIN_T_END_SUPPORT:
        reasons.append(f"the T end rests on {support} lead{'s' if support != 1 else ''} only")
    early = delineation.t_end_split
    if len(early) >= MIN_T_END_SUPPORT:
        named = ", ".join(sorted(early, key=analysis.lead_names.index))
        reasons.append(f"{named} end their T wave far earlier (a U wave or a biphasic T?)")
    return reasons


def _qt_doubts(qt_ms: float | None, rr_ms: float | None) -> list[str]:
    """Why a measured QT (ms) is implausible at the RR interval ``rr_ms`` (ms); empty when not."""
    qtcf = None if qt_ms is None else _qtcf_ms(qt_ms, rr_ms)
    low, high = PLAUSIBLE_QTCF_MS
    if qtcf is None or low <= qtcf <= high:
        return []
    return [f"QT {qt_ms:.0f} ms is implausible at this heart rate (QTcF {qtcf:.0f} ms)"]


def _doubt(reasons: list[str]) -> str | None:
    """The low-confidence note of a concept from its reasons (``None`` = no doubt)."""
    return "; ".join(reasons) + ": check the T end on the median beat" if reasons else None


def _lead_qt(analysis: Analysis, rr_ms: float | None, narrow_qrs: bool) -> LeadQt | None:
    """QT in lead II, else V5: the lead's QRS onset → its tangent T end (``None`` when neither
    lead has both, or when the QRS is too wide for a QT)."""
    if analysis.delineation is None or not narrow_qrs:
        return None
    for lead in LEAD_QT_LEADS:
        fiducials = analysis.delineation.leads.get(lead)
        if fiducials is None or fiducials.qrs_onset_s is None or fiducials.t_end_s is None:
            continue
        qt_ms = (fiducials.t_end_s - fiducials.qrs_onset_s) * 1000.0
        return LeadQt(lead, qt_ms, _qtcf_ms(qt_ms, rr_ms))
    return None


def _median_traces(analysis: Analysis) -> dict[str, MedianBeatTrace]:
    if analysis.beats is None or analysis.delineation is None:
        return {}
    return {
        name: MedianBeatTrace(
            lead=name,
            fs_hz=analysis.fs_hz,
            start_s=analysis.beats.start_s,
            samples_mv=analysis.beats.median_mv[analysis.lead_names.index(name)].astype(np.float32),
            fiducials=fiducials,
        )
        for name, fiducials in analysis.delineation.leads.items()
    }


def _alone_fiducials(beat: BeatMarks, lead: str | None) -> WaveFiducials | None:
    """A beat's own fiducials in ``lead`` (``None`` = global), when it was delineated alone."""
    if beat.alone is None:
        return None
    return beat.alone.global_fiducials if lead is None else beat.alone.leads.get(lead)


def _placed(r_s: float, fiducials: WaveFiducials, shift_s: float, in_median: bool,
            **more: Any) -> BeatMarks:
    """The marks of the beat whose R is at ``r_s`` s: ``fiducials`` (s from R) placed on it, its
    T peak and T end moved by ``shift_s``."""
    def at(offset_s: float | None, moved_s: float = 0.0) -> float | None:
        return None if offset_s is None else r_s + offset_s + moved_s

    return BeatMarks(r_peak_s=r_s, in_median=in_median, qrs_onset_s=at(fiducials.qrs_onset_s),
                     t_peak_s=at(fiducials.t_peak_s, shift_s),
                     t_end_s=at(fiducials.t_end_s, shift_s), **more)


def _beat_marks(analysis: Analysis) -> tuple[BeatMarks, ...]:
    beats, delineation = analysis.beats, analysis.delineation
    if beats is None:
        return ()
    marks = []
    for index, r_sample in enumerate(beats.r_samples):
        r_s = float(r_sample / beats.fs_hz)
        alone = analysis.alone.get(index)
        if delineation is not None and beats.used[index]:
            lag = delineation.t_shift_s[index]
            shift = float(lag) if np.isfinite(lag) else 0.0
            marks.append(_placed(r_s, delineation.global_fiducials, shift, True, t_shift_s=shift))
        elif alone is not None:  # left out of the median beat: its own delineation's marks
            marks.append(_placed(r_s, alone.global_fiducials, 0.0, False, alone=alone))
        else:
            marks.append(BeatMarks(r_peak_s=r_s, in_median=False))
    return tuple(marks)

