"""The model-input rule: resampling, lead selection and mask, crop/pad, standardisation."""

from __future__ import annotations

import numpy as np
import pytest

from models.ecg.errors import MalformedEcg
from models.ecg.record import STANDARD_LEADS, Ecg
from models.nets.inputs import InputSpec, ecg_to_input, fit_lead_scale, standardise

SPEC = InputSpec(fs_hz=100.0, duration_s=10.0, lead_scale_mv=tuple(0.5 for _ in STANDARD_LEADS))


def _sine_ecg(fs_hz: float, seconds: float, leads: tuple[str, ...], offset_mv: float = 0.0) -> Ecg:
    t = np.arange(int(fs_hz * seconds)) / fs_hz
    rows = [offset_mv + (i + 1) * 0.1 * np.sin(2 * np.pi * 1.0 * t) for i, _ in enumerate(leads)]
    return Ecg(signal_mv=np.array(rows, dtype=np.float32), fs_hz=fs_hz, lead_names=leads)


def test_resamples_reorders_masks_and_standardises() -> None:
    leads = ("V6", "II", "I", "V4R")  # out of order, one non-standard lead
    ecg = _sine_ecg(500.0, 10.0, leads, offset_mv=2.0)
    signal, mask = ecg_to_input(ecg, SPEC)
    assert signal.shape == (12, 1000) and signal.dtype == np.float32
    assert mask.tolist() == [lead in leads for lead in STANDARD_LEADS]
    t = np.arange(1000) / 100.0
    for lead, amplitude in (("V6", 0.1), ("II", 0.2), ("I", 0.3)):
        row = signal[STANDARD_LEADS.index(lead)]
        # the 2 mV offset is gone (median removed) and the 0.5 mV scale applied
        np.testing.assert_allclose(
            row[50:-50], (amplitude * np.sin(2 * np.pi * t) / 0.5)[50:-50], atol=0.02
        )
    assert not signal[~mask].any()


def test_longer_records_are_centre_cropped_and_shorter_zero_padded_at_the_end() -> None:
    fs = 100.0
    ramp = np.tile(np.arange(3000, dtype=np.float32) / 1000.0, (12, 1))  # 30 s, 1 mV per 10 s
    long_ecg = Ecg(signal_mv=ramp, fs_hz=fs, lead_names=STANDARD_LEADS)
    signal, _ = ecg_to_input(long_ecg, InputSpec(fs_hz=fs, duration_s=10.0))
    centre = ramp[0, 1000:2000]
    np.testing.assert_allclose(signal[0], centre - np.median(centre), atol=1e-5)
    short = Ecg(signal_mv=ramp[:, :400] + 1.0, fs_hz=fs, lead_names=STANDARD_LEADS)
    signal, _ = ecg_to_input(short, InputSpec(fs_hz=fs, duration_s=10.0))
    part = ramp[0, :400] + 1.0
    np.testing.assert_allclose(signal[0, :400], part - np.median(part), atol=1e-5)
    assert not signal[:, 400:].any()


def test_rejects_records_without_standard_leads_or_with_nan() -> None:
    with pytest.raises(MalformedEcg, match="none of the 12 standard leads"):
        ecg_to_input(_sine_ecg(250.0, 10.0, ("V4R", "X")), SPEC)
    broken = _sine_ecg(250.0, 10.0, ("I", "II"))
    broken.signal_mv[0, 5] = np.nan
    with pytest.raises(MalformedEcg, match="NaN"):
        ecg_to_input(broken, SPEC)


def test_lead_scale_is_the_training_sd_of_present_leads_and_standardise_uses_it() -> None:
    rng = np.random.default_rng(0)
    signals = (
        rng.normal(0.0, 1.0, (20, 12, 500)).astype(np.float32) * np.arange(1, 13)[None, :, None]
    )
    mask = np.ones((20, 12), dtype=bool)
    mask[:10, 0] = False
    signals[:10, 0] = 100.0  # absent lead content must not enter the scale
    scale = fit_lead_scale(signals, mask)
    np.testing.assert_allclose(scale, np.arange(1, 13), rtol=0.05)
    spec = InputSpec(fs_hz=50.0, duration_s=10.0, lead_scale_mv=scale)
    out = standardise(signals, mask, spec)
    assert not out[:10, 0].any()
    assert out[10:].std() == pytest.approx(1.0, rel=0.05)


def test_spec_round_trips_and_rejects_bad_scales() -> None:
    assert InputSpec.from_dict(SPEC.to_dict()) == SPEC
    assert SPEC.to_dict()["crop"].startswith("central window")
    with pytest.raises(ValueError, match="positive"):
        InputSpec(fs_hz=100.0, duration_s=10.0, lead_scale_mv=(0.0,) * 12)
