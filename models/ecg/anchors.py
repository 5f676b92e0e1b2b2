"""The anchor delineators QTLens is validated beside, each run the way its documentation says.

* **NeuroKit2** (Makowski D et al., Behav Res Methods 53:1689, 2021): on the *raw* lead at the
  record's own sampling rate, ``nk.ecg_clean`` → ``nk.ecg_peaks`` (its own R peaks) →
  ``nk.ecg_delineate(cleaned, rpeaks, sampling_rate, method)`` — the sequence of the
  ``ecg_delineate`` documentation. Methods: ``dwt`` (Martínez JP et al., IEEE TBME 51:570,
  2004), ``prominence`` (Emrich J et al., EUSIPCO 2024), ``peak``, ``cwt``.
* **openecg** (Apache-2.0, https://github.com/vitaldb/openecg): ``openecg.encode(lead, fs,
  model=<bundled codec>)`` on the raw lead; its per-sample frame layer (other / P / QRS / T)
  gives wave onsets and offsets at class transitions. Its codec was **trained on LUDB and QTDB**
  (among others), so it has seen the very records it is scored on here: read its figures as an
  upper bound, not a fair comparison. It gives no T peak. Optional: when ``openecg`` is not
  installed (``pip install openecg``) the anchor is reported as unavailable.

Every anchor returns, per lead, its own beats (R peak samples) and per beat the scored
fiducials in samples (NaN when absent).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np

#: Scored fiducials (names shared with :mod:`models.ecg.validate`).
FIDUCIAL_NAMES: tuple[str, ...] = ("P_on", "P_off", "QRS_on", "QRS_off", "T_peak", "T_end")
NEUROKIT_METHODS: tuple[str, ...] = ("dwt", "prominence", "peak", "cwt")
OPENECG = "openecg"
#: NeuroKit2 output keys of each scored fiducial.
_NEUROKIT_KEYS: dict[str, str] = {
    "P_on": "ECG_P_Onsets",
    "P_off": "ECG_P_Offsets",
    "QRS_on": "ECG_R_Onsets",
    "QRS_off": "ECG_R_Offsets",
    "T_peak": "ECG_T_Peaks",
    "T_end": "ECG_T_Offsets",
}
#: Fiducials that come before the R peak (assigned to the next R), the others to the previous R.
_BEFORE_R = frozenset({"P_on", "P_off", "QRS_on"})
#: openecg frame classes (``openecg.eval.SUPER_*``).
_OPENECG_P, _OPENECG_QRS, _OPENECG_T, _OPENECG_PACED = 1, 2, 3, 4
_P_REACH_S = 0.4
_T_REACH_S = 0.6


@dataclass(frozen=True)
class LeadBeats:
    """One anchor's beats on one lead: R peaks and per beat the fiducials (samples, NaN = absent)."""

    r_samples: np.ndarray
    fiducials: dict[str, np.ndarray]

    @classmethod
    def empty(cls) -> LeadBeats:
        """No beat found."""
        return cls(np.zeros(0, dtype=np.int64), {name: np.zeros(0) for name in FIDUCIAL_NAMES})


def anchor_names(neurokit_methods: tuple[str, ...], with_openecg: bool) -> list[str]:
    """Report names of the anchors: ``neurokit_<method>`` …, then ``openecg`` when asked."""
    return [f"neurokit_{m}" for m in neurokit_methods] + ([OPENECG] if with_openecg else [])


def openecg_available() -> bool:
    """Whether the optional ``openecg`` package can be imported."""
    try:
        import openecg  # noqa: F401
    except ImportError:
        return False
    return True


