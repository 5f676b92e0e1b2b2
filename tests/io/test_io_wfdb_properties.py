"""Property tests: whatever a WFDB header says, the reader answers with a result or an
:class:`EcgInputError` of status 413/415/422 — never another exception."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.ecg.errors import EcgInputError
from models.ecg.io import IngestResult, UploadedFile, read_upload
from models.ecg.limits import IngestLimits

LIMITS = IngestLimits()

numbers = st.one_of(
    st.integers(-10, 10**13).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda value: f"{value:g}"),
    st.sampled_from(["", ".", "-", "e", "1e999", "0", "500", "1000", "2e3", "5000", "12"]),
)
formats = st.sampled_from(
    ["16", "212", "80", "8", "24", "32", "61", "160", "310", "311", "516", "7", ""]
)
names = st.sampled_from(
    ["I", "II", "V1", "MLII", "aVR", "vx", "ECG1", "record 1, signal 0", "", "V1 V2"]
)
file_names = st.sampled_from(["rec.dat", "rec.mat", "other.dat", "../x.dat", "~", "rec.hea", "x"])


@st.composite
def signal_lines(draw: st.DrawFn) -> str:
    fmt = draw(formats)
    spec = fmt
    if draw(st.booleans()):
        spec += "x" + draw(st.sampled_from(["1", "2", "0", "99999"]))
    if draw(st.booleans()):
        spec += "+" + draw(st.sampled_from(["0", "24", "7", "99999999"]))
    gain = (
        draw(numbers)
        + draw(st.sampled_from(["", "(0)", "(-5)", "(x)"]))
        + draw(st.sampled_from(["", "/mV", "/uV", "/V", "/mmHg"]))
    )
    extra = " ".join(draw(st.lists(numbers, max_size=5)))
    return f"{draw(file_names)} {spec} {gain} {extra} {draw(names)}".strip()


@st.composite
def wfdb_uploads(draw: st.DrawFn) -> list[UploadedFile]:
    n_lines = draw(st.integers(0, 18))
    record = f"rec {draw(numbers)} {draw(numbers)} {draw(numbers)}"
    header = "\n".join([record, *(draw(signal_lines()) for _ in range(n_lines))]) + "\n"
    if draw(st.booleans()):
        header += draw(st.sampled_from(["# Age: 57\n# Sex: Male\n", "#<age>: x\n", "# 69 M x1\n"]))
    raw_header = header.encode()
    if draw(st.booleans()):
        raw_header += draw(st.binary(max_size=40))
    data_size = draw(st.sampled_from([0, 1, 24, 2 * 12 * 5000, 2 * 2 * 5000, 3 * 5000, 4096]))
    data = np.random.default_rng(data_size).integers(0, 256, data_size, dtype=np.uint8).tobytes()
    files = [UploadedFile("rec.hea", raw_header)]
    if data and draw(st.booleans()):
        files.append(UploadedFile(draw(st.sampled_from(["rec.dat", "rec.mat", "x.dat"])), data))
    return files


def _check(files: list[UploadedFile]) -> None:
    try:
        result = read_upload(files, LIMITS)
    except EcgInputError as error:
        assert error.status_code in (413, 415, 422)
        assert error.message
        return
    assert isinstance(result, IngestResult)
    ecg = result.ecg
    assert 1 <= ecg.n_leads <= LIMITS.max_channels
    assert LIMITS.min_fs_hz <= ecg.fs_hz <= LIMITS.max_fs_hz
    assert ecg.duration_s <= LIMITS.max_duration_s
    assert np.isfinite(ecg.signal_mv).all()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wfdb_uploads())
def test_any_wfdb_header_gives_a_result_or_an_input_error(files: list[UploadedFile]) -> None:
    _check(files)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.binary(max_size=200))
def test_arbitrary_bytes_named_as_a_wfdb_record_give_a_result_or_an_input_error(
    header: bytes, data: bytes
) -> None:
    _check([UploadedFile("rec.hea", header), UploadedFile("rec.dat", data or b"\0")])
