"""The global QT on the synthetic long-QT morphologies (clean records, exact truth).

The population's LQT1 (broad-based T), LQT2 (low-amplitude notched T, some U waves) and LQT3
(late-onset T) phenotypes, the hERG-block phenotype (flat T, U waves in 45 %), and T–U fusion
(a U wave that starts where the T wave ends, added to every record); the error is the measured
QT (global T end from the global QRS onset) against the generator's tangent-method truth.
Issue 15 asks ≤ 10 ms on ≥ 95 % of records.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from models.ecg.delineate import _without_u_wave_group
from models.ecg.measure import measure
from models.ecg.synth import NoiseConfig, generate
from models.ecg.synth.population import sample_params

N_RECORDS = 20
FUSED_U_MV = 0.1


@pytest.mark.parametrize("phenotype", ["normal", "lqt1", "lqt2", "lqt3", "herg_drug"])
def test_global_qt_within_10_ms_on_clean_long_qt_morphologies(phenotype: str) -> None:
    within = []
    for seed in range(N_RECORDS):
        rng = np.random.default_rng(seed)
        record = generate(sample_params(rng, {phenotype: 1.0}), rng, duration_s=10.0, noise=NoiseConfig.clean())
        assert record.truth.params.phenotype == phenotype
        qt = measure(record.ecg).value("qt")
        within.append(qt is not None and abs(qt - record.truth.concepts["qt"]) <= 10.0)
    assert np.mean(within) >= 0.95, within


@pytest.mark.parametrize("phenotype", ["normal", "lqt1", "lqt2", "lqt3"])
def test_global_qt_ignores_a_u_wave_fused_with_the_t_wave(phenotype: str) -> None:
    """Every record gets a U wave starting at T end (the generator refuses records whose U wave
    would run into the next P wave; they are left out). In the leads where the U wave is the
    taller wave the lead's T end follows it; the global T end must not."""
    within = []
    for seed in range(N_RECORDS):
        rng = np.random.default_rng(seed)
        params = replace(sample_params(rng, {phenotype: 1.0}), u_wave_mv=FUSED_U_MV)
        try:
            record = generate(params, rng, duration_s=10.0, noise=NoiseConfig.clean())
        except ValueError:
            continue
        qt = measure(record.ecg).value("qt")
        within.append(qt is not None and abs(qt - record.truth.concepts["qt"]) <= 10.0)
    assert len(within) >= 14
    assert np.mean(within) >= 0.95, within


def test_a_later_minority_of_lead_t_ends_is_a_u_wave_and_a_majority_is_not() -> None:
    ends = [("V2", 0.600), ("V3", 0.598), ("I", 0.450), ("II", 0.448), ("V5", 0.446), ("aVF", 0.440)]
    assert [name for name, _ in _without_u_wave_group(ends, 0.08)] == ["I", "II", "V5", "aVF"]
    majority = [("V2", 0.600), ("V3", 0.598), ("V4", 0.597), ("I", 0.450), ("II", 0.448)]
    assert _without_u_wave_group(majority, 0.08) == majority
    close = [("V2", 0.500), ("V3", 0.498), ("I", 0.450), ("II", 0.448), ("V5", 0.446)]
    assert _without_u_wave_group(close, 0.08) == close
