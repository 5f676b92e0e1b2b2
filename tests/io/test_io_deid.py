"""De-identification on ingest: identifying values never reach the result; their field names do."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.ecg.io import DATASET_LIMITS, IngestResult, UploadedFile, read_paths, read_upload
from tests.io import builders
from tests.io.identifying_values import identifying_values, is_numeric


def _text_fields(result: IngestResult) -> str:
    ecg = result.ecg
    return "\n".join(
        [
            result.format,
            *result.removed_fields,
            *result.warnings,
            *ecg.lead_names,
            str(ecg.age_years),
            str(ecg.sex),
            ecg.source_format,
            repr(result.device.to_dict()) if result.device else "",
        ]
    )


def assert_free_of(result: IngestResult, values: tuple[str, ...]) -> None:
    """No value appears in the result's text fields; non-numeric ones not even in its repr."""
    text, full = _text_fields(result), repr(result)
    for value in values:
        assert value not in text, f"{value!r} leaked into the result"
        if not is_numeric(value):
            assert value not in full, f"{value!r} leaked into repr(result)"


@pytest.mark.data
def test_the_fixture_covers_every_xml_sample_and_the_wfdb_headers_with_comments(
    data_dir: Path,
) -> None:
    values = identifying_values(data_dir)
    assert {key for key in values if key.startswith("formats/")} == {
        "formats/muse/synthetic_muse.xml",
        "formats/muse/guangxi_teaching_sinus_rhythm.xml",
        "formats/aecg/subject1_0.xml",
        "formats/aecg/minimum_aecg.xml",
        "formats/sierra/129DYPRG.XML",
        "formats/sierra/3191723_ZZDEMOPTONLY_1-04_orig.xml",
    }
    assert "ludb/data/1.hea" in values and "wfdb_samples/s0010_re.hea" in values
    assert "Aldomet, Inderal" in values["wfdb_samples/100.hea"]
    assert len(values) > 800


@pytest.mark.data
def test_no_identifying_value_of_any_sample_reaches_the_result(data_dir: Path) -> None:
    for relative, values in identifying_values(data_dir).items():
        result = read_paths([data_dir / relative], DATASET_LIMITS)
        assert_free_of(result, values)


@pytest.mark.data
@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        (
            "formats/muse/synthetic_muse.xml",
            {
                "patient_id",
                "patient_name",
                "birth_date",
                "comments",
                "institution",
                "operator_name",
                "acquisition_date",
            },
        ),
        (
            "formats/aecg/subject1_0.xml",
            {
                "patient_id",
                "patient_name",
                "birth_date",
                "comments",
                "operator_name",
                "institution",
                "device_serial",
            },
        ),
        (
            "formats/sierra/3191723_ZZDEMOPTONLY_1-04_orig.xml",
            {
                "patient_id",
                "patient_name",
                "birth_date",
                "comments",
                "device_serial",
                "operator_name",
            },
        ),
        ("wfdb_samples/s0010_re.hea", {"comments", "record_name"}),
        ("ludb/data/1.hea", {"comments", "record_name"}),
    ],
)
def test_the_names_of_the_removed_fields_are_reported(
    relative: str, expected: set[str], data_dir: Path
) -> None:
    result = read_paths([data_dir.joinpath(*relative.split("/"))], DATASET_LIMITS)
    assert expected <= set(result.removed_fields)


@pytest.mark.data
@pytest.mark.parametrize(
    ("relative", "age", "sex"),
    [
        ("formats/muse/synthetic_muse.xml", 45, "male"),
        ("formats/aecg/subject1_0.xml", 46, "male"),  # the reported age wins over the birth date
        ("formats/sierra/129DYPRG.XML", 50, "male"),
        (
            "formats/sierra/3191723_ZZDEMOPTONLY_1-04_orig.xml",
            60,
            "male",
        ),  # 1950-01-01 → 2010-01-19
        ("ptbxl/records500/00000/00001_hr.hea", None, None),
        ("challenge2021/E07500.hea", None, None),
    ],
)
def test_age_and_sex_are_kept(
    relative: str, age: int | None, sex: str | None, data_dir: Path
) -> None:
    ecg = read_paths([data_dir.joinpath(*relative.split("/"))]).ecg
    if relative.startswith("challenge2021"):
        assert ecg.age_years is not None and ecg.sex in ("female", "male")
    else:
        assert (ecg.age_years, ecg.sex) == (age, sex)


BUILT_VALUES = (
    builders.PATIENT_ID,
    "Doe",
    "Jane",
    builders.DEVICE_SERIAL,
    "Oskar",
    builders.BIRTH_DATE.strftime("%Y%m%d"),
    builders.BIRTH_DATE.strftime("%d-%b-%Y").upper(),
    builders.BIRTH_DATE.isoformat(),
    builders.BIRTH_DATE.strftime("%m-%d-%Y"),
)


@pytest.mark.parametrize("kind", ["edf", "dicom", "muse", "aecg", "sierra"])
def test_built_files_lose_name_id_birth_date_and_serial_but_keep_age_from_the_birth_date(
    kind: str,
) -> None:
    import numpy as np

    signal = builders.sine_ecg()
    data = {
        "edf": lambda: builders.edf_file(signal, 500.0).data,
        "dicom": lambda: builders.dicom_bytes(builders.dicom_dataset(signal, 500.0)),
        "muse": lambda: builders.muse_xml(signal, 500.0),
        "aecg": lambda: builders.aecg_xml(signal, 500.0),
        "sierra": lambda: builders.sierra_xml(np.zeros((12, 5000), "<i2").tobytes()),
    }[kind]()
    result = read_upload([UploadedFile(f"Doe_Jane_{builders.PATIENT_ID}.bin", data)])
    assert_free_of(result, BUILT_VALUES)
    assert {"patient_id", "patient_name", "birth_date"} <= set(result.removed_fields)
    # Born 1961-07-14, recorded 2021-03-02: 59 years old.
    assert (result.ecg.age_years, result.ecg.sex) == (59, "female")


def test_wfdb_comments_other_than_age_and_sex_are_dropped(tmp_path: Path) -> None:
    files = builders.wfdb_files(
        builders.sine_ecg(2),
        500.0,
        leads=("I", "II"),
        comments=["Age: 97", "Sex: F", "Name: Jane Doe", "MRN 4711"],
    )
    result = read_upload(files)
    assert (result.ecg.age_years, result.ecg.sex) == (90, "female")  # ages above 89 are capped
    assert result.removed_fields == ("comments", "record_name")
    assert_free_of(result, ("Jane Doe", "MRN 4711"))
