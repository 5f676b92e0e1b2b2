"""Wave shapes of the synthetic heart vector, their exact fiducials, and batched rendering.

Every wave is a scalar shape in time times a fixed 3-D direction (mV): the lead signal of a wave
is its shape scaled by the projection of the direction on that lead, so a wave starts, peaks and
ends at the same instant in every lead where it is visible.

* **Hann pulse** (P waves, Q/R/S components, U wave, the T-wave notch) —
  ``0.5·(1 − cos(2π (t − start) / width))`` on ``[start, start + width]`` and exactly 0 outside:
  compact support, so onsets and offsets are the support edges, exactly.
* **T lobe** — an asymmetric generalised Gaussian with unit peak at ``μ``:
  ``exp(−(|t − μ| / s)^p)`` with scale ``s_a`` before the peak and ``s_d`` after it
  (``p = 2``: two half-Gaussians; ``p > 2``: flatter, broader top). Its tangent-method end (the
  tangent at the steepest point of the descending limb meets the baseline) lies at
  ``μ + c_p·s_d`` and, mirrored, its tangent onset at ``μ − c_p·s_a``, where with
  ``u* = ((p − 1)/p)^(1/p)`` (the steepest point, in units of ``s``)
  ``c_p = u* + 1 / (p·u*^(p − 1))``. For ``p = 2`` and ``σ = s/√2`` this is the classical
  ``μ ± 2σ``.
* **Box** (the shortcut spike) — a constant over a whole number of samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.ecg.morphology import t_asymmetry, t_flatness

#: Shape exponent of a Gaussian T lobe.
GAUSSIAN_EXPONENT = 2.0
#: A T lobe is evaluated where ``(|t − μ| / s)^p ≤`` this (its value there is ``e^−23`` ≈ 1e-10).
_LOBE_SUPPORT_POWER = 23.0
#: Resolution of the grid on which the T-shape indices (asymmetry, flatness) are evaluated.
T_INDEX_GRID_HZ = 1000.0

KIND_HANN = 0
KIND_LOBE = 1
KIND_BOX = 2


def steepest_point(exponent: float) -> float:
    """Distance from the peak to the steepest point of a T-lobe limb, in units of its scale."""
    return ((exponent - 1.0) / exponent) ** (1.0 / exponent)


def tangent_reach(exponent: float) -> float:
    """``c_p``: distance from the peak to the tangent-method end (or onset), in units of scale.

    Example:
        >>> round(tangent_reach(2.0) / math.sqrt(2.0), 12)  # = 2σ / σ for a Gaussian
        1.0
    """
    u_star = steepest_point(exponent)
    return u_star + 1.0 / (exponent * u_star ** (exponent - 1.0))


def hann_pulse(t_s: np.ndarray, start_s: np.ndarray, width_s: np.ndarray) -> np.ndarray:
    """Unit-peak raised-cosine pulse on ``[start, start + width]`` (s), exactly 0 outside."""
    phase = (t_s - start_s) / width_s
    inside = (phase >= 0.0) & (phase <= 1.0)
    return np.where(inside, 0.5 * (1.0 - np.cos(2.0 * np.pi * phase)), 0.0)


def t_lobe(
    t_s: np.ndarray,
    peak_s: np.ndarray,
    ascending_scale_s: np.ndarray,
    descending_scale_s: np.ndarray,
    exponent: np.ndarray,
) -> np.ndarray:
    """Unit-peak asymmetric generalised Gaussian ``exp(−(|t − μ|/s)^p)`` (``s`` per limb, s)."""
    offset = t_s - peak_s
    scale = np.where(offset < 0.0, ascending_scale_s, descending_scale_s)
    return np.exp(-((np.abs(offset) / scale) ** exponent))


@dataclass(frozen=True)
class TWaveShape:
    """The noise-free T wave of one beat, as a unit-peak scalar shape (times in s from QRS onset).

    Attributes:
        onset_s: tangent-method T onset ``μ − c_p·s_a``.
        peak_s: T peak ``μ`` (the global maximum of the shape; value 1).
        end_s: tangent-method T end ``μ + c_p·s_d``.
        exponent: ``p`` of both limbs.
        notch_depth: depth of the Hann-shaped notch (fraction of the peak; 0 = no notch). The notch
            sits on the ascending limb strictly between its steepest point and the peak —
            centred at ``μ − u*·s_a / 2`` with half-width ``0.4·u*·s_a`` — so neither the peak,
            the onset tangent nor the descending limb (hence T end) is altered by it.
    """

    onset_s: float
    peak_s: float
    end_s: float
    exponent: float = GAUSSIAN_EXPONENT
    notch_depth: float = 0.0

    @property
    def ascending_scale_s(self) -> float:
        """``s_a`` of the ascending limb, in s."""
        return (self.peak_s - self.onset_s) / tangent_reach(self.exponent)

    @property
    def descending_scale_s(self) -> float:
        """``s_d`` of the descending limb, in s."""
        return (self.end_s - self.peak_s) / tangent_reach(self.exponent)

    @property
    def notch_start_s(self) -> float:
        """Start of the notch's support, in s (meaningful when ``notch_depth > 0``)."""
        return self.peak_s - 0.9 * steepest_point(self.exponent) * self.ascending_scale_s

    @property
    def notch_width_s(self) -> float:
        """Width of the notch's support, in s."""
        return 0.8 * steepest_point(self.exponent) * self.ascending_scale_s

    def shifted(self, delta_s: float) -> TWaveShape:
        """The same wave moved later by ``delta_s`` seconds."""
        return TWaveShape(
            self.onset_s + delta_s,
            self.peak_s + delta_s,
            self.end_s + delta_s,
            self.exponent,
            self.notch_depth,
        )

    def support_s(self) -> tuple[float, float]:
        """The interval (s) outside which the shape is below 1e-10 of its peak."""
        reach = _LOBE_SUPPORT_POWER ** (1.0 / self.exponent)
        return (
            self.peak_s - reach * self.ascending_scale_s,
            self.peak_s + reach * self.descending_scale_s,
        )

    def evaluate(self, t_s: np.ndarray) -> np.ndarray:
        """The unit-peak shape at times ``t_s`` (s)."""
        lobe = t_lobe(
            t_s, self.peak_s, self.ascending_scale_s, self.descending_scale_s, self.exponent
        )
        if self.notch_depth <= 0.0:
            return lobe
        return lobe - self.notch_depth * hann_pulse(t_s, self.notch_start_s, self.notch_width_s)

    def onset_to_end_grid(self) -> np.ndarray:
        """The shape on a :data:`T_INDEX_GRID_HZ` grid from T onset to T end (both included)."""
        n_points = math.floor((self.end_s - self.onset_s) * T_INDEX_GRID_HZ + 1e-9) + 1
        return self.evaluate(self.onset_s + np.arange(n_points) / T_INDEX_GRID_HZ)

    def local_maxima(self) -> int:
        """Number of local maxima of the shape between T onset and T end (1 kHz grid)."""
        wave = self.onset_to_end_grid()
        rising = np.diff(wave) > 0
        return int(np.count_nonzero(rising[:-1] & ~rising[1:]))

    def asymmetry(self) -> float:
        """T asymmetry (:func:`models.ecg.morphology.t_asymmetry`) of the onset→end wave."""
        return t_asymmetry(self.onset_to_end_grid(), T_INDEX_GRID_HZ)

    def flatness(self) -> float:
        """T flatness (:func:`models.ecg.morphology.t_flatness`) of the onset→end wave."""
        return t_flatness(self.onset_to_end_grid(), T_INDEX_GRID_HZ)


