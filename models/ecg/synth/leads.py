"""From the 3-D heart vector to the 12 standard leads, with the limb-lead identities exact.

The eight independent leads (I, II, V1–V6) are linear projections of the heart vector
``(X, Y, Z)`` through the Dower matrix (Dower GE et al., J Electrocardiol 13:189-191, 1980; the
inverse Dower matrix of Edenbrandt L, Pahlm O, J Electrocardiol 21:361-367, 1988 maps them back).
Axes follow Frank's convention: +X towards the patient's left, +Y towards the feet, +Z towards
the back. III, aVR, aVL and aVF are then *computed* from I and II in float32 with the Einthoven
and Goldberger identities, so ``III = II − I``, ``aVR = −(I + II)/2``, ``aVL = I − II/2`` and
``aVF = II − I/2`` hold bit for bit on every synthetic record — noise included, because noise is
added to the independent leads before the derivation.
"""

from __future__ import annotations

import numpy as np

from models.ecg.record import STANDARD_LEADS

#: The leads the heart vector is projected to; every other lead is derived from I and II.
INDEPENDENT_LEADS: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")

#: Dower (1980) matrix, rows in :data:`INDEPENDENT_LEADS` order, columns X, Y, Z (mV per mV).
DOWER_MATRIX: np.ndarray = np.array(
    [
        [0.632, -0.235, 0.059],  # I
        [0.235, 1.066, -0.132],  # II
        [-0.515, 0.157, -0.917],  # V1
        [0.044, 0.164, -1.387],  # V2
        [0.882, 0.098, -1.277],  # V3
        [1.213, 0.127, -0.601],  # V4
        [1.125, 0.127, -0.086],  # V5
        [0.831, 0.076, 0.230],  # V6
    ],
    dtype=np.float64,
)
DOWER_MATRIX.setflags(write=False)


def project_to_independent_leads(vector_xyz: np.ndarray) -> np.ndarray:
    """Project heart vectors ``[..., 3, samples]`` (mV) to ``[..., 8, samples]`` independent leads.

    Example:
        >>> project_to_independent_leads(np.array([[1.0], [0.0], [0.0]]))[:, 0].round(3).tolist()
        [0.632, 0.235, -0.515, 0.044, 0.882, 1.213, 1.125, 0.831]
    """
    return np.einsum("lx,...xs->...ls", DOWER_MATRIX, np.asarray(vector_xyz, dtype=np.float64))


def _assemble(independent: np.ndarray, dtype: type) -> np.ndarray:
    """Stack ``[..., 8, samples]`` into ``[..., 12, samples]``, deriving in ``dtype`` arithmetic."""
    leads = np.asarray(independent).astype(dtype, copy=False)
    lead_i = leads[..., 0, :]
    lead_ii = leads[..., 1, :]
    two = dtype(2.0)
    derived = {
        "I": lead_i,
        "II": lead_ii,
        "III": lead_ii - lead_i,
        "aVR": -(lead_i + lead_ii) / two,
        "aVL": lead_i - lead_ii / two,
        "aVF": lead_ii - lead_i / two,
    }
    for offset, name in enumerate(INDEPENDENT_LEADS[2:], start=2):
        derived[name] = leads[..., offset, :]
    return np.stack([derived[name] for name in STANDARD_LEADS], axis=-2)


def complete_twelve_leads(independent_mv: np.ndarray) -> np.ndarray:
    """Assemble the 12 standard leads from the independent ones, deriving III, aVR, aVL, aVF.

    Args:
        independent_mv: ``[..., 8, samples]`` in :data:`INDEPENDENT_LEADS` order, in mV.

    Returns:
        ``float32 [..., 12, samples]`` in :data:`~models.ecg.record.STANDARD_LEADS` order, where
        the derived leads are computed in float32 from the float32 I and II exactly as
        ``III = II − I``, ``aVR = −(I + II) / 2``, ``aVL = I − II / 2``, ``aVF = II − I / 2``.
    """
    return _assemble(independent_mv, np.float32)


def twelve_lead_projection(direction_xyz: np.ndarray) -> np.ndarray:
    """The 12-lead amplitudes (mV, STANDARD_LEADS order) of heart vectors ``[..., 3]`` (mV).

    Used for the exact amplitude of a wave in every lead: the same arithmetic as the signal path,
    in float64, applied to the wave's direction vector (its value at the wave's peak).

    Example:
        >>> twelve_lead_projection(np.array([1.0, 0.0, 0.0]))[:3].round(3).tolist()  # I, II, III
        [0.632, 0.235, -0.397]
    """
    independent = np.asarray(direction_xyz, dtype=np.float64) @ DOWER_MATRIX.T
    return _assemble(independent[..., None], np.float64)[..., 0]
