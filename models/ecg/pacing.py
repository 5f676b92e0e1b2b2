"""Pacemaker stimulus artefacts: found on the raw signal and removed before any filter.

A pacing stimulus reaches the surface ECG as a spike a few milliseconds wide in every lead at
the same instant; the paced P wave or QRS complex follows it. The 100 Hz low-pass of
:func:`models.ecg.preprocess.filter_ecg` would smear such a spike into 20–30 ms of ringing just
before the QRS complex, where the spatial velocity then "takes off" and the global QRS onset
lands on the stimulus instead of on the depolarisation the cardiologists mark after it (LUDB
tuning part: the paced records 8 and 34 had per-lead QRS onsets 28–33 ms before the marks).
So spikes are found and bridged on the raw signal before any filter.

* **A spike in one lead** is a deviation from the lead's 10 ms running median (which removes
  anything narrower than 5 ms) of at least 0.15 mV that is at least as large as the range of
  that running median over ±10 ms plus 0.02 mV: a narrow spike on a quiet stretch, not the tip
  of an R wave (whose running median spans the R wave itself).
* **A stimulus** is an instant where at least 3 leads have a spike within 4 ms of each other.
* **A paced record** has at least 5 stimuli and on average at least one every 2 s; only then
  are the stimuli bridged (a straight line per lead from 2 ms before each to 16 ms after it,
  over the electrode's recharge tail; 16 ms chosen on the LUDB tuning part), so an isolated
  noise spike in an unpaced record changes nothing. On the development data this
  rule marks the records stated to be paced — LUDB 8, 34 and 45 and PTB-XL 385 — and none of
  the 57 other LUDB records, the 351 other PTB-XL records or the 19 Challenge 2021 records.
* **The beats** of a paced record are still found on the signal as recorded, where the stimulus
  anchors each paced beat (found on the bridged signal, LUDB 45's beats followed its atrial
  stimuli in V1), and the QRS onset is sought no earlier than the end of the bridge
  (:func:`depolarisation_start_s`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage


@dataclass(frozen=True)
class PacingConfig:
    """Settings of the stimulus detector (see the module docstring).

    Attributes:
        median_window_s: width of the running median a spike stands out of (s).
        min_spike_mv: smallest spike height above the running median (mV).
        min_sharpness: spike height over the running median's local range (+ floor).
        range_half_window_s: half-width of the window of that local range (s).
        range_floor_mv: added to the local range so a flat stretch does not divide by 0 (mV).
        min_leads: fewest leads with a spike at one instant for a stimulus.
        coincidence_s: spikes of different leads this close are one instant (s).
        min_stimuli: fewest stimuli in a paced record.
        min_rate_hz: lowest mean stimulus rate of a paced record (Hz).
        stimulus_search_s: a beat's stimulus is the last one whose bridge ends at most this long
            before its R fiducial (s).
        bridge_before_s, bridge_after_s: a stimulus is bridged from this long before it to this
            long after it (s; after: the electrode's recharge tail).
    """

    median_window_s: float = 0.010
    min_spike_mv: float = 0.15
    min_sharpness: float = 1.0
    range_half_window_s: float = 0.010
    range_floor_mv: float = 0.02
    min_leads: int = 3
    coincidence_s: float = 0.004
    min_stimuli: int = 5
    min_rate_hz: float = 0.5
    stimulus_search_s: float = 0.3
    bridge_before_s: float = 0.002
    bridge_after_s: float = 0.016


@dataclass(frozen=True)
class Stimulus:
    """One pacing stimulus: its first and last sample (the spike in any lead, inclusive)."""

    first: int
    last: int


def find_stimuli(signal_mv: np.ndarray, fs_hz: float,
                 config: PacingConfig | None = None) -> tuple[Stimulus, ...]:
    """Every instant where at least ``min_leads`` leads of a raw ``[leads, samples]`` signal (mV,
    no NaN) spike together, in time order."""
    config = config or PacingConfig()
    signal = np.atleast_2d(np.asarray(signal_mv, dtype=np.float64))
    if signal.shape[0] < config.min_leads or signal.shape[-1] < 3:
        return ()
    width = max(3, round(config.median_window_s * fs_hz) | 1)
    running = scipy.ndimage.median_filter(signal, size=(1, width), mode="nearest")
    span = 2 * max(1, round(config.range_half_window_s * fs_hz)) + 1
    local_range = (scipy.ndimage.maximum_filter1d(running, span, axis=-1)
                   - scipy.ndimage.minimum_filter1d(running, span, axis=-1))
    height = np.abs(signal - running)
    spiking = (height >= config.min_spike_mv) & (
        height >= config.min_sharpness * (local_range + config.range_floor_mv))
    reach = max(1, round(config.coincidence_s * fs_hz)) | 1
    together = scipy.ndimage.maximum_filter1d(spiking.astype(np.uint8), reach, axis=-1).sum(axis=0)
    return tuple(_runs(together >= config.min_leads, spiking.any(axis=0)))


def _runs(stimulus: np.ndarray, spiking: np.ndarray) -> list[Stimulus]:
    """The runs of ``stimulus`` (``scipy.ndimage.label``), each narrowed to the samples where
    some lead spikes."""
    runs = []
    for (run,) in scipy.ndimage.find_objects(scipy.ndimage.label(stimulus)[0]):
        inside = run.start + np.flatnonzero(spiking[run])
        if inside.size:
            runs.append(Stimulus(int(inside[0]), int(inside[-1])))
    return runs


def is_paced(stimuli: tuple[Stimulus, ...], duration_s: float,
             config: PacingConfig | None = None) -> bool:
    """Whether ``stimuli`` found in a record of ``duration_s`` seconds make it a paced record."""
    config = config or PacingConfig()
    return (len(stimuli) >= config.min_stimuli
            and len(stimuli) >= config.min_rate_hz * duration_s)


def bridge_stimuli(signal_mv: np.ndarray, fs_hz: float, stimuli: tuple[Stimulus, ...],
                   config: PacingConfig | None = None) -> np.ndarray:
    """A copy of ``[leads, samples]`` (mV) with each stimulus replaced, in every lead, by the
    straight line joining the sample ``bridge_before_s`` before it and the one ``bridge_after_s``
    after it."""
    config = config or PacingConfig()
    bridged = np.array(signal_mv, dtype=np.float64)
    lead_in = max(1, round(config.bridge_before_s * fs_hz))
    tail = max(1, round(config.bridge_after_s * fs_hz))
    last_sample = bridged.shape[-1] - 1
    for stimulus in stimuli:
        before, after = max(0, stimulus.first - lead_in), min(last_sample, stimulus.last + tail)
        weight = np.linspace(0.0, 1.0, after - before + 1)
        bridged[:, before:after + 1] = (bridged[:, [before]] * (1.0 - weight)
                                        + bridged[:, [after]] * weight)
    return bridged


def remove_pacing_stimuli(signal_mv: np.ndarray, fs_hz: float, config: PacingConfig | None = None
                          ) -> tuple[np.ndarray, tuple[Stimulus, ...]]:
    """The raw signal with its pacing stimuli bridged when the record is paced, and the
    stimuli bridged (none: not paced, the signal returned unchanged)."""
    stimuli = find_stimuli(signal_mv, fs_hz, config)
    duration_s = np.asarray(signal_mv).shape[-1] / fs_hz
    if not is_paced(stimuli, duration_s, config):
        return np.asarray(signal_mv, dtype=np.float64), ()
    return bridge_stimuli(signal_mv, fs_hz, stimuli, config), stimuli


def depolarisation_start_s(stimuli: tuple[Stimulus, ...], fs_hz: float, r_peaks_s: np.ndarray,
                           config: PacingConfig | None = None) -> float | None:
    """How long after its R fiducial (s, median over the beats; negative: before it) a paced
    beat's depolarisation may start: the end of the bridge of the last stimulus within 300 ms
    before the R fiducial (``stimulus_search_s``; or on it, up to ``bridge_after_s`` after).
    ``None`` when no beat has such a stimulus. The beats are found on the signal as recorded,
    where a stimulus is often the sharpest instant and the R fiducial sits on it."""
    config = config or PacingConfig()
    ends_s = np.array([stimulus.last / fs_hz + config.bridge_after_s for stimulus in stimuli])
    starts_s = []
    for r_s in np.asarray(r_peaks_s, dtype=np.float64):
        before = ends_s[(ends_s <= r_s + 2 * config.bridge_after_s)
                        & (ends_s >= r_s - config.stimulus_search_s)]
        if before.size:
            starts_s.append(float(before.max() - r_s))
    return float(np.median(starts_s)) if starts_s else None
