"""Evaluation metrics, and the acceptance numbers of a short training run on synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from models.cli import build_cli
from models.data.dataset import ConceptDataset
from models.evaluate import auroc, bootstrap_ci, calibration, clinical_rule_report, evaluate
from models.nets.bottleneck import SEX_FEMALE, SEX_MALE, SEX_UNKNOWN


def test_auroc_and_its_bootstrap_interval() -> None:
    labels = np.array([0, 0, 1, 1, np.nan])
    assert auroc(labels, np.array([0.1, 0.4, 0.35, 0.8, 0.5])) == pytest.approx(0.75)
    assert np.isnan(auroc(np.array([1.0, 1.0]), np.array([0.2, 0.3])))
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400).astype(float)
    score = y + rng.normal(0, 1.0, 400)
    low, high = bootstrap_ci(auroc, (y, score), n_boot=200, seed=0)
    assert low < auroc(y, score) < high and 0.05 < high - low < 0.2


def test_calibration_error_of_a_calibrated_and_a_biased_model() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, 20000)
    y = (rng.uniform(0, 1, 20000) < p).astype(float)
    assert calibration(y, p)["ece"] < 0.02
    biased = calibration(y, np.clip(p + 0.2, 0, 1))
    assert biased["ece"] == pytest.approx(0.18, abs=0.03)
    assert sum(b["count"] for b in biased["bins"]) == 20000


def test_clinical_rule_uses_the_sex_specific_limit() -> None:
    qtc = np.array([455.0, 455.0, 455.0, 470.0, 430.0])
    sex = np.array([SEX_FEMALE, SEX_MALE, SEX_UNKNOWN, SEX_FEMALE, SEX_MALE])
    labels = np.array([[0, 0], [1, 1], [1, 1], [1, 1], [0, 0]], dtype=float)
    report = clinical_rule_report(qtc, sex, labels)["lqts_risk"]
    assert (
        report["sensitivity"] == 1.0 and report["specificity"] == 1.0
    )  # 455 positive only for men/unknown


def test_evaluate_writes_json_and_html_and_refuses_to_score_training_records(
    bundle_dirs: dict[str, Path], tiny_data: ConceptDataset, tmp_path: Path
) -> None:
    report = evaluate(bundle_dirs["blackbox"], tmp_path / "bb", n_boot=10, dataset=tiny_data)
    stored = json.loads((tmp_path / "bb" / "evaluation.json").read_text())
    assert stored["bundle"]["variant"] == "blackbox" and stored["data"]["n_records"] == 4
    assert "concepts" not in report and "interventions" not in report
    assert set(stored["clinical_rule"]) == {"measured"}
    html = (tmp_path / "bb" / "report.html").read_text()
    assert "Research use only" in html and '<script src="http' not in html  # plotly.js inlined
    with pytest.raises(ValueError, match="own training records"):
        evaluate(bundle_dirs["joint"], tmp_path / "j", split="all", dataset=tiny_data)


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A joint CBM and the black box (quick preset), scored on fresh synthetic data."""
    root = tmp_path_factory.mktemp("quick")
    runner, cli = CliRunner(), build_cli()
    for variant in ("joint", "blackbox"):
        result = runner.invoke(
            cli,
            [
                "train",
                "--preset",
                "quick",
                "--variant",
                variant,
                "--device",
                "cpu",
                "--out",
                str(root / variant),
                "--no-progress",
            ],
        )
        assert result.exit_code == 0, result.output
    result = runner.invoke(
        cli,
        [
            "evaluate",
            str(root / "joint"),
            "--baseline",
            str(root / "blackbox"),
            "--out",
            str(root / "eval"),
            "--data-seed",
            "1000",
            "--n-records",
            "1500",
            "--split",
            "all",
            "--bootstrap",
            "50",
            "--max-interventions",
            "4",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    html = (root / "eval" / "report.html").read_text()
    assert html.count("<script") >= 2
    assert "Distance of each risk from its all-concepts-true risk — Long-QT" in html
    return json.loads((root / "eval" / "evaluation.json").read_text())


@pytest.mark.slow
def test_joint_cbm_matches_the_black_box(quick_report: dict) -> None:
    assert quick_report["data"]["n_records"] == 1500 and quick_report["data"]["split"] == "all"
    for task, entry in quick_report["tasks"].items():
        blackbox = quick_report["baseline"]["tasks"][task]["auroc"]["value"]
        assert entry["auroc"]["value"] >= blackbox - 0.02, task


@pytest.mark.slow
def test_qtc_is_predicted_within_15_ms(quick_report: dict) -> None:
    assert quick_report["concepts"]["qtc_fridericia"]["mae"] <= 15.0
    # the predicted SDs are roughly calibrated: ±1.96 SD holds most true values
    assert 0.85 <= quick_report["concepts"]["qt"]["coverage_95"] <= 1.0


@pytest.mark.slow
def test_three_suggested_interventions_recover_the_oracle_auroc(quick_report: dict) -> None:
    for task, entry in quick_report["interventions"].items():
        assert entry["recovery_at_3"]["expected_risk_change"] >= 0.95, task
        curves = entry["curves"]
        assert curves["expected_risk_change"][3] > curves["random"][3], task
        # Per patient: the risk comes closer to its all-concepts-true risk with the suggested
        # checks than with random ones (this holds where AUROC curves are flat too: a network
        # whose concepts already rank patients as well as the true ones).
        gaps = entry["risk_gap_to_oracle"]
        for step in (1, 2, 3):
            assert gaps["expected_risk_change"][step] < gaps["random"][step], (task, step)
        closed = {policy: gap[0] - gap[3] for policy, gap in gaps.items()}
        assert closed["expected_risk_change"] >= 2 * closed["random"], task
    assert set(quick_report["leakage"]) == {"lqts_risk", "tdp_risk"}
