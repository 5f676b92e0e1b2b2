"""``qtlens evaluate-head``: a frozen head (absolute or change) applied to any ECGRDVQ table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models.cli import build_cli
from models.data.ecgrdvq import CLINICAL_TABLE
from models.heads.fit import rank_auroc
from models.heads.logistic import LogisticTaskHead


def _evaluate(head: Path, data_dir: Path, out: Path) -> tuple[int, str, dict[str, Any] | None]:
    result = CliRunner().invoke(
        build_cli(),
        [
            "evaluate-head",
            str(head),
            "--data",
            "ecgrdvq",
            "--data-dir",
            str(data_dir),
            "--json",
            str(out),
            "--bootstrap",
            "100",
        ],
    )
    written = json.loads(out.read_text()) if out.exists() else None
    return result.exit_code, result.output, written


def _table_folder(folder: Path, rows: pd.DataFrame) -> Path:
    """A dataset root holding ``rows`` as its clinical table."""
    folder.mkdir()
    rows.to_csv(folder / CLINICAL_TABLE, index=False)
    return folder


def test_the_json_has_the_issue_s_shape_and_its_numbers_are_auroc(
    head_run: Path, ecgrdvq_root: Path, ecgrdvq_table: pd.DataFrame, tmp_path: Path
) -> None:
    code, output, result = _evaluate(
        head_run / "change_head.json", ecgrdvq_root, tmp_path / "c.json"
    )
    assert code == 0, output
    assert set(result) == {"comparisons", "subjects", "rows"}
    assert set(result["comparisons"]) == {"high_vs_low", "high_vs_placebo", "low_vs_placebo"}
    for scores in result["comparisons"].values():
        assert set(scores) == {"head", "qtcf", "delta_qtcf"}
        for entry in scores.values():
            low, high = entry["ci95"]
            assert 0.0 <= low <= entry["value"] <= high <= 1.0
    assert result["subjects"] == 6
    post = ecgrdvq_table[~ecgrdvq_table["pre_dose"]]
    assert 0.95 * len(post) <= result["rows"] <= len(post)
    # QTcF as the score, recomputed here from the table (the command's rows also need every
    # change input, so a few ECGs differ: the AUROC agrees to a few thousandths).
    pair = post[post["drug"].isin(["dofetilide", "quinidine", "placebo"])].dropna(
        subset=["qtc_fridericia"]
    )
    expected = rank_auroc(pair["drug"].ne("placebo").to_numpy(), pair["qtc_fridericia"].to_numpy())
    assert result["comparisons"]["high_vs_placebo"]["qtcf"]["value"] == pytest.approx(
        expected, abs=0.005
    )
    # The change head separates the drugs better than ΔQTcF and leaves low-risk drugs at placebo.
    high_vs_low = result["comparisons"]["high_vs_low"]
    assert high_vs_low["head"]["value"] > high_vs_low["delta_qtcf"]["value"]
    assert result["comparisons"]["low_vs_placebo"]["head"]["value"] <= 0.60


def test_a_train_head_folder_means_its_absolute_head(
    head_run: Path, ecgrdvq_root: Path, tmp_path: Path
) -> None:
    code, output, result = _evaluate(head_run, ecgrdvq_root, tmp_path / "a.json")
    assert code == 0, output
    assert "absolute head on" in output
    head = LogisticTaskHead.load(head_run / "head.json")
    assert not head.reads_change
    assert result["comparisons"]["high_vs_low"]["head"]["value"] > 0.8


def test_unseen_subjects_only_a_subset_table_is_scored(
    head_run: Path, ecgrdvq_root: Path, tmp_path: Path
) -> None:
    table = pd.read_csv(ecgrdvq_root / CLINICAL_TABLE)
    subset = _table_folder(tmp_path / "subset", table[table["RANDID"].isin([1004, 1005, 1006])])
    code, output, result = _evaluate(head_run / "change_head.json", subset, tmp_path / "s.json")
    assert code == 0, output
    assert result["subjects"] == 3


def test_a_table_without_a_group_writes_null_not_nan(
    head_run: Path, ecgrdvq_root: Path, tmp_path: Path
) -> None:
    table = pd.read_csv(ecgrdvq_root / CLINICAL_TABLE)
    folder = _table_folder(tmp_path / "no-placebo", table[table["EXTRT"] != "Placebo"])
    code, output, result = _evaluate(head_run, folder, tmp_path / "n.json")
    assert code == 0, output
    assert result["comparisons"]["high_vs_placebo"]["head"] == {"value": None, "ci95": [None, None]}
    assert np.isfinite(result["comparisons"]["high_vs_low"]["head"]["value"])


def test_bad_heads_and_folders_get_clear_messages(
    head_run: Path, ecgrdvq_root: Path, tmp_path: Path
) -> None:
    code, output, _ = _evaluate(tmp_path / "nothing.json", ecgrdvq_root, tmp_path / "x.json")
    assert code == 2 and "nothing.json" in output
    garbage = tmp_path / "garbage.json"
    garbage.write_text("[1, 2]")
    code, output, _ = _evaluate(garbage, ecgrdvq_root, tmp_path / "x.json")
    assert code == 2 and "JSON object" in output
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy2(head_run / "head.json", empty / "head.json")
    code, output, _ = _evaluate(empty, empty, tmp_path / "x.json")
    assert code == 2 and "--data-dir" in output
    assert not (tmp_path / "x.json").exists()
