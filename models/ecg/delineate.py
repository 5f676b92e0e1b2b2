"""Wave boundaries on median beats: P, QRS and T onsets, peaks and offsets per lead and globally.

NeuroKit2 finds the beats (:mod:`models.ecg.beats`); the boundaries are QTLens' own, measured on
the median beat of each lead, where averaging has already removed most of the noise. Defaults
were calibrated on the LUDB and QTDB development records (see ``qtlens validate-delineation``).

* **Global QRS onset/offset** on the *spatial velocity* ``SV(t) = √Σ_leads (dx/dt)²`` of the
  usable leads (4 ms smoothing). The QRS core is where SV exceeds 20 % of its range (20th
  percentile → maximum); the onset is the *knee* where SV takes off in the 60 ms before the
  core — the point of its cumulative sum farthest below the chord, a threshold-free rule — and
  the offset the knee where it dies out in the 80 ms after. Multi-lead boundaries are the
  standard of the CSE study (Willems JL et al., Circulation 72:1087, 1985): on SV the take-off
  of the first lead to depolarise is the global (earliest) onset. In a paced record the
  stimuli were bridged before filtering (:mod:`models.ecg.pacing`) and the onset is sought no
  earlier than the end of that bridge.
* **Per-lead QRS onset/offset**: the same knee rule on the lead's own ``|dx/dt|`` (core at 10 %
  of its maximum), kept inside the global QRS.
* **Isoelectric level** per lead: median of the 16 ms of PR segment ending 4 ms before the
  global QRS onset; amplitudes are measured from it.
* **T peak**: on the lead smoothed over 40 ms (then placed on 16 ms smoothing), the largest deviation from the straight line
  joining the ends of the search window (J + 40 ms → R + ``min(0.7 RR, 0.75 s)``), so that an
  elevated or depressed ST segment is not taken for the T wave. An earlier hump at least 40 %
  as tall and separated by a dip below its half height is the T wave and the taller one a U wave.
  A later lobe of opposite sign (relative to the isoelectric level) at least 30 % as large
  ends a biphasic T.
  A T wave is delineated when its deviation is at least 0.02 mV and at least 8 × the median
  beat's noise in the T window (SD of the residual of the 40 ms smoothing): a signal-to-noise
  rule like the P wave's, so a low but clean T wave gets a T end (LUDB's cardiologists mark
  T ends on waves under 0.03 mV) while a flat, noisy one is declined.
* **T end** (``t_end_method="tangent"``, default): the tangent at the steepest point of the
  terminal limb (found on the 40 ms smoothing, drawn on the 16 ms one) meets the isoelectric
  baseline (Postema PG, Wilde AAM. The measurement of the QT interval. Curr Cardiol Rev 10:287,
  2014): by default the PR-segment isoelectric level (``t_end_baseline="pr"``); ``"tp"`` uses the
  level at which the limb levels off (the TP segment after the T wave), which sits above the PR
  level on long or T–U-fused waves and ends the T wave earlier than the cardiologists mark it
  (LUDB tuning part). The limb runs
  from the peak until the wave has come half-way down and stops falling. ``"trapezium"``: the
  point maximising the trapezium area between the steepest point and a point 250 ms later
  (Vázquez-Seisdedos CR et al., BioMed Eng OnLine 10:15, 2011).
* **T onset**: the tangent at the steepest point of the initial T limb meets the isoelectric level.
* **P wave**: the largest deviation (20 ms smoothing) from the chord across its search window
  (300 ms, at most 0.45 RR, before the QRS onset up to 10 ms before it) that is a true local
  extremum, kept when ≥ 0.03 mV and ≥ 4 × the median-beat noise; onset and offset are the knees
  of its absolute deviation within 120 ms of the peak. The window opens no earlier than the
  previous beat's T end: the lower quartile over the leads of each lead's T end found before any
  P wave is known (the T window then closed by the RR interval alone), one RR earlier. At fast
  rates (≈ 100 bpm and above) the window would otherwise reach back into the previous T wave,
  whose falling tail, against the chord, looks like a P wave: the P onset came 60–120 ms early
  (a PR of 210–270 ms, a first-degree AV block PTB-XL's cardiologists did not state) and, as the
  next P onset closes the T window, cut the T wave before its end, so no QT was measured (clean
  synthetic ECGs at 95–105 bpm with a regular rhythm: QT within 10 ms of the truth on 40 of 54
  records before, 53 after). The lower quartile, because a lead whose T wave runs into the P wave
  ends late.
* **Global P onset/offset** (for PR): the earliest lead P onset and the latest lead P offset,
  each capped at 30 ms beyond the third-earliest onset (third-latest offset) when at least three
  leads have a P wave — the outlier control of the global T end below, so that one lead taking a
  wiggle of the TP segment for its P onset cannot lengthen the PR. Of the 303 PTB-XL train and
  tune records with a PR, 56 measured PR ≥ 200 ms where their cardiologists stated a first-degree
  AV block on 7; with the P window above 51, with this cap too 37, the 7 kept.
* **Global T end** (for the global QT, CSE definition: earliest QRS onset → latest T end over
  the leads): each lead's tangent meets the PR-segment isoelectric level (``t_end_iso_s``, the
  lead's T end itself with the default baseline); the latest of these among the leads where a
  T end was found, after dropping a later group of leads ending more than 80 ms after the others
  when it holds fewer leads than they do (T–U fusion: the T wave ends at nearly the same instant
  in every lead, so such a minority followed a U wave that is the taller wave in those leads),
  then capped at 30 ms after the third-latest lead T end (outlier control: one or two late,
  noisy or mis-delineated leads extend it by at most 30 ms). The cap is a continuous rule: a
  lead T end that moves by 1 ms moves the global T end by at most 1 ms (dropping a latest T end
  more than 30 ms after the next, the rule it replaced, jumped by 30–100 ms whenever a gap
  crossed 30 ms: :mod:`models.ecg.repeatability`). Its *support* is the number of leads whose
  T end lies within 30 ms of it; a global T end resting on ≤ 2 leads is low-confidence, and so
  is one that leaves an earlier group of ≥ 3 leads ending more than 80 ms before it
  (``t_end_split``: the later group is not a minority, so the U-wave rule did not drop it).
* **Global T peak** (for J-Tpeak, Tpeak-Tend): the T peak of the vector magnitude of the Kors
  XYZ leads (Kors JA et al., Eur Heart J 11:1083, 1990) when I, II and V1-V6 are usable, else of
  the root-mean-square of the usable leads: its most prominent hump in the T window, not merely
  its largest value there (which, after a wide QRS or with ST deviation above a low T wave, can
  be the window's first sample on a curve still falling; PTB-XL train and tune records).
* **Per beat**: every beat in the median beat gets the median's fiducials placed on its own R;
  its T peak and T end also move by the lag (± 40 ms) that best matches its T wave to the median
  T wave, so beat-to-beat repolarisation changes (QTc variability) are tracked. A beat left out
  of the median beat (premature or of another QRS shape: an ectopic beat) is delineated on its
  own window by the same rules (:func:`delineate_alone`), from QRS onset to T end: its P wave,
  when it has one, is often hidden in the T wave before it, so none is marked. These marks are
  drawn on the record; no concept is measured from them.

All median-beat times are in seconds relative to the beat's R fiducial.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import scipy.signal
from numpy.lib.stride_tricks import sliding_window_view

from models.ecg.beats import Beats
from models.ecg.smoothing import moving_average

TEndMethod = Literal["tangent", "trapezium"]
TEndBaseline = Literal["tp", "pr"]
#: Times closer than this are one instant (s): the capping lead, ``reach`` before a capped global
#: T end, supports it whatever the rounding of ``value + reach``.
_SAME_INSTANT_S = 1e-9

#: Kors regression matrix: rows X, Y, Z; columns I, II, V1…V6 (Kors JA et al. 1990).
KORS_LEADS: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
KORS_MATRIX = np.array(
    [
        [0.38, -0.07, -0.13, 0.05, -0.01, 0.14, 0.06, 0.54],
        [-0.07, 0.93, 0.06, -0.02, -0.05, 0.06, -0.17, 0.13],
        [0.11, -0.23, -0.43, -0.06, -0.14, -0.20, -0.11, 0.31],
    ]
)


@dataclass(frozen=True)
class DelineationConfig:
    """Delineator settings (defaults calibrated on the LUDB/QTDB development records).

    Attributes:
        t_end_method: ``"tangent"`` (default) or ``"trapezium"``.
        t_end_baseline: level the tangent meets: ``"tp"`` (where the T limb levels off) or
            ``"pr"`` (PR-segment isoelectric level).
        qrs_smooth_s, t_smooth_s, p_smooth_s: moving-average widths (s).
        t_peak_smooth_s: lighter smoothing on which the T peak is placed (s).
        qrs_core_fraction: SV level (fraction of its range) that marks the QRS core.
        qrs_onset_search_s, qrs_offset_search_s: how far before/after the core the knee is sought.
        lead_qrs_core_fraction: per-lead |slope| level marking the lead's QRS core.
        lead_qrs_margin_s: the per-lead knee search starts this far outside the global QRS.
        min_t_amplitude_mv: smaller T waves are not delineated in a lead (mV).
        min_t_snr: nor are T waves smaller than this multiple of the median beat's noise in the
            T window (the residual of the 40 ms smoothing, SD in mV).
        min_biphasic_lobe_mv: a later opposite lobe must also be at least this large (mV).
        min_p_amplitude_mv: smaller P waves count as absent.
        p_reach_s: P onset/offset are sought this far from the P peak.
        previous_t_end_quantile: the P window opens no earlier than this quantile over the leads
            of the previous beat's lead T ends.
        global_p_outlier_s: the global P onset (offset) lies at most this much before (after)
            the lead P onset (offset) of rank ``global_p_cap_rank`` (s).
        global_p_cap_rank: the rank (earliest onset / latest offset = 1) of the capping lead.
        biphasic_fraction: a later opposite lobe this large (relative) ends a biphasic T.
        u_wave_fraction: an earlier distinct hump this large (relative) is the T before a U.
        limb_fraction: the terminal T limb must fall below this fraction of the peak to end.
        global_t_end_outlier_s: the global T end lies at most this much after the lead T end
            of rank ``global_t_end_cap_rank``; leads within it support the global T end (s).
        global_t_end_cap_rank: the rank (latest = 1) of the lead T end that caps the global one.
        u_wave_group_gap_s: a minority of leads whose T ends all lie this much after the others'
            ended on a fused U wave and do not vote for the global T end (s).
        t_tangent_reach_s: the tangent point is the steepest point of the lightly smoothed
            (``t_peak_smooth_s``) terminal limb within this reach of the heavily smoothed one (s).
        beat_t_shift_s: largest per-beat T-wave lag against the median T wave (s).
        unlevelled_t_end_reach_s: a lead whose T limb never levels off before its window's
            end keeps the tangent's crossing as its T end when that lies within this reach of
            the global T end (s; ``None``: such a lead has no T end).
    """

    t_end_method: TEndMethod = "tangent"
    t_end_baseline: TEndBaseline = "pr"
    qrs_smooth_s: float = 0.004
    t_smooth_s: float = 0.040
    t_peak_smooth_s: float = 0.016
    p_smooth_s: float = 0.020
    qrs_core_fraction: float = 0.2
    qrs_onset_search_s: float = 0.06
    qrs_offset_search_s: float = 0.08
    lead_qrs_core_fraction: float = 0.1
    lead_qrs_margin_s: float = 0.02
    min_t_amplitude_mv: float = 0.02
    min_t_snr: float = 8.0
    min_biphasic_lobe_mv: float = 0.03
    min_p_amplitude_mv: float = 0.03
    p_reach_s: float = 0.12
    previous_t_end_quantile: float = 0.25
    global_p_outlier_s: float = 0.030
    global_p_cap_rank: int = 3
    biphasic_fraction: float = 0.3
    u_wave_fraction: float = 0.4
    limb_fraction: float = 0.5
    global_t_end_outlier_s: float = 0.030
    global_t_end_cap_rank: int = 3
    u_wave_group_gap_s: float = 0.080
    t_tangent_reach_s: float = 0.020
    beat_t_shift_s: float = 0.040
    unlevelled_t_end_reach_s: float | None = 0.060


@dataclass(frozen=True)
class WaveFiducials:
    """Fiducials of one median beat (seconds relative to R; ``None`` = not found).

    ``t_amplitude_mv``/``p_amplitude_mv`` are signed (negative for an inverted wave) and
    measured from ``isoelectric_mv``. ``t_end_iso_s`` is where the same tangent meets the
    PR-segment isoelectric level: the lead's vote for the global T end. ``t_end_unlevelled``:
    the T limb never levelled off before the T window's end, so ``t_end_s`` (when set) is the
    tangent's crossing kept because it lies near the global T end, and the lead has no vote.
    """

    p_onset_s: float | None = None
    p_peak_s: float | None = None
    p_offset_s: float | None = None
    qrs_onset_s: float | None = None
    qrs_offset_s: float | None = None
    t_onset_s: float | None = None
    t_peak_s: float | None = None
    t_end_s: float | None = None
    t_end_iso_s: float | None = None
    isoelectric_mv: float = 0.0
    t_amplitude_mv: float | None = None
    p_amplitude_mv: float | None = None
    t_end_unlevelled: bool = False


@dataclass(frozen=True)
class Delineation:
    """Fiducials of the median beats of a record.

    Attributes:
        leads: per usable lead name, the median-beat fiducials.
        global_fiducials: QRS onset/offset across leads, global T peak and T end, earliest P
            onset / latest P offset across leads.
        t_end_lead: the lead whose T end is nearest the global T end (``None`` when no T end).
        t_end_support: leads whose T end lies within ``global_t_end_outlier_s`` of the global
            T end (0 when none).
        t_shift_s: per detected beat, its T-wave lag against the median T wave (s; ``nan`` for
            beats outside the median beat).
        global_curve_mv: the curve the global T peak was found on (Kors VM or RMS).
        t_end_split: the leads of an earlier group of T ends that the global T end did not
            follow (:func:`_t_end_split`; empty when the leads agree).
    """

    leads: dict[str, WaveFiducials]
    global_fiducials: WaveFiducials
    t_end_lead: str | None
    t_shift_s: np.ndarray = field(repr=False)
    global_curve_mv: np.ndarray = field(repr=False)
    t_end_support: int = 0
    t_end_split: tuple[str, ...] = ()


def delineate_beats(
    beats: Beats,
    lead_names: tuple[str, ...],
    usable: np.ndarray,
    config: DelineationConfig | None = None,
    qrs_from_s: float | None = None,
) -> Delineation:
    """Delineate the median beat of every usable lead, then the global and per-beat fiducials.

    Args:
        beats: median beats from :func:`models.ecg.beats.build_beats`.
        lead_names: canonical name of each row of ``beats.median_mv``.
        usable: per lead, whether it passed the lead checks and the SQI.
        config: delineator settings.
        qrs_from_s: in a paced record, the time from R (s) before which the QRS complex cannot
            start: the end of the bridged pacing stimulus (:mod:`models.ecg.pacing`).
    """
    config = config or DelineationConfig()
    fs = beats.fs_hz
    r_index = beats.pre_samples
    medians = beats.median_mv
    rr_s = beats.rr_ms / 1000.0 if np.isfinite(beats.rr_ms) else 1.0
    usable_rows = np.flatnonzero(usable)
    no_shift = np.full(beats.n_beats, np.nan)
    if usable_rows.size == 0:
        return Delineation({}, WaveFiducials(), None, no_shift, np.zeros(medians.shape[-1]))

    slopes = np.vstack(
        [np.gradient(moving_average(medians[row], config.qrs_smooth_s * fs)) * fs for row in usable_rows]
    )
    spatial_velocity = np.sqrt(np.sum(slopes**2, axis=0))
    earliest = None if qrs_from_s is None else r_index + round(qrs_from_s * fs)
    global_on, global_off = _qrs_bounds(spatial_velocity, r_index, fs, config, earliest)

    isoelectric = {row: _isoelectric_level(medians[row], global_on, fs) for row in usable_rows}
    deviations = {row: medians[row] - isoelectric[row] for row in usable_rows}
    # Each lead's T wave before any P wave is known (its window closed by the RR interval alone):
    # where the previous beat's T wave ended, and the lead's T wave itself unless the next P
    # onset closes its window earlier.
    unlimited = {row: _t_wave(deviation, r_index, fs, rr_s, global_off, None, config)
                 for row, deviation in deviations.items()}
    previous_t_end = _previous_t_end([None if wave[5] else wave[2] for wave in unlimited.values()],
                                     rr_s, fs, config)
    p_waves = {
        row: _p_wave(deviation, fs, rr_s, global_on, config, previous_t_end)
        for row, deviation in deviations.items()
    }
    # The T wave cannot last into the next beat's P wave (its onset: the median over the leads, as
    # a lead can take the tail of a long T wave before it for a P wave).
    p_onsets = [wave[0] for wave in p_waves.values() if wave[0] is not None]
    has_p = len(p_onsets) >= max(1, len(usable_rows) // 3)
    t_limit = r_index + rr_s * fs + (float(np.median(p_onsets)) - r_index) if has_p else None
    size = medians.shape[-1]
    closed_by_p = (_t_window(r_index, fs, rr_s, global_off, t_limit, size)
                   != _t_window(r_index, fs, rr_s, global_off, None, size))

    leads: dict[str, WaveFiducials] = {}
    for row, slope in zip(usable_rows, slopes):
        on, off = _lead_qrs_bounds(np.abs(slope), global_on, global_off, fs, config)
        t_wave = (_t_wave(deviations[row], r_index, fs, rr_s, global_off, t_limit, config)
                  if closed_by_p else unlimited[row])
        leads[lead_names[row]] = _lead_fiducials(
            r_index, fs, isoelectric[row], (on, off), p_waves[row], t_wave
        )

    global_curve = _global_curve(medians, lead_names, usable)
    global_fiducials, t_end_lead, support = _global_fiducials(
        leads, global_curve, r_index, fs, rr_s, global_on, global_off, config
    )
    leads = _unlevelled_checked(leads, global_fiducials.t_end_s, config)
    shifts = _t_shifts(beats, lead_names, leads, global_fiducials, config)
    return Delineation(leads, global_fiducials, t_end_lead, shifts, global_curve, support,
                       _t_end_split(leads, config))


def delineate_alone(
    beats: Beats,
    lead_names: tuple[str, ...],
    usable: np.ndarray,
    config: DelineationConfig | None = None,
) -> dict[int, Delineation]:
    """Delineate every beat left out of the median beat whose window lies inside the record, each
    on its own window as if it were a median beat of one beat (the noise rules then judge that
    single beat), without its P wave.

    Returns:
        Beat index (into ``beats.r_samples``) → its delineation; fiducials in s from its R.
    """
    alone: dict[int, Delineation] = {}
    windowed = np.flatnonzero(beats.windowed)
    for position, index in enumerate(windowed):
        if beats.used[index]:
            continue
        window = beats.windows_mv[position]
        single = replace(beats, r_samples=beats.r_samples[index : index + 1],
                         windowed=np.ones(1, dtype=bool), used=np.ones(1, dtype=bool),
                         windows_mv=window[np.newaxis], median_mv=window)
        found = delineate_beats(single, lead_names, usable, config)
        alone[int(index)] = replace(
            found, leads={name: _without_p(f) for name, f in found.leads.items()},
            global_fiducials=_without_p(found.global_fiducials))
    return alone


def _without_p(fiducials: WaveFiducials) -> WaveFiducials:
    """``fiducials`` without the P wave's marks."""
    return replace(fiducials, p_onset_s=None, p_peak_s=None, p_offset_s=None, p_amplitude_mv=None)


