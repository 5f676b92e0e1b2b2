"""Composed bundles: the card and checksums, prediction on an uploaded ECG, interventions and
suggestions through the composed head, and the shipped demo bundle."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from models.bundle import (
    CARD_FILE,
    CHECKSUM_FILE,
    BundleError,
    BundleIntegrityError,
    load_bundle,
    read_json,
    write_checksums,
)
from models.cli import build_cli
from models.data.ludb import Ludb
from models.ecg.record import Ecg
from models.heads.compose import compose_bundle
from models.heads.logistic import ComposedConceptModel, LogisticTaskHead
from models.intervene import intervene, suggest
from models.nets.batching import InputBatch, run_batched
from models.nets.bottleneck import sex_code
from models.nets.inputs import ecg_to_input
from models.nets.prediction import ModelPrediction
from tests.heads.conftest import DEMO_BUNDLE, SHIPPED_HEAD, known_head, network_only_demo
from tests.nets.conftest import logit_from_parts

HEAD_CONCEPTS = {"qtc_fridericia": 0.8, "tpeak_tend": -0.5}


@pytest.fixture(scope="module")
def ludb_ecg(data_dir: Path) -> Ecg:
    """LUDB record 1 as an uploaded ECG (500 Hz, 12 leads, 51-year-old woman)."""
    ludb = Ludb(data_dir / "ludb")
    return ludb.load(ludb.record_ids()[0]).ecg


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return network_only_demo(tmp_path_factory.mktemp("network"))


@pytest.fixture(scope="module")
def composed(network: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo network with a head of known coefficients for tdp_risk."""
    out = tmp_path_factory.mktemp("composed")
    compose_bundle(network, {"tdp_risk": known_head(HEAD_CONCEPTS)}, out, "test")
    return out


def _round_trip(prediction: ModelPrediction) -> ModelPrediction:
    return ModelPrediction.from_dict(json.loads(json.dumps(prediction.to_dict())))


def test_the_card_names_each_head_and_checksums_cover_the_head_file(composed: Path) -> None:
    card = read_json(composed / CARD_FILE)
    heads = card["task_heads"]
    assert heads["lqts_risk"] == {
        "kind": "network",
        "learned_from": "joint network head trained on 4000 synthetic ECGs, seed 0",
    }
    assert (
        heads["tdp_risk"]["kind"] == "logistic"
        and heads["tdp_risk"]["file"] == "heads/tdp_risk.json"
    )
    assert heads["tdp_risk"]["learned_from"] == "a test head with known coefficients"
    assert heads["tdp_risk"]["replaces"]["kind"] == "network"
    listed = [line.split("  ")[1] for line in (composed / CHECKSUM_FILE).read_text().splitlines()]
    assert listed == [
        "weights.safetensors",
        "card.json",
        "preprocessing.json",
        "heads/tdp_risk.json",
    ]
    bundle = load_bundle(composed, device="cpu")
    assert isinstance(bundle.model, ComposedConceptModel)
    assert bundle.task_heads["tdp_risk"]["learned_from"] == "a test head with known coefficients"


def test_an_edited_or_unlisted_head_file_fails_to_load(composed: Path, tmp_path: Path) -> None:
    edited = tmp_path / "edited"
    shutil.copytree(composed, edited)
    head = edited / "heads" / "tdp_risk.json"
    head.write_text(head.read_text().replace('"intercept": -1.0', '"intercept": 3.0'))
    with pytest.raises(BundleIntegrityError, match="heads/tdp_risk.json fails its SHA-256 check"):
        load_bundle(edited, device="cpu")
    unlisted = tmp_path / "unlisted"
    shutil.copytree(composed, unlisted)
    write_checksums(unlisted, ("weights.safetensors", CARD_FILE, "preprocessing.json"))
    with pytest.raises(BundleError, match="is not in SHA256SUMS"):
        load_bundle(unlisted, device="cpu")
    escaping = tmp_path / "escaping"
    shutil.copytree(composed, escaping)
    with (escaping / CHECKSUM_FILE).open("a") as handle:
        handle.write(f"{'0' * 64}  ../outside.json\n")
    with pytest.raises(BundleError, match="malformed"):
        load_bundle(escaping, device="cpu")


