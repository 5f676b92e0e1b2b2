"""On synthetic ECGs with set intervals, the measured concepts recover the exact ground truth."""

from __future__ import annotations

import pytest

from models.ecg.measure import measure
from models.ecg.synth import SynthParams
from tests.measure.synthetic_ecg import synthetic

CASES = {
    "normal": SynthParams(),
    "long QT, bradycardia": SynthParams(heart_rate_bpm=50.0, qtc_ms=490.0, tpeak_tend_ms=120.0, pr_ms=200.0, qrs_ms=100.0),
    "tachycardia, inverted T": SynthParams(
        heart_rate_bpm=100.0, qtc_ms=380.0, t_amplitude_ii_mv=-0.2, t_amplitude_v5_mv=-0.3, qrs_ms=80.0, pr_ms=130.0
    ),
    "broad flat T": SynthParams(qtc_ms=460.0, t_exponent=4.0, t_upstroke_ms=180.0, tpeak_tend_ms=120.0),
    "short QT, small T": SynthParams(qtc_ms=350.0, t_amplitude_ii_mv=0.15, t_amplitude_v5_mv=0.2, tpeak_tend_ms=70.0),
}


@pytest.mark.parametrize("name", list(CASES))
def test_intervals_within_10_ms_and_t_amplitude_within_0_05_mv(name: str) -> None:
    record = synthetic(CASES[name], seed=len(name))
    result = measure(record.ecg)
    truth = record.truth.concepts
    for concept in ("qt", "qrs", "pr", "tpeak_tend"):
        assert abs(result.value(concept) - truth[concept]) <= 10.0, (concept, result.value(concept), truth[concept])
    for concept in ("t_amplitude_ii", "t_amplitude_v5"):
        assert abs(result.value(concept) - truth[concept]) <= 0.05, (concept, result.value(concept), truth[concept])
    assert abs(result.value("qtc_fridericia") - truth["qtc_fridericia"]) <= 12.0


@pytest.mark.parametrize(
    ("params", "concept"),
    [
        (SynthParams(notch_depth=0.3), "t_notched"),
        (SynthParams(u_wave_mv=0.12, heart_rate_bpm=55.0), "u_wave"),
        (SynthParams(alternans_mv=0.12, qt_jitter_ms=0.0), "t_alternans"),
        (SynthParams(t_amplitude_ii_mv=-0.2), "t_inverted"),
        (SynthParams(qtc_ms=470.0, t_upstroke_ms=200.0, tpeak_tend_ms=110.0), "t_broad_based"),
    ],
)
def test_binary_findings_are_found_when_present_and_not_otherwise(params: SynthParams, concept: str) -> None:
    present = measure(synthetic(params, seed=5).ecg)
    absent = measure(synthetic(SynthParams(), seed=5).ecg)
    assert present.value(concept) == 1.0
    assert absent.value(concept) == 0.0


def test_t_shape_indices_follow_the_generator() -> None:
    peaked = synthetic(SynthParams(t_exponent=2.0), seed=2)
    flat = synthetic(SynthParams(qtc_ms=450.0, t_exponent=4.5, t_upstroke_ms=160.0, tpeak_tend_ms=110.0), seed=2)
    for record in (peaked, flat):
        result = measure(record.ecg)
        assert abs(result.value("t_flatness") - record.truth.concepts["t_flatness"]) <= 0.06
        assert abs(result.value("t_asymmetry") - record.truth.concepts["t_asymmetry"]) <= 0.1
    assert measure(flat.ecg).value("t_flatness") > measure(peaked.ecg).value("t_flatness")
