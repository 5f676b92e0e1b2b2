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

from app.settings import Settings
from models.bundle import load_bundle
from models.cli import build_cli
from models.data.ecgrdvq import CLINICAL_TABLE
from models.heads.evaluate_head import band_shares
from models.heads.fit import rank_auroc
from models.heads.logistic import LogisticTaskHead
from models.tasks import Bands


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


def test_band_shares_count_each_drugs_ecgs_per_band() -> None:
    bands = Bands(intermediate_from=0.2, high_from=0.5, set_by="test")
    logits = np.log(np.array([0.1, 0.3, 0.6, 0.9]) / (1 - np.array([0.1, 0.3, 0.6, 0.9])))
    shares = band_shares(bands, np.array(["a", "a", "b", "b"]), logits)
    assert shares["by_drug"] == {"a": {"n": 2, "intermediate": 0.5, "high": 0.0},
                                 "b": {"n": 2, "intermediate": 0.0, "high": 1.0}}
    assert (shares["intermediate_from"], shares["high_from"]) == (0.2, 0.5)


def test_with_a_bundle_it_says_how_much_of_each_drug_its_bands_flag(
    ecgrdvq_root: Path, tmp_path: Path
) -> None:
    """The shipped head under the shipped bundle's calibrated bands: the sensitivity those
    cut-offs leave on the study the head was learned from (README, "Risk bands")."""
    bundle = Settings().model_bundle
    out = tmp_path / "bands.json"
    result = CliRunner().invoke(build_cli(), [
        "evaluate-head", str(bundle / "heads" / "tdp_risk.json"), "--data-dir",
        str(ecgrdvq_root), "--json", str(out), "--bootstrap", "50", "--bundle", str(bundle)])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    calibrated = load_bundle(bundle, device="cpu").bands["tdp_risk"]
    assert written["bands"]["high_from"] == calibrated.high_from
    by_drug = written["bands"]["by_drug"]
    assert sum(entry["n"] for entry in by_drug.values()) == written["rows"]
    assert by_drug["placebo"]["high"] <= by_drug["dofetilide"]["high"] + 1e-12
    assert "dofetilide (n " in result.output


def test_an_unreadable_bundle_is_refused_in_one_line(ecgrdvq_root: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(build_cli(), [
        "evaluate-head", str(Settings().model_bundle / "heads" / "tdp_risk.json"),
        "--data-dir", str(ecgrdvq_root), "--json", str(tmp_path / "x.json"),
        "--bundle", str(tmp_path)])
    assert result.exit_code == 2
    assert "--bundle" in result.output and "Traceback" not in result.output
