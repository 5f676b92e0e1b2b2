"""Correctable fiducials: the median-beat marks a clinician may drag, and the concepts they define.

Positions are in ms from the median beat's R peak (the stored ``global_fiducials`` are in
seconds from R). The interval concepts follow the measurement's own definitions
(:mod:`models.ecg.concept_measures`): PR = QRS onset − P onset, QRS = QRS offset − QRS onset,
QT = T end − QRS onset, J-Tpeak = T peak − QRS offset, Tpeak-Tend = T end − T peak.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

#: The fiducials a clinician may move, in their order within the beat.
ORDER: tuple[str, ...] = ("p_onset", "qrs_onset", "qrs_offset", "t_peak", "t_end")

#: Interval concept → (earlier fiducial, later fiducial); its value is their distance in ms.
DEFINED: dict[str, tuple[str, str]] = {
    "pr": ("p_onset", "qrs_onset"),
    "qrs": ("qrs_onset", "qrs_offset"),
    "qt": ("qrs_onset", "t_end"),
    "jtpeak": ("qrs_offset", "t_peak"),
    "tpeak_tend": ("t_peak", "t_end"),
}


class FiducialError(ValueError):
    """A move the beat cannot hold (the message names the fiducials at fault)."""


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 1)


def measured_positions(measurements: dict[str, Any]) -> dict[str, float | None]:
    """The measured global fiducials of the median beat (ms from R; ``None`` = not found)."""
    marks = measurements.get("global_fiducials") or {}
    return {name: _ms(marks.get(f"{name}_s")) for name in ORDER}


def beat_window_ms(measurements: dict[str, Any]) -> tuple[float, float] | None:
    """The span the stored median beats cover (ms from R), or ``None`` when none was stored."""
    beats = measurements.get("median_beats") or {}
    for beat in beats.values():
        start = beat["start_s"] * 1000.0
        return start, start + len(beat["samples_mv"]) / beat["fs_hz"] * 1000.0
    return None


def moved_positions(current: dict[str, float | None], moves: dict[str, float],
                    window: tuple[float, float] | None) -> dict[str, float | None]:
    """``current`` with ``moves`` applied, checked: inside the median beat and in order.

    Args:
        current: The positions in force (ms from R).
        moves: The new positions (ms from R) of the fiducials the clinician moved.
        window: The median beat's span (ms from R); ``None`` when no beat was stored.

    Raises:
        FiducialError: no beat to move on, a position outside the beat, or out of order.
    """
    if window is None:
        raise FiducialError("this prediction has no median beat to move fiducials on")
    unknown = sorted(set(moves) - set(ORDER))
    if unknown:
        raise FiducialError(f"unknown fiducials: {', '.join(unknown)}")
    outside = [f"{name} ({value:.0f} ms)" for name, value in moves.items()
               if not (math.isfinite(value) and window[0] <= value <= window[1])]
    if outside:
        raise FiducialError(f"outside the median beat ({window[0]:.0f} to {window[1]:.0f} ms "
                            f"from R): {', '.join(outside)}")
    positions = {**current, **{name: round(float(value), 1) for name, value in moves.items()}}
    placed = [(name, positions[name]) for name in ORDER if positions[name] is not None]
    for (early, early_ms), (late, late_ms) in itertools.pairwise(placed):
        if not early_ms < late_ms:  # type: ignore[operator]
            raise FiducialError(f"{late} ({late_ms:.0f} ms) must come after {early} "
                                f"({early_ms:.0f} ms)")
    return positions


def defined_concepts(measured: dict[str, float | None],
                     positions: dict[str, float | None]) -> dict[str, float]:
    """The interval concepts (ms) whose fiducials differ from the measured ones."""
    values = {}
    for concept, (start, end) in DEFINED.items():
        first, last = positions[start], positions[end]
        if first is None or last is None:
            continue
        if first != measured[start] or last != measured[end]:
            values[concept] = round(last - first, 1)
    return values
