"""The ground truth reproduces the set values and agrees with the waveform, as documented."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.concepts import concept_names, get_concept, rederive
from models.data.synthetic import SyntheticDataset
from models.ecg.morphology import t_asymmetry
from models.ecg.record import STANDARD_LEADS
from models.ecg.synth import FIDUCIALS, NoiseConfig, SyntheticEcg, SynthParams, generate
from models.ecg.synth.waves import TWaveShape, hann_pulse, tangent_reach

COL = {name: index for index, name in enumerate(FIDUCIALS)}


def test_set_values_are_reproduced(reference_record: SyntheticEcg) -> None:
    truth = reference_record.truth
    c, p = truth.concepts, truth.params
    assert c["pr"] == p.pr_ms and c["qrs"] == p.qrs_ms and c["tpeak_tend"] == p.tpeak_tend_ms
    assert c["qtc_fridericia"] == pytest.approx(p.qtc_ms, abs=1e-9)
    assert c["qt"] == pytest.approx(p.qtc_ms * (c["rr"] / 1000.0) ** (1 / 3), abs=1e-9)
    assert c["t_amplitude_ii"] == pytest.approx(p.t_amplitude_ii_mv, abs=1e-12)
    assert c["t_amplitude_v5"] == pytest.approx(p.t_amplitude_v5_mv, abs=1e-12)
    assert c["jtpeak"] == pytest.approx(c["qt"] - c["tpeak_tend"] - c["qrs"], abs=1e-9)
    assert (c["t_notched"], c["u_wave"], c["t_alternans"], c["t_inverted"]) == (1, 1, 1, 0)
    assert c["qtc_prolonged"] == 1.0  # 470 ms in a man
    # every registry concept is present, plausible and consistent with its derivation
    assert set(c) == set(concept_names())
    for name, value in c.items():
        assert get_concept(name).is_plausible(value), name
    for name, value in rederive(c, p.sex).items():
        assert value == pytest.approx(c[name], rel=1e-12), name
    assert reference_record.ecg.age_years == 40 and reference_record.ecg.sex == "male"
    assert reference_record.ecg.source_format == "synthetic"


def test_every_population_concept_is_plausible(noisy_set: SyntheticDataset) -> None:
    for column, name in enumerate(noisy_set.concept_names):
        concept = get_concept(name)
        values = noisy_set.concepts[:, column].astype(np.float64)
        assert all(concept.is_plausible(v) for v in values), name
    # the population spans the clinically interesting range
    qtc = noisy_set.concepts[:, noisy_set.concept_names.index("qtc_fridericia")]
    assert qtc.min() < 420 and qtc.max() > 480


def test_rr_equals_the_nominal_rate_without_variability() -> None:
    params = SynthParams(
        heart_rate_bpm=75.0, rr_variability=0.0, respiratory_arrhythmia=0.0, qt_jitter_ms=0.0
    )
    truth = generate(params, np.random.default_rng(0), noise=NoiseConfig.clean()).truth
    assert truth.concepts["rr"] == pytest.approx(800.0, abs=1e-9)
    assert truth.concepts["heart_rate"] == pytest.approx(75.0, abs=1e-9)
    assert truth.concepts["qtc_variability"] == pytest.approx(0.0, abs=1e-9)


def test_fiducials_are_consistent_with_the_concepts(noisy_set: SyntheticDataset) -> None:
    names = list(noisy_set.concept_names)
    concepts = noisy_set.concepts.astype(np.float64)
    median = noisy_set.median_fiducials_ms
    tol = 1e-3  # concepts are stored as float32
    np.testing.assert_allclose(median[:, COL["qrs_onset"]], 0.0)
    np.testing.assert_allclose(-median[:, COL["p_onset"]], concepts[:, names.index("pr")], atol=tol)
    np.testing.assert_allclose(
        median[:, COL["qrs_offset"]], concepts[:, names.index("qrs")], atol=tol
    )
    np.testing.assert_allclose(median[:, COL["t_end"]], concepts[:, names.index("qt")], atol=tol)
    np.testing.assert_allclose(
        median[:, COL["t_end"]] - median[:, COL["t_peak"]],
        concepts[:, names.index("tpeak_tend")],
        atol=tol,
    )
    np.testing.assert_allclose(
        median[:, COL["t_peak"]] - median[:, COL["qrs_offset"]],
        concepts[:, names.index("jtpeak")],
        atol=tol,
    )
    for i in range(len(noisy_set)):
        beats = noisy_set.beat_fiducials_s[i]
        valid = ~np.isnan(beats[:, 0])
        onsets = beats[valid, COL["qrs_onset"]]
        assert onsets.min() >= 0 and beats[valid, COL["qrs_offset"]].max() <= noisy_set.duration_s
        rr_ms = np.median(np.diff(onsets)) * 1000.0
        assert rr_ms == pytest.approx(concepts[i, names.index("rr")], rel=1e-6)
        qt_ms = (beats[valid, COL["t_end"]] - onsets) * 1000.0
        qt_beats = noisy_set.qt_beats[i, valid]
        assert np.median(qt_ms[qt_beats]) == pytest.approx(concepts[i, names.index("qt")], rel=1e-6)
        preceding_rr_s = np.diff(onsets)[np.flatnonzero(qt_beats) - 1]
        qtc = qt_ms[qt_beats] / preceding_rr_s ** (1 / 3)
        assert np.std(qtc, ddof=1) == pytest.approx(
            concepts[i, names.index("qtc_variability")], rel=1e-5, abs=1e-5
        )
        # every beat keeps PR, QRS and Tpeak-Tend; only its QT moves
        np.testing.assert_allclose(
            (beats[valid, COL["qrs_onset"]] - beats[valid, COL["p_onset"]]) * 1000.0,
            concepts[i, names.index("pr")],
            atol=tol,
        )
        np.testing.assert_allclose(
            (beats[valid, COL["t_end"]] - beats[valid, COL["t_peak"]]) * 1000.0,
            concepts[i, names.index("tpeak_tend")],
            atol=tol,
        )


def _tangent_end_numerically(shape: TWaveShape, resolution_s: float = 1e-6) -> float:
    """The clinical definition evaluated by brute force on the sampled wave."""
    t = np.arange(shape.peak_s, shape.end_s + 0.2, resolution_s)
    wave = shape.evaluate(t)
    slope = np.gradient(wave, resolution_s)
    steepest = int(np.argmin(slope))
    return float(t[steepest] - wave[steepest] / slope[steepest])


@pytest.mark.parametrize("exponent", [1.7, 2.0, 3.0])
@pytest.mark.parametrize("notch", [0.0, 0.35])
def test_t_end_is_the_tangent_method_end(exponent: float, notch: float) -> None:
    shape = TWaveShape(onset_s=0.25, peak_s=0.40, end_s=0.48, exponent=exponent, notch_depth=notch)
    assert _tangent_end_numerically(shape) == pytest.approx(shape.end_s, abs=2e-6)
    # mirrored onset
    mirrored = TWaveShape(
        onset_s=-shape.end_s, peak_s=-shape.peak_s, end_s=-shape.onset_s, exponent=exponent
    )
    assert -_tangent_end_numerically(mirrored) == pytest.approx(shape.onset_s, abs=2e-6)
    grid = np.arange(0.0, 1.0, 1e-5)
    assert grid[np.argmax(shape.evaluate(grid))] == pytest.approx(shape.peak_s, abs=1e-5)
    assert shape.local_maxima() == (2 if notch else 1)


def test_gaussian_t_end_is_peak_plus_two_sigma() -> None:
    assert tangent_reach(2.0) == pytest.approx(math.sqrt(2.0), abs=1e-15)  # 2σ = √2·s
    shape = TWaveShape(onset_s=0.2, peak_s=0.35, end_s=0.45)
    sigma_s = shape.descending_scale_s / math.sqrt(2.0)
    assert shape.end_s == pytest.approx(shape.peak_s + 2 * sigma_s, abs=1e-15)


def test_hann_pulses_have_exact_compact_support() -> None:
    t = np.array([0.0999999, 0.1, 0.1000001, 0.2, 0.2999999, 0.3, 0.3000001])
    values = hann_pulse(t, np.float64(0.1), np.float64(0.2))
    assert values[0] == 0.0 and values[-1] == 0.0 and values[1] == 0.0 and values[5] == 0.0
    assert values[2] > 0.0 and values[4] > 0.0 and values[3] == pytest.approx(1.0)


def test_waveform_matches_fiducials_and_amplitudes(reference_record: SyntheticEcg) -> None:
    truth = reference_record.truth
    fs = truth.fs_hz
    clean = reference_record.clean_signal_mv.astype(np.float64)
    beats = truth.beat_fiducials_s
    lead_ii = clean[STANDARD_LEADS.index("II")]
    amplitudes = []
    for beat in beats:
        p_onset = math.floor(beat[COL["p_onset"]] * fs)
        qrs_onset = math.floor(beat[COL["qrs_onset"]] * fs)
        # the PR segment is flat (P ends ≥ 20 ms before QRS onset; T of the previous beat is gone)
        if p_onset >= 0:
            assert np.abs(clean[:, p_onset]).max() < 1e-6
        assert np.abs(clean[:, qrs_onset - 2 : qrs_onset + 1]).max() < 1e-3
        # the QRS has started 2 ms after QRS onset in some lead
        assert np.abs(clean[:, qrs_onset + 4]).max() > 1e-3
        peak = round(beat[COL["t_peak"]] * fs)
        window = lead_ii[peak - 20 : peak + 21]
        amplitudes.append(window.max())
        assert abs(int(np.argmax(window)) - 20) <= 1  # the lead II maximum is at T peak
    amplitudes = np.array(amplitudes)
    a = truth.concepts["t_amplitude_ii"]
    # alternans: beats alternate a·(1 ± f/2); the mean of even and odd beats is the concept
    even, odd = amplitudes[0::2].mean(), amplitudes[1::2].mean()
    assert (even + odd) / 2 == pytest.approx(a, abs=2e-3)
    largest = np.abs(truth.t_wave_amplitudes_mv).max()
    assert abs(even - odd) * largest / a == pytest.approx(truth.params.alternans_mv, abs=3e-3)


def test_t_asymmetry_uses_the_shared_morphology_definition(reference_record: SyntheticEcg) -> None:
    truth = reference_record.truth
    median = truth.median_fiducials_ms / 1000.0
    shape = TWaveShape(
        median[COL["t_onset"]],
        median[COL["t_peak"]],
        median[COL["t_end"]],
        truth.params.t_exponent,
        truth.params.notch_depth,
    )
    grid = shape.onset_to_end_grid()
    assert truth.concepts["t_asymmetry"] == t_asymmetry(grid, 1000.0)
    plain = SynthParams(qtc_ms=420.0, tpeak_tend_ms=80.0, t_upstroke_ms=120.0)
    c = generate(plain, np.random.default_rng(1), noise=NoiseConfig.clean()).truth.concepts
    # Gaussian limbs: half-amplitude widths are proportional to the scales → (120-80)/(120+80)
    assert c["t_asymmetry"] == pytest.approx(0.2, abs=0.01)
    assert 0.7 < c["t_flatness"] < 0.8


def test_large_qt_jitter_never_starts_a_t_wave_inside_its_qrs() -> None:
    params = SynthParams(heart_rate_bpm=60, qtc_ms=400, t_upstroke_ms=222, qt_jitter_ms=30)
    truth = generate(params, np.random.default_rng(0), noise=NoiseConfig.clean()).truth
    beats = truth.beat_fiducials_s
    st_ms = (beats[:, COL["t_onset"]] - beats[:, COL["qrs_offset"]]) * 1000.0
    assert st_ms.min() >= -1e-9 and np.isclose(st_ms, 0.0, atol=1e-9).any()  # the floor acted
    qt_ms = (beats[truth.qt_beats, COL["t_end"]] - beats[truth.qt_beats, COL["qrs_onset"]]) * 1000
    assert np.median(qt_ms) == pytest.approx(truth.concepts["qt"], abs=1e-9)


def test_binary_patterns_follow_their_definitions() -> None:
    rng = np.random.default_rng(2)
    clean = NoiseConfig.clean()
    late = generate(
        SynthParams(heart_rate_bpm=55, qtc_ms=500, t_upstroke_ms=100, tpeak_tend_ms=80),
        rng,
        noise=clean,
    ).truth
    assert late.concepts["t_late_onset"] == 1 and late.concepts["t_broad_based"] == 0
    assert late.median_fiducials_ms[COL["t_onset"]] - late.concepts["qrs"] >= 160
    broad = generate(
        SynthParams(heart_rate_bpm=55, qtc_ms=500, t_upstroke_ms=200, tpeak_tend_ms=110),
        rng,
        noise=clean,
    ).truth
    assert broad.concepts["t_broad_based"] == 1 and broad.concepts["t_late_onset"] == 0
    inverted = generate(
        SynthParams(t_amplitude_ii_mv=-0.2, t_amplitude_v5_mv=-0.1), rng, noise=clean
    ).truth
    assert inverted.concepts["t_inverted"] == 1
    normal = generate(SynthParams(), rng, noise=clean).truth
    assert [
        normal.concepts[k]
        for k in (
            "t_late_onset",
            "t_broad_based",
            "t_notched",
            "t_inverted",
            "u_wave",
            "t_alternans",
        )
    ] == [0] * 6


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (SynthParams(heart_rate_bpm=110, qtc_ms=560), "next P wave"),
        (SynthParams(qtc_ms=300, t_upstroke_ms=200), "before the J point"),
        (SynthParams(notch_depth=0.02), "too shallow"),
        (SynthParams(heart_rate_bpm=25), "complete QRS"),
    ],
)
def test_impossible_records_are_refused(params: SynthParams, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(params, np.random.default_rng(0))


def test_parameter_validation() -> None:
    with pytest.raises(ValueError, match="PR segment"):
        SynthParams(pr_ms=100.0, p_duration_ms=100.0)
    with pytest.raises(ValueError, match=r"qtc_ms must lie in \[200, 800\], got 900"):
        SynthParams(qtc_ms=900.0)
    with pytest.raises(ValueError, match="fs_hz"):
        generate(SynthParams(), np.random.default_rng(0), fs_hz=10.0)
