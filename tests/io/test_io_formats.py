"""The vendor/standard XML samples read into sane 12-lead ECGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sierraecg

from models.ecg.io import read_paths
from models.ecg.record import STANDARD_LEADS

pytestmark = pytest.mark.data


@pytest.mark.parametrize(
    ("relative", "fmt", "n_samples"),
    [
        ("muse/synthetic_muse.xml", "muse-xml", 5000),
        ("muse/guangxi_teaching_sinus_rhythm.xml", "muse-xml", 5000),
        ("aecg/subject1_0.xml", "hl7-aecg", 5000),
        ("sierra/129DYPRG.XML", "philips-sierra", 5500),
        ("sierra/3191723_ZZDEMOPTONLY_1-04_orig.xml", "philips-sierra", 5500),
    ],
)
def test_xml_samples_read_as_12_leads_at_500_hz_in_millivolts(
    relative: str, fmt: str, n_samples: int, data_dir: Path
) -> None:
    result = read_paths([data_dir.joinpath("formats", *relative.split("/"))])
    ecg = result.ecg
    assert result.format == fmt == ecg.source_format
    assert ecg.lead_names == STANDARD_LEADS
    assert ecg.signal_mv.shape == (12, n_samples)
    assert ecg.fs_hz == 500.0
    peak_to_peak = np.ptp(ecg.signal_mv, axis=1)
    assert (peak_to_peak > 0.1).all() and (peak_to_peak < 10).all()


@pytest.mark.parametrize("name", ["synthetic_muse.xml", "guangxi_teaching_sinus_rhythm.xml"])
def test_muse_limb_leads_are_derived_by_einthoven_and_goldberger(name: str, data_dir: Path) -> None:
    ecg = read_paths([data_dir.joinpath("formats", "muse", name)]).ecg
    lead_i, lead_ii = ecg.lead("I"), ecg.lead("II")
    np.testing.assert_allclose(ecg.lead("III"), lead_ii - lead_i, atol=1e-6)
    np.testing.assert_allclose(ecg.lead("aVR"), -(lead_i + lead_ii) / 2, atol=1e-6)
    np.testing.assert_allclose(ecg.lead("aVL"), lead_i - lead_ii / 2, atol=1e-6)
    np.testing.assert_allclose(ecg.lead("aVF"), lead_ii - lead_i / 2, atol=1e-6)


@pytest.mark.parametrize("name", ["129DYPRG.XML", "3191723_ZZDEMOPTONLY_1-04_orig.xml"])
def test_sierra_samples_equal_what_sierraecg_decodes(name: str, data_dir: Path) -> None:
    path = data_dir.joinpath("formats", "sierra", name)
    ecg = read_paths([path]).ecg
    reference = sierraecg.read_file(str(path))
    expected_mv = np.stack([lead.samples for lead in reference.leads]).astype(
        np.float32
    ) * np.float32(0.005)
    assert [lead.label for lead in reference.leads] == list(ecg.lead_names)
    np.testing.assert_array_equal(ecg.signal_mv, expected_mv)


def test_the_minimal_aecg_reads_its_13_samples_with_a_warning(data_dir: Path) -> None:
    result = read_paths([data_dir.joinpath("formats", "aecg", "minimum_aecg.xml")])
    assert result.ecg.lead_names == ("II",)
    assert result.ecg.n_samples == 13
    # digits -2 -2 -2 -2 -3 … at 2.5 µV per digit
    assert result.ecg.lead("II")[0] == pytest.approx(-0.005)
    assert any("too short" in warning for warning in result.warnings)
