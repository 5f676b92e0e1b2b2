"""Interventions on stored predictions and the policies that suggest what to check next."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from models.bundle import LoadedBundle, load_bundle
from models.concepts import REGISTRY, concept_names
from models.data.dataset import ConceptDataset
from models.ecg.record import STANDARD_LEADS, Ecg
from models.intervene import (
    POLICIES,
    head_batch,
    intervene,
    points_text,
    rank_checks,
    suggest,
    validate_override,
)
from models.nets.prediction import ModelPrediction
from models.tasks import task_names
from tests.nets.conftest import logit_from_parts

QTCS = ("qtc_bazett", "qtc_fridericia", "qtc_framingham", "qtc_hodges")


@pytest.fixture(scope="module", params=["joint", "cem"])
def predicted(
    request: pytest.FixtureRequest, bundle_dirs: dict[str, Path], tiny_data: ConceptDataset
) -> tuple[LoadedBundle, ModelPrediction]:
    """A bundle and one of its predictions, stored as JSON and read back (as the app does)."""
    bundle = load_bundle(bundle_dirs[request.param], device="cpu")
    ecg = Ecg(
        signal_mv=tiny_data.signals_mv[0],
        fs_hz=100.0,
        lead_names=STANDARD_LEADS,
        age_years=60,
        sex="female",
    )
    prediction = bundle.predict([ecg])[0]
    return bundle, ModelPrediction.from_dict(json.loads(json.dumps(prediction.to_dict())))


def test_no_override_reproduces_the_prediction(
    predicted: tuple[LoadedBundle, ModelPrediction],
) -> None:
    bundle, prediction = predicted
    result = intervene(bundle, prediction, {})
    assert result.changed == ()
    for task, risk in prediction.tasks.items():
        assert result.tasks[task].probability == pytest.approx(risk.probability, abs=1e-6)
        assert result.tasks[task].contributions == pytest.approx(risk.contributions, abs=1e-6)


def test_qt_override_rederives_every_qtc_and_moves_the_risk(
    predicted: tuple[LoadedBundle, ModelPrediction],
) -> None:
    bundle, prediction = predicted
    qt = prediction.concepts["qt"].value
    result = intervene(bundle, prediction, {"qt": qt + 80.0})
    assert set(result.changed) >= {"qt", *QTCS}
    assert "heart_rate" not in result.changed and "rr" not in result.changed
    for name in QTCS:
        assert result.concepts[name] > prediction.concepts[name].value + 40.0
    assert result.concepts["qtc_prolonged"] == float(
        result.concepts["qtc_fridericia"] > 460.0
    )  # female
    assert any(
        not math.isclose(result.tasks[t].probability, prediction.tasks[t].probability)
        for t in result.tasks
    )
    risk = result.tasks["lqts_risk"]
    assert logit_from_parts(risk) == pytest.approx(risk.logit, abs=1e-4)
    assert json.loads(json.dumps(result.to_dict()))["overrides"] == {"qt": qt + 80.0}


def test_any_qtc_formula_implying_the_same_qt_gives_the_same_qt_and_risks(
    predicted: tuple[LoadedBundle, ModelPrediction],
) -> None:
    """One truth per quantity: a QTc is a view of QT and RR, so typing it sets QT."""
    bundle, prediction = predicted
    bazett = intervene(bundle, prediction, {"qtc_bazett": 520.0, "t_notched": 1.0})
    qt = bazett.concepts["qt"]
    assert bazett.concepts["qtc_bazett"] == pytest.approx(520.0, abs=1e-3)
    assert "qt" in bazett.changed
    rr_s = prediction.concepts["rr"].value / 1000.0
    assert qt == pytest.approx(520.0 * rr_s**0.5, rel=1e-5)
    same_qt = {"qtc_fridericia": bazett.concepts["qtc_fridericia"], "t_notched": 1.0}
    by_qt = intervene(bundle, prediction, {"qt": qt, "t_notched": 1.0})
    for other in (intervene(bundle, prediction, same_qt), by_qt):
        assert other.concepts["qt"] == pytest.approx(qt, abs=1e-3)
        for task, risk in bazett.tasks.items():
            assert other.tasks[task].probability == pytest.approx(risk.probability, abs=1e-5)
        for name in QTCS:
            assert other.concepts[name] == pytest.approx(bazett.concepts[name], abs=1e-3)


def test_qtc_prolonged_follows_the_primary_qtc_and_the_sex(
    predicted: tuple[LoadedBundle, ModelPrediction],
) -> None:
    bundle, prediction = predicted
    result = intervene(bundle, prediction, {"qtc_fridericia": 455.0})
    assert result.concepts["qtc_prolonged"] == 0.0  # 455 ≤ 460 for a woman
    male = intervene(bundle, prediction, {"qtc_fridericia": 455.0}, sex="male")
    assert male.concepts["qtc_prolonged"] == 1.0


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"qt": 800.0, "rr": 200.0}, r"QT interval 800 ms is not shorter than RR interval 200 ms"),
        ({"rr": 600.0, "qt": 590.0}, r"QTc \(Bazett\) 761.7 ms \(qtc_bazett\) from QT"),
        ({"qtc_bazett": 520.0, "qt": 450.0}, r"\(qtc_bazett\) and QT interval \(qt\) both set"),
        ({"qtc_prolonged": 1.0}, r"QTc prolonged \(qtc_prolonged\) is derived from"),
        ({"jtpeak": 560.0, "qt": 420.0}, r"J-Tpeak 560 ms is not shorter than QT interval 420"),
    ],
)
def test_combinations_outside_physiology_are_refused_naming_both(
    predicted: tuple[LoadedBundle, ModelPrediction], overrides: dict[str, float], message: str
) -> None:
    bundle, prediction = predicted
    with pytest.raises(ValueError, match=message):
        intervene(bundle, prediction, overrides)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"qt": 40.0}, r"QT interval \(qt\) must lie between 150 and 800 ms, got 40 ms"),
        ({"qt": 9004500.0}, r"got 9,004,500 ms$"),  # a typo reads as typed, not as 9.0045e+06
        ({"t_notched": 0.5}, r"Notched T \(t_notched\) is 0 \(absent\) or 1 \(present\)"),
        ({"qtc": 450.0}, "unknown concept 'qtc'"),
        ({"rr": float("nan")}, r"RR interval \(rr\) must lie between"),
    ],
)
def test_implausible_overrides_are_refused_with_the_range(
    predicted: tuple[LoadedBundle, ModelPrediction], overrides: dict[str, float], message: str
) -> None:
    bundle, prediction = predicted
    with pytest.raises(ValueError, match=message):
        intervene(bundle, prediction, overrides)
    assert validate_override("qt", 420) == 420.0


def test_interventions_refuse_another_bundle_and_the_black_box(
    predicted: tuple[LoadedBundle, ModelPrediction], bundle_dirs: dict[str, Path]
) -> None:
    bundle, prediction = predicted
    other = load_bundle(bundle_dirs["cem" if bundle.variant == "joint" else "joint"], device="cpu")
    with pytest.raises(ValueError, match="predict again with this bundle"):
        intervene(other, prediction, {"qt": 400.0})
    blackbox = load_bundle(bundle_dirs["blackbox"], device="cpu")
    with pytest.raises(ValueError, match="without concepts"):
        intervene(blackbox, prediction, {"qt": 400.0})


@pytest.mark.parametrize("policy", POLICIES)
def test_suggest_ranks_unchecked_concepts_with_a_reason(
    predicted: tuple[LoadedBundle, ModelPrediction], policy: str
) -> None:
    bundle, prediction = predicted
    suggestions = suggest(bundle, prediction, {"qtc_bazett": 430.0}, policy=policy, task="tdp_risk")
    names = [s.concept for s in suggestions]
    checkable = {c.name for c in REGISTRY if c.can_be_checked}
    # Never the QT a typed QTc set, nor anything derived, nor what no caliper reads.
    assert set(names) == checkable - {"qt"}
    assert not {"qtc_variability", "t_flatness", "t_asymmetry", "qtc_fridericia"} & set(names)
    scores = [s.score for s in suggestions]
    assert scores == sorted(scores, reverse=True)
    assert all(
        s.reason_text.startswith("Check ") and 0 <= s.expected_risk_change <= 1 for s in suggestions
    )
    assert suggestions == suggest(
        bundle, prediction, {"qtc_bazett": 430.0}, policy=policy, task="tdp_risk"
    )
    limb_only = suggest(bundle, prediction, policy=policy, leads=("I", "II", "III"))
    assert "t_amplitude_v5" not in {s.concept for s in limb_only}


def test_the_best_few_are_the_head_of_the_whole_ranking(
    predicted: tuple[LoadedBundle, ModelPrediction],
) -> None:
    bundle, prediction = predicted
    model, batch = head_batch(bundle, prediction)
    ranked = rank_checks(model, batch, task_names())
    best = rank_checks(model, batch, task_names(), limit=2)
    assert best == {task: items[:2] for task, items in ranked.items()}
    assert all(len(items) == 2 < len(ranked[task]) for task, items in best.items())


def test_points_are_counted_in_words() -> None:
    assert points_text(0.012) == "1 point"
    assert points_text(0.004) == "less than 1 point"
    assert points_text(0.25) == "25 points"


def test_expected_risk_change_of_a_binary_concept_is_exact(
    predicted: tuple[LoadedBundle, ModelPrediction],
) -> None:
    """For a binary concept the expectation has two outcomes, each computable by intervene()."""
    bundle, prediction = predicted
    by_name = {s.concept: s for s in suggest(bundle, prediction, {}, policy="expected_risk_change")}
    p = prediction.head_state.head_values[concept_names().index("t_notched")]  # its probability
    now = prediction.tasks["lqts_risk"].probability
    present = intervene(bundle, prediction, {"t_notched": 1.0}).tasks["lqts_risk"].probability
    absent = intervene(bundle, prediction, {"t_notched": 0.0}).tasks["lqts_risk"].probability
    expected = p * abs(present - now) + (1 - p) * abs(absent - now)
    assert by_name["t_notched"].expected_risk_change == pytest.approx(expected, abs=1e-5)
    bound = points_text(max(abs(present - now), abs(absent - now)))
    assert f"by up to {bound}." in by_name["t_notched"].reason_text
    best = max(by_name.values(), key=lambda s: s.score)
    assert best.score == pytest.approx(best.expected_risk_change)


def test_suggest_rejects_unknown_policy_and_task(
    predicted: tuple[LoadedBundle, ModelPrediction],
) -> None:
    bundle, prediction = predicted
    with pytest.raises(ValueError, match="unknown policy"):
        suggest(bundle, prediction, policy="oracle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown task"):
        suggest(bundle, prediction, task="afib_risk")