def test_composition_gives_tdp_risk_for_an_uploaded_ecg(
    network: Path, composed: Path, ludb_ecg: Ecg
) -> None:
    base = load_bundle(network, device="cpu").predict([ludb_ecg])[0]
    bundle = load_bundle(composed, device="cpu")
    prediction = bundle.predict([ludb_ecg])[0]
    # The network's concepts and lqts_risk are untouched; tdp_risk is the composed head's.
    assert prediction.tasks["lqts_risk"].probability == pytest.approx(
        base.tasks["lqts_risk"].probability, abs=1e-6
    )
    values = {n: prediction.concepts[n].value for n in HEAD_CONCEPTS}
    logit = -1.0 + sum(w * (values[n] - 400.0) / 20.0 for n, w in HEAD_CONCEPTS.items())
    tdp = prediction.tasks["tdp_risk"]
    assert tdp.logit == pytest.approx(logit, abs=1e-4)
    assert tdp.probability == pytest.approx(1 / (1 + math.exp(-logit)), abs=1e-6)
    assert tdp.logit == pytest.approx(logit_from_parts(tdp), abs=1e-4)
    assert {n for n, v in tdp.contributions.items() if v != 0} == set(HEAD_CONCEPTS)
    assert tdp.weights["tpeak_tend"] == pytest.approx(-0.5) and tdp.intercept == pytest.approx(-1)
    # The forward pass (what `qtlens evaluate` scores) agrees with the decomposition.
    signal, mask = ecg_to_input(ludb_ecg, bundle.spec)
    output = run_batched(
        bundle.model,
        InputBatch(
            signal[None],
            mask[None],
            np.array([sex_code(ludb_ecg.sex)]),
            np.array([ludb_ecg.age_years], dtype=np.float32),
        ),
        bundle.device,
    )
    assert float(output.task_logits[0, 1]) == pytest.approx(tdp.logit, abs=1e-4)


@pytest.mark.parametrize("concept, change", [("qtc_fridericia", 30.0), ("tpeak_tend", 20.0)])
def test_an_intervention_moves_tdp_risk_as_the_coefficient_says(
    composed: Path, ludb_ecg: Ecg, concept: str, change: float
) -> None:
    bundle = load_bundle(composed, device="cpu")
    prediction = _round_trip(bundle.predict([ludb_ecg])[0])
    before = prediction.tasks["tdp_risk"]
    after = intervene(bundle, prediction, {concept: prediction.concepts[concept].value + change})
    expected = HEAD_CONCEPTS[concept] / 20.0 * change
    assert after.tasks["tdp_risk"].logit - before.logit == pytest.approx(expected, abs=1e-4)
    assert after.tasks["tdp_risk"].contributions[concept] - before.contributions[concept] == (
        pytest.approx(expected, abs=1e-4)
    )
    assert after.tasks["lqts_risk"].probability != prediction.tasks["lqts_risk"].probability


def test_a_qt_override_reaches_the_head_through_the_rederived_qtc(
    composed: Path, ludb_ecg: Ecg
) -> None:
    bundle = load_bundle(composed, device="cpu")
    prediction = _round_trip(bundle.predict([ludb_ecg])[0])
    qt = prediction.concepts["qt"].value
    after = intervene(bundle, prediction, {"qt": qt + 40.0})
    qtc_change = after.concepts["qtc_fridericia"] - prediction.concepts["qtc_fridericia"].value
    assert qtc_change > 40.0 * 0.8
    assert after.tasks["tdp_risk"].logit - prediction.tasks["tdp_risk"].logit == pytest.approx(
        0.8 / 20.0 * qtc_change, abs=1e-3
    )


def test_suggestions_for_tdp_risk_follow_the_composed_head(composed: Path, ludb_ecg: Ecg) -> None:
    bundle = load_bundle(composed, device="cpu")
    prediction = _round_trip(bundle.predict([ludb_ecg])[0])
    ranked = suggest(bundle, prediction, task="tdp_risk")
    moving = {s.concept for s in ranked if s.expected_risk_change > 1e-6}
    # Only the head's primary inputs move it: the QTc it reads is checked through QT (and RR).
    assert moving <= {"qt", "rr", "tpeak_tend"}
    assert {"tpeak_tend", "qt"} <= moving
    assert ranked[0].concept in moving


def test_demographic_features_push_the_logit(network: Path, tmp_path: Path, ludb_ecg: Ecg) -> None:
    out = tmp_path / "aged"
    compose_bundle(
        network, {"tdp_risk": known_head({"qtc_fridericia": 0.8, "age_years": 0.5})}, out
    )
    bundle = load_bundle(out, device="cpu")
    prediction = _round_trip(bundle.predict([ludb_ecg])[0])
    tdp = prediction.tasks["tdp_risk"]
    assert tdp.age_contribution == pytest.approx(0.5 * (ludb_ecg.age_years - 50.0) / 10.0)
    older = intervene(bundle, prediction, {}, age=ludb_ecg.age_years + 20)
    assert older.tasks["tdp_risk"].logit - tdp.logit == pytest.approx(1.0, abs=1e-4)
    unknown = intervene(bundle, prediction, {}, age=float("nan"))
    assert unknown.tasks["tdp_risk"].age_contribution == 0.0


def test_recomposing_is_reproducible_and_the_network_head_can_come_back(
    network: Path, composed: Path, tmp_path: Path, ludb_ecg: Ecg
) -> None:
    again = tmp_path / "again"
    shutil.copytree(composed, again)
    first = (composed / CHECKSUM_FILE).read_text()
    compose_bundle(again, {"tdp_risk": known_head(HEAD_CONCEPTS)}, again, "test")
    assert (again / CHECKSUM_FILE).read_text() == first
    compose_bundle(again, {"tdp_risk": "network"}, again)
    assert not (again / "heads").exists()
    card = read_json(again / CARD_FILE)
    assert card["task_heads"]["tdp_risk"]["kind"] == "network"
    restored = load_bundle(again, device="cpu").predict([ludb_ecg])[0]
    original = load_bundle(network, device="cpu").predict([ludb_ecg])[0]
    assert restored.tasks["tdp_risk"].logit == pytest.approx(original.tasks["tdp_risk"].logit)


