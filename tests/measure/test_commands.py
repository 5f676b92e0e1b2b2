"""``qtlens measure`` and ``qtlens validate-delineation`` from the shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from models.cli import build_cli


@pytest.mark.data
def test_measure_prints_every_concept_with_unit_range_and_flag(data_dir: Path) -> None:
    header = data_dir / "ptbxl" / "records500" / "00000" / "00320_hr.hea"
    result = CliRunner().invoke(build_cli(), ["measure", str(header), str(header.with_suffix(".dat"))])
    assert result.exit_code == 0, result.output
    assert result.output.count("00320_hr.hea") == 1
    line = next(line for line in result.output.splitlines() if "QTc (Fridericia)" in line)
    assert "ms" in line and "normal 340–450 ms" in line and "critical" in line
    assert "Notched T" in result.output and "unavailable" not in line
    # 55 bpm is "normal" beside the range its flag uses (AHA bradycardia below 50), not 60–100
    rate = next(line for line in result.output.splitlines() if "Heart rate" in line)
    assert "55 bpm" in rate and "normal 50–100 bpm" in rate and rate.rstrip().endswith("normal")


@pytest.mark.data
def test_measure_json_is_the_measurement_dictionary(data_dir: Path) -> None:
    header = data_dir / "ludb" / "data" / "2.hea"
    result = CliRunner().invoke(build_cli(), ["measure", "--json", str(header)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["file"] == "2.hea" and len(data["median_beats"]) == 12


def test_measure_refuses_a_file_that_is_not_an_ecg(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not an ECG")
    result = CliRunner().invoke(build_cli(), ["measure", str(bogus)])
    assert result.exit_code == 2
    assert "notes.txt" in result.output


def test_validate_delineation_names_what_the_data_folder_lacks(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["validate-delineation", "--dataset", "qtdb", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "RECORDS" in result.output and "qtdb" in result.output


def test_validate_delineation_refuses_an_unknown_method(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        build_cli(), ["validate-delineation", "--dataset", "ludb", "--data-dir", str(tmp_path), "--methods", "magic"]
    )
    assert result.exit_code == 2 and "magic" in result.output
