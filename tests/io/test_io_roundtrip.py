"""Round trips: a signal written by the format's own library reads back within quantisation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.ecg.errors import MalformedEcg
from models.ecg.io import UploadedFile, read_upload
from models.ecg.record import STANDARD_LEADS
from tests.io import builders

SIGNAL_MV = builders.sine_ecg()


@pytest.mark.parametrize(("fmt", "bits"), [("16", 16), ("212", 12), ("24", 24), ("80", 8)])
def test_wfdb_written_by_wrsamp_reads_back_within_one_quantisation_step(
    fmt: str, bits: int
) -> None:
    files = builders.wfdb_files(SIGNAL_MV, 500.0, fmt=fmt)
    result = read_upload(files)
    assert result.format == "wfdb"
    assert result.ecg.lead_names == STANDARD_LEADS and result.ecg.fs_hz == 500.0
    # wrsamp spreads each lead over the format's full range: one step is ptp / 2**bits.
    step_mv = np.ptp(SIGNAL_MV, axis=1, keepdims=True) / (2**bits - 2)
    assert (np.abs(result.ecg.signal_mv - SIGNAL_MV) <= step_mv).all()


@pytest.mark.parametrize("dimension", ["uV", "mV", "V"])
def test_edf_written_by_pyedflib_reads_back_in_millivolts(dimension: str) -> None:
    result = read_upload([builders.edf_file(SIGNAL_MV, 500.0, dimension=dimension)])
    assert result.format == "edf"
    assert result.ecg.lead_names == STANDARD_LEADS and result.ecg.fs_hz == 500.0
    step_mv = 20.0 / 65535  # physical range ±10 mV over 16 bits
    np.testing.assert_allclose(result.ecg.signal_mv, SIGNAL_MV, atol=step_mv)


def test_dicom_written_by_pydicom_reads_back_in_millivolts() -> None:
    data = builders.dicom_bytes(builders.dicom_dataset(SIGNAL_MV, 500.0))
    result = read_upload([UploadedFile("ecg.dcm", data)])
    assert result.format == "dicom"
    assert result.ecg.lead_names == STANDARD_LEADS and result.ecg.fs_hz == 500.0
    np.testing.assert_allclose(result.ecg.signal_mv, SIGNAL_MV, atol=0.00125 + 1e-6)  # 2.5 µV steps


@pytest.mark.parametrize("padding_bytes", [0, 5 << 20])
def test_a_deflated_dicom_within_the_upload_limit_reads_back(padding_bytes: int) -> None:
    dataset = builders.dicom_dataset(SIGNAL_MV, 500.0)
    data = builders.deflated_dicom_bytes(dataset, padding_bytes)
    assert len(data) < 200_000  # 5 MB of padding deflates to a few kB
    result = read_upload([UploadedFile("ecg.dcm", data)])
    assert result.format == "dicom" and result.ecg.lead_names == STANDARD_LEADS
    np.testing.assert_allclose(result.ecg.signal_mv, SIGNAL_MV, atol=0.00125 + 1e-6)


def test_edf_annotations_within_the_rate_limit_are_counted_and_dropped() -> None:
    edf = builders.edf_with_annotations(builders.edf_file(SIGNAL_MV, 500.0).data, 2000)
    result = read_upload([UploadedFile("rec.edf", edf)])
    np.testing.assert_allclose(result.ecg.signal_mv, SIGNAL_MV, atol=20.0 / 65535)
    # 10 records of 4000 annotation bytes: a 6-byte time-keeping TAL, then 665 six-byte TALs.
    assert "6650 EDF+ annotations were not kept" in result.warnings
    assert "comments" in result.removed_fields


def test_xli_decoding_equals_sierraecg_on_runs_and_random_codes() -> None:
    from sierraecg.lzw import LzwDecoder
    from sierraecg.xli import xli_decode_deltas as reference_deltas

    from models.ecg.io.sierra import lzw_decode, xli_decode_deltas

    rng = np.random.default_rng(18)
    chunks = [builders.lzw_run_chunk(n)[8:] for n in (1, 2, 767, 300_000)]
    chunks += [rng.integers(0, 256, 200, dtype=np.uint8).tobytes() for _ in range(50)]
    for chunk in chunks:
        decoder, expected = LzwDecoder(chunk, bits=10), bytearray()
        try:
            while (byte := decoder.read()) != -1:
                expected.append(byte)
        except IndexError:  # sierraecg on a code that refers to nothing yet
            expected = None
        try:
            assert lzw_decode(chunk, 10**7, "lead 1") == expected
        except MalformedEcg:
            assert expected is None
    smooth = np.round(SIGNAL_MV[1] * 200).astype(np.int64)  # 5 µV units
    second = np.diff(smooth, 2)
    # XLI stores value[i] = e[i+1] + 64 with e the negated second difference (first = e[2]).
    stored = np.concatenate((smooth[:2], -second[1:] + 64, [0])).astype(np.int16)
    raw = stored.view(np.uint16)
    buffer = ((raw >> 8).astype(np.uint8).tobytes() + (raw & 0xFF).astype(np.uint8).tobytes())
    decoded = xli_decode_deltas(buffer, int(-second[0]), "lead 1")
    np.testing.assert_array_equal(decoded, smooth)
    np.testing.assert_array_equal(decoded, reference_deltas(list(buffer), int(-second[0])))
    overflowing = b"\x7f" * 200 + b"\xff" * 200
    with pytest.raises(MalformedEcg, match="16-bit"):
        xli_decode_deltas(overflowing, 0, "lead 1")
    with pytest.raises(OverflowError):
        reference_deltas(list(overflowing), 0)


def test_aecg_reads_back_in_millivolts() -> None:
    result = read_upload([UploadedFile("ecg.xml", builders.aecg_xml(SIGNAL_MV, 500.0))])
    assert result.ecg.lead_names == STANDARD_LEADS and result.ecg.fs_hz == 500.0
    np.testing.assert_allclose(result.ecg.signal_mv, SIGNAL_MV, atol=0.00125 + 1e-6)


def test_muse_stored_leads_read_back_and_limb_leads_follow_from_i_and_ii() -> None:
    result = read_upload([UploadedFile("ecg.xml", builders.muse_xml(SIGNAL_MV, 500.0))])
    ecg = result.ecg
    for lead in ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6"):
        expected = SIGNAL_MV[STANDARD_LEADS.index(lead)]
        np.testing.assert_allclose(ecg.lead(lead), expected, atol=0.00244 + 1e-6)  # 4.88 µV steps
    np.testing.assert_allclose(ecg.lead("aVF"), ecg.lead("II") - ecg.lead("I") / 2, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    n_leads=st.integers(1, 12),
    fs_hz=st.sampled_from([50.0, 100.0, 128.0, 250.0, 360.0, 500.0, 1000.0, 2000.0]),
    duration_s=st.floats(0.5, 12.0),
    fmt=st.sampled_from(["16", "212", "24", "32"]),
)
def test_any_valid_wfdb_record_reads_back_with_its_shape_and_rate(
    n_leads: int, fs_hz: float, duration_s: float, fmt: str
) -> None:
    signal = builders.sine_ecg(n_leads, fs_hz, duration_s)
    result = read_upload(
        builders.wfdb_files(signal, fs_hz, leads=STANDARD_LEADS[:n_leads], fmt=fmt)
    )
    assert result.ecg.signal_mv.shape == signal.shape
    assert result.ecg.fs_hz == fs_hz
    assert result.ecg.lead_names == STANDARD_LEADS[:n_leads]
    np.testing.assert_allclose(result.ecg.signal_mv, signal, atol=2e-3)