def test_compose_refuses_black_boxes_and_mismatched_heads(network: Path, tmp_path: Path) -> None:
    black_box = tmp_path / "blackbox"
    shutil.copytree(network, black_box)
    card = read_json(black_box / CARD_FILE)
    card["variant"] = "blackbox"
    (black_box / CARD_FILE).write_text(json.dumps(card))
    write_checksums(black_box, ("weights.safetensors", CARD_FILE, "preprocessing.json"))
    with pytest.raises(ValueError, match="black box"):
        compose_bundle(black_box, {"tdp_risk": known_head(HEAD_CONCEPTS)}, tmp_path / "out")
    lqts_head = known_head(HEAD_CONCEPTS)
    with pytest.raises(ValueError, match="predicts tdp_risk"):
        compose_bundle(network, {"lqts_risk": lqts_head}, tmp_path / "out")
    with pytest.raises(ValueError, match="unknown task"):
        compose_bundle(network, {"qt_risk": lqts_head}, tmp_path / "out")


def test_compose_bundle_command(network: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "composed"
    result = runner.invoke(
        build_cli(),
        [
            "compose-bundle",
            "--base",
            str(network),
            "--head",
            f"tdp_risk={SHIPPED_HEAD}",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    card = read_json(out / CARD_FILE)
    assert card["composition"]["command"].startswith("qtlens compose-bundle --base")
    assert "ECGRDVQ" in card["task_heads"]["tdp_risk"]["learned_from"]
    # The train-head folder's change head comes along, checksummed, and loads beside the head.
    change = card["task_heads"]["tdp_risk"]["change_head"]
    assert change["file"] == "heads/tdp_risk.change.json"
    assert change["features"] == ["delta_jtpeak_c", "delta_tpeak_tend", "delta_t_amplitude_v5"]
    assert change["file"] in (out / CHECKSUM_FILE).read_text()
    loaded = load_bundle(out, device="cpu")
    assert loaded.change_heads["tdp_risk"] == LogisticTaskHead.load(
        SHIPPED_HEAD / "change_head.json"
    )
    assert "tdp_risk" not in load_bundle(network, device="cpu").change_heads
    for bad, message in (("tdp_risk", "is not TASK=DIR"), (f"tdp_risk={tmp_path}", "head.json")):
        failed = runner.invoke(
            build_cli(),
            ["compose-bundle", "--base", str(network), "--head", bad, "--out", str(out)],
        )
        assert failed.exit_code == 2 and message in failed.output


def test_the_demo_bundle_carries_the_ecgrdvq_head(ludb_ecg: Ecg) -> None:
    bundle = load_bundle(DEMO_BUNDLE, device="cpu")
    heads = bundle.task_heads
    assert heads["lqts_risk"]["kind"] == "points"
    assert "synthetic" in heads["lqts_risk"]["replaces"]["learned_from"]
    assert heads["tdp_risk"]["learned_from"].startswith(
        "logistic head on one ECG, learned on ECGRDVQ (6 subjects"
    )
    shipped = LogisticTaskHead.load(SHIPPED_HEAD / "head.json")
    assert LogisticTaskHead.load(DEMO_BUNDLE / "heads" / "tdp_risk.json") == shipped
    assert bundle.change_heads["tdp_risk"] == LogisticTaskHead.load(
        SHIPPED_HEAD / "change_head.json"
    )
    size = sum(p.stat().st_size for p in DEMO_BUNDLE.rglob("*") if p.is_file())
    assert size < 20 * 2**20
    prediction = _round_trip(bundle.predict([ludb_ecg])[0])
    per_unit = {f.name: f.coefficient_per_unit for f in shipped.features}
    assert set(per_unit) == {"qtc_fridericia", "jtpeak_c", "tpeak_tend", "heart_rate"}
    # An override of an input no other input derives from moves the logit by exactly the head's
    # coefficient (the probability may sit where the sigmoid is flat): QTcF through QT (J-Tpeak
    # and RR stay), Tpeak-Tend directly.
    for concept, change in (("qtc_fridericia", 30.0), ("tpeak_tend", 20.0)):
        after = intervene(
            bundle, prediction, {concept: prediction.concepts[concept].value + change}
        )
        moved = after.tasks["tdp_risk"].logit - prediction.tasks["tdp_risk"].logit
        assert moved == pytest.approx(per_unit[concept] * change, rel=1e-3)
        assert np.sign(after.tasks["tdp_risk"].probability - prediction.tasks["tdp_risk"]
                       .probability) == np.sign(per_unit[concept])
