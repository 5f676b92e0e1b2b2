"""One measurement function per measured concept, each reading a :class:`MeasureContext`.

The concept registry (:mod:`models.concepts`) points every measured concept at its function here
(``Concept.measure``); derived concepts (QTc formulas, heart rate, J-Tpeak_c, ``qtc_prolonged``)
are computed from these values by :func:`models.concepts.rederive`. Adding a concept is one
registry entry plus its function. This module never imports :mod:`models.concepts` (the registry
imports it) nor NeuroKit2.

Every function returns a value in the registry unit, or :class:`Unavailable` with a reason a
clinician can read — never a silent guess and never an exception for a bad signal. QT and the
QT-based concepts are unavailable when the QRS is ≥ 120 ms: a conduction delay lengthens QT
without lengthening repolarisation, so QT and its corrections stop reflecting repolarisation
(Rautaharju PM et al., Circulation 119:e241, 2009; use J-Tpeak / JT instead).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from models.ecg.morphology import t_asymmetry, t_flatness
from models.ecg.smoothing import moving_average

if TYPE_CHECKING:
    from models.ecg.beats import Beats
    from models.ecg.delineate import Delineation, WaveFiducials

#: QRS duration (ms) from which QT is not interpretable.
WIDE_QRS_MS = 120.0
#: Thresholds of the binary T-wave findings (documented in the registry's ``how_measured``).
#: A T wave below ``T_INVERTED_MV`` (mV) is inverted: the Inverted-T finding and the T-amplitude
#: rows' "inverted T wave" flag (a shallower negative T is flagged flat, never inverted).
T_INVERTED_MV = -0.05
NOTCH_MIN_LEADS = 3
NOTCH_MIN_T_MV = 0.05
LATE_ONSET_ST_MS = 160.0
BROAD_T_MS = 240.0
U_WAVE_MV = 0.05
ALTERNANS_MV = 0.05
ALTERNANS_MIN_BEATS = 6
PRINCIPAL_T_MIN_MV = 0.1


@dataclass(frozen=True)
class Unavailable:
    """A concept that cannot be measured honestly on this record, and why."""

    reason: str


Measured = float | Unavailable
MeasureFunction = Callable[["MeasureContext"], Measured]


@dataclass(frozen=True)
class MeasureContext:
    """Everything a concept function may read about one analysed record.

    Attributes:
        fs_hz: sampling rate of ``beats`` (Hz).
        lead_names: every lead of the record, in row order of the median beats.
        lead_reasons: per lead that may not be measured on, the reason (missing leads absent).
        beats: the beats and median beats (``None`` when the record could not be analysed).
        delineation: the fiducials (``None`` when the record could not be analysed).
        record_reason: why nothing can be measured on the record (``None`` when it can).
    """

    fs_hz: float
    lead_names: tuple[str, ...]
    lead_reasons: dict[str, str] = field(default_factory=dict)
    beats: Beats | None = None
    delineation: Delineation | None = None
    record_reason: str | None = None


def _ms(seconds: float) -> float:
    return float(seconds * 1000.0)


def _ready(context: MeasureContext) -> Unavailable | None:
    """The record-level reason, if any, that nothing can be measured."""
    if context.record_reason is not None:
        return Unavailable(context.record_reason)
    if context.beats is None or context.delineation is None or not context.delineation.leads:
        return Unavailable("no lead could be delineated")
    return None


def _lead(context: MeasureContext, name: str) -> WaveFiducials | Unavailable:
    """The median-beat fiducials of one lead, or why that lead cannot be used."""
    blocked = _ready(context)
    if blocked is not None:
        return blocked
    assert context.delineation is not None
    if name not in context.lead_names:
        return Unavailable(f"lead {name} is not in this record")
    if name in context.lead_reasons:
        return Unavailable(context.lead_reasons[name])
    fiducials = context.delineation.leads.get(name)
    return fiducials if fiducials is not None else Unavailable(f"lead {name} could not be delineated")


def measure_rr(context: MeasureContext) -> Measured:
    """Median RR interval of the detected beats (ms)."""
    blocked = _ready(context)
    if blocked is not None:
        return blocked
    assert context.beats is not None
    return context.beats.rr_ms


def measure_pr(context: MeasureContext) -> Measured:
    """P onset (earliest over the leads) → global QRS onset on the median beat (ms)."""
    blocked = _ready(context)
    if blocked is not None:
        return blocked
    assert context.delineation is not None
    fiducials = context.delineation.global_fiducials
    if fiducials.p_onset_s is None or fiducials.qrs_onset_s is None:
        return Unavailable("no P wave found (atrial fibrillation or flutter, junctional rhythm, or noise)")
    return _ms(fiducials.qrs_onset_s - fiducials.p_onset_s)


def measure_qrs(context: MeasureContext) -> Measured:
    """Global QRS onset → global QRS offset across the usable leads (ms)."""
    blocked = _ready(context)
    if blocked is not None:
        return blocked
    assert context.delineation is not None
    fiducials = context.delineation.global_fiducials
    assert fiducials.qrs_onset_s is not None and fiducials.qrs_offset_s is not None
    return _ms(fiducials.qrs_offset_s - fiducials.qrs_onset_s)


def _narrow_qrs(context: MeasureContext) -> Unavailable | None:
    """Why QT-based concepts are not interpretable (wide QRS), if they are not."""
    qrs = measure_qrs(context)
    if isinstance(qrs, Unavailable):
        return qrs
    if qrs >= WIDE_QRS_MS:
        return Unavailable(
            f"QRS is {qrs:.0f} ms (≥ {WIDE_QRS_MS:.0f} ms): the conduction delay lengthens QT "
            "without lengthening repolarisation, so QT is not interpretable (read J-Tpeak instead)"
        )
    return None


def measure_qt(context: MeasureContext) -> Measured:
    """Global QRS onset → global T end (tangent method on the latest reliable lead), ms."""
    blocked = _narrow_qrs(context)
    if blocked is not None:
        return blocked
    assert context.delineation is not None
    fiducials = context.delineation.global_fiducials
    if fiducials.t_end_s is None or fiducials.qrs_onset_s is None:
        return Unavailable("T-wave end not found in any lead (flat T, or T merged with the next P wave)")
    return _ms(fiducials.t_end_s - fiducials.qrs_onset_s)


def measure_jtpeak(context: MeasureContext) -> Measured:
    """Global QRS offset (J point) → T peak of the vector magnitude (ms)."""
    blocked = _ready(context)
    if blocked is not None:
        return blocked
    assert context.delineation is not None
    fiducials = context.delineation.global_fiducials
    if fiducials.t_peak_s is None or fiducials.qrs_offset_s is None:
        return Unavailable("T peak not found on the vector magnitude")
    return _ms(fiducials.t_peak_s - fiducials.qrs_offset_s)


def measure_tpeak_tend(context: MeasureContext) -> Measured:
    """T peak of the vector magnitude → global T end (ms)."""
    blocked = _ready(context)
    if blocked is not None:
        return blocked
    assert context.delineation is not None
    fiducials = context.delineation.global_fiducials
    if fiducials.t_end_s is None:
        return Unavailable("T-wave end not found in any lead (flat T, or T merged with the next P wave)")
    if fiducials.t_peak_s is None:
        return Unavailable("T peak not found on the vector magnitude")
    return _ms(fiducials.t_end_s - fiducials.t_peak_s)


def _t_amplitude(context: MeasureContext, lead: str) -> Measured:
    fiducials = _lead(context, lead)
    if isinstance(fiducials, Unavailable):
        return fiducials
    if fiducials.t_amplitude_mv is None:
        return Unavailable(f"no T-wave window in lead {lead}")
    return float(fiducials.t_amplitude_mv)


def measure_t_amplitude_ii(context: MeasureContext) -> Measured:
    """Signed T peak amplitude vs the PR isoelectric level in lead II (mV)."""
    return _t_amplitude(context, "II")


def measure_t_amplitude_v5(context: MeasureContext) -> Measured:
    """Signed T peak amplitude vs the PR isoelectric level in lead V5 (mV)."""
    return _t_amplitude(context, "V5")


def principal_t_lead(context: MeasureContext) -> str | Unavailable:
    """The lead T shape is read on: II, else V5, else the lead with the largest T, provided its T
    is ≥ 0.1 mV with a T onset and T end."""
    blocked = _ready(context)
    if blocked is not None:
        return blocked
    assert context.delineation is not None
    complete = {
        name: abs(f.t_amplitude_mv or 0.0)
        for name, f in context.delineation.leads.items()
        if f.t_onset_s is not None and f.t_end_s is not None
    }
    for preferred in ("II", "V5"):
        if complete.get(preferred, 0.0) >= PRINCIPAL_T_MIN_MV:
            return preferred
    if complete and max(complete.values()) >= PRINCIPAL_T_MIN_MV:
        return max(complete, key=lambda name: complete[name])
    return Unavailable(f"no lead has a delineated T wave of at least {PRINCIPAL_T_MIN_MV} mV")


def _principal_t_wave(context: MeasureContext) -> tuple[np.ndarray, WaveFiducials] | Unavailable:
    """The principal lead's median-beat T wave (T onset → T end) vs its isoelectric level."""
    lead = principal_t_lead(context)
    if isinstance(lead, Unavailable):
        return lead
    assert context.beats is not None and context.delineation is not None
    fiducials = context.delineation.leads[lead]
    assert fiducials.t_onset_s is not None and fiducials.t_end_s is not None
    r_index = context.beats.pre_samples
    start = round(r_index + fiducials.t_onset_s * context.fs_hz)
    stop = round(r_index + fiducials.t_end_s * context.fs_hz) + 1
    median = context.beats.median_mv[context.lead_names.index(lead)]
    return median[max(start, 0) : stop] - fiducials.isoelectric_mv, fiducials