def assign_to_beats(times: dict[str, list[float]], r_samples: np.ndarray) -> dict[str, np.ndarray]:
    """Per fiducial, one time per R peak (samples; NaN when absent): onsets go to the next R,
    offsets and peaks to the previous one; of two candidates the nearer to the R is kept."""
    out = {name: np.full(r_samples.size, np.nan) for name in FIDUCIAL_NAMES}
    for name, values in times.items():
        for value in values:
            if value is None or not np.isfinite(value):
                continue
            before = name in _BEFORE_R
            index = int(np.searchsorted(r_samples, value, side="left" if before else "right")) - (0 if before else 1)
            if 0 <= index < r_samples.size:
                current = out[name][index]
                if np.isnan(current) or abs(value - r_samples[index]) < abs(current - r_samples[index]):
                    out[name][index] = float(value)
    return out


def neurokit_leads(lead_mv: np.ndarray, fs_hz: float, methods: tuple[str, ...]) -> dict[str, LeadBeats]:
    """NeuroKit2 run its own way on one raw lead (mV at ``fs_hz``), per method (see module doc).

    A method that fails on the lead (NeuroKit2 raises on some signals) leaves every fiducial
    absent on that lead; no R peak found gives no beats.
    """
    import neurokit2 as nk

    rate = round(fs_hz)
    signal = np.nan_to_num(np.asarray(lead_mv, dtype=np.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cleaned = nk.ecg_clean(signal, sampling_rate=rate)
            _, info = nk.ecg_peaks(cleaned, sampling_rate=rate)
        except (ValueError, IndexError, KeyError, TypeError, ZeroDivisionError):
            return {method: LeadBeats.empty() for method in methods}
        r_samples = np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
        out = {}
        for method in methods:
            waves: dict[str, list[float]] = {}
            if r_samples.size >= 2:
                try:
                    _, found = nk.ecg_delineate(cleaned, r_samples, sampling_rate=rate, method=method)
                    waves = {name: list(found.get(key, [])) for name, key in _NEUROKIT_KEYS.items()}
                except (ValueError, IndexError, KeyError, TypeError, ZeroDivisionError):
                    waves = {}
            out[method] = LeadBeats(r_samples, assign_to_beats(waves, r_samples))
    return out


@functools.cache
def _openecg_codec() -> object:
    """The bundled openecg codec, loaded once per process (one torch thread: validation already
    runs one record per process)."""
    import openecg
    import torch

    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return openecg.load_codec()


def openecg_lead(lead_mv: np.ndarray, fs_hz: float) -> LeadBeats:
    """openecg's frame-layer delineation of one raw lead (mV at ``fs_hz``; see module doc).

    Each QRS span is a beat (R = its largest deviation from the lead's median); the P span
    ending within 400 ms before it gives P on/off, the first T span starting within 600 ms after
    it gives T end. Boundaries are the first and last sample of each span.
    """
    import openecg

    signal = np.nan_to_num(np.asarray(lead_mv, dtype=np.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        codec = openecg.encode(signal.astype(np.float32), fs=round(fs_hz), model=_openecg_codec())
    events = [(int(start), int(end) - 1, int(kind)) for start, end, kind in codec.events("frame")]
    qrs = [(s, e) for s, e, k in events if k in (_OPENECG_QRS, _OPENECG_PACED)]
    if not qrs:
        return LeadBeats.empty()
    level = float(np.median(signal))
    r_samples = np.array([s + int(np.argmax(np.abs(signal[s : e + 1] - level))) for s, e in qrs], dtype=np.int64)
    times: dict[str, list[float]] = {name: [] for name in FIDUCIAL_NAMES}
    reach_p, reach_t = _P_REACH_S * fs_hz, _T_REACH_S * fs_hz
    for start, end in qrs:
        times["QRS_on"].append(start)
        times["QRS_off"].append(end)
        p = [(s, e) for s, e, k in events if k == _OPENECG_P and start - reach_p <= e < start]
        if p:
            times["P_on"].append(p[-1][0])
            times["P_off"].append(p[-1][1])
        t = [(s, e) for s, e, k in events if k == _OPENECG_T and end < s <= end + reach_t]
        if t:
            times["T_end"].append(t[0][1])
    return LeadBeats(r_samples, assign_to_beats(times, r_samples))
