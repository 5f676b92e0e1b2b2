"""T-wave shape indices shared by the measurement code and the synthetic generator.

Both the signal pipeline (on a measured median beat) and the generator (on its noise-free
template, to state the exact ground truth) call these functions, so a concept means the same
thing on real and synthetic ECGs.

Definitions (QTLens' own, documented in the concept registry; inspired by the IKr-related T-wave
morphology measures of Andersen et al., Computers in Cardiology 34:341, 2007):

* **asymmetry** ``|w_desc − w_asc| / (w_desc + w_asc)`` where ``w_asc`` is the time from the
  half-amplitude crossing on the ascending limb to the T peak and ``w_desc`` the time from the
  peak to the half-amplitude crossing on the descending limb. 0 = symmetric, → 1 = one limb
  much slower than the other.
* **flatness** ``1.8 / κ`` clipped to [0, 1], where ``κ`` is the kurtosis of the T wave treated
  as a distribution of mass over time (``|T(t)|`` normalised to unit area). A rectangular
  (maximally flat, uni-modal) wave has ``κ = 1.8`` → 1; a Gaussian ``κ = 3`` → 0.6; sharply
  peaked waves → towards 0.
"""

from __future__ import annotations

import itertools

import numpy as np


def _oriented(t_wave_mv: np.ndarray) -> np.ndarray:
    """The T wave flipped so that its dominant deflection is positive."""
    wave = np.asarray(t_wave_mv, dtype=np.float64)
    return -wave if abs(wave.min()) > abs(wave.max()) else wave


def t_half_widths_ms(t_wave_mv: np.ndarray, fs_hz: float) -> tuple[float, float]:
    """Ascending and descending half-amplitude widths of a T wave, in ms.

    Args:
        t_wave_mv: the T wave (T onset → T end) relative to the isoelectric level, in mV.
        fs_hz: sampling rate in Hz.

    Returns:
        ``(w_asc_ms, w_desc_ms)``, linearly interpolated between samples.

    Raises:
        ValueError: when the wave has fewer than 3 samples or no deflection.
    """
    wave = _oriented(t_wave_mv)
    if wave.size < 3 or not np.any(wave > 0):
        raise ValueError("T wave too short or without deflection")
    peak = int(np.argmax(wave))
    half = wave[peak] / 2.0

    def crossing(indices: np.ndarray) -> float:
        for previous, current in itertools.pairwise(indices):
            if wave[current] <= half < wave[previous] or wave[current] < half <= wave[previous]:
                fraction = (wave[previous] - half) / (wave[previous] - wave[current])
                return float(previous + fraction * (current - previous))
        return float(indices[-1])

    ascending = crossing(np.arange(peak, -1, -1))
    descending = crossing(np.arange(peak, wave.size))
    return (peak - ascending) * 1000.0 / fs_hz, (descending - peak) * 1000.0 / fs_hz


def t_asymmetry(t_wave_mv: np.ndarray, fs_hz: float) -> float:
    """T-wave asymmetry in [0, 1): 0 for a symmetric wave (see module docstring).

    Example:
        >>> import numpy as np
        >>> t = np.arange(-200, 400) / 1000.0
        >>> asym = np.where(t < 0, np.exp(-0.5 * (t / 0.04) ** 2), np.exp(-0.5 * (t / 0.08) ** 2))
        >>> round(t_asymmetry(asym, 1000.0), 2)  # (80 - 40) / (80 + 40)
        0.33
    """
    w_asc, w_desc = t_half_widths_ms(t_wave_mv, fs_hz)
    total = w_asc + w_desc
    return float(abs(w_desc - w_asc) / total) if total > 0 else 0.0


def t_flatness(t_wave_mv: np.ndarray, fs_hz: float) -> float:
    """T-wave flatness in [0, 1]: ``1.8 / kurtosis`` of the wave's mass (see module docstring).

    Example:
        >>> import numpy as np
        >>> t = np.arange(-300, 301) / 1000.0
        >>> round(t_flatness(np.exp(-0.5 * (t / 0.05) ** 2), 1000.0), 2)  # Gaussian: 1.8 / 3
        0.6
    """
    mass = np.abs(np.asarray(t_wave_mv, dtype=np.float64))
    total = mass.sum()
    if mass.size < 3 or total <= 0:
        raise ValueError("T wave too short or without deflection")
    weights = mass / total
    times_s = np.arange(mass.size) / fs_hz
    mean = float(np.sum(weights * times_s))
    variance = float(np.sum(weights * (times_s - mean) ** 2))
    if variance <= 0:
        raise ValueError("T wave without width")
    kurtosis = float(np.sum(weights * (times_s - mean) ** 4)) / variance**2
    return float(np.clip(1.8 / kurtosis, 0.0, 1.0))
