"""The cart's own reading: the intervals and statements an electrocardiograph stores beside the
signal (GE MUSE ``RestingECGMeasurements`` and ``Diagnosis``, Philips Sierra ``interpretation``,
HL7 aECG annotation sets authored by a device).

A cardiologist compares these first, so QTLens keeps them with the record and shows them beside
its own values. Each format's reader extracts them from its already-parsed XML with one small
function; this module owns what is kept and how it is checked:

- a value is kept only for a known quantity, as a finite number inside a physiological range
  (anything else — text, NaN, a QT of 5000 ms — is dropped, never guessed);
- a statement is clinical text ("Sinus bradycardia", ">>> Acute MI <<<"), cut to
  :data:`MAX_STATEMENT_CHARS`; a statement naming who confirmed, read or edited the ECG, or
  carrying a date, is dropped, so that no name or date of the file survives de-identification;
- at most :data:`MAX_STATEMENTS` statements and :data:`MAX_ANNOTATIONS` annotations are read,
  so a hostile file cannot make the extraction slow or large.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Quantity:
    """A quantity a cart reports: label, unit and the physiological range a value must lie in."""

    label: str
    unit: str
    low: float
    high: float


#: Every quantity kept, by name. Names equal QTLens' concept names where they mean the same
#: thing (``qt``, ``qtc_bazett``…); ``qtc`` is a QTc whose formula the file does not state.
QUANTITIES: dict[str, Quantity] = {
    "heart_rate": Quantity("Heart rate", "bpm", 15.0, 350.0),
    "rr": Quantity("RR interval", "ms", 150.0, 4000.0),
    "pr": Quantity("PR interval", "ms", 40.0, 700.0),
    "qrs": Quantity("QRS duration", "ms", 30.0, 400.0),
    "qt": Quantity("QT interval", "ms", 150.0, 900.0),
    "qtc": Quantity("QTc (cart's formula)", "ms", 150.0, 900.0),
    "qtc_bazett": Quantity("QTc (Bazett)", "ms", 150.0, 900.0),
    "qtc_fridericia": Quantity("QTc (Fridericia)", "ms", 150.0, 900.0),
    "p_axis": Quantity("P axis", "°", -180.0, 360.0),
    "qrs_axis": Quantity("QRS axis", "°", -180.0, 360.0),
    "t_axis": Quantity("T axis", "°", -180.0, 360.0),
}

MAX_STATEMENTS = 20
MAX_STATEMENT_CHARS = 200
#: Upper bound on the XML elements one extraction looks at (aECG repeats values per beat).
MAX_ANNOTATIONS = 20_000

_IDENTIFYING_STATEMENT = re.compile(
    r"\b(?:confirmed|reviewed|edited|overread|over-read|read|referred|interpreted|signed|"
    r"acquired|ordered)\s+by\b|\bdr\.|\bMD\b|\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}|\b\d{1,2}:\d{2}\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class DeviceReading:
    """What the cart measured and said about the ECG.

    Attributes:
        source: who produced it, e.g. ``"GE MUSE"``.
        values: kept values by quantity name (see :data:`QUANTITIES`; ms, bpm, degrees).
        statements: the cart's interpretation, one line each, in the file's order.
    """

    source: str
    values: dict[str, float] = field(default_factory=dict)
    statements: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"source", "values": {name: value}, "statements": [...]}``."""
        return {"source": self.source, "values": dict(self.values),
                "statements": list(self.statements)}


def _number(text: str | None) -> float | None:
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def clean_statement(text: str | None) -> str | None:
    """One statement as kept: whitespace collapsed, cut to :data:`MAX_STATEMENT_CHARS`; ``None``
    when empty or when it names who handled the ECG or carries a date or time."""
    line = " ".join((text or "").split())[:MAX_STATEMENT_CHARS]
    if not line or _IDENTIFYING_STATEMENT.search(line):
        return None
    return line


def device_reading(source: str, values: Iterable[tuple[str, float | str | None]],
                   statements: Iterable[str | None]) -> DeviceReading | None:
    """Check and keep a cart's values and statements.

    Args:
        source: who produced them (``"GE MUSE"``…).
        values: ``(quantity name, value)`` pairs in the quantity's unit, text or number; for a
            name seen more than once the median of its kept values is kept (aECG repeats them
            per beat).
        statements: the interpretation lines.

    Returns:
        The reading, or ``None`` when nothing survives the checks.
    """
    kept: dict[str, list[float]] = {}
    for name, raw in values:
        quantity = QUANTITIES.get(name)
        value = raw if isinstance(raw, float) else _number(raw)
        if quantity is not None and value is not None and quantity.low <= value <= quantity.high:
            kept.setdefault(name, []).append(value)
    lines: list[str] = []
    for text in statements:
        line = clean_statement(text)
        if line is not None and line not in lines:
            lines.append(line)
        if len(lines) == MAX_STATEMENTS:
            break
    if not kept and not lines:
        return None
    medians = {name: float(statistics.median(found)) for name, found in kept.items()}
    ordered = {name: medians[name] for name in QUANTITIES if name in medians}
    return DeviceReading(source=source, values=ordered, statements=tuple(lines))