def measure_t_asymmetry(context: MeasureContext) -> Measured:
    """T asymmetry (:func:`models.ecg.morphology.t_asymmetry`) on the principal T lead."""
    wave = _principal_t_wave(context)
    if isinstance(wave, Unavailable):
        return wave
    try:
        return t_asymmetry(wave[0], context.fs_hz)
    except ValueError as error:
        return Unavailable(f"T wave cannot be shaped: {error}")


def measure_t_flatness(context: MeasureContext) -> Measured:
    """T flatness (:func:`models.ecg.morphology.t_flatness`) on the principal T lead."""
    wave = _principal_t_wave(context)
    if isinstance(wave, Unavailable):
        return wave
    try:
        return t_flatness(wave[0], context.fs_hz)
    except ValueError as error:
        return Unavailable(f"T wave cannot be shaped: {error}")


def beat_qt_ms(context: MeasureContext) -> np.ndarray | Unavailable:
    """Per detected beat, its QT (ms): the median-beat QT moved by the beat's T-wave lag;
    ``nan`` for beats outside the median beat."""
    qt = measure_qt(context)
    if isinstance(qt, Unavailable):
        return qt
    assert context.beats is not None and context.delineation is not None
    qt_ms = np.full(context.beats.n_beats, np.nan)
    used = context.beats.used
    qt_ms[used] = qt + context.delineation.t_shift_s[used] * 1000.0
    return qt_ms


