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
