"""The one smoothing filter of the delineator and the concept measures."""

from __future__ import annotations

import numpy as np


def moving_average(values: np.ndarray, width_samples: float) -> np.ndarray:
    """Centred moving average with edge padding (``width_samples`` rounded to an odd count).

    Example:
        >>> moving_average(np.array([0.0, 0.0, 3.0, 0.0, 0.0]), 3).tolist()
        [0.0, 1.0, 1.0, 1.0, 0.0]
    """
    width = max(1, round(width_samples) | 1)
    signal = np.asarray(values, dtype=np.float64)
    if width == 1:
        return signal
    padded = np.pad(signal, width // 2, mode="edge")
    return np.convolve(padded, np.ones(width) / width, mode="valid")