def measure_qtc_variability(context: MeasureContext) -> Measured:
    """SD (ddof = 1) of per-beat QTc (Fridericia, preceding RR) over the median's beats (ms)."""
    per_beat = beat_qt_ms(context)
    if isinstance(per_beat, Unavailable):
        return per_beat
    assert context.beats is not None
    rr_before_s = np.diff(context.beats.r_samples) / context.fs_hz
    qtc = per_beat[1:] / np.cbrt(rr_before_s)
    qtc = qtc[np.isfinite(qtc)]
    if qtc.size < 3:
        return Unavailable(f"only {qtc.size} beats with a QT and a preceding RR (at least 3 needed)")
    return float(np.std(qtc, ddof=1))


def _notched(wave_mv: np.ndarray, fs_hz: float) -> bool:
    """≥ 2 local maxima of the oriented T wave (16 ms smoothing), each ≥ 30 % of its peak and
    standing out by ≥ max(0.01 mV, 3 % of the peak)."""
    import scipy.signal

    oriented = wave_mv if abs(wave_mv.max()) >= abs(wave_mv.min()) else -wave_mv
    smooth = moving_average(oriented, 0.016 * fs_hz)
    peak = float(smooth.max())
    maxima, _ = scipy.signal.find_peaks(
        smooth, height=0.3 * peak, prominence=max(0.01, 0.03 * peak)
    )
    return maxima.size >= 2