def _seconds(index: float | None, r_index: int, fs: float) -> float | None:
    return None if index is None else float((index - r_index) / fs)


def _take_off(segment: np.ndarray) -> int:
    """Index where a non-negative curve takes off: the point of its cumulative sum farthest
    below the chord joining its first and last points (the knee; threshold-free)."""
    cumulative = np.cumsum(segment)
    if cumulative.size < 3:
        return 0
    x = np.arange(cumulative.size)
    chord = cumulative[0] + (cumulative[-1] - cumulative[0]) * x / x[-1]
    return int(np.argmax(chord - cumulative))


def _qrs_bounds(velocity: np.ndarray, r_index: int, fs: float, config: DelineationConfig,
                earliest: int | None = None) -> tuple[float, float]:
    """Global QRS onset and offset (sample indices) on the spatial velocity, the onset no
    earlier than sample ``earliest`` (a paced beat: the end of its stimulus)."""
    lo = max(0, r_index - int(0.15 * fs), earliest or 0)
    hi = min(velocity.size - 1, r_index + int(0.18 * fs))
    floor = float(np.percentile(velocity, 20))
    search = velocity[lo : hi + 1]
    core = np.flatnonzero(search >= floor + config.qrs_core_fraction * (search.max() - floor))
    first, last = lo + int(core[0]), lo + int(core[-1])
    before = max(earliest or 0, first - int(config.qrs_onset_search_s * fs))
    after = min(velocity.size - 1, last + int(config.qrs_offset_search_s * fs))
    onset = before + _take_off(velocity[before : first + 1])
    offset = after - _take_off(velocity[last : after + 1][::-1])
    return float(onset), float(offset)


