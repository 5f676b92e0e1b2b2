"""Synthetic ECGs for the measurement tests, built with the project's generator."""

from __future__ import annotations

import numpy as np

from models.ecg.record import Ecg
from models.ecg.synth import NoiseConfig, SyntheticEcg, SynthParams, generate


def synthetic(params: SynthParams | None = None, seed: int = 0, duration_s: float = 10.0, clean: bool = True) -> SyntheticEcg:
    """One generated 12-lead, 500 Hz record (noise-free unless ``clean`` is False)."""
    noise = NoiseConfig.clean() if clean else NoiseConfig()
    return generate(params or SynthParams(), np.random.default_rng(seed), duration_s=duration_s, noise=noise)


def only_leads(ecg: Ecg, names: tuple[str, ...]) -> Ecg:
    """The same record restricted to ``names``."""
    rows = [ecg.lead_names.index(name) for name in names]
    return Ecg(ecg.signal_mv[rows], ecg.fs_hz, names, ecg.age_years, ecg.sex, ecg.source_format)


def irregular_rhythm(seed: int = 0) -> Ecg:
    """Beats of a noise-free synthetic record laid end to end with random RR intervals (atrial-
    fibrillation-like: RR from 800 to 1600 ms), joined on the flat TP segment."""
    record = synthetic(SynthParams(heart_rate_bpm=50.0, rr_variability=0.0, respiratory_arrhythmia=0.0), seed)
    fs = record.ecg.fs_hz
    qrs_onsets = record.truth.beat_fiducials_s[:, 1]
    first = round((qrs_onsets[1] - 0.3) * fs)
    beat = record.ecg.signal_mv[:, first : first + int(0.8 * fs)]
    rng = np.random.default_rng(seed)
    pieces = []
    for rr_s in rng.uniform(0.8, 1.6, size=14):
        pieces.append(beat)
        pieces.append(np.zeros((beat.shape[0], int(rr_s * fs) - beat.shape[1]), dtype=np.float32))
    return record.ecg.with_signal(np.concatenate(pieces, axis=1))


def with_ectopic_beat(position: int = 5, seed: int = 0) -> tuple[Ecg, float, float]:
    """Noise-free beats of one synthetic record laid end to end every second, the beat at
    ``position`` taken from another record (QRS 140 ms, QTc 480 ms, axes turned: an ectopic
    beat's shape). Returns the ECG and that beat's true QRS onset and T end (s from the start)."""
    regular = SynthParams(heart_rate_bpm=60.0, rr_variability=0.0, respiratory_arrhythmia=0.0)
    ectopic = SynthParams(heart_rate_bpm=60.0, rr_variability=0.0, respiratory_arrhythmia=0.0,
                          qrs_ms=140.0, qtc_ms=480.0, axis_rotation_deg=(180.0, 0.0, 0.0))
    pieces, beat_s = [], 0.9
    truths: list[tuple[float, float]] = []
    for index in range(10):
        record = synthetic(ectopic if index == position else regular, seed)
        fs = record.ecg.fs_hz
        qrs_onset, t_end = record.truth.beat_fiducials_s[1, [1, 5]]
        first = round((qrs_onset - 0.25) * fs)
        pieces.append(record.ecg.signal_mv[:, first : first + int(beat_s * fs)])
        pieces.append(np.zeros((pieces[-1].shape[0], int((1.0 - beat_s) * fs)), dtype=np.float32))
        start_s = index * 1.0 - first / fs
        truths.append((start_s + qrs_onset, start_s + t_end))
    ecg = synthetic(regular, seed).ecg.with_signal(np.concatenate(pieces, axis=1))
    return ecg, *truths[position]


#: A ventricular stimulus 25 ms before the QRS onset, one sample wide (2 ms at 500 Hz), with a
#: lead-dependent sign and size (0.3-0.8 mV), as unipolar pacing reaches the surface leads.
STIMULUS_LEAD_S = 0.025


def paced_record(seed: int = 0) -> tuple[SyntheticEcg, Ecg]:
    """A clean synthetic record and the same record paced: one stimulus per beat,
    :data:`STIMULUS_LEAD_S` before its QRS onset."""
    record = synthetic(seed=seed)
    fs = record.ecg.fs_hz
    signal = np.array(record.ecg.signal_mv, dtype=np.float64)
    heights = np.random.default_rng(seed).uniform(0.3, 0.8, signal.shape[0])
    signs = np.where(np.arange(signal.shape[0]) % 2, -1.0, 1.0)
    onsets_s = record.truth.beat_fiducials_s[:, 1]
    for onset_s in onsets_s:
        spike = round((onset_s - STIMULUS_LEAD_S) * fs)
        if 0 <= spike < signal.shape[-1]:
            signal[:, spike] += signs * heights
    return record, record.ecg.with_signal(signal)
