"""The cart's own intervals and statements, read from the MUSE, Philips and aECG samples; values
outside physiology, statements that name people or dates, and floods of either are dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.ecg.io import UploadedFile, read_paths, read_upload
from models.ecg.io.device import (
    MAX_STATEMENT_CHARS,
    MAX_STATEMENTS,
    clean_statement,
    device_reading,
)

pytestmark = pytest.mark.data


@pytest.mark.parametrize(
    ("relative", "source", "values", "statements"),
    [
        ("muse/synthetic_muse.xml", "GE MUSE",
         {"heart_rate": 72, "pr": 144, "qrs": 86, "qt": 402, "qtc": 440, "p_axis": 60,
          "qrs_axis": 45, "t_axis": 40},
         ["Sinus rhythm (synthetic example)"]),
        ("muse/guangxi_teaching_sinus_rhythm.xml", "GE MUSE",
         {"heart_rate": 97, "pr": 122, "qrs": 74, "qt": 328, "qtc": 417, "qtc_fridericia": 384},
         ["窦性心律", "ST段抬高（提示心室早期复极）"]),
        ("sierra/129DYPRG.XML", "Philips",
         {"heart_rate": 41, "pr": 151, "qrs": 135, "qt": 476, "qtc": 393, "qrs_axis": -21},
         ["ABNORMAL ECG", "Sinus bradycardia — rate< 50",
          "Nonspecific intraventricular conduction delay — QRSd >115mS, not LBBB/RBBB",
          "Inferior infarct, acute (LCx) — ST>0.10mV, II III aVF, STd V1-V3",
          ">>> Acute MI <<<"]),
        ("sierra/3191723_ZZDEMOPTONLY_1-04_orig.xml", "Philips",
         {"heart_rate": 84, "rr": 714, "pr": 144, "qrs": 84, "qt": 352, "qtc_bazett": 417,
          "qtc_fridericia": 394},
         ["ABNORMAL ECG", "SINUS RHYTHM — normal P axis, V-rate 60-99"]),
        ("aecg/subject1_0.xml", "HL7 aECG",
         {"pr": 148, "qrs": 120, "qt": 420, "qtc": 443, "qrs_axis": -61},
         ["Sinus Rhythm"]),
    ],
)
def test_samples_carry_the_carts_reading(relative: str, source: str, values: dict[str, float],
                                         statements: list[str], data_dir: Path) -> None:
    reading = read_paths([data_dir.joinpath("formats", *relative.split("/"))]).device
    assert reading is not None and reading.source == source
    assert {name: reading.values[name] for name in values} == values
    assert list(reading.statements[:len(statements)]) == statements


def test_a_file_without_a_device_annotation_set_has_no_reading(data_dir: Path) -> None:
    assert read_paths([data_dir / "formats" / "aecg" / "minimum_aecg.xml"]).device is None
    folder = data_dir / "ludb" / "data"
    assert read_paths([folder / "1.hea", folder / "1.dat"]).device is None


def test_values_outside_physiology_or_not_numbers_are_dropped() -> None:
    reading = device_reading("GE MUSE", [("qt", "5000"), ("qrs", "abc"), ("pr", "nan"),
                                         ("heart_rate", "-3"), ("not_a_quantity", "400"),
                                         ("qtc", " 452 ")], [])
    assert reading is not None and reading.values == {"qtc": 452.0}
    assert device_reading("GE MUSE", [("qt", "inf")], ["", "   "]) is None


def test_repeated_values_give_their_median() -> None:
    reading = device_reading("HL7 aECG", [("qt", 400.0), ("qt", 420.0), ("qt", 900.0)], [])
    assert reading.values == {"qt": 420.0}


@pytest.mark.parametrize("text", [
    "Confirmed by DOE, JOHN (12) on 1/2/2020 10:00:00 AM",
    "Reviewed by Dr. Smith",
    "Edited by SMITH",
    "Referred by: clinic 4",
    "Acquired 2023-12-31",
    "Over-read by cardiology at 10:21",
])
def test_statements_naming_people_or_dates_are_dropped(text: str) -> None:
    assert clean_statement(text) is None


def test_statements_are_bounded_in_length_and_number() -> None:
    assert clean_statement("  Sinus \n rhythm  ") == "Sinus rhythm"
    assert len(clean_statement("Q" * 5000)) == MAX_STATEMENT_CHARS
    reading = device_reading("Philips", [], [f"statement {n}" for n in range(10_000)])
    assert len(reading.statements) == MAX_STATEMENTS
    assert device_reading("Philips", [], ["Sinus rhythm", "Sinus rhythm"]).statements == (
        "Sinus rhythm",)


def test_a_muse_confirmation_line_does_not_survive_a_real_upload(data_dir: Path) -> None:
    path = data_dir / "formats" / "muse" / "synthetic_muse.xml"
    text = path.read_text(encoding="utf-8").replace(
        "<StmtText>Sinus rhythm (synthetic example)</StmtText>",
        "<StmtText>Sinus rhythm</StmtText></DiagnosisStatement><DiagnosisStatement>"
        "<StmtFlag>ENDSLINE</StmtFlag>"
        "<StmtText>Confirmed by EXAMPLE, READER (7) on 8/17/2025 9:34:21 AM</StmtText>", 1)
    reading = read_upload([UploadedFile("muse.xml", text.encode("utf-8"))]).device
    assert reading.statements == ("Sinus rhythm",)
    assert "READER" not in repr(reading.to_dict())