def _lead_qrs_bounds(
    slope_magnitude: np.ndarray, global_on: float, global_off: float, fs: float, config: DelineationConfig
) -> tuple[float, float]:
    """One lead's QRS onset and offset (sample indices), kept inside the global QRS."""
    lo, hi = int(global_on), int(global_off)
    segment = slope_magnitude[lo : hi + 1]
    if segment.size < 3 or segment.max() <= 0:
        return global_on, global_off
    core = np.flatnonzero(segment >= config.lead_qrs_core_fraction * segment.max())
    first, last = lo + int(core[0]), lo + int(core[-1])
    margin = int(config.lead_qrs_margin_s * fs)
    before, after = max(0, lo - margin), min(slope_magnitude.size - 1, hi + margin)
    onset = before + _take_off(slope_magnitude[before : first + 1])
    offset = after - _take_off(slope_magnitude[last : after + 1][::-1])
    return float(max(onset, global_on)), float(min(offset, global_off))


def _isoelectric_level(median: np.ndarray, qrs_onset: float, fs: float) -> float:
    """Median of the 16 ms of PR segment ending 4 ms before the QRS onset (mV)."""
    end = int(qrs_onset - 0.004 * fs)
    start = max(0, end - int(0.016 * fs))
    return float(np.median(median[start : max(end, start + 1)]))


