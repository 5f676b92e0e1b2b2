"""Voltage units as ECG files spell them, and their factor to millivolts."""

from __future__ import annotations

_MILLIVOLTS_PER_UNIT: dict[str, float] = {
    "nv": 1e-6,
    "nanovolt": 1e-6,
    "nanovolts": 1e-6,
    "uv": 1e-3,
    "microvolt": 1e-3,
    "microvolts": 1e-3,
    "mv": 1.0,
    "millivolt": 1.0,
    "millivolts": 1.0,
    "v": 1e3,
    "volt": 1e3,
    "volts": 1e3,
}


def millivolts_per_unit(unit: str) -> float | None:
    """How many mV one ``unit`` is (``"uV"`` → 0.001), or ``None`` when it is not a voltage.

    Accepts the spellings of WFDB (``mV``), EDF (``uV``, ``µV``), DICOM/UCUM (``uV``), GE MUSE
    (``MICROVOLTS``) and HL7 aECG (``uV``), case-insensitively.

    Example:
        >>> millivolts_per_unit("µV"), millivolts_per_unit("MICROVOLTS"), millivolts_per_unit("mmHg")
        (0.001, 0.001, None)
    """
    key = unit.strip().lower().replace("\u00b5", "u").replace("\u03bc", "u")
    return _MILLIVOLTS_PER_UNIT.get(key)
