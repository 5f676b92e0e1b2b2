"""Bundles: integrity checks, the card, prediction on any Ecg, and the JSON prediction schema."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from models.bundle import (
    CARD_FILE,
    BundleError,
    BundleIntegrityError,
    load_bundle,
    recorded_checksums,
    write_checksums,
)
from models.concepts import concept_names
from models.data.dataset import ConceptDataset
from models.ecg.errors import MalformedEcg
from models.ecg.record import STANDARD_LEADS, Ecg
from models.nets.prediction import ModelPrediction
from models.tasks import RiskBand, task_names
from tests.nets.conftest import logit_from_parts


def _ecg(data: ConceptDataset, index: int, **changes: object) -> Ecg:
    values = {
        "signal_mv": data.signals_mv[index],
        "fs_hz": data.fs_hz,
        "lead_names": STANDARD_LEADS,
        "age_years": int(data.age_years[index]),
        "sex": "female" if data.sex[index] == 1 else "male",
    }
    values.update(changes)
    return Ecg(**values)  # type: ignore[arg-type]


def _copy(bundle_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(bundle_dir, target)
    return target


def test_card_states_what_the_model_is(bundle_dirs: dict[str, Path]) -> None:
    card = json.loads((bundle_dirs["joint"] / "card.json").read_text())
    assert "not a medical device" in card["intended_use"]
    assert any("SYNTHETIC" in item for item in card["limitations"])
    assert [c["name"] for c in card["concepts"]] == list(concept_names())
    qt = next(c for c in card["concepts"] if c["name"] == "qt")
    assert qt["unit"] == "ms" and 300 < qt["train_mean"] < 500 and qt["train_sd"] > 5
    qtc = next(c for c in card["concepts"] if c["name"] == "qtc_fridericia")
    assert qtc["predicted"] is False and qtc["derived_from"] == ["qt", "rr"]
    assert card["data"]["source"] == "synthetic" and card["data"]["split"]["train"] > 0
    assert card["training"]["seed"] == 0 and card["training"]["epochs_run"] >= 1
    assert set(card["metrics"]["task_auroc"]) == set(task_names())
    assert card["code_version"].startswith("qtlens")
    preprocessing = json.loads((bundle_dirs["joint"] / "preprocessing.json").read_text())
    assert preprocessing["fs_hz"] == 100.0 and preprocessing["lead_order"] == list(STANDARD_LEADS)


@pytest.mark.parametrize(
    "target, edit",
    [
        ("weights.safetensors", lambda b: b[:-1] + bytes([b[-1] ^ 1])),
        ("card.json", lambda b: b.replace(b'"joint"', b'"cem"', 1)),
        ("preprocessing.json", lambda b: b.replace(b"100.0", b"250.0", 1)),
    ],
)
def test_a_tampered_bundle_fails_to_load(
    bundle_dirs: dict[str, Path], tmp_path: Path, target: str, edit
) -> None:
    bundle = _copy(bundle_dirs["joint"], tmp_path)
    path = bundle / target
    path.write_bytes(edit(path.read_bytes()))
    with pytest.raises(BundleIntegrityError, match=f"{target} fails its SHA-256 check"):
        load_bundle(bundle, device="cpu")


def test_incomplete_or_missing_bundles_fail_clearly(
    bundle_dirs: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(tmp_path / "nowhere", device="cpu")
    bundle = _copy(bundle_dirs["joint"], tmp_path)
    (bundle / "SHA256SUMS").unlink()
    with pytest.raises(BundleError, match="missing SHA256SUMS"):
        load_bundle(bundle, device="cpu")


@pytest.mark.parametrize(
    "name, derived_from, message",
    [
        ("t_inverted", ["t_amplitude_ii", "t_amplitude_v5"],
         "t_inverted is derived from t_amplitude_ii, t_amplitude_v5 there, predicted here"),
        ("qtc_fridericia", [], "qtc_fridericia is predicted there, derived from qt, rr here"),
    ],
)
def test_a_bundle_that_derives_other_concepts_is_refused(
    bundle_dirs: dict[str, Path], tmp_path: Path, name: str, derived_from: list[str],
    message: str,
) -> None:
    """A network whose card says it derived a concept this registry predicts (or the reverse)
    saved an ``is_derived`` mask that contradicts the registry's formulas: it must not load,
    though its names match. The checksums are rewritten, so only the registry check can refuse
    it."""
    bundle = _copy(bundle_dirs["joint"], tmp_path)
    card = json.loads((bundle / CARD_FILE).read_text())
    entry = next(c for c in card["concepts"] if c["name"] == name)
    entry["derived_from"], entry["predicted"] = derived_from, not derived_from
    (bundle / CARD_FILE).write_text(json.dumps(card))
    write_checksums(bundle, list(recorded_checksums(bundle)))
    with pytest.raises(BundleError, match=re.escape(message)):
        load_bundle(bundle, device="cpu")


def test_predict_returns_concepts_risks_and_a_json_round_trip(
    bundle_dirs: dict[str, Path], tiny_data: ConceptDataset
) -> None:
    bundle = load_bundle(bundle_dirs["joint"], device="auto")
    assert bundle.device.type in {"cpu", "cuda"}
    ecgs = [_ecg(tiny_data, 0), _ecg(tiny_data, 1, age_years=None, sex=None)]
    predictions = bundle.predict(ecgs)
    assert len(predictions) == 2
    first = predictions[0]
    assert first.bundle_sha256 == bundle.checksum and first.variant == "joint"
    assert tuple(first.concepts) == concept_names() and tuple(first.tasks) == task_names()
    qt, notched = first.concepts["qt"], first.concepts["t_notched"]
    assert 150 <= qt.value <= 800 and qt.uncertainty > 0 and qt.probability is None
    assert notched.value in (0.0, 1.0) and 0 <= notched.probability <= 1
    assert first.concepts["qtc_fridericia"].derived
    for risk in first.tasks.values():
        assert 0 < risk.probability < 1 and isinstance(risk.band, RiskBand)
        assert logit_from_parts(risk) == pytest.approx(risk.logit, abs=1e-4)
    assert predictions[1].sex is None and predictions[1].tasks["lqts_risk"].sex_contribution == 0.0
    stored = json.loads(json.dumps(first.to_dict()))
    assert ModelPrediction.from_dict(stored) == first
    assert stored["head_state"]["embedding_positive"] is None
    assert len(stored["head_state"]["standardised"]) == len(concept_names())


def _numbers(value: object) -> list[float | str | None]:
    """Every leaf of a prediction's JSON, in order (numbers as floats)."""
    if isinstance(value, dict):
        return [leaf for key in sorted(value) for leaf in _numbers(value[key])]
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in _numbers(item)]
    return [float(value) if isinstance(value, int | float) else value]