def _lead_fiducials(
    r_index: int,
    fs: float,
    isoelectric: float,
    qrs: tuple[float, float],
    p_wave: tuple[float | None, float | None, float | None, float | None],
    t_wave: tuple[float | None, float | None, float | None, float | None, float | None, bool],
) -> WaveFiducials:
    """One lead's fiducials in seconds relative to R from sample indices."""
    return WaveFiducials(
        p_onset_s=_seconds(p_wave[0], r_index, fs),
        p_peak_s=_seconds(p_wave[1], r_index, fs),
        p_offset_s=_seconds(p_wave[2], r_index, fs),
        qrs_onset_s=_seconds(qrs[0], r_index, fs),
        qrs_offset_s=_seconds(qrs[1], r_index, fs),
        t_onset_s=_seconds(t_wave[0], r_index, fs),
        t_peak_s=_seconds(t_wave[1], r_index, fs),
        t_end_s=_seconds(t_wave[2], r_index, fs),
        t_end_iso_s=_seconds(t_wave[4], r_index, fs),
        isoelectric_mv=isoelectric,
        t_amplitude_mv=t_wave[3],
        p_amplitude_mv=p_wave[3],
        t_end_unlevelled=t_wave[5],
    )


def _t_window(
    r_index: int, fs: float, rr_s: float, qrs_off: float, t_limit: float | None, size: int
) -> tuple[int, int]:
    """First and last sample of the T-wave search window (ending before the next P wave)."""
    start = int(max(qrs_off + 0.04 * fs, r_index + 0.08 * fs))
    end = int(min(r_index + min(0.7 * rr_s, 0.75) * fs, size - 1))
    if t_limit is not None:
        end = min(end, int(t_limit))
    return start, end