_FIELDS = ("kind", "record", "a", "b", "c", "p", "amplitude", "support_lo_s", "support_hi_s")


@dataclass
class ComponentBuffer:
    """Wave components to render, appended in vectorised groups (one group per wave and record).

    Each component: ``kind`` (Hann, T lobe or box), the record it belongs to, its parameters
    ``a``, ``b``, ``c``, ``p`` (see :func:`render_heart_vectors`), an amplitude factor, a 3-D
    direction (mV) and a support interval in seconds outside which it is zero. Every ``add_*``
    method broadcasts its arguments, so one call adds the same wave to every beat.
    """

    groups: list[dict[str, np.ndarray]]

    @classmethod
    def empty(cls) -> ComponentBuffer:
        """A buffer with no components."""
        return cls([])

    def add_hann(
        self,
        record: int,
        start_s: np.ndarray | float,
        width_s: np.ndarray | float,
        amplitude: np.ndarray | float,
        direction: np.ndarray,
    ) -> None:
        """Add Hann pulses on ``[start_s, start_s + width_s]`` (arrays broadcast over beats)."""
        start = np.asarray(start_s, dtype=np.float64)
        self._add(
            KIND_HANN,
            record,
            start,
            width_s,
            0.0,
            0.0,
            amplitude,
            direction,
            start,
            start + width_s,
        )

    def add_t_waves(
        self,
        record: int,
        shape: TWaveShape,
        shift_s: np.ndarray,
        amplitude: np.ndarray,
        direction: np.ndarray,
    ) -> None:
        """Add ``shape`` moved by each ``shift_s`` (its lobe and, when notched, its notch)."""
        shift = np.asarray(shift_s, dtype=np.float64)
        lo, hi = shape.support_s()
        self._add(
            KIND_LOBE,
            record,
            shape.peak_s + shift,
            shape.ascending_scale_s,
            shape.descending_scale_s,
            shape.exponent,
            amplitude,
            direction,
            lo + shift,
            hi + shift,
        )
        if shape.notch_depth > 0.0:
            self.add_hann(
                record,
                shape.notch_start_s + shift,
                shape.notch_width_s,
                -shape.notch_depth * np.asarray(amplitude),
                direction,
            )

    def add_boxes(
        self,
        record: int,
        first_sample: np.ndarray,
        n_samples: int,
        amplitude: float,
        direction: np.ndarray,
        fs_hz: float,
    ) -> None:
        """Add constants over samples ``first … first + n_samples − 1`` for each ``first``."""
        first = np.asarray(first_sample, dtype=np.float64)
        self._add(
            KIND_BOX,
            record,
            first,
            float(n_samples),
            0.0,
            0.0,
            amplitude,
            direction,
            first / fs_hz,
            (first + n_samples - 1) / fs_hz,
        )

    def _add(
        self,
        kind: int,
        record: int,
        a: object,
        b: object,
        c: object,
        p: object,
        amplitude: object,
        direction: np.ndarray,
        lo_s: object,
        hi_s: object,
    ) -> None:
        a_arr = np.atleast_1d(np.asarray(a, dtype=np.float64))
        count = a_arr.size
        direction_rows = np.empty((count, 3))
        direction_rows[:] = direction
        group = {
            "kind": np.full(count, kind, dtype=np.int64),
            "record": np.full(count, record, dtype=np.int64),
            "a": a_arr,
            "direction": direction_rows,
        }
        for name, value in (
            ("b", b),
            ("c", c),
            ("p", p),
            ("amplitude", amplitude),
            ("support_lo_s", lo_s),
            ("support_hi_s", hi_s),
        ):
            column = np.empty(count)
            column[:] = value
            group[name] = column
        self.groups.append(group)

    def extend(self, other: ComponentBuffer, record: int) -> None:
        """Append ``other``'s components, re-assigned to record index ``record``."""
        for group in other.groups:
            self.groups.append({**group, "record": np.full_like(group["record"], record)})

    def arrays(self) -> dict[str, np.ndarray]:
        """Every field concatenated over all groups."""
        if not self.groups:
            empty = {name: np.zeros(0) for name in _FIELDS}
            return {
                **empty,
                "kind": np.zeros(0, np.int64),
                "record": np.zeros(0, np.int64),
                "direction": np.zeros((0, 3)),
            }
        return {
            name: np.concatenate([g[name] for g in self.groups]) for name in (*_FIELDS, "direction")
        }


