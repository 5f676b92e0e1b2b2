"""``qtlens synth`` writes WFDB records that read back as the in-memory signals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import wfdb
from typer.testing import CliRunner

from models.cli import build_cli
from models.concepts import concept_names
from models.data.synthetic import make_dataset
from models.data.synthetic_command import ADC_GAIN_PER_MV, record_name
from models.ecg.record import STANDARD_LEADS


def test_synth_writes_wfdb_and_ground_truth(tmp_path: Path) -> None:
    out = tmp_path / "synthetic"
    result = CliRunner().invoke(
        build_cli(),
        ["synth", "--n", "4", "--out", str(out), "--seed", "7", "--fs", "250", "--shortcut"],
    )
    assert result.exit_code == 0, result.output
    expected = make_dataset(4, seed=7, fs_hz=250.0, shortcut=True)
    for index in range(4):
        record = wfdb.rdrecord(str(out / record_name(index)))
        assert record.fs == 250 and record.sig_name == list(STANDARD_LEADS)
        assert record.units == ["mV"] * 12 and record.fmt == ["16"] * 12
        assert record.p_signal.shape == (2500, 12)
        np.testing.assert_allclose(
            record.p_signal.T, expected.signals[index], atol=0.5 / ADC_GAIN_PER_MV + 1e-7
        )
        sex = "Female" if expected.female[index] else "Male"
        assert f"Sex: {sex}" in record.comments
    table = pd.read_csv(out / "ground_truth.csv")
    assert list(table["record"]) == [record_name(i) for i in range(4)]
    for column in (
        *concept_names(),
        "lqts_risk_probability",
        "tdp_risk_probability",
        "lqts_risk_label",
        "tdp_risk_label",
        "age_years",
        "sex",
        "shortcut",
    ):
        assert column in table.columns, column
    np.testing.assert_allclose(
        table[list(concept_names())].to_numpy(), expected.concepts, rtol=1e-6, atol=1e-9
    )
    np.testing.assert_array_equal(table["shortcut"].to_numpy(), expected.shortcut_present)


def _message(output: str) -> str:
    """The CLI's error text with the box drawing and line wrapping removed."""
    return " ".join(output.replace("│", " ").split())


def test_synth_refuses_bad_options(tmp_path: Path) -> None:
    runner = CliRunner()
    bad_rate = runner.invoke(
        build_cli(), ["synth", "--n", "1", "--out", str(tmp_path / "a"), "--fs", "10"]
    )
    assert bad_rate.exit_code == 2 and "fs_hz must lie in [50, 10000] Hz" in _message(
        bad_rate.output
    )
    bad_model = runner.invoke(
        build_cli(), ["synth", "--n", "1", "--out", str(tmp_path / "b"), "--label-model", "oracle"]
    )
    assert bad_model.exit_code == 2 and "unknown label model" in _message(bad_model.output)
    out = tmp_path / "c"
    assert runner.invoke(build_cli(), ["synth", "--n", "1", "--out", str(out)]).exit_code == 0
    again = runner.invoke(build_cli(), ["synth", "--n", "1", "--out", str(out)])
    assert again.exit_code == 2 and "already holds a synthetic set" in _message(again.output)


def test_synth_too_short_a_record_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        build_cli(), ["synth", "--n", "1", "--out", str(tmp_path / "d"), "--duration", "2"]
    )
    assert result.exit_code == 2, result.output  # not 1 with a ValueError traceback
    last = result.output.strip().splitlines()[-1]  # after the progress bar
    assert last.startswith("error: ") and "lengthen the record" in last
    assert "Traceback" not in result.output
