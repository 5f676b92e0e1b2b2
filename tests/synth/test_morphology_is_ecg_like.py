"""NeuroKit2 sees an ECG: it finds every R peak of a clean synthetic lead II."""

from __future__ import annotations

import neurokit2 as nk
import numpy as np
import pytest

from models.ecg.record import STANDARD_LEADS
from models.ecg.synth import NoiseConfig, SynthParams, generate


@pytest.mark.parametrize(("heart_rate", "seed"), [(48.0, 0), (72.0, 1), (105.0, 2)])
def test_neurokit_finds_every_r_peak(heart_rate: float, seed: int) -> None:
    fs_hz = 500.0
    record = generate(
        SynthParams(heart_rate_bpm=heart_rate, qtc_ms=400.0),
        np.random.default_rng(seed),
        fs_hz=fs_hz,
        noise=NoiseConfig.clean(),
    )
    lead_ii = record.ecg.signal_mv[STANDARD_LEADS.index("II")].astype(np.float64)
    _, info = nk.ecg_peaks(lead_ii, sampling_rate=int(fs_hz))
    peaks = np.asarray(info["ECG_R_Peaks"])
    beats = record.truth.beat_fiducials_s
    qrs_mid = (beats[:, 1] + beats[:, 2]) / 2 * fs_hz
    # skip beats whose R lies within 0.3 s of the record edges (detector warm-up)
    expected = qrs_mid[(qrs_mid > 0.3 * fs_hz) & (qrs_mid < lead_ii.size - 0.3 * fs_hz)]
    found = peaks[(peaks > 0.3 * fs_hz) & (peaks < lead_ii.size - 0.3 * fs_hz)]
    assert len(found) == len(expected)
    # each detected R peak sits inside its QRS complex
    assert np.abs(found - expected).max() < 0.5 * record.truth.concepts["qrs"] / 1000 * fs_hz