def _earlier_distinct_wave(values: np.ndarray, peak: int, fraction: float) -> int:
    """The T wave when the tallest hump of the window is a U wave (or the next P wave): an earlier
    hump of the same sign, at least ``fraction`` as tall and separated from it by a dip below its
    own half height (a separate wave, not a notch); otherwise ``peak``."""
    oriented = np.sign(values[peak]) * values
    candidates, _ = scipy.signal.find_peaks(oriented[:peak])
    for candidate in candidates:
        tall = oriented[candidate] >= fraction * oriented[peak]
        if tall and oriented[candidate:peak].min() < 0.5 * oriented[candidate]:
            return int(candidate)
    return peak


def _t_wave(
    deviation: np.ndarray,
    r_index: int,
    fs: float,
    rr_s: float,
    qrs_off: float,
    t_limit: float | None,
    config: DelineationConfig,
) -> tuple[float | None, float | None, float | None, float | None, float | None, bool]:
    """T onset, peak, end (sample indices), signed amplitude (mV), the end on the isoelectric
    level (samples) of one median beat and whether its limb never levelled off (:func:`_t_end`);
    a T wave too small to delineate keeps only its amplitude."""
    start, end = _t_window(r_index, fs, rr_s, qrs_off, t_limit, deviation.size)
    if end - start < int(0.05 * fs):
        return None, None, None, None, None, False
    smooth = moving_average(deviation, config.t_smooth_s * fs)
    window = smooth[start : end + 1]
    detrended = window - np.linspace(window[0], window[-1], window.size)
    highest, lowest = int(np.argmax(detrended)), int(np.argmin(detrended))
    peak = highest if detrended[highest] >= -detrended[lowest] else lowest
    peak = _earlier_distinct_wave(detrended, peak, config.u_wave_fraction)
    noise = float(np.std(deviation[start : end + 1] - window))
    if abs(detrended[peak]) < max(config.min_t_amplitude_mv, config.min_t_snr * noise):
        return None, None, None, float(window[peak]), None, False  # a flat T: amplitude only
    sign = float(np.sign(detrended[peak]))
    # The opposite extreme of the window ends a biphasic T when it comes after the peak and
    # crosses the isoelectric level.
    opposite = lowest if sign > 0 else highest
    terminal = peak
    if (
        opposite > peak
        and np.sign(window[opposite]) == -sign
        and abs(window[opposite]) >= max(config.biphasic_fraction * abs(window[peak]), config.min_biphasic_lobe_mv)
    ):
        terminal = opposite
    terminal_sign = sign if terminal == peak else -sign
    slope = np.gradient(smooth)  # mV per sample
    light = moving_average(deviation, config.t_peak_smooth_s * fs)
    t_end, t_end_iso, unlevelled = _t_end(smooth, slope, start + terminal, terminal_sign, end,
                                          fs, config, light)
    t_onset = _t_onset(smooth, slope, start, start + peak, sign)
    t_peak = _refine_peak(deviation, start + peak, sign, fs, config)
    return t_onset, float(t_peak), t_end, float(light[t_peak]), t_end_iso, unlevelled


def _refine_peak(values: np.ndarray, peak: int, sign: float, fs: float, config: DelineationConfig) -> int:
    """The extreme (sign ``sign``) of ``values`` lightly smoothed (``t_peak_smooth_s``) within
    30 ms of ``peak``: the 40 ms smoothing that makes the T wave robust to find also pulls its
    peak toward the slower limb."""
    light = moving_average(values, config.t_peak_smooth_s * fs)
    reach = int(0.02 * fs)
    lo, hi = max(0, peak - reach), min(values.size - 1, peak + reach)
    return lo + int(np.argmax(sign * light[lo : hi + 1]))