#: Components evaluated together in one window array (bounds the padding waste and memory).
_RENDER_CHUNK = 256


def render_heart_vectors(
    components: ComponentBuffer, n_records: int, n_samples: int, fs_hz: float
) -> np.ndarray:
    """Sum every component into heart vectors ``float64 [n_records, 3, n_samples]`` (mV).

    Components are evaluated on their own support only: grouped by kind, sorted by support
    length and cut into chunks, so each chunk is one ``[components, window]`` array with little
    padding; all values are then scatter-added with a single ``np.bincount``. Sample ``i`` is at
    ``t = i / fs_hz`` seconds. Parameters: Hann ``a`` = start (s), ``b`` = width (s); T lobe
    ``a`` = peak (s), ``b`` = ``s_a``, ``c`` = ``s_d`` (s), ``p`` = exponent; box ``a`` = first
    sample, ``b`` = sample count.
    """
    fields = components.arrays()
    kind, record, direction = fields["kind"], fields["record"], fields["direction"]
    a, b, c, p, amplitude = (fields[k] for k in ("a", "b", "c", "p", "amplitude"))
    first = np.clip(np.ceil(fields["support_lo_s"] * fs_hz - 1e-9), 0, n_samples).astype(np.int64)
    last = np.clip(np.floor(fields["support_hi_s"] * fs_hz + 1e-9), -1, n_samples - 1)
    span = last.astype(np.int64) - first + 1
    indices: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for this_kind in (KIND_HANN, KIND_LOBE, KIND_BOX):
        chosen = np.flatnonzero((kind == this_kind) & (span > 0))
        if chosen.size == 0:
            continue
        chosen = chosen[np.argsort(span[chosen], kind="stable")]
        for chunk in np.array_split(chosen, -(-chosen.size // _RENDER_CHUNK)):
            width = int(span[chunk].max())
            offsets = np.arange(width)
            sample = first[chunk, None] + offsets
            valid = offsets < span[chunk, None]
            t_s = sample / fs_hz
            if this_kind == KIND_HANN:
                values = hann_pulse(t_s, a[chunk, None], b[chunk, None])
            elif this_kind == KIND_LOBE:
                values = t_lobe(t_s, a[chunk, None], b[chunk, None], c[chunk, None], p[chunk, None])
            else:
                values = np.ones_like(t_s)
            values = (values * amplitude[chunk, None])[valid]
            sample = sample[valid]
            component = np.broadcast_to(chunk[:, None], valid.shape)[valid]
            for axis in range(3):
                indices.append((record[component] * 3 + axis) * n_samples + sample)
                weights.append(values * direction[component, axis])
    size = n_records * 3 * n_samples
    if not indices:
        return np.zeros((n_records, 3, n_samples))
    summed = np.bincount(np.concatenate(indices), weights=np.concatenate(weights), minlength=size)
    return summed.reshape(n_records, 3, n_samples)
