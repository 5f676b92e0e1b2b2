"""Cross-validation of a fine-tuning recipe over the real train windows (qtlens train-real --cv):
folds by record, every train window predicted out of fold, never a check window, and a paired
comparison of two recipes that refuses reports of different windows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from models.agreement import AGREEMENT_CONCEPTS
from models.cli import build_cli
from models.data.real import RealSet
from models.train_real_cv import compare_runs, cross_validate, fold_of, is_report, write_report
from tests.nets.test_train_real import TINY_REAL


def _windows(records: list[str], datasets: list[str]) -> RealSet:
    n = len(records)
    return RealSet(
        signals_mv=np.zeros((n, 12, 10), np.float32), fs_hz=100.0,
        lead_mask=np.ones((n, 12), bool), measured=np.zeros((n, 1), np.float32),
        reference_qt_ms=np.full(n, np.nan, np.float32), knots=np.zeros((n, 1, 3), np.float32),
        age_years=np.zeros(n, np.float32), sex=np.zeros(n, np.int8),
        dataset=np.array(datasets), record_id=np.array(records), role=np.array(["train"] * n),
    )


def test_folds_follow_the_record_and_repeat() -> None:
    records = [f"sel{i}@{start}.0" for i in range(20) for start in (0, 300, 600)]
    windows = _windows(records, ["qtdb"] * len(records))
    fold = fold_of(windows, 4)
    assert np.array_equal(fold, fold_of(windows, 4))
    assert set(fold.tolist()) == {0, 1, 2, 3}
    for i in range(20):  # the three windows of one QTDB record share their fold
        assert len(set(fold[3 * i : 3 * i + 3].tolist())) == 1
    with pytest.raises(ValueError, match="at least 2 folds"):
        fold_of(windows, 1)


def _report(predicted_qt: list[float | None], measured_qt: list[float | None]) -> dict:
    n = len(predicted_qt)
    column = {c: [400.0] * n for c in AGREEMENT_CONCEPTS}
    return {"out_of_fold": {
        "record_id": [str(i) for i in range(n)], "fold": [i % 2 for i in range(n)],
        "predicted": {**column, "qt": predicted_qt},
        "measured": {**column, "qt": measured_qt},
        "reference_qt": [None] * n,
    }}


def test_comparison_is_paired_and_refuses_other_windows() -> None:
    measured = [400.0 + i for i in range(30)]
    reference = _report([m + 20.0 for m in measured], measured)
    candidate = _report([m + (5.0 if i % 2 else -5.0) for i, m in enumerate(measured)], measured)
    qt = compare_runs(reference, candidate)["qt"]
    assert qt["n"] == 30 and qt["mean_difference"] == pytest.approx(-15.0)
    assert qt["interval"] == pytest.approx([-15.0, -15.0])
    assert compare_runs(reference, candidate)["reference_qt"]["n"] == 0
    other = _report([m + 20.0 for m in measured], [m + 1.0 for m in measured])
    with pytest.raises(ValueError, match="measured"):
        compare_runs(reference, other)


def test_every_train_window_is_predicted_out_of_fold(
    bundle_dirs: dict[str, Path], real_set: RealSet, data_dir: Path, tmp_path: Path
) -> None:
    report = cross_validate(bundle_dirs["joint"], TINY_REAL, 2, data_dir=data_dir,
                            device="cpu", progress=False, log=lambda _: None)
    train = real_set.of_role("train")
    assert report["windows"] == len(train) and report["folds"] == 2
    assert report["out_of_fold"]["record_id"] == [str(r) for r in train.record_id]
    predicted = report["out_of_fold"]["predicted"]["heart_rate"]
    assert all(value is not None for value in predicted)  # each predicted by the other fold
    assert report["table"]["all"]["heart_rate"]["n"] > 100
    assert compare_runs(report, report)["qt"]["mean_difference"] == 0.0
    assert is_report(report) and not is_report({"out_of_fold": {"fold": []}})
    written = json.loads(write_report(report, tmp_path).read_text(encoding="utf-8"))
    assert compare_runs(written, report)["heart_rate"]["mean_difference"] == 0.0


def test_cli_cross_validation_refuses_bad_use(tmp_path: Path) -> None:
    runner = CliRunner()
    alone = runner.invoke(build_cli(), ["train-real", "--base", str(tmp_path), "--out",
                                        str(tmp_path / "o"), "--against", str(tmp_path / "a")])
    assert alone.exit_code == 2 and "--cv" in alone.output
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    broken = runner.invoke(build_cli(), ["train-real", "--base", str(tmp_path), "--out",
                                         str(tmp_path / "o"), "--cv", "2", "--against",
                                         str(tmp_path / "broken.json")])
    assert broken.exit_code == 2 and "cannot read" in broken.output
    (tmp_path / "other.json").write_text('{"out_of_fold": {}}', encoding="utf-8")
    other = runner.invoke(build_cli(), ["train-real", "--base", str(tmp_path), "--out",
                                        str(tmp_path / "o"), "--cv", "2", "--against",
                                        str(tmp_path / "other.json")])
    assert other.exit_code == 2 and "not a cv.json" in other.output  # refused before any run
    one_fold = runner.invoke(build_cli(), ["train-real", "--base", str(tmp_path), "--out",
                                           str(tmp_path / "o"), "--cv", "1"])
    assert one_fold.exit_code == 2
    missing = runner.invoke(build_cli(), ["train-real", "--base", str(tmp_path / "none"),
                                          "--out", str(tmp_path / "o"), "--cv", "2"])
    assert missing.exit_code == 2 and "error:" in missing.output
    assert not (tmp_path / "o" / "cv.json").exists()