def measure_t_notched(context: MeasureContext) -> Measured:
    """1 when the T wave has ≥ 2 local maxima in ≥ 3 of the leads with a T ≥ 0.05 mV."""
    blocked = _ready(context)
    if blocked is not None:
        return blocked
    assert context.beats is not None and context.delineation is not None
    r_index = context.beats.pre_samples
    eligible = notched = 0
    for name, fiducials in context.delineation.leads.items():
        if fiducials.t_onset_s is None or fiducials.t_end_s is None:
            continue
        if abs(fiducials.t_amplitude_mv or 0.0) < NOTCH_MIN_T_MV:
            continue
        start = round(r_index + fiducials.t_onset_s * context.fs_hz)
        stop = round(r_index + fiducials.t_end_s * context.fs_hz) + 1
        wave = context.beats.median_mv[context.lead_names.index(name)][max(start, 0) : stop]
        eligible += 1
        notched += _notched(wave - fiducials.isoelectric_mv, context.fs_hz)
    if notched >= NOTCH_MIN_LEADS:
        return 1.0
    if eligible < NOTCH_MIN_LEADS:
        return Unavailable(
            f"only {eligible} lead(s) with a delineated T wave of at least {NOTCH_MIN_T_MV} mV "
            f"(notching needs {NOTCH_MIN_LEADS})"
        )
    return 0.0


def measure_t_inverted(context: MeasureContext) -> Measured:
    """1 when the T amplitude is below −0.05 mV in II or V5 (needs both unless one is inverted)."""
    amplitudes = {lead: _t_amplitude(context, lead) for lead in ("II", "V5")}
    known = {lead: value for lead, value in amplitudes.items() if not isinstance(value, Unavailable)}
    if any(value < T_INVERTED_MV for value in known.values()):
        return 1.0
    missing = [f"{lead}: {value.reason}" for lead, value in amplitudes.items() if isinstance(value, Unavailable)]
    if missing:
        return Unavailable("needs T amplitude in II and V5 — " + "; ".join(missing))
    return 0.0


def _t_timing(context: MeasureContext) -> tuple[float, float] | Unavailable:
    """ST duration (global J point → T onset) and T duration (T onset → T end) on the principal
    T lead, both in ms."""
    wave = _principal_t_wave(context)
    if isinstance(wave, Unavailable):
        return wave
    fiducials = wave[1]
    assert context.delineation is not None
    j_point = context.delineation.global_fiducials.qrs_offset_s
    assert j_point is not None and fiducials.t_onset_s is not None and fiducials.t_end_s is not None
    return _ms(fiducials.t_onset_s - j_point), _ms(fiducials.t_end_s - fiducials.t_onset_s)


def measure_t_late_onset(context: MeasureContext) -> Measured:
    """1 when J point → T onset ≥ 160 ms and T onset → T end < 240 ms (LQT3 pattern)."""
    timing = _t_timing(context)
    if isinstance(timing, Unavailable):
        return timing
    st_ms, t_ms = timing
    return float(st_ms >= LATE_ONSET_ST_MS and t_ms < BROAD_T_MS)


def measure_t_broad_based(context: MeasureContext) -> Measured:
    """1 when T onset → T end ≥ 240 ms on the principal T lead (LQT1 pattern)."""
    timing = _t_timing(context)
    if isinstance(timing, Unavailable):
        return timing
    return float(timing[1] >= BROAD_T_MS)


