"""Delineation against the cardiologists' marks of the LUDB and QTDB development records.

One run per dataset (module fixture, two worker processes, NeuroKit2 ``dwt`` and ``prominence``
on the same filtered leads and R peaks); every test reads the command's JSON report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from models.cli import build_cli
from models.ecg.validate import CSE_TOLERANCE_MS, QTLENS, best_neurokit

pytestmark = [pytest.mark.data, pytest.mark.slow]


@pytest.fixture(scope="module")
def validation(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict], Path]:
    out = tmp_path_factory.mktemp("validation")
    reports = {}
    for dataset in ("ludb", "qtdb"):
        result = CliRunner().invoke(
            build_cli(),
            ["validate-delineation", "--dataset", dataset, "--data-dir", str(data_dir), "--out", str(out),
             "--methods", "dwt,prominence", "--workers", "2"],
        )
        assert result.exit_code == 0, result.output
        reports[dataset] = json.loads((out / f"{dataset}_delineation.json").read_text())
    return reports, out


def _qtlens(report: dict, scope: str, fiducial: str) -> dict:
    return report["scores"][scope][QTLENS][fiducial]


@pytest.mark.parametrize(("dataset", "scope"), [("ludb", "per_lead"), ("qtdb", "global")])
def test_t_end_error_sd_beats_neurokit_and_meets_the_cse_tolerance(validation, dataset: str, scope: str) -> None:
    report = validation[0][dataset]
    ours = _qtlens(report, scope, "T_end")
    method, neurokit_sd = best_neurokit(report, scope, "T_end")
    assert ours["sd_ms"] < neurokit_sd, (ours, method, neurokit_sd)
    assert ours["sd_ms"] <= CSE_TOLERANCE_MS["T_end"]
    assert abs(ours["mean_ms"]) < 15.0
    assert ours["sensitivity"] >= 0.8


@pytest.mark.parametrize(("dataset", "scope"), [("ludb", "global_consensus"), ("qtdb", "global")])
def test_qrs_onset_error_sd_is_within_10_ms(validation, dataset: str, scope: str) -> None:
    ours = _qtlens(validation[0][dataset], scope, "QRS_on")
    assert ours["sd_ms"] <= 10.0, ours
    assert ours["sensitivity"] >= 0.9


def test_per_lead_qrs_bounds_beat_neurokit_on_ludb(validation) -> None:
    report = validation[0]["ludb"]
    for fiducial in ("QRS_on", "QRS_off"):
        assert _qtlens(report, "per_lead", fiducial)["sd_ms"] < best_neurokit(report, "per_lead", fiducial)[1]


def test_qt_agrees_better_than_neurokit_with_the_qtdb_marks(validation) -> None:
    qt = validation[0]["qtdb"]["qt"]
    assert qt[QTLENS]["n"] > 600
    assert qt[QTLENS]["sd_diff_ms"] < min(qt[m]["sd_diff_ms"] for m in qt if m != QTLENS)


def test_reports_cover_every_record_and_the_html_is_self_contained(validation) -> None:
    reports, out = validation
    assert reports["ludb"]["records"] == 60 and reports["qtdb"]["records"] == 30
    page = (out / "qtdb_delineation.html").read_text()
    assert "Bland" in page and "Plotly.newPlot" in page and "<script src" not in page
    assert len(page) > 1_000_000  # plotly.js inlined
