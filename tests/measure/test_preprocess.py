"""Filters, lead checks and the signal-quality index on signals with known content."""

from __future__ import annotations

import numpy as np

from models.ecg.preprocess import (
    LeadStatus,
    check_leads,
    detect_powerline_hz,
    fill_gaps,
    filter_ecg,
    remove_baseline_wander,
    resample,
    template_sqi,
)
from tests.measure.synthetic_ecg import synthetic

FS = 500.0


def test_resample_keeps_duration_and_a_slow_sine() -> None:
    t = np.arange(2500) / FS
    signal = np.sin(2 * np.pi * 3.0 * t)[None, :]
    resampled = resample(signal, FS, 250.0)
    assert resampled.shape == (1, 1250)
    expected = np.sin(2 * np.pi * 3.0 * np.arange(1250) / 250.0)
    assert np.max(np.abs(resampled[0, 50:-50] - expected[50:-50])) < 0.01


def test_baseline_wander_is_removed_and_the_ecg_kept() -> None:
    ecg = synthetic().ecg
    t = np.arange(ecg.n_samples) / FS
    wander = 0.5 * np.sin(2 * np.pi * 0.15 * t)
    cleaned = remove_baseline_wander(ecg.signal_mv[1] + wander, FS)
    reference = remove_baseline_wander(ecg.signal_mv[1].astype(np.float64), FS)
    assert np.max(np.abs(cleaned - reference)[500:-500]) < 0.02


def test_powerline_is_detected_and_notched() -> None:
    t = np.arange(5000) / FS
    signal = synthetic().ecg.signal_mv.astype(np.float64) + 0.1 * np.sin(2 * np.pi * 60.0 * t)
    assert detect_powerline_hz(signal, FS) == 60.0
    assert detect_powerline_hz(synthetic().ecg.signal_mv, FS) is None
    filtered = filter_ecg(signal, FS)
    spectrum = np.abs(np.fft.rfft(filtered[1, 500:-500]))
    freqs = np.fft.rfftfreq(4000, 1 / FS)
    assert spectrum[np.argmin(np.abs(freqs - 60.0))] < 0.01 * spectrum.max()


def test_lead_checks_name_missing_flat_and_saturated_leads() -> None:
    signal = synthetic().ecg.signal_mv.copy()[:4]
    signal[0] = np.nan
    signal[1] = 0.003 * np.random.default_rng(0).standard_normal(signal.shape[1])
    signal[2] = np.clip(signal[2] * 20, -1.0, 1.0)
    checks = check_leads(signal, FS, ("I", "II", "III", "aVR"))
    assert [c.status for c in checks] == [LeadStatus.MISSING, LeadStatus.FLAT, LeadStatus.SATURATED, LeadStatus.OK]
    assert "lead I" in checks[0].reason and "flat" in checks[1].reason and "clipped" in checks[2].reason


def test_gaps_are_interpolated() -> None:
    row = np.array([[0.0, np.nan, 2.0, np.nan, np.nan, 5.0]])
    assert np.allclose(fill_gaps(row), [[0, 1, 2, 3, 4, 5]])


def test_sqi_is_high_for_repeated_beats_and_low_for_noise() -> None:
    rng = np.random.default_rng(1)
    beat = np.exp(-0.5 * ((np.arange(300) - 150) / 8.0) ** 2)
    clean = np.vstack([beat + 0.02 * rng.standard_normal(300) for _ in range(10)])
    noise = rng.standard_normal((10, 300))
    assert template_sqi(clean) > 0.95
    assert template_sqi(noise) < 0.5