def _limb_end(smooth: np.ndarray, slope: np.ndarray, peak: int, end: int, sign: float, fraction: float) -> int:
    """Where the limb falling from the peak at ``peak`` (sign ``sign``) levels off: once the wave
    has fallen below ``fraction`` of the peak, the first point where it falls at less than 5 % of
    the steepest rate so far (or rises again); ``end`` when it never does. Wiggles on a flat top
    do not end the limb."""
    level = fraction * sign * smooth[peak]
    steepest = 0.0
    index = peak + 1
    while index < end:
        falling = -sign * slope[index]
        steepest = max(steepest, falling)
        if sign * smooth[index] <= level and falling <= 0.05 * steepest:
            break
        index += 1
    return index


def _steepest(slope: np.ndarray, start: int, end: int, direction: float) -> int | None:
    """Index of the steepest slope in ``direction`` (±1) within ``[start, end]``."""
    if end <= start:
        return None
    segment = direction * slope[start : end + 1]
    index = int(np.argmax(segment))
    return start + index if segment[index] > 0 else None


def _t_end(
    smooth: np.ndarray,
    slope: np.ndarray,
    peak: int,
    sign: float,
    end: int,
    fs: float,
    config: DelineationConfig,
    light: np.ndarray,
) -> tuple[float | None, float | None, bool]:
    """T end (sample index) after the terminal peak by the configured method, where the
    tangent meets the PR isoelectric level (the trapezium end for that method), and whether the
    limb never levelled off before ``end`` (then the T end is the tangent's crossing of the
    isoelectric level inside the window, and it is not a vote for the global T end: it is kept
    only near the global T end of the leads whose limb levelled off, see
    :func:`_unlevelled_checked`)."""
    limb_end = _limb_end(smooth, slope, peak, end, sign, config.limb_fraction)
    if limb_end >= end:
        # The wave never levels off before the next P wave (T-P fusion at fast rates, or a long
        # low T running into the window's end): its end cannot be told from this lead alone.
        if config.unlevelled_t_end_reach_s is None or config.t_end_method != "tangent":
            return None, None, True
        tangent = _tangent(smooth, slope, light, peak, end, sign, fs, config)
        crossing = None if tangent is None else _crossing(tangent, 0.0)
        return (crossing if crossing is not None and crossing <= end else None), None, True
    if config.t_end_method == "trapezium":
        steepest = _steepest(slope, peak, limb_end, -sign)
        if steepest is None:
            return None, None, False
        reference = min(end, steepest + int(0.25 * fs))
        candidates = np.arange(steepest, reference + 1)
        area = sign * (smooth[steepest] - smooth[candidates]) * (2 * reference - candidates - steepest)
        trapezium = float(candidates[int(np.argmax(area))])
        return trapezium, trapezium, False
    tangent = _tangent(smooth, slope, light, peak, limb_end, sign, fs, config)
    if tangent is None:
        return None, None, False
    crossings = []
    for level in (smooth[limb_end] if config.t_end_baseline == "tp" else 0.0, 0.0):
        crossing = _crossing(tangent, level)
        crossings.append(crossing if crossing is not None and crossing <= end + 0.1 * fs else None)
    return crossings[0], crossings[1], False


def _tangent(smooth: np.ndarray, slope: np.ndarray, light: np.ndarray, peak: int, limb_end: int,
             sign: float, fs: float, config: DelineationConfig) -> tuple[int, float, float] | None:
    """The tangent at the steepest point of the terminal limb (``peak`` → ``limb_end``, falling
    for ``sign`` +1): its sample, level (mV) and slope (mV per sample), or ``None`` without a
    steepest point. The steepest point is found on the heavily smoothed wave (robust) and the
    tangent drawn on the lightly smoothed one ``light``: the heavy smoothing also flattens the
    limb and would move the crossing late."""
    steepest = _steepest(slope, peak, limb_end, -sign)
    if steepest is None:
        return None
    light_slope = np.gradient(light)
    reach = int(config.t_tangent_reach_s * fs)
    refined = _steepest(light_slope, max(peak, steepest - reach), min(limb_end, steepest + reach), -sign)
    if refined is not None:
        return refined, float(light[refined]), float(light_slope[refined])
    return steepest, float(smooth[steepest]), float(slope[steepest])


def _crossing(tangent: tuple[int, float, float], level: float) -> float | None:
    """Where ``tangent`` (:func:`_tangent`) meets ``level`` (mV; sample index), ``None`` when
    not after its point."""
    point, level_at, slope_at = tangent
    crossing = point + (level - level_at) / slope_at
    return float(crossing) if crossing > point else None


def _t_onset(smooth: np.ndarray, slope: np.ndarray, start: int, peak: int, sign: float) -> float | None:
    """Where the tangent at the steepest point of the initial T limb meets the isoelectric level."""
    steepest = _steepest(slope, start, peak, sign)
    if steepest is None:
        return None
    crossing = steepest - smooth[steepest] / slope[steepest]
    return float(min(max(crossing, start), steepest))


def _previous_t_end(
    lead_t_ends: list[float | None], rr_s: float, fs: float, config: DelineationConfig
) -> float | None:
    """Where the previous beat's T wave ends (sample of the median beat; may be negative): the
    ``previous_t_end_quantile`` of the leads' T ends (samples; ``None`` where a lead has none),
    found with the T window closed by the RR interval alone, one RR earlier; ``None`` when no
    lead has a T end."""
    ends = [t_end for t_end in lead_t_ends if t_end is not None]
    if not ends:
        return None
    return float(np.quantile(ends, config.previous_t_end_quantile)) - rr_s * fs


