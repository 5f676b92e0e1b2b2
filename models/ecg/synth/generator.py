"""Plan, render and describe synthetic 12-lead ECGs (see the package docstring for definitions)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.concepts import REGISTRY, concept_names, rederive
from models.ecg.record import STANDARD_LEADS, Ecg
from models.ecg.synth.causal import CausalRiskModel
from models.ecg.synth.leads import (
    complete_twelve_leads,
    project_to_independent_leads,
    twelve_lead_projection,
)
from models.ecg.synth.noise import NoiseConfig, NoiseDraw, draw_noise, render_noise
from models.ecg.synth.params import SynthParams
from models.ecg.synth.waves import ComponentBuffer, TWaveShape, render_heart_vectors
from models.tasks import task_names

#: Per-beat and median-beat fiducials, in this order (columns of the fiducial arrays).
FIDUCIALS: tuple[str, ...] = ("p_onset", "qrs_onset", "qrs_offset", "t_onset", "t_peak", "t_end")

#: Fraction of the QRS duration spanned by the Q, R and S components (start, end).
_QRS_COMPONENT_SPANS: tuple[tuple[float, float], ...] = ((0.0, 0.35), (0.1, 0.8), (0.5, 1.0))
#: Fraction of the P duration spanned by the right- and left-atrial components.
_P_COMPONENT_SPANS: tuple[tuple[float, float], ...] = ((0.0, 0.6), (0.4, 1.0))
#: Nominal heart-vector directions (mV; Frank axes +X left, +Y feet, +Z back).
_P_DIRECTIONS = ((0.02, 0.12, -0.06), (0.12, 0.06, 0.05))
_QRS_DIRECTIONS = ((-0.12, -0.05, -0.15), (1.1, 0.75, 0.35), (-0.35, -0.25, 0.4))
_T_NOMINAL_DIRECTION = (0.3, 0.25, -0.15)
_U_DIRECTION = (0.05, 0.05, -0.12)
_SHORTCUT_DIRECTION = (0.1, -0.2, -0.5)

#: Smallest gap (ms) between a beat's T end (or U end) and the next P onset.
T_TO_P_MARGIN_MS = 40.0
#: A lead "shows" a wave when its peak there is at least this large (mV).
VISIBLE_MV = 0.05
#: Threshold values of the binary T-pattern concepts (registry ``how_measured``), in ms.
LATE_ONSET_ST_MS = 160.0
BROAD_BASED_T_MS = 240.0


@dataclass(frozen=True)
class ShortcutConfig:
    """A label-correlated artefact outside the concepts: a pacing-like spike before every QRS.

    The spike is present in a record with probability ``agreement`` when the record's ``task``
    label is 1 and ``1 − agreement`` when it is 0 (``agreement = 0.5``: uncorrelated; 1: the
    spike *is* the label). It starts ``lead_in_ms`` before each QRS onset, lasts
    ``max(1, round(width_ms · fs / 1000))`` samples and peaks at ``amplitude_mv`` in the lead
    where it is largest (anterior leads V1–V4 and aVR, as an anterior-pointing vector).
    """

    agreement: float = 0.9
    task: str = "lqts_risk"
    amplitude_mv: float = 0.5
    lead_in_ms: float = 30.0
    width_ms: float = 4.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.agreement <= 1.0:
            raise ValueError(f"agreement must lie in [0, 1], got {self.agreement}")
        if self.task not in task_names():
            raise ValueError(f"unknown task {self.task!r}; known: {', '.join(task_names())}")
        if not (0.0 < self.amplitude_mv <= 5.0 and 0.0 < self.width_ms <= 20.0):
            raise ValueError("amplitude_mv must lie in (0, 5] and width_ms in (0, 20]")


@dataclass(frozen=True)
class ShortcutTruth:
    """Where the shortcut artefact is.

    Attributes:
        present: whether the record carries the spike.
        spans: ``int64 [k, 2]`` sample ranges ``[start, stop)`` of every spike inside the record.
        leads: the leads where the spike's peak is ≥ 0.1 × its largest-lead peak.
    """

    present: bool
    spans: np.ndarray
    leads: tuple[str, ...]


@dataclass(frozen=True)
class GroundTruth:
    """The exact truth of one synthetic record.

    Attributes:
        params: the parameters it was generated from.
        concepts: every registry concept (registry units; binary as 0.0/1.0).
        probabilities: Bayes-optimal probability per task (:mod:`models.tasks` order).
        labels: Bernoulli label per task.
        fs_hz: sampling rate of the record.
        beat_fiducials_s: ``[n_beats, len(FIDUCIALS)]`` times (s from the first sample) of every
            beat whose QRS lies inside the record; P onset / T end may fall outside it.
        qt_beats: ``bool [n_beats]``: beats whose QT enters ``qt``/``qtc_variability`` (both
            neighbours' QRS inside the record).
        beat_qtc_ms: per-beat QTc (Fridericia) of the ``qt_beats``.
        median_fiducials_ms: ``[len(FIDUCIALS)]`` fiducials of the median beat, ms from its QRS
            onset.
        t_wave_amplitudes_mv: ``[12]`` T peak of the median beat per lead (STANDARD_LEADS order).
        shortcut: where the shortcut artefact is.
    """

    params: SynthParams
    concepts: dict[str, float]
    probabilities: dict[str, float]
    labels: dict[str, int]
    fs_hz: float
    beat_fiducials_s: np.ndarray
    qt_beats: np.ndarray
    beat_qtc_ms: np.ndarray
    median_fiducials_ms: np.ndarray
    t_wave_amplitudes_mv: np.ndarray
    shortcut: ShortcutTruth

    @property
    def beat_fiducials_samples(self) -> np.ndarray:
        """:attr:`beat_fiducials_s` as fractional sample positions (``seconds · fs_hz``)."""
        return self.beat_fiducials_s * self.fs_hz

    def concept_vector(self) -> np.ndarray:
        """The concepts as ``float32 [n_concepts]`` in registry order."""
        return np.array([self.concepts[name] for name in concept_names()], dtype=np.float32)


@dataclass(frozen=True)
class SyntheticEcg:
    """A generated record: the signal, its noise-free version and the ground truth."""

    ecg: Ecg
    clean_signal_mv: np.ndarray
    truth: GroundTruth


@dataclass(frozen=True)
class RecordPlan:
    """Everything drawn for one record before rendering: waves, noise draws and the truth."""

    components: ComponentBuffer
    noise: NoiseDraw | None
    truth: GroundTruth


def _rotation(angles_deg: Sequence[float]) -> np.ndarray:
    """``Rz @ Ry @ Rx`` for rotations (degrees) about X, Y and Z."""
    ax, ay, az = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _t_direction(
    lead_matrix: np.ndarray, nominal: np.ndarray, amplitude_ii_mv: float, amplitude_v5_mv: float
) -> np.ndarray:
    """The T direction closest to ``nominal`` whose II and V5 projections are the set amplitudes.

    Minimum-norm correction ``d = d0 + Aᵀ(AAᵀ)⁻¹(a − A d0)`` with ``A`` the II and V5 rows of
    ``lead_matrix`` (``[12, 3]``), so the amplitudes are met exactly (to float rounding).
    """
    a_matrix = lead_matrix[[STANDARD_LEADS.index("II"), STANDARD_LEADS.index("V5")]]
    target = np.array([amplitude_ii_mv, amplitude_v5_mv])
    correction = a_matrix.T @ np.linalg.solve(a_matrix @ a_matrix.T, target - a_matrix @ nominal)
    return nominal + correction


def _unit_peak_direction(lead_matrix: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """``direction`` scaled so that its largest lead amplitude (``lead_matrix @ d``) is 1 mV."""
    return direction / np.abs(lead_matrix @ direction).max()


def _beat_onsets_s(params: SynthParams, rng: np.random.Generator, duration_s: float) -> np.ndarray:
    """QRS onset times (s) of beats covering the record, with respiratory + random RR variation.

    ``RR_k = RR0 · (1 + clip(a·sin(2π f t_k + φ) + σ·ε_k, ±(a + 3σ)))`` with ``a`` the respiratory
    arrhythmia, ``f ~ U(0.15, 0.35)`` Hz, ``ε_k ~ N(0, 1)``; the first beat starts 1–2 RR before
    the record so that every sample is covered.
    """
    rr0_s = 60.0 / params.heart_rate_bpm
    amplitude = params.respiratory_arrhythmia
    sigma = params.rr_variability
    bound = amplitude + 3.0 * sigma
    resp_hz = rng.uniform(0.15, 0.35)
    resp_phase = rng.uniform(0.0, 2.0 * np.pi)
    first_s = -rng.uniform(1.0, 2.0) * rr0_s
    stop_s = duration_s + params.pr_ms / 1000.0 + rr0_s
    max_beats = math.ceil((stop_s - first_s) / (rr0_s * (1.0 - bound))) + 1
    epsilon = rng.standard_normal(max_beats)
    onsets = [first_s]
    for k in range(max_beats):
        if onsets[-1] >= stop_s:
            break
        deviation = amplitude * math.sin(2.0 * math.pi * resp_hz * onsets[-1] + resp_phase)
        deviation = min(max(deviation + sigma * epsilon[k], -bound), bound)
        onsets.append(onsets[-1] + rr0_s * (1.0 + deviation))
    return np.asarray(onsets)


def _centred_floored(
    raw_s: np.ndarray, chosen: np.ndarray, target_s: float, floor_s: float
) -> np.ndarray:
    """``max(raw + c, floor)`` with the shift ``c`` making its median over ``chosen`` the target.

    Without the floor ``c = target − median(raw[chosen])``. A floor can lift a middle value (the
    median of an even count averages two), so then ``c`` is found by bisection on the monotone
    median (to 1e-13 s). Requires ``floor_s ≤ target_s``.
    """

    def median_after(shift: float) -> float:
        return statistics.median(np.maximum(raw_s[chosen] + shift, floor_s).tolist())

    shift = target_s - statistics.median(raw_s[chosen].tolist())
    if median_after(shift) > target_s:
        low, high = shift - 1.0, shift  # median_after(low) ≤ target ≤ median_after(high)
        while high - low > 1e-13:
            middle = (low + high) / 2.0
            low, high = (middle, high) if median_after(middle) < target_s else (low, middle)
        shift = high
    return np.maximum(raw_s + shift, floor_s)


def plan_record(
    params: SynthParams,
    rng: np.random.Generator,
    *,
    fs_hz: float,
    n_samples: int,
    noise: NoiseConfig,
    risk_model: CausalRiskModel,
    shortcut: ShortcutConfig | None,
) -> RecordPlan:
    """Draw one record: beat times, per-beat QT, wave components, concepts, labels, noise.

    The random stream is consumed in a fixed order (beats, QT jitter, alternans phase, labels,
    shortcut, noise), so the concepts and labels of a seed do not depend on the noise settings.

    Raises:
        ValueError: when the parameters cannot make a valid record (T wave reaching into the
            next P wave, T onset before the J point, too few beats for the duration, a notch
            that does not show).
    """
    duration_s = n_samples / fs_hz
    last_t_s = (n_samples - 1) / fs_hz
    pr_s, qrs_s = params.pr_ms / 1000.0, params.qrs_ms / 1000.0
    tpte_s, upstroke_s = params.tpeak_tend_ms / 1000.0, params.t_upstroke_ms / 1000.0

    onsets = _beat_onsets_s(params, rng, duration_s)
    inside = np.flatnonzero((onsets >= 0.0) & (onsets + qrs_s <= last_t_s))
    if inside.size < 5:
        raise ValueError(
            f"{duration_s:g} s at {params.heart_rate_bpm:g} bpm holds {inside.size} complete "
            "QRS complexes; at least 5 are needed (lengthen the record)"
        )
    rr_ms = statistics.median(np.diff(onsets[inside]).tolist()) * 1000.0
    qt_s = params.qtc_ms / 1000.0 * (rr_ms / 1000.0) ** (1.0 / 3.0)

    # Per-beat QT: Fridericia-adapted to the preceding RR plus jitter, centred so that the median
    # over the QT beats is the median-beat QT exactly, and floored so that no beat's T starts
    # before its J point (a monotone floor below the median leaves the median unchanged).
    preceding_rr_s = np.diff(onsets, prepend=onsets[0] - 60.0 / params.heart_rate_bpm)
    jitter_s = np.clip(rng.standard_normal(onsets.size), -3.0, 3.0) * params.qt_jitter_ms / 1000.0
    raw_qt_s = params.qtc_ms / 1000.0 * preceding_rr_s ** (1.0 / 3.0) + jitter_s
    qt_beats = inside[1:-1]
    beat_qt_s = _centred_floored(raw_qt_s, qt_beats, qt_s, qrs_s + upstroke_s + tpte_s)
    beat_qtc_ms = beat_qt_s[qt_beats] / preceding_rr_s[qt_beats] ** (1.0 / 3.0) * 1000.0

    t_shape = TWaveShape(
        onset_s=qt_s - tpte_s - upstroke_s,
        peak_s=qt_s - tpte_s,
        end_s=qt_s,
        exponent=params.t_exponent,
        notch_depth=params.notch_depth,
    )
    st_ms = (t_shape.onset_s - qrs_s) * 1000.0
    if st_ms < 0.0:
        raise ValueError(
            f"T onset falls {-st_ms:.0f} ms before the J point: QT ({qt_s * 1000:.0f} ms) is "
            "shorter than QRS + T upstroke + Tpeak-Tend"
        )
    if params.notch_depth > 0.0 and t_shape.local_maxima() < 2:
        raise ValueError(f"notch_depth {params.notch_depth} is too shallow to notch this T wave")

    # Wave directions.
    lead_matrix = twelve_lead_projection(np.eye(3)).T  # [12, 3]: leads of unit X, Y, Z
    rotation = _rotation(params.axis_rotation_deg)
    p_dirs = [params.p_amplitude_scale * rotation @ np.array(d) for d in _P_DIRECTIONS]
    qrs_dirs = [params.qrs_amplitude_scale * rotation @ np.array(d) for d in _QRS_DIRECTIONS]
    t_dir = _t_direction(
        lead_matrix,
        rotation @ np.array(_T_NOMINAL_DIRECTION),
        params.t_amplitude_ii_mv,
        params.t_amplitude_v5_mv,
    )
    u_dir = params.u_wave_mv * _unit_peak_direction(lead_matrix, rotation @ np.array(_U_DIRECTION))
    t_amplitudes = lead_matrix @ t_dir
    largest_t_mv = float(np.abs(t_amplitudes).max())
    alternans_fraction = params.alternans_mv / largest_t_mv if largest_t_mv > 0 else 0.0
    if alternans_fraction > 1.5:
        raise ValueError(
            f"alternans_mv {params.alternans_mv} exceeds 1.5 × the largest T wave "
            f"({largest_t_mv:.2f} mV)"
        )
    alternans_sign = 1.0 if rng.random() < 0.5 else -1.0

    components = ComponentBuffer.empty()
    p_duration_s = params.p_duration_ms / 1000.0
    for (lo, hi), direction in zip(_P_COMPONENT_SPANS, p_dirs):
        components.add_hann(
            0, onsets - pr_s + lo * p_duration_s, (hi - lo) * p_duration_s, 1.0, direction
        )
    for (lo, hi), direction in zip(_QRS_COMPONENT_SPANS, qrs_dirs):
        components.add_hann(0, onsets + lo * qrs_s, (hi - lo) * qrs_s, 1.0, direction)
    parity = np.where((np.arange(onsets.size) - inside[0]) % 2 == 0, 1.0, -1.0)
    t_shift_s = onsets + beat_qt_s - qt_s
    components.add_t_waves(
        0, t_shape, t_shift_s, 1.0 + alternans_sign * parity * alternans_fraction / 2.0, t_dir
    )
    repolarisation_end_s = onsets + beat_qt_s
    if params.u_wave_mv > 0.0:
        components.add_hann(0, repolarisation_end_s, params.u_width_ms / 1000.0, 1.0, u_dir)
        repolarisation_end_s = repolarisation_end_s + params.u_width_ms / 1000.0
    gap_ms = (onsets[1:] - pr_s - repolarisation_end_s[:-1]) * 1000.0
    if gap_ms.min() < T_TO_P_MARGIN_MS:
        raise ValueError(
            f"the T{'/U' if params.u_wave_mv > 0 else ''} wave ends {gap_ms.min():.1f} ms before "
            f"the next P wave (≥ {T_TO_P_MARGIN_MS:g} ms needed): lower the heart rate or "
            "shorten QT"
        )

    fiducials = np.stack(
        [
            onsets - pr_s,
            onsets,
            onsets + qrs_s,
            onsets + beat_qt_s - tpte_s - upstroke_s,
            onsets + beat_qt_s - tpte_s,
            onsets + beat_qt_s,
        ],
        axis=1,
    )
    median_ms = np.array(
        [
            -params.pr_ms,
            0.0,
            params.qrs_ms,
            t_shape.onset_s * 1000,
            t_shape.peak_s * 1000,
            qt_s * 1000,
        ]
    )

    measured: dict[str, float | None] = {
        "rr": rr_ms,
        "pr": params.pr_ms,
        "qrs": params.qrs_ms,
        "qt": qt_s * 1000.0,
        "jtpeak": (t_shape.peak_s - qrs_s) * 1000.0,
        "tpeak_tend": params.tpeak_tend_ms,
        "t_amplitude_ii": float(t_amplitudes[STANDARD_LEADS.index("II")]),
        "t_amplitude_v5": float(t_amplitudes[STANDARD_LEADS.index("V5")]),
        "t_asymmetry": t_shape.asymmetry(),
        "t_flatness": t_shape.flatness(),
        "qtc_variability": float(np.std(beat_qtc_ms, ddof=1)),
        "t_notched": float(
            params.notch_depth > 0.0 and np.count_nonzero(np.abs(t_amplitudes) >= VISIBLE_MV) >= 3
        ),
        "t_inverted": float(
            min(t_amplitudes[STANDARD_LEADS.index("II")], t_amplitudes[STANDARD_LEADS.index("V5")])
            < -VISIBLE_MV
        ),
        "t_late_onset": float(
            st_ms >= LATE_ONSET_ST_MS
            and params.t_upstroke_ms + params.tpeak_tend_ms < BROAD_BASED_T_MS
        ),
        "t_broad_based": float(params.t_upstroke_ms + params.tpeak_tend_ms >= BROAD_BASED_T_MS),
        "u_wave": float(params.u_wave_mv >= VISIBLE_MV),
        "t_alternans": float(params.alternans_mv >= VISIBLE_MV),
    }
    derived = rederive(measured, params.sex)
    concepts = {c.name: float(derived[c.name]) for c in REGISTRY}  # type: ignore[arg-type]

    probabilities = risk_model.probabilities(concepts, params.sex, params.age_years)
    draws = rng.random(len(probabilities))
    labels = {task: int(u < probabilities[task]) for task, u in zip(probabilities, draws)}

    shortcut_truth = _plan_shortcut(
        shortcut, labels, rng, onsets, components, lead_matrix, fs_hz, n_samples
    )
    qt_mask = np.ones(inside.size, dtype=bool)  # every beat of the record but the first and last
    qt_mask[[0, -1]] = False
    truth = GroundTruth(
        params=params,
        concepts=concepts,
        probabilities=probabilities,
        labels=labels,
        fs_hz=fs_hz,
        beat_fiducials_s=fiducials[inside],
        qt_beats=qt_mask,
        beat_qtc_ms=beat_qtc_ms,
        median_fiducials_ms=median_ms,
        t_wave_amplitudes_mv=t_amplitudes,
        shortcut=shortcut_truth,
    )
    return RecordPlan(components, draw_noise(rng, noise, n_samples, fs_hz), truth)


def _plan_shortcut(
    config: ShortcutConfig | None,
    labels: dict[str, int],
    rng: np.random.Generator,
    onsets_s: np.ndarray,
    components: ComponentBuffer,
    lead_matrix: np.ndarray,
    fs_hz: float,
    n_samples: int,
) -> ShortcutTruth:
    """Decide whether the spike is present, add its components, and say where it is."""
    no_spans = np.zeros((0, 2), dtype=np.int64)
    if config is None:
        return ShortcutTruth(False, no_spans, ())
    chance = config.agreement if labels[config.task] == 1 else 1.0 - config.agreement
    present = bool(rng.random() < chance)
    direction = config.amplitude_mv * _unit_peak_direction(
        lead_matrix, np.array(_SHORTCUT_DIRECTION)
    )
    lead_peaks = np.abs(lead_matrix @ direction)
    leads = tuple(l for l, v in zip(STANDARD_LEADS, lead_peaks) if v >= 0.1 * config.amplitude_mv)
    if not present:
        return ShortcutTruth(False, no_spans, leads)
    width = max(1, round(config.width_ms * fs_hz / 1000.0))
    starts = np.round((onsets_s - config.lead_in_ms / 1000.0) * fs_hz).astype(np.int64)
    starts = starts[(starts >= 0) & (starts + width <= n_samples)]
    components.add_boxes(0, starts, width, 1.0, direction, fs_hz)
    return ShortcutTruth(True, np.stack([starts, starts + width], axis=1), leads)


def render_plans(
    plans: Sequence[RecordPlan],
    *,
    fs_hz: float,
    n_samples: int,
    noise: NoiseConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Render a batch: ``(signals, clean)``, both ``float32 [len(plans), 12, n_samples]`` (mV).

    All records' components are evaluated together (:func:`render_heart_vectors`), projected
    with the Dower matrix, noise is added to the independent leads, and the derived limb leads
    are completed in float32.
    """
    batch = ComponentBuffer.empty()
    for index, plan in enumerate(plans):
        batch.extend(plan.components, index)
    vectors = render_heart_vectors(batch, len(plans), n_samples, fs_hz)
    independent = project_to_independent_leads(vectors)
    clean = complete_twelve_leads(independent)
    draws = [plan.noise for plan in plans]
    if noise.is_clean or any(d is None for d in draws):
        return clean, clean
    independent += render_noise(draws, noise, n_samples, fs_hz)  # type: ignore[arg-type]
    return complete_twelve_leads(independent), clean


def n_samples_for(fs_hz: float, duration_s: float) -> int:
    """Samples in a record of ``duration_s`` seconds at ``fs_hz`` (rounded to the nearest)."""
    if not (math.isfinite(fs_hz) and 50.0 <= fs_hz <= 10_000.0):
        raise ValueError(f"fs_hz must lie in [50, 10000] Hz, got {fs_hz}")
    if not (math.isfinite(duration_s) and 2.0 <= duration_s <= 600.0):
        raise ValueError(f"duration_s must lie in [2, 600] s, got {duration_s}")
    return round(fs_hz * duration_s)


def generate(
    params: SynthParams,
    rng: np.random.Generator,
    *,
    fs_hz: float = 500.0,
    duration_s: float = 10.0,
    noise: NoiseConfig | None = None,
    risk_model: CausalRiskModel | None = None,
    shortcut: ShortcutConfig | None = None,
) -> SyntheticEcg:
    """Generate one synthetic 12-lead ECG with its exact ground truth.

    Args:
        params: what to generate (:class:`SynthParams`; :func:`sample_params` draws a population).
        rng: the source of every random number (RR variation, QT jitter, labels, noise).
        fs_hz: sampling rate in Hz.
        duration_s: record length in s.
        noise: noise levels (default :class:`NoiseConfig()`; :meth:`NoiseConfig.clean` for none).
        risk_model: the causal label model (default :meth:`CausalRiskModel.full`).
        shortcut: the shortcut artefact, or ``None`` for none.

    Returns:
        The record (``source_format="synthetic"``, mV float32, STANDARD_LEADS order, age/sex
        set), its noise-free signal, and the ground truth.

    Example:
        >>> import numpy as np
        >>> record = generate(SynthParams(qtc_ms=480.0), np.random.default_rng(0))
        >>> record.ecg.signal_mv.shape, round(record.truth.concepts["qtc_fridericia"], 6)
        ((12, 5000), 480.0)
    """
    n_samples = n_samples_for(fs_hz, duration_s)
    noise = NoiseConfig() if noise is None else noise
    plan = plan_record(
        params,
        rng,
        fs_hz=fs_hz,
        n_samples=n_samples,
        noise=noise,
        risk_model=risk_model or CausalRiskModel.full(),
        shortcut=shortcut,
    )
    signals, clean = render_plans([plan], fs_hz=fs_hz, n_samples=n_samples, noise=noise)
    ecg = Ecg(
        signal_mv=signals[0],
        fs_hz=fs_hz,
        lead_names=STANDARD_LEADS,
        age_years=int(params.age_years),
        sex=params.sex,
        source_format="synthetic",
    )
    return SyntheticEcg(ecg=ecg, clean_signal_mv=clean[0], truth=plan.truth)
