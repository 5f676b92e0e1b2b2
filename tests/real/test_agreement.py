"""The real-data agreement table (qtlens evaluate --real)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from models.agreement import AGREEMENT_CONCEPTS, agreement_row
from models.cli import build_cli

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "weights" / "demo"


def test_agreement_row_numbers() -> None:
    predicted = np.array([410.0, 400.0, 420.0, np.nan])
    measured = np.array([400.0, 410.0, 400.0, 380.0])
    sd = np.array([5.0, 10.0, 5.0, 5.0])
    row = agreement_row(predicted, measured, sd)
    assert row["n"] == 3
    assert row["bias"] == pytest.approx((10 - 10 + 20) / 3)
    assert row["mae"] == pytest.approx((10 + 10 + 20) / 3)
    assert row["coverage_95"] == pytest.approx(1 / 3)  # only |−10| ≤ 19.6
    assert row["r"] == pytest.approx(np.corrcoef([410, 400, 420], [400, 410, 400])[0, 1])
    assert row["mae_ci"] is None  # 3 windows: too few for an interval
    assert agreement_row(np.array([np.nan]), np.array([1.0]))["n"] == 0


def test_evaluate_real_writes_the_table(tmp_path: Path, data_dir: Path, real_set: object) -> None:
    result = CliRunner().invoke(
        build_cli(),
        ["evaluate", str(SHIPPED), "--real", "--out", str(tmp_path), "--data-dir", str(data_dir)],
    )
    assert result.exit_code == 0, result.output
    assert "| ptbxl (" in result.output and "cardiologists' global QT" in result.output
    report = json.loads((tmp_path / "real_agreement.json").read_text())
    assert report["role"] == "check" and "strat_fold 8 check" in report["split_rule"]
    for dataset in ("ptbxl", "challenge", "ludb", "qtdb", "all"):
        assert set(AGREEMENT_CONCEPTS) <= set(report["table"][dataset])
    assert report["table"]["ludb"]["reference_qt"]["predicted"]["n"] > 10


def test_evaluate_real_refuses_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    bad_role = runner.invoke(
        build_cli(), ["evaluate", str(SHIPPED), "--real", "--role", "x", "--out", str(tmp_path)]
    )
    assert bad_role.exit_code == 2 and "check" in bad_role.output
    missing = runner.invoke(
        build_cli(), ["evaluate", str(tmp_path / "none"), "--real", "--out", str(tmp_path)]
    )
    assert missing.exit_code == 2 and "error:" in missing.output


def test_agreement_intervals_hold_the_estimate_and_repeat_exactly() -> None:
    rng = np.random.default_rng(3)
    measured = rng.normal(420.0, 30.0, 40)
    predicted = measured + rng.normal(2.0, 12.0, 40)
    row = agreement_row(predicted, measured)
    for name in ("bias", "mae", "r"):
        low, high = row[f"{name}_ci"]
        assert low < row[name] < high, name
    assert 0.0 < row["mae_ci"][0] and row["r_ci"][1] <= 1.0
    assert agreement_row(predicted, measured) == row  # fixed seed: the same report every run
    few = agreement_row(predicted[:4], measured[:4])
    assert few["mae_ci"] is None and few["r_ci"] is None  # too few windows for an interval
