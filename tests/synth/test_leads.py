"""The limb-lead identities hold exactly, noise and shortcut included."""

from __future__ import annotations

import numpy as np

from models.data.synthetic import SyntheticDataset
from models.ecg.record import STANDARD_LEADS
from models.ecg.synth.leads import DOWER_MATRIX, twelve_lead_projection


def _lead(signals: np.ndarray, name: str) -> np.ndarray:
    return signals[:, STANDARD_LEADS.index(name)]


def test_einthoven_and_goldberger_identities_hold_bit_for_bit(noisy_set: SyntheticDataset) -> None:
    for signals in (noisy_set.signals, noisy_set.clean_signals):
        assert signals is not None and signals.dtype == np.float32
        lead_i, lead_ii = _lead(signals, "I"), _lead(signals, "II")
        two = np.float32(2.0)
        np.testing.assert_array_equal(_lead(signals, "III"), lead_ii - lead_i)
        np.testing.assert_array_equal(_lead(signals, "aVR"), -(lead_i + lead_ii) / two)
        np.testing.assert_array_equal(_lead(signals, "aVL"), lead_i - lead_ii / two)
        np.testing.assert_array_equal(_lead(signals, "aVF"), lead_ii - lead_i / two)
        # and the derived leads obey the identities among themselves to float precision
        np.testing.assert_allclose(
            _lead(signals, "aVR") + _lead(signals, "aVL") + _lead(signals, "aVF"), 0.0, atol=1e-6
        )


def test_noise_is_present_and_realistic(noisy_set: SyntheticDataset) -> None:
    assert noisy_set.clean_signals is not None
    residual = noisy_set.signals - noisy_set.clean_signals
    rms_mv = np.sqrt(np.mean(residual**2, axis=-1))
    # default levels: wander 0.08 mV amplitude ×2 sinusoids, EMG 0.012 mV RMS, hum at 250 Hz
    assert 0.02 < float(np.median(rms_mv)) < 0.2
    assert float(rms_mv.min()) > 0.005


def test_projection_matches_the_dower_rows() -> None:
    amplitudes = twelve_lead_projection(np.eye(3))  # [3 unit vectors, 12 leads]
    for row, name in enumerate(("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")):
        np.testing.assert_allclose(amplitudes[:, STANDARD_LEADS.index(name)], DOWER_MATRIX[row])
    np.testing.assert_allclose(
        amplitudes[:, STANDARD_LEADS.index("III")], DOWER_MATRIX[1] - DOWER_MATRIX[0]
    )
