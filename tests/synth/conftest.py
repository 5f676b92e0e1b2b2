"""Shared synthetic records for the generator tests (small, generated once per session)."""

from __future__ import annotations

import numpy as np
import pytest

from models.data.synthetic import SyntheticDataset, make_dataset
from models.ecg.synth import ShortcutConfig, SyntheticEcg, SynthParams, generate


@pytest.fixture(scope="session")
def noisy_set() -> SyntheticDataset:
    """64 noisy records at 250 Hz with the shortcut on, clean signals kept."""
    return make_dataset(
        64, seed=11, fs_hz=250.0, shortcut=ShortcutConfig(agreement=0.9), keep_clean=True
    )


@pytest.fixture(scope="session")
def reference_record() -> SyntheticEcg:
    """One clean, notched, alternating record with a U wave, at 2 kHz for precise checks."""
    params = SynthParams(
        heart_rate_bpm=55.0,
        qtc_ms=470.0,
        tpeak_tend_ms=100.0,
        t_upstroke_ms=140.0,
        t_amplitude_ii_mv=0.25,
        t_amplitude_v5_mv=0.35,
        notch_depth=0.35,
        u_wave_mv=0.1,
        alternans_mv=0.12,
        qt_jitter_ms=6.0,
        sex="male",
        age_years=40,
    )
    from models.ecg.synth import NoiseConfig

    return generate(params, np.random.default_rng(5), fs_hz=2000.0, noise=NoiseConfig.clean())