@pytest.mark.parametrize("variant", ["joint", "cem", "blackbox"])
def test_a_record_gets_the_same_prediction_alone_and_in_a_batch(
    variant: str, bundle_dirs: dict[str, Path], tiny_data: ConceptDataset
) -> None:
    bundle = load_bundle(bundle_dirs[variant], device="cpu")
    ecgs = [_ecg(tiny_data, 0), _ecg(tiny_data, 1, sex="male"), _ecg(tiny_data, 2, sex=None)]
    together = bundle.predict(ecgs)
    for ecg, in_batch in zip(ecgs, together, strict=True):
        alone = _numbers(bundle.predict([ecg])[0].to_dict())
        batched = _numbers(in_batch.to_dict())
        assert [v for v in batched if not isinstance(v, float)] == [
            v for v in alone if not isinstance(v, float)
        ]
        # Uncertainties too: the Monte Carlo draws do not depend on the batch.
        assert [v for v in batched if isinstance(v, float)] == pytest.approx(
            [v for v in alone if isinstance(v, float)], rel=1e-4, abs=1e-5
        )


def test_predict_handles_other_rates_missing_leads_and_rejects_bad_ecgs(
    bundle_dirs: dict[str, Path], tiny_data: ConceptDataset
) -> None:
    bundle = load_bundle(bundle_dirs["cem"], device="cpu")
    ecg = _ecg(tiny_data, 2)
    t = np.arange(2500) / 250.0
    upsampled = np.stack([np.interp(t, np.arange(1000) / 100.0, lead) for lead in ecg.signal_mv])
    limb_only = Ecg(signal_mv=upsampled[:6], fs_hz=250.0, lead_names=STANDARD_LEADS[:6], sex="male")
    native, resampled = bundle.predict([ecg, limb_only])
    assert resampled.leads_used == STANDARD_LEADS[:6]
    assert native.head_state is not None and len(native.head_state.embedding_positive[0]) == 2
    assert ModelPrediction.from_dict(json.loads(json.dumps(native.to_dict()))) == native
    with pytest.raises(MalformedEcg):
        bundle.predict(
            [Ecg(signal_mv=np.zeros((1, 500), np.float32), fs_hz=100.0, lead_names=("X",))]
        )
    assert bundle.predict([]) == []


def test_black_box_predicts_risk_without_concepts(
    bundle_dirs: dict[str, Path], tiny_data: ConceptDataset
) -> None:
    bundle = load_bundle(bundle_dirs["blackbox"], device="cpu")
    (prediction,) = bundle.predict([_ecg(tiny_data, 3)])
    assert prediction.concepts == {} and prediction.head_state is None
    assert prediction.tasks["tdp_risk"].contributions == {}
    assert ModelPrediction.from_dict(prediction.to_dict()) == prediction


def test_from_dict_rejects_other_schema_versions(
    bundle_dirs: dict[str, Path], tiny_data: ConceptDataset
) -> None:
    bundle = load_bundle(bundle_dirs["joint"], device="cpu")
    stored = bundle.predict([_ecg(tiny_data, 0)])[0].to_dict()
    stored["schema_version"] = 99
    with pytest.raises(ValueError, match="schema version"):
        ModelPrediction.from_dict(stored)
