"""Interventions on stored predictions and the policies that suggest what to check next."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from models.bundle import LoadedBundle, load_bundle
from models.concepts import concept_names
from models.data.dataset import ConceptDataset
from models.ecg.record import STANDARD_LEADS, Ecg
from models.intervene import POLICIES, intervene, suggest, validate_override
from models.nets.prediction import ModelPrediction
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


def test_a_typed_qtc_is_kept_and_sex_moves_the_sex_specific_threshold(
    predicted: tuple[LoadedBundle, ModelPrediction],
) -> None:
    bundle, prediction = predicted
    result = intervene(bundle, prediction, {"qtc_fridericia": 455.0, "t_notched": 1.0})
    assert result.concepts["qtc_fridericia"] == 455.0
    assert result.concepts["qtc_bazett"] == pytest.approx(
        prediction.head_state.head_values[concept_names().index("qtc_bazett")], rel=1e-6
    )
    assert result.concepts["qtc_prolonged"] == 0.0  # 455 ≤ 460 for a woman
    assert (
        intervene(bundle, prediction, {"qtc_fridericia": 455.0}, sex="male").concepts[
            "qtc_prolonged"
        ]
        == 1.0
    )
    assert result.concepts["t_notched"] == 1.0


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"qt": 40.0}, r"QT interval \(qt\) must lie between 150 and 800 ms, got 40 ms"),
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
    suggestions = suggest(bundle, prediction, {"qt": 430.0}, policy=policy, task="tdp_risk")
    names = [s.concept for s in suggestions]
    assert "qt" not in names and len(names) == len(prediction.concepts) - 1
    scores = [s.score for s in suggestions]
    assert scores == sorted(scores, reverse=True)
    assert all(
        s.reason_text.startswith("Check ") and 0 <= s.expected_risk_change <= 1 for s in suggestions
    )
    assert suggestions == suggest(bundle, prediction, {"qt": 430.0}, policy=policy, task="tdp_risk")


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
    bound = round(100 * max(abs(present - now), abs(absent - now)))
    assert f"by up to {bound} points" in by_name["t_notched"].reason_text
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
