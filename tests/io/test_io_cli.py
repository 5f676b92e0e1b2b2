"""``qtlens inspect`` on a good and a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from models.cli import build_cli
from tests.io import builders


def _write(directory: Path, files: list) -> list[Path]:
    paths = []
    for file in files:
        path = directory / file.name
        path.write_bytes(file.data)
        paths.append(path)
    return paths


def test_inspect_prints_what_an_upload_of_the_record_would_give(tmp_path: Path) -> None:
    paths = _write(
        tmp_path,
        builders.wfdb_files(builders.sine_ecg(), 500.0, comments=["Age: 64", "Sex: F", "Jane"]),
    )
    header = next(path for path in paths if path.suffix == ".hea")
    outcome = CliRunner().invoke(build_cli(), ["inspect", str(header)])
    assert outcome.exit_code == 0, outcome.output
    assert "format:    wfdb" in outcome.output
    assert "leads:     I, II, III, aVR, aVL, aVF, V1, V2, V3, V4, V5, V6 (12)" in outcome.output
    assert "fs:        500 Hz" in outcome.output
    assert "duration:  10.00 s (5000 samples)" in outcome.output
    assert "age/sex:   64 years / female" in outcome.output
    assert "removed:   comments, record_name" in outcome.output
    assert "Jane" not in outcome.output


def test_inspect_of_an_edf_file_lists_the_removed_patient_fields(tmp_path: Path) -> None:
    [path] = _write(tmp_path, [builders.edf_file(builders.sine_ecg(), 500.0)])
    outcome = CliRunner().invoke(build_cli(), ["inspect", str(path)])
    assert outcome.exit_code == 0, outcome.output
    assert "birth_date" in outcome.output and "patient_name" in outcome.output
    assert builders.PATIENT_ID not in outcome.output


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"not an ECG at all\n", "415 unsupported_format"),
        (b"rec 12 500 5000\nrec.dat 16 1000/mV 16 0 0 0 0 I\n", "422 malformed_ecg"),
    ],
)
def test_inspect_of_a_bad_file_prints_one_line_and_exits_2(
    tmp_path: Path, content: bytes, status: str
) -> None:
    path = tmp_path / "rec.hea"
    path.write_bytes(content)
    outcome = CliRunner().invoke(build_cli(), ["inspect", str(path)])
    assert outcome.exit_code == 2
    assert outcome.output.count("\n") == 1
    assert outcome.output.startswith(f"error ({status})")
    assert "Traceback" not in outcome.output


def test_inspect_of_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    outcome = CliRunner().invoke(build_cli(), ["inspect", str(tmp_path / "absent.xml")])
    assert outcome.exit_code == 2
    assert "absent.xml: no such file" in outcome.output
