"""Round trips: a signal written by the format's own library reads back within quantisation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
