"""``qtlens predict``: the numbers of the record page from the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from models.cli import build_cli
from tests.api.conftest import ludb_files


@pytest.fixture(scope="module")
def two_records(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """LUDB records 1 and 2 (header + data) copied to a folder."""
    folder = tmp_path_factory.mktemp("archive")
    for record in ("1", "2"):
        for ext in (".hea", ".dat"):
            shutil.copy(data_dir / "ludb" / "data" / f"{record}{ext}", folder)
    return [folder / "1.hea", folder / "1.dat", folder / "2.hea", folder / "2.dat"]


def test_json_lines_carry_the_numbers_the_api_shows(two_records: list[Path], client_as,
                                                    data_dir: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["predict", *map(str, two_records), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(r["file"]).name for r in lines] == ["1.hea", "2.hea"]  # one per record
    assert "predict" in result.stderr  # the progress bar goes to stderr

    # The server runs the network in a worker process on one torch thread, this command on the
    # machine's threads: float32 sums in another order agree to float32 precision, not bitwise.
    same = {"rel": 1e-5, "abs": 1e-6}
    clinician = client_as("clinician")
    for row, record in zip(lines, ("1", "2"), strict=True):
        uploaded = clinician.post("/api/v1/records", files=ludb_files(data_dir, record)).json()
        api = clinician.post(f"/api/v1/records/{uploaded['id']}/predictions").json()
        assert row["model"] == api["model_name"]
        for concept in api["concepts"]:
            ours = row["concepts"][concept["name"]]
            assert ours["model"] == pytest.approx(concept["model_value"], **same)
            assert ours["sd"] == pytest.approx(concept["uncertainty"], **same)
            assert ours["measured"] == pytest.approx(concept["measured_value"], abs=1e-6) if (
                concept["measured_value"] is not None) else ours["measured"] is None
            assert ours["measured_reason"] == concept["measured_reason"]
            assert ours["measured_low_confidence"] == concept["measured_low_confidence"]
            assert ours["disagreement"] == concept["disagreement"]
            assert ours["flag"] == concept["flag"]
        assert (row["paced"], row["measurement_notes"]) == (api["paced"], api["measurement_notes"])
        for risk in api["risks"]:
            ours = row["risks"][risk["task"]]
            assert ours["probability"] == pytest.approx(risk["probability"], **same)
            assert (ours["band"], ours["head"], ours["sentence"], ours["points"]) == (
                risk["band"], risk["head"], risk["meaning"], risk["points"])


def test_the_text_form_names_risks_heads_and_disagreements(two_records: list[Path]) -> None:
    result = CliRunner().invoke(build_cli(), ["predict", str(two_records[0])])
    assert result.exit_code == 0, result.output
    assert "Long-QT risk: " in result.stdout and "/ 5.5 points" in result.stdout
    assert "— Schwartz score (ECG items)" in result.stdout
    assert "QTc (Bazett)" in result.stdout and "measured" in result.stdout
    assert "is the global QT (CSE)" in result.stdout and "QT in lead II" in result.stdout


def test_bad_files_get_one_line_each_and_the_rest_is_scored(two_records: list[Path],
                                                             tmp_path: Path) -> None:
    junk = tmp_path / "junk.xml"
    junk.write_text("<not-an-ecg/>")
    result = CliRunner().invoke(build_cli(), ["predict", str(junk), str(tmp_path / "gone.hea"),
                                              str(two_records[0]), "--json"])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 2
    assert errors[0].endswith(f"error: {junk}: the upload is not an ECG format QTLens reads "
                              "(supported: dicom, edf, philips-sierra, muse-xml, hl7-aecg, wfdb)")
    assert "gone.hea" in errors[1] and "Traceback" not in result.output
    assert [Path(json.loads(line)["file"]).name for line in result.stdout.splitlines()] == ["1.hea"]


def test_a_bad_bundle_is_refused_in_one_line(two_records: list[Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["predict", str(two_records[0]), "--bundle",
                                              str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        (f"error: {tmp_path} is not a complete QTLens model bundle: missing weights.safetensors, "
        "card.json, preprocessing.json, SHA256SUMS")]


def test_the_text_form_stars_measured_values_of_low_confidence(data_dir: Path) -> None:
    """LUDB 52: four leads end their T wave far earlier than the six the QT follows; the
    measured QT and QTc carry a star and the reason, as the record page says it."""
    header = data_dir / "ludb" / "data" / "52.hea"
    result = CliRunner().invoke(build_cli(), ["predict", str(header)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for label in ("QT interval", "QTc (Fridericia)"):
        line = next(line for line in lines if line.strip().startswith(label))
        assert " *" in line.split("measured", 1)[1], line
    assert "*" not in next(line for line in lines if line.strip().startswith("Heart rate"))
    assert any(line.strip().startswith("* measured value of low confidence: V2, V3, V5, V6 end "
                                       "their T wave far earlier") for line in lines), lines
