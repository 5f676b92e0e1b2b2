"""The model-input rule: how any ECG becomes the ``[12, L]`` tensor a QTLens model reads.

One rule serves training (arrays from a dataset) and inference (:class:`~models.ecg.record.Ecg`
objects in :mod:`models.bundle`), and the bundle stores its parameters (``preprocessing.json``):

1. **Resample** to the model rate with a polyphase anti-aliasing filter
   (:func:`scipy.signal.resample_poly`).
2. **Leads**: the 12 standard leads in :data:`~models.ecg.record.STANDARD_LEADS` order; a missing
   lead is all zeros with ``lead_mask = 0`` (the network sees the mask); other leads (V4R, …)
   are ignored. At least one standard lead is required.
3. **Length**: a longer record is cut to its central ``duration_s`` window; a shorter one is
   zero-padded at the end (after standardisation, so the padding sits at the baseline).
4. **Per-lead standardisation**: subtract the lead's median (its offset) and divide by a fixed
   per-lead scale in mV — the SD of that lead over the training set, not the record's own SD,
   because absolute amplitude carries concepts (T amplitude in mV, flat T).

No band-pass or baseline-wander filter is applied: the network is trained on the same raw
morphology it is shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from scipy.signal import resample_poly

from models.ecg.errors import MalformedEcg
from models.ecg.record import STANDARD_LEADS, Ecg

CROP_RULE = "central window of duration_s when longer"
PAD_RULE = "zeros appended at the end when shorter (after standardisation)"
STANDARDISATION_RULE = "subtract the per-lead median, divide by the per-lead training-set SD (mV)"


@dataclass(frozen=True)
class InputSpec:
    """Parameters of the input rule.

    Attributes:
        fs_hz: model sampling rate (Hz).
        duration_s: model input length (s).
        lead_scale_mv: per-lead divisor in mV, in :data:`STANDARD_LEADS` order.
    """

    fs_hz: float
    duration_s: float
    lead_scale_mv: tuple[float, ...] = field(default=(1.0,) * len(STANDARD_LEADS))

    def __post_init__(self) -> None:
        if len(self.lead_scale_mv) != len(STANDARD_LEADS):
            raise ValueError(
                f"need {len(STANDARD_LEADS)} lead scales, got {len(self.lead_scale_mv)}"
            )
        if not all(s > 0 for s in self.lead_scale_mv):
            raise ValueError("every lead scale must be positive")

    @property
    def n_samples(self) -> int:
        """Samples per lead of the model input."""
        return round(self.fs_hz * self.duration_s)

    def to_dict(self) -> dict[str, Any]:
        """The bundle's ``preprocessing.json``: parameters plus the rules in words."""
        return {
            "fs_hz": self.fs_hz,
            "duration_s": self.duration_s,
            "n_samples": self.n_samples,
            "lead_order": list(STANDARD_LEADS),
            "lead_scale_mv": list(self.lead_scale_mv),
            "resampling": "scipy.signal.resample_poly (polyphase, Kaiser anti-aliasing)",
            "missing_leads": "zeros with lead_mask 0; non-standard leads ignored",
            "crop": CROP_RULE,
            "pad": PAD_RULE,
            "standardisation": STANDARDISATION_RULE,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSpec:
        """Read the parameters back from ``preprocessing.json``."""
        if tuple(data.get("lead_order", ())) != STANDARD_LEADS:
            raise ValueError(f"preprocessing lead_order must be {list(STANDARD_LEADS)}")
        return cls(
            fs_hz=float(data["fs_hz"]),
            duration_s=float(data["duration_s"]),
            lead_scale_mv=tuple(float(s) for s in data["lead_scale_mv"]),
        )


def fit_lead_scale(signals_mv: np.ndarray, lead_mask: np.ndarray) -> tuple[float, ...]:
    """Per-lead SD (mV) of median-centred training signals, over records that have the lead.

    Args:
        signals_mv: ``[n, 12, L]`` training signals in mV.
        lead_mask: ``[n, 12]`` bool, lead present.
    """
    centred = signals_mv - np.median(signals_mv, axis=-1, keepdims=True)
    scales = []
    for lead in range(len(STANDARD_LEADS)):
        present = centred[lead_mask[:, lead], lead]
        sd = float(present.std()) if present.size else 1.0
        scales.append(sd if sd > 1e-6 else 1.0)
    return tuple(scales)


def standardise(signals_mv: np.ndarray, lead_mask: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Step 4 on ``[..., 12, L]`` arrays already at the model rate and length; missing leads → 0."""
    centred = signals_mv - np.median(signals_mv, axis=-1, keepdims=True)
    scale = np.asarray(spec.lead_scale_mv, dtype=np.float32)[:, None]
    return (centred / scale * lead_mask[..., None]).astype(np.float32)


def _central_start(length: int, n_samples: int) -> int:
    """First sample of the central ``n_samples`` of ``length`` (0 when it is not longer)."""
    return max(0, (length - n_samples) // 2)


def fit_length(signal: np.ndarray, n_samples: int) -> tuple[np.ndarray, int]:
    """Step 3's crop: the central ``n_samples`` of ``signal [leads, L]``, and the kept length."""
    length = signal.shape[-1]
    if length <= n_samples:
        return signal, length
    start = _central_start(length, n_samples)
    return signal[:, start : start + n_samples], n_samples


def _resampling(fs_hz: float, spec: InputSpec) -> tuple[Fraction, int]:
    """``(model rate / record rate, source samples kept before resampling)``: only the central
    stretch the crop will keep is resampled, plus a one-second margin each side for the filter."""
    ratio = Fraction(spec.fs_hz / fs_hz).limit_denominator(1000)
    margin = int(np.ceil(fs_hz))
    return ratio, int(np.ceil(spec.duration_s * fs_hz)) + 2 * margin


def input_start_s(n_samples: int, fs_hz: float, spec: InputSpec) -> float:
    """Where the model input starts in a record of ``n_samples`` at ``fs_hz``, in seconds.

    A record longer than ``spec.duration_s`` is cut to its central window (step 3); this is the
    time of that window's first sample, so a model-input sample ``i`` lies at
    ``input_start_s + i / spec.fs_hz`` in the record (0 for records no longer than the window).
    """
    ratio, wanted = _resampling(fs_hz, spec)
    kept = min(n_samples, wanted)
    resampled = math.ceil(kept * ratio.numerator / ratio.denominator)
    return (
        _central_start(n_samples, wanted) / fs_hz
        + _central_start(resampled, spec.n_samples) / spec.fs_hz
    )


def ecg_to_input(ecg: Ecg, spec: InputSpec) -> tuple[np.ndarray, np.ndarray]:
    """Apply the whole input rule to one ECG.

    Returns:
        ``(signal [12, n_samples] float32, lead_mask [12] bool)``.

    Raises:
        MalformedEcg: no standard lead, or non-finite samples.
    """
    rows = [ecg.lead_names.index(lead) if ecg.has_lead(lead) else -1 for lead in STANDARD_LEADS]
    lead_mask = np.array([r >= 0 for r in rows])
    if not lead_mask.any():
        raise MalformedEcg(
            f"none of the 12 standard leads is present (leads: {', '.join(ecg.lead_names)})",
            field="leads",
        )
    if not np.isfinite(ecg.signal_mv).all():
        raise MalformedEcg("the signal contains NaN or infinite samples", field="signal")
    present = ecg.signal_mv[[r for r in rows if r >= 0]].astype(np.float64)
    ratio, wanted = _resampling(ecg.fs_hz, spec)
    present, _ = fit_length(present, wanted)
    if ratio != 1:
        present = resample_poly(present, ratio.numerator, ratio.denominator, axis=-1)
    present, length = fit_length(present, spec.n_samples)
    full = np.zeros((len(STANDARD_LEADS), length), dtype=np.float32)
    full[lead_mask] = present
    standardised = standardise(full, lead_mask, spec)
    out = np.zeros((len(STANDARD_LEADS), spec.n_samples), dtype=np.float32)
    out[:, :length] = standardised
    return out, lead_mask
