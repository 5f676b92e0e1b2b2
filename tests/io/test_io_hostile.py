"""Hostile uploads: every case is refused with the right status class, in bounded memory."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import HealthCheck, given, seed, settings

from models.ecg.errors import EcgInputError
from models.ecg.io import UploadedFile, read_upload
from tests.io.hostile_corpus import HostileCase, ValidFiles, hostile_cases, valid_files
from tests.reliability.hostile import amplified_upload

CASES = hostile_cases()
MAX_PEAK_GROWTH_BYTES = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def valid() -> ValidFiles:
    return valid_files()


def test_the_corpus_is_large_and_its_case_names_are_unique() -> None:
    assert len(CASES) >= 200
    assert len({case.name for case in CASES}) == len(CASES)
    assert {case.status for case in CASES} == {413, 415, 422}


def test_the_valid_files_the_corpus_starts_from_are_read(valid: ValidFiles) -> None:
    for files in (
        [*_named(valid.header, "rec.hea"), *_named(valid.data, "rec.dat")],
        _named(valid.edf, "rec.edf"),
        _named(valid.muse, "muse.xml"),
        _named(valid.aecg, "aecg.xml"),
        _named(valid.sierra, "sierra.xml"),
    ):
        assert read_upload(files).ecg.n_leads == 12


def _named(data: bytes, name: str) -> list:
    from models.ecg.io import UploadedFile

    return [UploadedFile(name, data)]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input_is_refused_with_its_status_in_bounded_memory(
    case: HostileCase, valid: ValidFiles
) -> None:
    files = case.build(valid)
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with pytest.raises(EcgInputError) as caught:
            read_upload(files, case.limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    error = caught.value
    assert error.status_code == case.status, f"{type(error).__name__}: {error.message}"
    assert error.message and error.to_dict()["error"] == error.kind
    assert peak - baseline < MAX_PEAK_GROWTH_BYTES, f"peak grew by {(peak - baseline) / 1e6:.0f} MB"


#: What reading an amplifying upload may cost at most (a valid 19 MB deflated DICOM included).
MAX_AMPLIFIED_PEAK_BYTES = 160 * 1024 * 1024
VALID = valid_files()


@seed(18)
@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(amplified_upload(VALID))
def test_amplifying_uploads_are_read_or_refused_in_bounded_memory(
    files: list[UploadedFile],
) -> None:
    tracemalloc.start()
    try:
        try:
            read_upload(files)
        except EcgInputError as error:
            assert error.status_code in (413, 415, 422)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_AMPLIFIED_PEAK_BYTES, f"peak {peak / 1e6:.0f} MB"
