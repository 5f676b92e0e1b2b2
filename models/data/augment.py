"""Label-exact augmentations of real ECGs: each changes the signal and the concepts together.

Applied per record to a batch of signals ``[B, 12, L]`` (mV at ``fs_hz``) and their concept
targets ``[B, K]`` (registry units, NaN unknown), with one generator, in this order:

1. **Counterfactual long QT** — the ST–T segment of every beat of the median beat (J point to T
   end, :attr:`models.data.real.RealSet.knots`) is stretched by a factor ``f`` and the following
   T–P segment compressed by the same time, so RR, P wave, PR and QRS stay; QT grows by
   ``(f − 1)·(QT − QRS)``, J-Tpeak and Tpeak-Tend by the factor ``f`` (a piecewise-linear time
   warp). ``f`` is drawn so that QT grows by :attr:`AugmentConfig.qt_extension_ms` without the T
   end coming within :attr:`AugmentConfig.min_tp_s` of the next P onset; records with no room
   are left alone. T-wave shape concepts whose value a stretch can change (asymmetry, flatness,
   broad base, late onset, U wave, QTc variability) become unknown.
2. **Time scaling** by ``s`` (the whole record played ``s`` times slower): every interval × ``s``,
   heart rate ÷ ``s``; a record shorter than the window after compression is continued by
   repeating itself. Duration-dependent shape concepts become unknown as above.
3. **Amplitude** × ``a`` on every lead: T amplitudes × ``a``.
4. **Baseline wander** (a sinusoid of 0.05–0.5 Hz per lead) and **white noise**: no concept
   changes (the amplitudes stay inside the measurement's tolerance).

Derived concepts (QTc, J-Tpeak_c, heart rate, QTc prolonged) are re-derived from the changed
inputs (:func:`models.data.real.rederived_row`). Lead dropout is applied by the training loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.concepts import concept_names
from models.data.real import rederived_row

#: Concepts whose value a time warp can change in a way the transform does not compute.
_SHAPE_CONCEPTS: tuple[str, ...] = (
    "t_asymmetry",
    "t_flatness",
    "t_broad_based",
    "t_late_onset",
    "u_wave",
    "qtc_variability",
)
#: Measured intervals (ms) that scale with the time axis.
_INTERVALS: tuple[str, ...] = ("rr", "pr", "qrs", "qt", "jtpeak", "tpeak_tend")
#: Measured amplitudes (mV) that scale with the signal.
_AMPLITUDES: tuple[str, ...] = ("t_amplitude_ii", "t_amplitude_v5")


@dataclass(frozen=True)
class AugmentConfig:
    """Chances and ranges of the augmentations (one draw per record).

    Attributes:
        p_long_qt: chance of a counterfactual long QT.
        qt_extension_ms: range of the QT increase (ms).
        min_tp_s: T end must stay this far before the next P onset (s).
        p_time_scale: chance of time scaling; ``time_scale`` its range of ``s``.
        amplitude: range of the amplitude factor.
        noise_mv: range of the white-noise SD (mV).
        wander_mv: range of the baseline-wander amplitude (mV).
    """

    p_long_qt: float = 0.3
    qt_extension_ms: tuple[float, float] = (20.0, 120.0)
    min_tp_s: float = 0.04
    p_time_scale: float = 0.5
    time_scale: tuple[float, float] = (0.88, 1.12)
    amplitude: tuple[float, float] = (0.7, 1.4)
    noise_mv: tuple[float, float] = (0.0, 0.03)
    wander_mv: tuple[float, float] = (0.0, 0.2)


def stretch_st_t(signal: np.ndarray, fs_hz: float, knots: np.ndarray, factor: float) -> np.ndarray:
    """Stretch every beat's J→T-end span of ``signal`` ``[12, L]`` by ``factor`` (knots ``[M, 3]``
    J, T end, next anchor in s; NaN rows ignored), compressing T end→anchor to keep the anchor."""
    beats = knots[np.isfinite(knots).all(axis=1)]
    n = signal.shape[-1]
    duration = n / fs_hz
    out_knots, in_knots = [0.0], [0.0]
    for j, t_end, anchor in beats:
        stretched = j + factor * (t_end - j)
        if j <= out_knots[-1] or anchor > duration:
            continue
        out_knots += [j, stretched, anchor]
        in_knots += [j, t_end, anchor]
    out_knots.append(duration)
    in_knots.append(duration)
    times = np.arange(n) / fs_hz
    source = np.interp(times, out_knots, in_knots)
    return np.stack([np.interp(source, times, lead) for lead in signal]).astype(np.float32)


def max_long_qt_factor(knots: np.ndarray, min_tp_s: float) -> float:
    """The largest ST–T stretch factor every beat has room for (1.0 = none)."""
    beats = knots[np.isfinite(knots).all(axis=1)]
    if beats.size == 0:
        return 1.0
    j, t_end, anchor = beats.T
    room = (anchor - min_tp_s - j) / np.maximum(t_end - j, 1e-3)
    return float(max(1.0, room.min()))


def time_scale(signal: np.ndarray, scale: float) -> np.ndarray:
    """Play ``signal`` ``[12, L]`` ``scale`` times slower (intervals × ``scale``); a compressed
    record is continued by repeating itself."""
    n = signal.shape[-1]
    source = np.arange(n) / scale  # output sample i reads input time i / scale
    valid = int(np.floor((n - 1) * scale)) + 1
    source = np.where(np.arange(n) < valid, source, (np.arange(n) - valid) / scale)
    grid = np.arange(n)
    return np.stack([np.interp(source, grid, lead) for lead in signal]).astype(np.float32)


def _set(row: np.ndarray, names: tuple[str, ...], change: float, multiply: bool = True) -> None:
    index = [concept_names().index(name) for name in names]
    row[index] = row[index] * change if multiply else change


def augment_record(
    signal: np.ndarray,
    concepts: np.ndarray,
    knots: np.ndarray,
    sex: int,
    fs_hz: float,
    config: AugmentConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """One record's augmented signal ``[12, L]`` and concepts ``[K]`` (see the module text)."""
    names = concept_names()
    signal, row = signal.copy(), concepts.copy()
    qt, qrs = row[names.index("qt")], row[names.index("qrs")]
    warped = False
    if rng.random() < config.p_long_qt and np.isfinite(qt) and np.isfinite(qrs) and qt > qrs:
        extension = rng.uniform(*config.qt_extension_ms)
        factor = min(1.0 + extension / (qt - qrs), max_long_qt_factor(knots, config.min_tp_s))
        if factor > 1.01:
            signal = stretch_st_t(signal, fs_hz, knots, factor)
            row[names.index("qt")] = qt + (factor - 1.0) * (qt - qrs)
            _set(row, ("jtpeak", "tpeak_tend"), factor)
            warped = True
    if rng.random() < config.p_time_scale:
        scale = rng.uniform(*config.time_scale)
        signal = time_scale(signal, scale)
        _set(row, _INTERVALS, scale)
        warped = True
    if warped:
        _set(row, _SHAPE_CONCEPTS, np.nan, multiply=False)
    amplitude = rng.uniform(*config.amplitude)
    signal *= amplitude
    _set(row, _AMPLITUDES, amplitude)
    n = signal.shape[-1]
    t = np.arange(n) / fs_hz
    frequency = rng.uniform(0.05, 0.5, size=(signal.shape[0], 1))
    phase = rng.uniform(0, 2 * np.pi, size=(signal.shape[0], 1))
    signal += rng.uniform(*config.wander_mv) * np.sin(2 * np.pi * frequency * t + phase)
    signal += rng.normal(0.0, rng.uniform(*config.noise_mv), size=signal.shape)
    return signal.astype(np.float32), rederived_row(row, sex)


def augment_batch(
    signals: np.ndarray,
    concepts: np.ndarray,
    knots: np.ndarray,
    sex: np.ndarray,
    fs_hz: float,
    config: AugmentConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`augment_record` over a batch ``[B, 12, L]`` / ``[B, K]`` / ``[B, M, 3]``."""
    pairs = [
        augment_record(signals[i], concepts[i], knots[i], int(sex[i]), fs_hz, config, rng)
        for i in range(signals.shape[0])
    ]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
