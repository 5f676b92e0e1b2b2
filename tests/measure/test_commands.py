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


def test_measure_marks_low_confidence_values_and_says_why(tmp_path: Path) -> None:
    """Two leads only: the T end rests on two leads, so the QT and what derives from it carry a
    star and the note, as the API and the concept panel do; the lead QT is printed beside."""
    from tests.io import builders
    from tests.measure.synthetic_ecg import only_leads, synthetic

    ecg = only_leads(synthetic(seed=1).ecg, ("II", "V5"))
    paths = []
    for file in builders.wfdb_files(ecg.signal_mv, ecg.fs_hz, ecg.lead_names):
        paths.append(tmp_path / file.name)
        paths[-1].write_bytes(file.data)
    result = CliRunner().invoke(build_cli(), ["measure", *map(str, paths)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for label in ("QT interval", "QTc (Fridericia)"):
        assert next(line for line in lines if label in line).rstrip().endswith(" *"), label
    assert not next(line for line in lines if "Heart rate" in line).rstrip().endswith("*")
    assert any(line.strip().startswith("* low confidence: the T end rests on 2 leads")
               for line in lines), result.output
    assert any("QT in lead II" in line for line in lines), result.output
    assert any("is the global QT (CSE)" in line for line in lines), result.output
