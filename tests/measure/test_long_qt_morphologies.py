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

from models.ecg.delineate import DelineationConfig, _global_p_bound, _without_u_wave_group
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


@pytest.mark.parametrize("heart_rate_bpm", [95.0, 100.0, 105.0])
def test_global_qt_within_10_ms_at_fast_sinus_rates(heart_rate_bpm: float) -> None:
    """At 95-105 bpm the P window used to reach back into the previous T wave, take its falling
    tail for a P wave, and so close the T window before the T wave ended (QT within 10 ms on 40
    of these 54 records before). Records the generator refuses (the T wave would run into the
    next P wave) or whose drawn RR is irregular enough to set the rate corrections aside are
    left out."""
    within = []
    for seed in range(30):
        rng = np.random.default_rng(seed)
        params = replace(sample_params(rng, {"normal": 1.0}), heart_rate_bpm=heart_rate_bpm)
        try:
            record = generate(params, rng, duration_s=10.0, noise=NoiseConfig.clean())
        except ValueError:
            continue
        result = measure(record.ecg)
        if result.rhythm_reason is not None:
            continue
        qt = result.value("qt")
        within.append(qt is not None and abs(qt - record.truth.concepts["qt"]) <= 10.0)
    assert len(within) >= 9
    assert np.mean(within) >= 0.95, within


def test_one_lead_cannot_move_the_global_p_onset_by_more_than_30_ms() -> None:
    config = DelineationConfig()
    onsets = [-0.260, -0.192, -0.190, -0.188, -0.186]
    assert _global_p_bound(onsets, -1.0, config) == pytest.approx(-0.220)  # 30 ms before the 3rd
    assert _global_p_bound([-0.200, -0.195, -0.190], -1.0, config) == pytest.approx(-0.200)
    assert _global_p_bound([-0.260, -0.190], -1.0, config) == pytest.approx(-0.260)  # 2 leads: no cap
    assert _global_p_bound([0.080, 0.150, 0.082, 0.084], 1.0, config) == pytest.approx(0.112)
    # Continuous: a lead moving by 1 ms moves the global onset by at most 1 ms.
    moved = [_global_p_bound([-0.200 - step / 1000.0, -0.190, -0.185, -0.180], -1.0, config)
             for step in range(60)]
    assert np.max(np.abs(np.diff(moved))) <= 0.001 + 1e-9


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
