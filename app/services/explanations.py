"""Attributions of a stored prediction, shaped for plotting over the ECG.

The attribution is computed on the loaded bundle's model from the stored record
(:func:`models.explain.attributions.explain`, blocking: run :func:`compute_explanation` in the
worker pool), then made light for the browser: block-averaged to at most
:data:`MAX_POINTS_PER_LEAD` values per lead and divided by a robust scale (the 99th percentile
of |attribution| over all leads) so values lie in [−1, 1]; the median-beat view averages the
attribution over the beats that made the stored median beats. Results are kept in a bounded
LRU (:class:`app.cache.LruCache`) keyed by prediction, model checksum, method and target.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.concepts import get_concept, is_concept
from models.ecg.record import Ecg
from models.explain.attributions import METHODS, explain, get_method
from models.tasks import get_task, task_names

#: Most attribution values per lead sent to the browser.
MAX_POINTS_PER_LEAD = 500
#: Most points per lead of a median-beat attribution.
MAX_MEDIAN_POINTS = 250
#: Explanations kept in memory per app.
CACHE_ENTRIES = 128
#: Percentile of |attribution| that maps to ±1 (a single extreme sample does not flatten the rest).
SCALE_PERCENTILE = 99.0


@dataclass(frozen=True)
class Option:
    """A selectable method or target: API name and screen label."""

    name: str
    label: str


def method_options() -> list[Option]:
    """Every registered attribution method."""
    return [Option(m.name, m.label) for m in METHODS]


def target_options(bundle: Any) -> list[Option]:
    """The tasks whose head is learned (a points head is a step function of its concepts, so a
    gradient attribution of it is zero everywhere), and for a concept model its concepts."""
    options = [Option(name, get_task(name).label) for name in task_names()
               if name not in bundle.points_tasks]
    if bundle.has_concepts:
        space = bundle.concept_model().space
        options += [Option(name, get_concept(name).label) for name in space.names]
    return options


def default_target(bundle: Any) -> str:
    """The target explained when a request names none: the first of :func:`target_options`."""
    return target_options(bundle)[0].name


def validate_request(bundle: Any, method: str, target: str) -> None:
    """Refuse an unknown method or target, a concept target on a black box, or a task scored
    by a points head.

    Raises:
        ValueError: naming the valid choices.
    """
    get_method(method)
    valid = [option.name for option in target_options(bundle)]
    if target in valid:
        return
    if target in bundle.points_tasks:
        raise ValueError(
            f"target {target!r} is scored by fixed points over the concepts (a step function: its "
            f"gradient attribution is zero); explain one of its concepts instead: {', '.join(valid)}"
        )
    if is_concept(target):
        raise ValueError(
            f"target {target!r} is a concept, but model {bundle.version} has no concepts; "
            f"use {' or '.join(task_names())}"
        )
    raise ValueError(f"unknown target {target!r}; use one of {', '.join(valid)}")


@dataclass(frozen=True)
class Explanation:
    """An attribution ready to draw.

    Attributes:
        method, method_label, signed: the method and whether values carry a sign.
        target, target_label, target_unit: what is explained and its unit.
        target_value: the target for this ECG; ``baseline_value`` at the flat baseline.
        completeness_gap: ``|Σ attribution − (target − baseline)| / |target − baseline|``.
        start_s: record time of the first value (s); ``fs_hz`` the values' rate (Hz).
        scale: attribution (target units) that maps to 1.
        leads: lead → values in [−1, 1] (present leads only).
        median_beats: lead → ``{"start_s": s from R, "fs_hz", "values"}``.
        seconds: compute time.
    """

    method: str
    method_label: str
    signed: bool
    target: str
    target_label: str
    target_unit: str
    target_value: float
    baseline_value: float | None
    completeness_gap: float | None
    start_s: float
    fs_hz: float
    scale: float
    leads: dict[str, list[float]]
    median_beats: dict[str, dict[str, Any]]
    seconds: float


def _block_mean(values: np.ndarray, factor: int) -> np.ndarray:
    """Mean over consecutive blocks of ``factor`` samples along the last axis (a short last
    block is averaged too)."""
    if factor <= 1:
        return values
    pad = (-values.shape[-1]) % factor
    padded = np.pad(values, [(0, 0)] * (values.ndim - 1) + [(0, pad)], constant_values=np.nan)
    return np.nanmean(padded.reshape(*values.shape[:-1], -1, factor), axis=-1)


def _median_beats(
    values: np.ndarray,
    times_s: np.ndarray,
    lead_index: Mapping[str, int],
    measurements: Mapping[str, Any],
) -> dict[str, dict[str, Any]]:
    """The attribution averaged over the beats of the stored median beats, per lead, scaled so
    that the largest magnitude over all leads is 1 (averaging shrinks it)."""
    beats = [
        b["r_peak_s"]
        for b in measurements.get("beats", [])
        if b.get("in_median") and b.get("r_peak_s") is not None
    ]
    out = {}
    for lead, trace in (measurements.get("median_beats") or {}).items():
        if lead not in lead_index or not beats:
            continue
        step = max(1, math.ceil(len(trace["samples_mv"]) / MAX_MEDIAN_POINTS))
        fs_hz = float(trace["fs_hz"]) / step
        offsets = float(trace["start_s"]) + np.arange(
            math.ceil(len(trace["samples_mv"]) / step)
        ) / fs_hz
        inside = [
            r for r in beats if r + offsets[0] >= times_s[0] and r + offsets[-1] <= times_s[-1]
        ]
        if not inside:
            continue
        row = values[lead_index[lead]]
        mean = np.mean([np.interp(r + offsets, times_s, row) for r in inside], axis=0)
        out[lead] = {"start_s": float(trace["start_s"]), "fs_hz": fs_hz, "values": mean}
    peak = max((float(np.abs(beat["values"]).max()) for beat in out.values()), default=0.0)
    for beat in out.values():
        beat["values"] = np.round(beat["values"] / peak if peak > 0 else beat["values"], 4).tolist()
    return out


def compute_explanation(
    bundle: Any, ecg: Ecg, measurements: Mapping[str, Any], method: str, target: str
) -> Explanation:
    """Attribute ``target`` of ``bundle``'s model on ``ecg`` with ``method`` (blocking).

    Raises:
        ValueError: unknown method or target (call :func:`validate_request` first).
        MalformedEcg: a record the model's input rule refuses.
    """
    started = time.perf_counter()
    chosen = get_method(method)
    attribution = explain(method, bundle, ecg, target)
    present = attribution.lead_mask[0]
    raw = attribution.values[0]  # [12, L]
    magnitude = np.abs(raw[present])
    scale = float(np.percentile(magnitude, SCALE_PERCENTILE)) if magnitude.size else 0.0
    if not scale > 0:
        scale = float(magnitude.max()) if magnitude.size else 0.0
    normalised = np.clip(raw / scale, -1.0, 1.0) if scale > 0 else np.zeros_like(raw)
    factor = max(1, math.ceil(attribution.n_samples / MAX_POINTS_PER_LEAD))
    reduced = _block_mean(normalised, factor)
    # A block's value sits at its centre.
    start_s = float(attribution.start_s[0] + (factor - 1) / (2 * attribution.fs_hz))
    lead_index = {
        lead: j for j, lead in enumerate(attribution.lead_names) if present[j]
    }
    gap = attribution.relative_completeness_gap()
    return Explanation(
        method=chosen.name,
        method_label=chosen.label,
        signed=chosen.signed,
        target=target,
        target_label=(
            get_task(target).label if target in task_names() else get_concept(target).label
        ),
        target_unit=attribution.target_unit,
        target_value=float(attribution.target_values[0]),
        baseline_value=(
            None if attribution.baseline_values is None else float(attribution.baseline_values[0])
        ),
        completeness_gap=None if gap is None else float(gap[0]),
        start_s=start_s,
        fs_hz=attribution.fs_hz / factor,
        scale=scale,
        leads={lead: np.round(reduced[j], 4).tolist() for lead, j in lead_index.items()},
        median_beats=_median_beats(normalised, attribution.times_s[0], lead_index, measurements),
        seconds=time.perf_counter() - started,
    )