def measure_u_wave(context: MeasureContext) -> Measured:
    """1 when, in some lead, a separate wave of ≥ 0.05 mV height and prominence (40 ms smoothing)
    lies between 40 ms after T end (the later of the lead's and the global one) and 20 ms before
    the next P wave."""
    import scipy.signal

    blocked = _ready(context)
    if blocked is not None:
        return blocked
    assert context.beats is not None and context.delineation is not None
    beats, fiducials = context.beats, context.delineation.global_fiducials
    if fiducials.t_end_s is None:
        return Unavailable("T-wave end not found, so the segment after it is unknown")
    fs = context.fs_hz
    next_wave_s = fiducials.p_onset_s if fiducials.p_onset_s is not None else fiducials.qrs_onset_s
    next_p_s = beats.rr_ms / 1000.0 + (next_wave_s or 0.0)
    stop = min(int(beats.pre_samples + (next_p_s - 0.02) * fs), beats.median_mv.shape[-1])
    searched = False
    for name, lead in context.delineation.leads.items():
        t_end_s = max(fiducials.t_end_s, lead.t_end_s or fiducials.t_end_s)
        start = int(beats.pre_samples + (t_end_s + 0.04) * fs)
        if stop - start < int(0.08 * fs):
            continue
        searched = True
        segment = beats.median_mv[context.lead_names.index(name)] - lead.isoelectric_mv
        smooth = moving_average(segment, 0.04 * fs)
        for oriented in (smooth[start:stop], -smooth[start:stop]):
            if scipy.signal.find_peaks(oriented, height=U_WAVE_MV, prominence=U_WAVE_MV)[0].size:
                return 1.0
    if not searched:
        return Unavailable("no room between T end and the next P wave to look for a U wave")
    return 0.0


def measure_t_alternans(context: MeasureContext) -> Measured:
    """1 when |mean T amplitude of even beats − odd beats| ≥ 0.05 mV in the lead with the largest
    T, with the alternation sustained (≥ 75 % of successive differences alternate in sign)."""
    blocked = _ready(context)
    if blocked is not None:
        return blocked
    assert context.beats is not None and context.delineation is not None
    beats, delineation = context.beats, context.delineation
    with_t = {n: f for n, f in delineation.leads.items() if f.t_peak_s is not None and f.t_amplitude_mv}
    if not with_t:
        return Unavailable("no lead with a T wave")
    name = max(with_t, key=lambda n: abs(with_t[n].t_amplitude_mv or 0.0))
    lead = with_t[name]
    assert lead.t_peak_s is not None
    windowed = np.flatnonzero(beats.windowed)
    chosen = beats.used[windowed]
    if chosen.sum() < ALTERNANS_MIN_BEATS:
        return Unavailable(f"only {int(chosen.sum())} beats (at least {ALTERNANS_MIN_BEATS} needed)")
    fs = context.fs_hz
    row = context.lead_names.index(name)
    qrs_on = int(beats.pre_samples + (delineation.global_fiducials.qrs_onset_s or 0.0) * fs)
    amplitudes = []
    for window, index in zip(beats.windows_mv[chosen], windowed[chosen]):
        smooth = moving_average(window[row], 0.02 * fs)
        shift = delineation.t_shift_s[index]
        at = round(beats.pre_samples + (lead.t_peak_s + (0.0 if np.isnan(shift) else shift)) * fs)
        isoelectric = float(np.median(window[row][max(qrs_on - int(0.02 * fs), 0) : max(qrs_on - int(0.004 * fs), 1)]))
        amplitudes.append(smooth[min(at, smooth.size - 1)] - isoelectric)
    values = np.asarray(amplitudes)
    difference = abs(values[0::2].mean() - values[1::2].mean())
    steps = np.sign(np.diff(values))
    alternating = np.mean(steps[1:] * steps[:-1] < 0) if steps.size >= 2 else 0.0
    return float(difference >= ALTERNANS_MV and alternating >= 0.75)
