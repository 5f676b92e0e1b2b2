"""The out-of-distribution score: real ECGs low; synthetic, noisy, paced, lead-swapped ones high."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from models.agreement import real_inputs
from models.bundle import LoadedBundle, load_bundle, ood_scores
from models.data.real import RealSet
from models.data.synthetic import make_dataset
from models.ecg.record import STANDARD_LEADS, Ecg
from models.evaluate import auroc
from models.nets.batching import InputBatch, run_batched
from models.nets.inputs import standardise
from models.nets.model import ModelConfig
from models.nets.ood import (
    HIGH_PERCENTILE,
    RESPECT_ORDER,
    FeatureDistance,
    describe_score,
    input_descriptors,
)
from models.nets.prediction import ModelPrediction
from models.nets.registry import create_model

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "weights" / "demo"


def test_distance_percentile_and_flag_on_known_features() -> None:
    rng = np.random.default_rng(0)
    distance = FeatureDistance(8)
    assert not distance.is_fitted
    real = rng.normal(size=(500, 8))
    other = rng.normal(loc=4.0, size=(500, 8))  # the rest of the training inputs
    distance.fit(real, other, rng.normal(size=(200, 8)))
    assert distance.is_fitted
    points = torch.tensor([[0.0] * 8, [-6.0] * 8, [4.0] * 8])  # real-like, far, like the other
    plain, relative = (d.numpy() for d in distance.distances(points))
    assert plain[0] < 3.0 < plain[2] < plain[1]  # sqrt(8 · 36) ≈ 17 for the far point
    assert relative[0] < 0.0 < relative[2]  # close to the other inputs only: still unlike real
    percentile = distance.percentile(points)
    assert percentile[0] < 90.0 and percentile[1] == percentile[2] == 100.0
    with pytest.raises(ValueError, match="OOD statistics"):
        FeatureDistance(8).fit(rng.normal(size=(1, 8)), real, rng.normal(size=(1, 8)))


def test_input_descriptors_raise_the_percentile_of_an_unlike_input_with_ordinary_features() -> None:
    """A network trained on noise-augmented windows may map a drowned ECG to ordinary features;
    the input descriptors still place it beyond every reference record. A bundle fitted before
    the descriptors existed (no descriptor reference) reads the features alone."""
    rng = np.random.default_rng(1)
    distance = FeatureDistance(8)
    real = rng.normal(size=(300, 8))
    reference = np.column_stack([rng.uniform(0.01, 0.05, 100), rng.uniform(0.1, 0.5, 100),
                                 rng.uniform(-1.8, -0.5, 100)])
    distance.fit(real, real, rng.normal(size=(100, 8)), reference)
    ordinary = torch.zeros(4, 8)
    found = np.array([[0.03, 0.3, -1.0],  # clean
                      [0.4, 0.3, -1.0],  # noisy
                      [0.03, 3.0, -1.0],  # wandering
                      [0.03, 0.3, 1.0]])  # arm electrodes swapped
    with_descriptors, respects = distance.furthest(ordinary, found)
    assert with_descriptors[0] < 90.0 and (with_descriptors[1:] == 100.0).all()
    # Each unlike input names the respect to check (the clean one its least typical respect).
    assert respects[1:] == ["noise", "wander", "limb_reversal"]
    percentiles, keys = distance.percentiles(ordinary, found)
    assert keys == RESPECT_ORDER and percentiles.shape == (4, 5)
    assert "swapped arm electrodes" in describe_score(100.0, True, respects[3])
    assert (distance.percentile(ordinary) < 90.0).all()  # features alone: all four ordinary
    features_only = FeatureDistance(8)
    features_only.fit(real, real, rng.normal(size=(100, 8)))
    assert (features_only.percentile(ordinary, found) < 90.0).all()
    assert features_only.percentiles(ordinary, found)[1] == ("features", "relative_features")


def test_input_descriptors_read_noise_wander_and_limb_reversal_on_present_leads() -> None:
    """Noise moves the median sample-to-sample difference, wander the 1-s average's range, an
    absent lead (zeros) pulls neither down; limb reversal is aVR's polarity minus lead I's, 0
    without both leads."""
    t = np.arange(1000) / 100.0
    beats = np.where((t % 1.0) < 0.08, 3.0, 0.0)  # an upright QRS-like 80 ms pulse every second
    clean = np.broadcast_to(beats, (12, 1000)).copy()
    clean[STANDARD_LEADS.index("aVR")] *= -1.0  # aVR inverted, as wired correctly
    noisy = clean + np.random.default_rng(2).normal(0.0, 0.5, (12, 1000))
    wandering = clean + 2.0 * np.sin(2 * np.pi * 0.2 * t)
    swapped = clean.copy()
    swapped[[STANDARD_LEADS.index("I"), STANDARD_LEADS.index("aVR")]] *= -1.0
    mask = np.ones((6, 12), bool)
    mask[3, 6:] = False
    mask[5, STANDARD_LEADS.index("aVR")] = False
    found = input_descriptors(
        np.stack([clean, noisy, wandering, noisy * mask[3, :, None], swapped, swapped]), mask,
        100.0)
    assert found[0, 0] == 0.0 and found[1, 0] > 0.3  # noise
    assert found[2, 1] > 5 * found[0, 1]  # wander: ≈ 4 units of excursion
    assert found[3, 0] == pytest.approx(found[1, 0], rel=0.1)  # the six present leads
    assert found[0, 2] == pytest.approx(-2.0) and found[4, 2] == pytest.approx(2.0)
    assert found[5, 2] == 0.0  # aVR absent: nothing to read


def test_a_network_without_statistics_reports_no_score() -> None:
    model = create_model(ModelConfig())
    assert ood_scores(model, torch.zeros(3, model.config.backbone.embedding_dim)) == [None] * 3


@pytest.fixture(scope="module")
def shipped() -> LoadedBundle:
    return load_bundle(SHIPPED, device="cpu")


def _distances(bundle: LoadedBundle, inputs: InputBatch) -> np.ndarray:
    """The OOD percentile of each record, through the scoring ``LoadedBundle.predict`` uses
    (what the API reports and flags)."""
    output = run_batched(bundle.model, inputs, torch.device("cpu"), 64)
    descriptors = input_descriptors(inputs.signal, inputs.lead_mask, bundle.spec.fs_hz)
    return np.array([score.percentile for score in  # type: ignore[union-attr]
                     ood_scores(bundle.model, output.features, descriptors)])


def _with_signal(real: RealSet, signals: np.ndarray) -> RealSet:
    from dataclasses import replace

    return replace(real, signals_mv=signals.astype(np.float32))


def _noisy(signals: np.ndarray, fs_hz: float, rng: np.random.Generator) -> np.ndarray:
    """White noise (SD 0.25 mV) and 0.8 mV of 0.3 Hz baseline wander on every lead."""
    t = np.arange(signals.shape[-1]) / fs_hz
    return signals + rng.normal(0.0, 0.25, signals.shape) + 0.8 * np.sin(2 * np.pi * 0.3 * t)


def _paced(real: RealSet) -> np.ndarray:
    """Ventricular pacing spikes (8 mV, 2 ms wide at 100 Hz ≈ one sample) every 800 ms."""
    signals = real.signals_mv.copy()
    spikes = np.arange(30, signals.shape[-1], 80)
    signals[:, :, spikes] += 8.0
    signals[:, :, spikes + 1] -= 3.0
    return signals


def _limb_leads_reversed(real: RealSet) -> np.ndarray:
    """Left/right arm electrodes swapped: I → −I, II ↔ III, aVR ↔ aVL."""
    index = {lead: i for i, lead in enumerate(STANDARD_LEADS)}
    signals = real.signals_mv.copy()
    signals[:, index["I"]] = -real.signals_mv[:, index["I"]]
    for a, b in (("II", "III"), ("aVR", "aVL")):
        signals[:, index[a]] = real.signals_mv[:, index[b]]
        signals[:, index[b]] = real.signals_mv[:, index[a]]
    return signals


def test_the_shipped_score_separates_real_from_unlike_inputs(
    shipped: LoadedBundle, real_set: RealSet
) -> None:
    """On the real check windows (never trained or tuned on) against the same windows made noisy,
    paced or with the arm electrodes swapped, and against synthetic-only ECGs: AUROC ≥ 0.9 for
    each. Swapped arm electrodes are caught by the limb-reversal input descriptor (the feature
    distances alone scored them AUROC ≈ 0.4)."""
    assert shipped.model.ood.is_fitted
    check = real_set.of_role("check")
    check = check.select(check.lead_mask.all(axis=1))  # 12-lead windows (QTDB has 2)
    real = _distances(shipped, real_inputs(check, shipped.spec))
    synthetic = make_dataset(len(check), seed=4242, fs_hz=100.0, duration_s=10.0)
    synthetic_inputs = InputBatch(
        signal=standardise(synthetic.signals, np.ones((len(synthetic), 12), bool), shipped.spec),
        lead_mask=np.ones((len(synthetic), 12), bool),
        sex=np.zeros(len(synthetic), np.int64),
        age_years=synthetic.age_years.astype(np.float32),
    )
    noisy = _noisy(check.signals_mv, check.fs_hz, np.random.default_rng(7))
    scores = {
        "synthetic": _distances(shipped, synthetic_inputs),
        "noisy": _distances(shipped, real_inputs(_with_signal(check, noisy), shipped.spec)),
        "paced": _distances(shipped, real_inputs(_with_signal(check, _paced(check)), shipped.spec)),
        "lead-swapped": _distances(
            shipped, real_inputs(_with_signal(check, _limb_leads_reversed(check)), shipped.spec)
        ),
    }
    separation = {
        name: auroc(np.r_[np.zeros(real.size), np.ones(other.size)], np.r_[real, other])
        for name, other in scores.items()
    }
    print("OOD AUROC vs real check windows:", {k: round(v, 3) for k, v in separation.items()},
          f"clean check windows flagged: {int((real > HIGH_PERCENTILE).sum())} of {real.size}")
    assert min(separation.values()) >= 0.9, separation


def test_predictions_carry_the_score(shipped: LoadedBundle, real_set: RealSet) -> None:
    """Through the server's path (an ``Ecg`` into ``predict``): a typical real ECG is not flagged,
    the same ECG drowned in noise is."""
    check = real_set.of_role("check")
    rows = np.flatnonzero(check.lead_mask.all(axis=1))
    distances = _distances(shipped, real_inputs(check.select(rows), shipped.spec))
    typical = rows[np.argsort(distances)[len(distances) // 2]]
    signal = check.signals_mv[typical]
    ecg = Ecg(signal_mv=signal, fs_hz=check.fs_hz, lead_names=STANDARD_LEADS)
    noisy = ecg.with_signal(
        _noisy(signal, check.fs_hz, np.random.default_rng(1)).astype(np.float32)
    )
    clean, drowned = shipped.predict([ecg, noisy])
    assert clean.ood is not None and not clean.ood.high
    assert drowned.ood is not None and drowned.ood.high and drowned.ood.percentile == 100.0
    assert drowned.ood.respect == "noise"  # beyond every reference in noise: named first
    assert drowned.to_dict()["ood"]["high"] is True
    assert ModelPrediction.from_dict(drowned.to_dict()).ood == drowned.ood
    message = describe_score(drowned.ood.percentile, True, drowned.ood.respect)
    assert "its noise" in message and "further out than in every held-out real ECG" in message
    assert clean.ood.respect in RESPECT_ORDER


def test_a_score_stored_before_respects_were_named_reads_in_general_terms() -> None:
    """Predictions stored before the respect was kept load without it; their message names
    every respect instead of one, and a typical ECG's message never claims a flag."""
    from models.nets.prediction import OodScore

    stored_json = {"distance": 40.0, "percentile": 100.0, "high": True}  # as stored before
    stored = OodScore(**stored_json)
    assert stored.respect is None
    assert "in at least one respect" in describe_score(stored.percentile, True, stored.respect)
    assert describe_score(64.0, False, "wander").startswith("This ECG lies within")
    assert "64 % of held-out real ECGs" in describe_score(64.0, False, "wander")