def _p_wave(
    deviation: np.ndarray,
    fs: float,
    rr_s: float,
    qrs_on: float,
    config: DelineationConfig,
    previous_t_end: float | None = None,
) -> tuple[float | None, float | None, float | None, float | None]:
    """P onset, peak, offset (sample indices) and signed amplitude (mV) of one median beat, sought
    before the QRS onset ``qrs_on`` and after ``previous_t_end`` (the previous beat's T end) when
    given."""
    start = int(max(0, qrs_on - min(0.30, 0.45 * rr_s) * fs))
    if previous_t_end is not None:
        start = max(start, int(previous_t_end))
    end = int(qrs_on - 0.01 * fs)
    if end - start < int(0.06 * fs):
        return None, None, None, None
    smooth = moving_average(deviation, config.p_smooth_s * fs)
    window = smooth[start : end + 1]
    detrended = window - np.linspace(window[0], window[-1], window.size)
    magnitude = np.abs(detrended)
    peak = int(np.argmax(magnitude))
    noise = float(np.std(deviation[start : end + 1] - window))
    edge = int(0.01 * fs)
    large = magnitude[peak] >= max(config.min_p_amplitude_mv, 4.0 * noise)
    if not large or not edge <= peak < window.size - edge:
        return None, None, None, None
    reach = int(config.p_reach_s * fs)
    before, after = max(0, peak - reach), min(window.size - 1, peak + reach)
    onset = start + before + _take_off(magnitude[before : peak + 1])
    offset = start + after - _take_off(magnitude[peak : after + 1][::-1])
    return float(onset), float(start + peak), float(offset), float(window[peak])


def _global_curve(medians: np.ndarray, lead_names: tuple[str, ...], usable: np.ndarray) -> np.ndarray:
    """Kors vector magnitude when its eight leads are usable, else RMS of the usable leads."""
    index = {name: i for i, name in enumerate(lead_names)}
    centred = medians - np.median(medians, axis=-1, keepdims=True)
    if all(name in index and usable[index[name]] for name in KORS_LEADS):
        xyz = KORS_MATRIX @ centred[[index[name] for name in KORS_LEADS]]
        return np.sqrt(np.sum(xyz**2, axis=0))
    return np.sqrt(np.mean(centred[usable] ** 2, axis=0))


