"""The one in-memory ECG record every part of QTLens passes around.

An :class:`Ecg` holds the signal in millivolts as ``float32`` with shape ``[leads, samples]``, the
sampling rate in Hz, canonical lead names and the two demographic facts the risk model may use
(age in years, sex). It never holds anything that identifies a patient: readers drop names, ids,
birth dates, free text and device serials before building one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

Sex = Literal["female", "male"]

#: Canonical 12-lead order used everywhere (model input, plots, exports).
STANDARD_LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)

#: Age is kept in whole years and capped (HIPAA safe-harbour: ages over 89 are aggregated).
AGE_CAP_YEARS = 90

_LEAD_ALIASES: dict[str, str] = {
    "MLII": "II",
    "MLI": "I",
    "MLIII": "III",
    "ML2": "II",
    "D1": "I",
    "D2": "II",
    "D3": "III",
    "DI": "I",
    "DII": "II",
    "DIII": "III",
}


def canonical_lead_name(raw_name: str) -> str:
    """Map a lead label as written by a device or dataset to its canonical name.

    ``"i"`` → ``"I"``, ``"avr"``/``"AVR"``/``"-aVR"`` stays distinct (``"-aVR"``), ``"v5"`` → ``"V5"``,
    ``"MLII"`` → ``"II"``. Labels that are not one of the 12 standard leads (``"vx"``, ``"V4R"``)
    are returned stripped but otherwise unchanged, so no information is invented.

    Example:
        >>> canonical_lead_name("avl"), canonical_lead_name("v6"), canonical_lead_name("MLII")
        ('aVL', 'V6', 'II')
    """
    name = raw_name.strip()
    compact = re.sub(r"[\s_]+", "", name)
    upper = compact.upper()
    if upper in _LEAD_ALIASES:
        return _LEAD_ALIASES[upper]
    for lead in STANDARD_LEADS:
        if upper == lead.upper():
            return lead
    if upper.startswith("LEAD") and upper[4:] in {lead.upper() for lead in STANDARD_LEADS}:
        return canonical_lead_name(upper[4:])
    return name


def normalise_sex(raw: str | None) -> Sex | None:
    """Return ``"female"``/``"male"`` from the many spellings devices use, else ``None``.

    Example:
        >>> normalise_sex("F"), normalise_sex("Male"), normalise_sex("unknown")
        ('female', 'male', None)
    """
    if raw is None:
        return None
    value = str(raw).strip().lower()
    if value in {"f", "female", "w", "woman", "1"}:
        return "female"
    if value in {"m", "male", "man", "0"}:
        return "male"
    return None


def normalise_age(raw: float | str | None) -> int | None:
    """Return the age in whole years, capped at :data:`AGE_CAP_YEARS`, or ``None`` when unknown.

    Example:
        >>> normalise_age("51"), normalise_age(97.4), normalise_age("NaN"), normalise_age(-3)
        (51, 90, None, None)
    """
    if raw is None:
        return None
    try:
        years = float(raw)
    except (TypeError, ValueError):
        return None
    if not np.isfinite(years) or years < 0 or years > 150:
        return None
    return int(min(years, AGE_CAP_YEARS))


@dataclass(frozen=True)
class Ecg:
    """A de-identified ECG recording.

    Attributes:
        signal_mv: samples in millivolts, ``float32``, shape ``[n_leads, n_samples]``.
        fs_hz: sampling rate in Hz.
        lead_names: one canonical name per row of ``signal_mv`` (see :func:`canonical_lead_name`).
        age_years: age in whole years capped at 90, or ``None``.
        sex: ``"female"``, ``"male"`` or ``None``.
        source_format: the reader that produced it (``"wfdb"``, ``"edf"``, ``"synthetic"``, …).
    """

    signal_mv: np.ndarray
    fs_hz: float
    lead_names: tuple[str, ...]
    age_years: int | None = None
    sex: Sex | None = None
    source_format: str = "unknown"

    def __post_init__(self) -> None:
        signal = np.asarray(self.signal_mv)
        if signal.ndim != 2:
            raise ValueError(f"signal_mv must be 2-D [leads, samples], got shape {signal.shape}")
        if signal.dtype != np.float32:
            signal = signal.astype(np.float32)
        object.__setattr__(self, "signal_mv", signal)
        object.__setattr__(self, "lead_names", tuple(self.lead_names))
        if len(self.lead_names) != signal.shape[0]:
            raise ValueError(
                f"{len(self.lead_names)} lead names for a signal with {signal.shape[0]} leads"
            )
        if len(set(self.lead_names)) != len(self.lead_names):
            raise ValueError(f"duplicate lead names: {self.lead_names}")
        if not (np.isfinite(self.fs_hz) and self.fs_hz > 0):
            raise ValueError(f"sampling rate must be a positive number of Hz, got {self.fs_hz}")

    @property
    def n_leads(self) -> int:
        """Number of leads (rows)."""
        return int(self.signal_mv.shape[0])

    @property
    def n_samples(self) -> int:
        """Number of samples per lead."""
        return int(self.signal_mv.shape[1])

    @property
    def duration_s(self) -> float:
        """Record length in seconds."""
        return self.n_samples / float(self.fs_hz)

    def has_lead(self, name: str) -> bool:
        """Whether the canonical lead ``name`` is present."""
        return name in self.lead_names

    def lead(self, name: str) -> np.ndarray:
        """The samples of one lead in mV (a view, not a copy); ``KeyError`` when absent."""
        try:
            return self.signal_mv[self.lead_names.index(name)]
        except ValueError:
            raise KeyError(f"lead {name!r} not in record (has {', '.join(self.lead_names)})") from None

    def with_signal(self, signal_mv: np.ndarray, fs_hz: float | None = None) -> Ecg:
        """A copy holding a new signal (same leads and demographics), e.g. after filtering."""
        return Ecg(
            signal_mv=signal_mv,
            fs_hz=self.fs_hz if fs_hz is None else fs_hz,
            lead_names=self.lead_names,
            age_years=self.age_years,
            sex=self.sex,
            source_format=self.source_format,
        )
