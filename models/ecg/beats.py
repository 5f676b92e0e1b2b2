"""Beats: R-peak detection (NeuroKit2, once, on one representative lead), beat alignment and
median beats per lead.

1. **Reference lead**: the usable lead with the highest kurtosis of its filtered signal — the lead
   whose QRS stands out most from the rest of the beat and from noise (kSQI, Zhao & Zhang,
   Front Physiol 9:727, 2018).
2. **R peaks**: ``neurokit2.ecg_peaks`` (method ``"neurokit"``) on the reference lead; a
   detection whose peak spatial velocity (all usable leads, ± 60 ms) is below 30 % of the 75th
   percentile over the detections is a tall T wave or an artefact, not a beat, and is dropped.
3. **Alignment**: each beat's fiducial is moved (± 16 ms) to the lag that best correlates its
   QRS (± 60 ms) with the median QRS, over all usable leads together, so that the median beat is
   not smeared by detector jitter.
4. **Selection**: beats whose QRS correlates < 0.85 with the median QRS (ectopic or noisy) and
   premature beats (RR < 0.8 × median RR) are left out of the median beat, unless that would leave
   fewer than three beats.
5. **Median beat**: the sample-wise median of the selected beats, per lead, over a window from
   ``min(0.40 s, 0.55 RR)`` before R to ``min(RR − 0.05 s, 1.0 s)`` (at least 0.45 s) after R.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats

from models.ecg.preprocess import template_sqi

#: Half-width of the QRS window used to align beats (s) and the largest alignment shift (s).
_ALIGN_HALF_WINDOW_S = 0.06
_ALIGN_MAX_SHIFT_S = 0.016


@dataclass(frozen=True)
class BeatConfig:
    """Beat selection settings.

    Attributes:
        min_qrs_correlation: beats whose QRS correlates less with the median QRS are left out.
        premature_fraction: beats whose preceding RR is shorter than this × median RR are left out.
        min_beats: fewest beats a median beat is built from.
    """

    min_qrs_correlation: float = 0.85
    premature_fraction: float = 0.8
    min_beats: int = 3


@dataclass(frozen=True)
class Beats:
    """Detected beats and the median beat of every lead.

    Attributes:
        fs_hz: sampling rate in Hz.
        r_samples: aligned fiducial (R) sample index of every detected beat, ascending.
        reference_lead: index of the lead the beats were detected on.
        windowed: per detected beat, whether its whole window lies inside the record.
        used: per detected beat, whether it went into the median beat.
        pre_samples: samples of the window before R (the median beat's R index).
        windows_mv: ``[windowed beats, leads, window]`` every beat whose window fits, in order.
        median_mv: ``[leads, window]`` the median beat of each lead.
        rr_ms: median RR interval in ms (``nan`` with fewer than two beats).
    """

    fs_hz: float
    r_samples: np.ndarray
    reference_lead: int
    windowed: np.ndarray
    used: np.ndarray
    pre_samples: int
    windows_mv: np.ndarray
    median_mv: np.ndarray
    rr_ms: float

    @property
    def n_beats(self) -> int:
        """Number of detected beats."""
        return int(self.r_samples.size)

    @property
    def start_s(self) -> float:
        """Time of the first sample of the median beat relative to R, in s (negative)."""
        return -self.pre_samples / self.fs_hz

    def lead_sqi(self, lead_index: int) -> float:
        """Template-matching SQI of one lead over the windowed beats (see ``preprocess``)."""
        return template_sqi(self.windows_mv[:, lead_index, :])


def reference_lead(signal_mv: np.ndarray, usable: np.ndarray) -> int:
    """Index of the usable lead with the highest kurtosis (the most QRS-dominated lead)."""
    kurtosis = scipy.stats.kurtosis(signal_mv, axis=-1, fisher=False)
    kurtosis = np.where(usable & np.isfinite(kurtosis), kurtosis, -np.inf)
    return int(np.argmax(kurtosis))


def detect_r_peaks(lead_mv: np.ndarray, fs_hz: float) -> np.ndarray:
    """R-peak sample indices of one filtered lead by ``neurokit2.ecg_peaks`` (``"neurokit"``).

    The lead is flipped first when its QRS points down (negative skewness), because the detector
    places each peak on the most prominent *positive* local maximum of the QRS.

    Reference: Makowski D et al. NeuroKit2. Behav Res Methods 53:1689 (2021).
    """
    import warnings

    import neurokit2 as nk

    lead = np.asarray(lead_mv, dtype=np.float64)
    if scipy.stats.skew(lead) < 0:
        lead = -lead
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _, info = nk.ecg_peaks(lead, sampling_rate=round(fs_hz))
        except (ValueError, IndexError):
            return np.zeros(0, dtype=np.int64)
    return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)


def beat_window(rr_s: float) -> tuple[float, float]:
    """Seconds before and after R covered by a median beat, for a median RR in s."""
    if not np.isfinite(rr_s):
        rr_s = 1.0
    pre_s = min(0.40, 0.55 * rr_s)
    post_s = max(0.45, min(rr_s - 0.05, 1.0))
    return pre_s, post_s


def align_r_peaks(signal_mv: np.ndarray, usable: np.ndarray, r_samples: np.ndarray, fs_hz: float) -> np.ndarray:
    """Move each R fiducial to the lag (± 16 ms) that best matches the median QRS of all usable
    leads together (the sum over leads of the beat-template cross-products)."""
    half = round(_ALIGN_HALF_WINDOW_S * fs_hz)
    max_shift = round(_ALIGN_MAX_SHIFT_S * fs_hz)
    leads = signal_mv[np.flatnonzero(usable)]
    n = leads.shape[-1]
    inside = (r_samples - half - max_shift >= 0) & (r_samples + half + max_shift < n)
    if inside.sum() < 2 or leads.shape[0] == 0:
        return r_samples
    offsets = np.arange(-half, half + 1)
    template = np.median(leads[:, r_samples[inside][:, None] + offsets], axis=1)
    template = template - template.mean(axis=-1, keepdims=True)
    aligned = r_samples.copy()
    shifts = np.arange(-max_shift, max_shift + 1)
    for index in np.flatnonzero(inside):
        segments = leads[:, r_samples[index] + shifts[:, None] + offsets]
        segments = segments - segments.mean(axis=-1, keepdims=True)
        score = np.einsum("lsw,lw->s", segments, template)
        aligned[index] = r_samples[index] + shifts[int(np.argmax(score))]
    return aligned


def build_beats(
    signal_mv: np.ndarray,
    fs_hz: float,
    usable: np.ndarray,
    r_samples: np.ndarray,
    reference: int,
    config: BeatConfig | None = None,
) -> Beats:
    """Align the beats, select the dominant ones and build the median beat of every lead.

    Args:
        signal_mv: filtered ``[leads, samples]`` signal in mV.
        fs_hz: sampling rate in Hz.
        usable: per lead, whether it passed the lead checks (alignment uses these leads).
        r_samples: R-peak sample indices from :func:`detect_r_peaks`.
        reference: index of the lead the peaks were detected on.
        config: beat selection settings.
    """
    config = config or BeatConfig()
    n_leads, n_samples = signal_mv.shape
    r_samples = _qrs_like(signal_mv, usable, np.asarray(r_samples, dtype=np.int64), fs_hz)
    r_samples = np.unique(align_r_peaks(signal_mv, usable, r_samples, fs_hz))
    rr_ms = float(np.median(np.diff(r_samples)) * 1000.0 / fs_hz) if r_samples.size >= 2 else float("nan")
    pre_s, post_s = beat_window(rr_ms / 1000.0)
    pre = round(pre_s * fs_hz)
    post = round(post_s * fs_hz)
    windowed = (r_samples - pre >= 0) & (r_samples + post < n_samples)
    offsets = np.arange(-pre, post + 1)
    windows = signal_mv[:, r_samples[windowed][:, None] + offsets].transpose(1, 0, 2)
    used = windowed & _dominant_beats(signal_mv[reference], r_samples, fs_hz, rr_ms, config)
    if used.sum() < config.min_beats:
        used = windowed.copy()
    selected = windows[used[windowed]] if windows.shape[0] else windows
    median = np.median(selected, axis=0) if selected.shape[0] else np.zeros((n_leads, offsets.size))
    return Beats(
        fs_hz=fs_hz,
        r_samples=r_samples,
        reference_lead=reference,
        windowed=windowed,
        used=used,
        pre_samples=pre,
        windows_mv=windows,
        median_mv=median,
        rr_ms=rr_ms,
    )


def _qrs_like(signal_mv: np.ndarray, usable: np.ndarray, r_samples: np.ndarray, fs_hz: float) -> np.ndarray:
    """The detections steep enough to be QRS complexes: the peak spatial velocity of the usable
    leads within ± 60 ms must reach 30 % of the 75th percentile over all detections (a tall T wave
    taken for a beat is far less steep than a QRS)."""
    if r_samples.size < 2 or not usable.any():
        return r_samples
    velocity = np.sqrt(np.sum(np.gradient(signal_mv[usable], axis=-1) ** 2, axis=0))
    half = round(_ALIGN_HALF_WINDOW_S * fs_hz)
    steepness = np.array(
        [velocity[max(0, r - half) : r + half + 1].max() if r < velocity.size else 0.0 for r in r_samples]
    )
    return r_samples[steepness >= 0.3 * np.percentile(steepness, 75)]


def _dominant_beats(
    lead_mv: np.ndarray, r_samples: np.ndarray, fs_hz: float, rr_ms: float, config: BeatConfig
) -> np.ndarray:
    """Beats with the dominant QRS shape that are not premature."""
    keep = np.ones(r_samples.size, dtype=bool)
    half = round(_ALIGN_HALF_WINDOW_S * fs_hz)
    inside = (r_samples - half >= 0) & (r_samples + half < lead_mv.size)
    if inside.sum() >= 2:
        qrs = lead_mv[r_samples[inside][:, None] + np.arange(-half, half + 1)]
        qrs = qrs - qrs.mean(axis=1, keepdims=True)
        template = np.median(qrs, axis=0)
        norms = np.linalg.norm(qrs, axis=1) * np.linalg.norm(template)
        correlation = np.where(norms > 0, qrs @ template / np.maximum(norms, 1e-20), 0.0)
        keep[inside] = correlation >= config.min_qrs_correlation
        keep[~inside] = False
    if np.isfinite(rr_ms) and r_samples.size >= 2:
        rr_before = np.diff(r_samples) * 1000.0 / fs_hz
        keep[1:] &= rr_before >= config.premature_fraction * rr_ms
    return keep