def _global_fiducials(
    leads: dict[str, WaveFiducials],
    curve: np.ndarray,
    r_index: int,
    fs: float,
    rr_s: float,
    global_on: float,
    global_off: float,
    config: DelineationConfig,
) -> tuple[WaveFiducials, str | None, int]:
    """Global QRS bounds, T peak (on ``curve``), T end (latest reliable lead, with its lead and
    support) and P bounds."""
    t_end, t_end_lead, support = _global_t_end(leads, config)
    start, end = _t_window(r_index, fs, rr_s, global_off, None, curve.size)
    if t_end is not None:
        end = min(end, int(r_index + t_end * fs))
    t_peak = None
    if end - start > int(0.02 * fs):
        smooth = moving_average(curve, config.t_smooth_s * fs)
        peak = _refine_peak(curve, start + _hump(smooth[start : end + 1]), 1.0, fs, config)
        t_peak = _seconds(min(max(peak, start), end), r_index, fs)
    with_p = [f for f in leads.values() if f.p_onset_s is not None]
    has_p = len(with_p) >= max(1, len(leads) // 3)
    t_onsets = [f.t_onset_s for f in leads.values() if f.t_onset_s is not None]
    fiducials = WaveFiducials(
        p_onset_s=_global_p_bound([f.p_onset_s for f in with_p], -1.0, config) if has_p else None,
        p_peak_s=float(np.median([f.p_peak_s for f in with_p])) if has_p else None,
        p_offset_s=_global_p_bound([f.p_offset_s for f in with_p], 1.0, config) if has_p else None,
        qrs_onset_s=_seconds(global_on, r_index, fs),
        qrs_offset_s=_seconds(global_off, r_index, fs),
        t_onset_s=float(np.median(t_onsets)) if t_onsets else None,
        t_peak_s=t_peak,
        t_end_s=t_end,
    )
    return fiducials, t_end_lead, support


def _hump(values: np.ndarray) -> int:
    """Index of the most prominent local maximum of ``values`` (its largest value when it has
    none). At the start of the T window the global curve may still be falling from a wide or
    slurred QRS, or carry an ST deviation larger than a low T wave; that slope is not the T
    wave's peak, though it may be the window's largest value."""
    peaks, found = scipy.signal.find_peaks(values, prominence=0.0)
    if peaks.size == 0:
        return int(np.argmax(values))
    return int(peaks[np.argmax(found["prominences"])])


def _global_t_end(leads: dict[str, WaveFiducials], config: DelineationConfig) -> tuple[float | None, str | None, int]:
    """The global T end (s from R): the latest lead T end after dropping a later minority group
    of leads (a U wave, see :func:`_without_u_wave_group`), capped at ``global_t_end_outlier_s``
    after the lead T end of rank ``global_t_end_cap_rank`` (the last one when fewer leads); the
    lead whose T end is nearest it; the leads within ``global_t_end_outlier_s`` of it."""
    ordered = _lead_t_ends(leads)
    if not ordered:
        return None, None, 0
    ordered = _without_u_wave_group(ordered, config.u_wave_group_gap_s)
    reach = config.global_t_end_outlier_s
    t_end = _capped([value for _, value in ordered], 1.0, reach, config.global_t_end_cap_rank)
    name = min(ordered, key=lambda item: abs(item[1] - t_end))[0]
    support = sum(1 for _, value in ordered if abs(value - t_end) <= reach + _SAME_INSTANT_S)
    return t_end, name, support


def _unlevelled_checked(leads: dict[str, WaveFiducials], global_t_end_s: float | None,
                        config: DelineationConfig) -> dict[str, WaveFiducials]:
    """``leads`` with the T end of each lead whose limb never levelled off kept only when it
    lies within ``unlevelled_t_end_reach_s`` of the global T end (s from R) that the other
    leads voted for; dropped otherwise, or when there is no global T end."""
    reach = config.unlevelled_t_end_reach_s

    def near(t_end_s: float | None) -> bool:
        return (t_end_s is not None and global_t_end_s is not None and reach is not None
                and abs(t_end_s - global_t_end_s) <= reach)

    return {name: f if not f.t_end_unlevelled or near(f.t_end_s) else replace(f, t_end_s=None)
            for name, f in leads.items()}


def _capped(ordered: list[float], direction: float, reach_s: float, rank: int) -> float:
    """The most extreme of ``ordered`` (sorted from its extreme: latest first for ``direction``
    +1, earliest first for −1), no more than ``reach_s`` beyond the value of rank ``rank`` (the
    last one when fewer): one or two outlying leads move it by at most ``reach_s``, and a lead
    that moves by 1 ms moves it by at most 1 ms."""
    bound = ordered[min(rank, len(ordered)) - 1] + direction * reach_s
    return min(ordered[0], bound) if direction > 0 else max(ordered[0], bound)


def _global_p_bound(values: list[float], direction: float, config: DelineationConfig) -> float:
    """The global P onset (``direction`` −1: the earliest lead P onset) or offset (+1: the
    latest lead P offset), s from R, capped at ``global_p_outlier_s`` beyond the lead value of
    rank ``global_p_cap_rank`` when at least that many leads have a P wave (with fewer, no lead
    can be told to be the outlier)."""
    ordered = sorted(values, key=lambda value: -direction * value)
    if len(ordered) < config.global_p_cap_rank:
        return ordered[0]
    return _capped(ordered, direction, config.global_p_outlier_s, config.global_p_cap_rank)


def _lead_t_ends(leads: dict[str, WaveFiducials]) -> list[tuple[str, float]]:
    """``(lead, T end on the isoelectric level)`` of every lead with a T end, latest first."""
    return sorted(
        ((name, f.t_end_iso_s) for name, f in leads.items() if f.t_end_iso_s is not None),
        key=lambda item: item[1],
        reverse=True,
    )


def _t_end_split(leads: dict[str, WaveFiducials], config: DelineationConfig) -> tuple[str, ...]:
    """The leads whose T ends form an earlier group, ending more than ``u_wave_group_gap_s``
    before the group the global T end follows (after a later minority was dropped as a U wave,
    :func:`_without_u_wave_group`). The heart's T wave ends at nearly the same instant in every
    lead; two groups that far apart, the later one not a minority, mean that many leads followed
    a later wave (a U wave, or the second lobe of a biphasic T) or that many ended early: which
    of them is the T end needs a look at the median beat. Empty when the leads agree."""
    gap = config.u_wave_group_gap_s
    ordered = _without_u_wave_group(_lead_t_ends(leads), gap)
    for index in range(len(ordered) - 1):
        if ordered[index][1] - ordered[index + 1][1] > gap:
            return tuple(name for name, _ in ordered[index + 1 :])
    return ()


def _without_u_wave_group(ordered: list[tuple[str, float]], gap_s: float) -> list[tuple[str, float]]:
    """Lead T ends (latest first) without a later group that ends more than ``gap_s`` after the
    rest and holds fewer leads than the rest: the heart's T wave ends at nearly the same instant
    in every lead, so a minority ending that much later has followed a U wave fused with the T
    wave (in the leads where the U wave is the taller one) rather than the T wave."""
    for index in range(len(ordered) - 1):
        later = index + 1
        if ordered[index][1] - ordered[later][1] > gap_s and later < len(ordered) - later:
            return ordered[later:]
    return ordered


def _t_shifts(
    beats: Beats,
    lead_names: tuple[str, ...],
    leads: dict[str, WaveFiducials],
    global_fiducials: WaveFiducials,
    config: DelineationConfig,
) -> np.ndarray:
    """Per beat, the lag (s) that best matches its T wave to the median T wave.

    The T wave is taken from 150 ms before to 50 ms after the global T end, in every lead whose
    T is at least ``min_t_amplitude_mv``, both smoothed like the delineator's T wave.
    """
    fs = beats.fs_hz
    shifts = np.full(beats.n_beats, np.nan)
    shifts[beats.windowed] = 0.0
    if global_fiducials.t_end_s is None or beats.windows_mv.shape[0] == 0:
        return shifts
    rows = [
        lead_names.index(name)
        for name, f in leads.items()
        if f.t_amplitude_mv is not None and abs(f.t_amplitude_mv) >= config.min_t_amplitude_mv
    ]
    max_lag = int(config.beat_t_shift_s * fs)
    lo = int(beats.pre_samples + (global_fiducials.t_end_s - 0.15) * fs)
    hi = int(beats.pre_samples + (global_fiducials.t_end_s + 0.05) * fs)
    if not rows or lo - max_lag < 0 or hi + max_lag >= beats.median_mv.shape[-1]:
        return shifts
    width = config.t_smooth_s * fs / 2
    template = np.vstack([moving_average(beats.median_mv[row], width)[lo:hi] for row in rows])
    template -= template.mean(axis=-1, keepdims=True)
    lags = np.arange(-max_lag, max_lag + 1)
    for index, window in zip(np.flatnonzero(beats.windowed), beats.windows_mv):
        smooth = np.vstack([moving_average(window[row], width) for row in rows])
        # Every lag at once: candidates[r, k] is lead r's T segment shifted by lags[k].
        candidates = sliding_window_view(smooth, hi - lo, axis=-1)[:, lo - max_lag : lo + max_lag + 1]
        centred = candidates - candidates.mean(axis=-1, keepdims=True)
        scores = np.einsum("rkw,rw->k", centred, template)
        shifts[index] = lags[int(np.argmax(scores))] / fs
    return shifts

