"""Change concepts of an ECG and its baseline (:mod:`models.change`)."""

from __future__ import annotations

import pytest

from models.change import (
    CHANGE_REGISTRY,
    change_names,
    change_values,
    get_change_concept,
    is_change_concept,
)
from models.concepts import FlagLevel, is_concept, rederive
from models.heads.logistic import HeadFeature, LogisticHeadModule, LogisticTaskHead, feature_unit


def _ecg(qt: float, rr: float, jtpeak: float, tpeak_tend: float, t_v5: float) -> dict:
    values = {"qt": qt, "rr": rr, "jtpeak": jtpeak, "tpeak_tend": tpeak_tend}
    return rederive({**values, "t_amplitude_v5": t_v5}, "female")


def test_every_issue_19_change_concept_is_there_with_its_unit() -> None:
    expected = {
        "delta_qtc_bazett": "ms",
        "delta_qtc_fridericia": "ms",
        "delta_qtc_framingham": "ms",
        "delta_qtc_hodges": "ms",
        "delta_jtpeak_c": "ms",
        "delta_tpeak_tend": "ms",
        "delta_heart_rate": "bpm",
        "delta_t_amplitude_ii": "%",
        "delta_t_amplitude_v5": "%",
    }
    assert {n: get_change_concept(n).concept.unit for n in change_names()} == expected
    assert all(not is_concept(n) and is_change_concept(n) for n in expected)
    assert all(feature_unit(n) == unit for n, unit in expected.items())
    with pytest.raises(KeyError, match="known: delta_qtc_bazett"):
        get_change_concept("delta_qt")


def test_changes_follow_their_inputs_and_flag_at_30_and_60_ms() -> None:
    baseline = _ecg(400, 1000, 200, 80, 0.40)
    on_drug = _ecg(470, 1000, 240, 100, 0.30)
    delta = change_values(on_drug, baseline)
    assert delta["delta_qtc_fridericia"] == pytest.approx(70.0)
    assert delta["delta_jtpeak_c"] == pytest.approx(40.0)
    assert delta["delta_tpeak_tend"] == pytest.approx(20.0)
    assert delta["delta_heart_rate"] == pytest.approx(0.0)
    assert delta["delta_t_amplitude_v5"] == pytest.approx(-25.0)
    assert delta["delta_t_amplitude_ii"] is None  # not measured on either ECG
    qtc = get_change_concept("delta_qtc_fridericia").concept
    assert qtc.flag(70.0).level is FlagLevel.CRITICAL
    assert qtc.flag(45.0).level is FlagLevel.BORDERLINE
    assert qtc.flag(10.0).level is FlagLevel.NORMAL
    # Overriding an input of the ECG (its QT) moves the change through the re-derived QTc.
    overridden = rederive({**on_drug, "qt": 440.0}, "female")
    assert change_values(overridden, baseline)["delta_qtc_fridericia"] == pytest.approx(40.0)


def test_a_flat_baseline_t_has_no_relative_change() -> None:
    change = get_change_concept("delta_t_amplitude_v5")
    assert change.change(0.3, 0.04) is None
    assert change.change(-0.2, 0.4) == pytest.approx(-150.0)
    assert change.change(float("nan"), 0.4) is None


def test_a_change_head_is_applied_as_data_never_inside_a_network() -> None:
    head = LogisticTaskHead(
        task="tdp_risk",
        intercept=0.0,
        features=(HeadFeature("delta_qtc_fridericia", 0.0, 20.0, 1.0),),
        learned_from="a test head",
    )
    assert head.reads_change
    assert head.probability({"delta_qtc_fridericia": 20.0}) == pytest.approx(0.7310586)
    with pytest.raises(ValueError, match="unavailable"):
        head.probability({"delta_qtc_fridericia": None})
    with pytest.raises(ValueError, match="cannot be composed"):
        LogisticHeadModule(head)
    with pytest.raises(ValueError, match="not both"):
        LogisticTaskHead(
            task="tdp_risk",
            intercept=0.0,
            features=(
                HeadFeature("delta_qtc_fridericia", 0.0, 20.0, 1.0),
                HeadFeature("qtc_fridericia", 400.0, 20.0, 1.0),
            ),
            learned_from="a test head",
        )
    assert len(CHANGE_REGISTRY) == len(change_names())
