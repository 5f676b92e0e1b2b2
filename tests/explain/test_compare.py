"""``qtlens compare`` on tiny models trained with the shortcut artefact, and its pieces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from models.cli import build_cli
from models.explain.attributions import AttributionOptions, explain, method_names
from models.explain.compare import EXPOSURE_ENRICHMENT, CompareConfig, compare
from models.explain.data import ludb_data
from models.explain.metrics import cascade_blocks, localisation, shortcut_exposure
from models.explain.tcav import TcavConfig
from tests.explain.conftest import DATA_SEED, TRAIN_SEED, inputs_for


@pytest.fixture(scope="module")
def shortcut_report(bundle_dirs, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("compare")
    config = CompareConfig(
        n_records=120,
        data_seed=DATA_SEED,
        shortcut=True,
        n_explain=24,
        n_sanity=2,
        tcav_inputs=30,
        tcav=TcavConfig(repeats=10, examples_per_set=20, use_cache=False),
        attribution=AttributionOptions(n_steps=16),
        n_boot=50,
        max_interventions=2,
    )
    return compare(bundle_dirs["cbm"], bundle_dirs["shortcut"], out, config, progress=False), out


def test_the_report_shows_which_methods_expose_the_shortcut(shortcut_report) -> None:
    report, _ = shortcut_report
    shortcut = report["shortcut"]
    exposed = shortcut["exposed_by"]["blackbox"]
    assert len(exposed) >= 1, shortcut["attributions"]["blackbox"]
    for method in exposed:
        entry = shortcut["attributions"]["blackbox"][method]
        assert entry["p_adjusted"] < 0.05 and entry["enrichment"] >= EXPOSURE_ENRICHMENT
        assert entry["share_present"] > entry["share_absent"]
    assert "ig" in exposed
    assert shortcut["tcav_significant"]["blackbox"]
    assert shortcut["records_with_spike"] + shortcut["records_without_spike"] == 24
    assert {row["concept"] for row in shortcut["concept_leakage"]} >= {"qt", "rr"}


def test_the_report_states_models_data_and_every_section(shortcut_report, bundles) -> None:
    report, out = shortcut_report
    assert report["bundles"]["cbm"]["sha256"] == bundles["cbm"].checksum
    assert report["bundles"]["blackbox"]["sha256"] == bundles["shortcut"].checksum
    assert report["bundles"]["blackbox"]["training_data"]["seed"] == TRAIN_SEED
    assert report["data"]["seed"] == DATA_SEED and report["data"]["label_model"] == "qtc_only"
    assert json.loads((out / "compare.json").read_text()) == report
    page = (out / "compare.html").read_text()
    assert "<script src=" not in page and len(page) > 3_000_000  # plotly.js inlined, no CDN
    assert page.count("<section>") == 7
    assert bundles["cbm"].checksum in page
    for role in ("cbm", "blackbox"):
        tasks = report["performance"][role]
        assert tasks["lqts_risk"]["auroc"]["value"] > 0.75
        assert set(report["localisation"][role]) == set(method_names())
        ig = report["localisation"][role]["ig"]
        assert ig["regions"]["qt"]["share"] > ig["regions"]["qt"]["chance"]
        assert ig["completeness_gap_median"] < 0.1 and "shortcut" not in ig["regions"]
        curves = report["faithfulness"][role]
        assert curves["ig"]["deletion_auc"] < curves["random"]["deletion_auc"]
        assert curves["ig"]["insertion_auc"] > curves["random"]["insertion_auc"]
        randomised = report["randomisation"][role]["saliency"]
        assert len(randomised["correlation"]) == len(randomised["blocks"])
        assert (
            randomised["blocks"][0] == "task_head" and randomised["blocks"][-1] == "backbone.stem"
        )
    fidelity = {row["concept_set"]: row for row in report["concept_fidelity"]["tcav_vs_cbm"]}
    assert fidelity["qtc_long"]["cbm_accuracy"]["mae"] < 40.0
    assert fidelity["qtc_long"]["blackbox"]["significant"]
    assert not fidelity["random"]["blackbox"]["significant"]
    curves = report["interventions"]["lqts_risk"]["curves"]
    assert set(curves) == {"random", "uncertainty", "expected_risk_change"}


def test_exposure_needs_a_model_that_read_the_spike(bundles, shortcut_data) -> None:
    """Integrated Gradients puts mass on the spike sites of the model trained with the spike,
    not of the one trained without it (whose input × gradient sees the spike too)."""
    present = shortcut_data.flags["shortcut"]
    found = {}
    for name in ("clean", "shortcut"):
        batch, start_s = inputs_for(bundles[name], shortcut_data)
        masks = shortcut_data.region_masks(start_s, 100.0, 1000)
        attribution = explain(
            "ig", bundles[name], batch, "lqts_risk", options=AttributionOptions(n_steps=16)
        )
        found[name] = shortcut_exposure(attribution, masks, present)
        assert localisation(attribution, masks)["shortcut"].n_records == len(present)
    assert found["shortcut"].enrichment >= EXPOSURE_ENRICHMENT
    assert found["clean"].enrichment < EXPOSURE_ENRICHMENT
    assert found["shortcut"].share_present > 2 * found["clean"].share_present


def test_cascade_covers_the_network_from_the_output_down(bundles) -> None:
    from models.explain.attributions import explainable

    names = [name for name, _ in cascade_blocks(explainable(bundles["cbm"]))]
    assert names == [
        "task_head",
        "concept_head",
        "backbone.stages.2",
        "backbone.stages.1",
        "backbone.stages.0",
        "backbone.stem",
    ]


def test_ludb_regions_follow_the_cardiologists_marks(data_dir: Path) -> None:
    data = ludb_data(2, data_dir)
    assert data.source == "ludb" and not data.has_labels and len(data) == 2
    masks = data.region_masks(np.zeros(2), 100.0, 1000)
    first = data.truth[0]
    begin, end = first.annotated_s["II"]
    evaluated = np.flatnonzero(masks.evaluated[0, 1]) / 100.0
    assert evaluated[0] == pytest.approx(begin, abs=0.01)
    assert evaluated[-1] == pytest.approx(end, abs=0.01)
    qt = first.regions["qt"]["II"]
    assert len(qt) >= 4 and np.all((qt[:, 1] - qt[:, 0] > 0.25) & (qt[:, 1] - qt[:, 0] < 0.6))
    assert masks.regions["t_wave"][0, 1].sum() < masks.regions["qt"][0, 1].sum()
    qtc = data.concepts[:, 5]
    assert np.isfinite(qtc).all() and np.all((qtc > 300) & (qtc < 600))


@pytest.mark.parametrize(
    ("cbm", "options", "message"),
    [
        ("cbm", ["--data", "ptbxl"], "synthetic, ludb"),
        ("clean", [], "without concepts"),
        ("cbm", ["--data-seed", str(TRAIN_SEED)], "training records"),
        ("cbm", ["--methods", "ig,lime"], "lime"),
    ],
)
def test_the_command_refuses_bad_input_clearly(
    bundle_dirs, tmp_path: Path, cbm: str, options: list[str], message: str
) -> None:
    arguments = ["compare", "--cbm", str(bundle_dirs[cbm]), "--blackbox"]
    arguments += [str(bundle_dirs["shortcut"]), "--out", str(tmp_path), *options]
    result = CliRunner().invoke(build_cli(), arguments)
    assert result.exit_code == 2 and message in result.output
