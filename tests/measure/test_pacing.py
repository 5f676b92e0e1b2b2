"""Pacing stimuli: found on the raw signal, bridged in a paced record, nowhere else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb

from models.data.registry import open_record_dataset
from models.ecg.measure import MeasureConfig, analyse, measure_analysis
from models.ecg.pacing import PacingConfig, Stimulus, bridge_stimuli, find_stimuli, is_paced
from tests.measure.synthetic_ecg import STIMULUS_LEAD_S, paced_record, synthetic


def test_every_stimulus_of_a_paced_record_is_found_and_nothing_else() -> None:
    record, paced = paced_record()
    stimuli = find_stimuli(paced.signal_mv, paced.fs_hz)
    expected = np.round((record.truth.beat_fiducials_s[:, 1] - STIMULUS_LEAD_S) * paced.fs_hz)
    assert [s.first for s in stimuli] == [s.last for s in stimuli] == expected.astype(int).tolist()
    assert is_paced(stimuli, paced.duration_s)
    assert find_stimuli(record.ecg.signal_mv, record.ecg.fs_hz) == ()


def test_a_noisy_unpaced_record_and_a_few_isolated_spikes_are_not_paced() -> None:
    noisy = synthetic(seed=3, clean=False).ecg
    assert not is_paced(find_stimuli(noisy.signal_mv, noisy.fs_hz), noisy.duration_s)
    _, paced = paced_record()
    few = find_stimuli(paced.signal_mv, paced.fs_hz)[:4]
    assert not is_paced(few, paced.duration_s)
    # An unpaced record is analysed exactly as it was recorded.
    assert analyse(noisy).pacing_stimuli == 0


def test_a_bridge_is_the_straight_line_across_the_stimulus() -> None:
    signal = np.zeros((3, 100))
    signal[:, 50] = 1.0
    signal[:, 60:] = 0.5
    config = PacingConfig(bridge_before_s=0.002, bridge_after_s=0.01)
    bridged = bridge_stimuli(signal, 1000.0, (Stimulus(50, 50),), config)
    np.testing.assert_allclose(bridged[:, 48:61], np.tile(np.linspace(0.0, 0.5, 13), (3, 1)))
    np.testing.assert_array_equal(bridged[:, :48], signal[:, :48])
    assert signal[0, 50] == 1.0


def _onset_error_s(ecg, truth_onsets_s: np.ndarray, config: MeasureConfig | None = None) -> float:
    """Median error (s) of the beats' QRS onsets against the true onsets of the same beats."""
    analysis = analyse(ecg, config)
    marks = [beat.qrs_onset_s for beat in measure_analysis(ecg, analysis).beats
             if beat.in_median and beat.qrs_onset_s is not None]
    return float(np.median([mark - truth_onsets_s[np.argmin(np.abs(truth_onsets_s - mark))]
                            for mark in marks]))


def test_the_qrs_onset_of_a_paced_beat_is_after_its_stimulus() -> None:
    """Without the bridge the 100 Hz low-pass smears the stimulus into ringing in front of the
    QRS, where the global QRS onset then lands (the test fails that way)."""
    record, paced = paced_record()
    truth = record.truth.beat_fiducials_s[:, 1]
    assert analyse(paced).pacing_stimuli == truth.size
    unpaced_error = _onset_error_s(record.ecg, truth)
    bridged_error = _onset_error_s(paced, truth)
    as_recorded = MeasureConfig(pacing=PacingConfig(min_stimuli=10**6))
    assert _onset_error_s(paced, truth, as_recorded) < unpaced_error - 0.010
    assert abs(bridged_error - unpaced_error) <= 0.004 and abs(bridged_error) <= 0.004


@pytest.mark.data
def test_the_development_records_stated_paced_are_the_ones_found_paced(data_dir: Path) -> None:
    """LUDB 8, 34 and 45 ("ventricular pacing") and PTB-XL 385 (PACE) are paced; no other LUDB
    record is, nor a sample of unpaced PTB-XL records."""
    ludb = open_record_dataset("ludb", data_dir / "ludb")
    found = set()
    for record_id in ludb.record_ids():
        ecg = ludb.load(record_id).ecg
        if is_paced(find_stimuli(ecg.signal_mv, ecg.fs_hz), ecg.duration_s):
            found.add(record_id)
    assert found == {"8", "34", "45"}
    for name, paced in (("00385", True), ("00001", False), ("00154", False), ("00182", False)):
        record = wfdb.rdrecord(str(data_dir / "ptbxl" / "records500" / "00000" / f"{name}_hr"))
        signal = np.nan_to_num(record.p_signal.T)
        duration_s = signal.shape[-1] / record.fs
        assert is_paced(find_stimuli(signal, record.fs), duration_s) == paced, name
