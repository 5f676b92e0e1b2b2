"""Realistic ECG noise for the synthetic generator: baseline wander, muscle (EMG) and powerline.

Noise is added to the eight independent leads (I, II, V1–V6) before III, aVR, aVL and aVF are
derived, so the limb-lead identities hold on noisy records too. Every source is independent per
lead and is synthesised in the frequency domain — random Fourier coefficients on the source's
rfft bins, scaled exactly by Parseval's theorem, one inverse FFT for all three — which is what an
ideal band-pass does to white noise:

* Baseline wander: bins in 0.05–0.5 Hz (respiration and electrode drift) with complex Gaussian
  coefficients of ``1/f`` amplitude; ``baseline_wander_mv`` is its RMS.
* Muscle (EMG-like): bins in ``emg_band_hz`` (upper edge capped at 0.45 × the sampling rate),
  flat complex Gaussian coefficients; ``emg_rms_mv`` is its RMS.
* Powerline: a sinusoid of amplitude ``powerline_mv`` at the rfft bin nearest ``powerline_hz``
  (within ``1 / (2 · duration)`` Hz of it — mains frequency drifts that much anyway) with a
  random phase; left out when that bin is at or above 0.45 × the sampling rate (a device's
  anti-alias filter removes it), so a 100 Hz record carries no 50 Hz hum.

Each record scales each level by its own factor from ``U(1 − level_spread, 1 + level_spread)``, so
a data set spans cleaner and noisier records. The noise is periodic over the record (a property
of FFT synthesis), which is invisible within one record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_N_INDEPENDENT = 8
#: Frequency band (Hz) of the baseline wander.
WANDER_BAND_HZ = (0.05, 0.5)


@dataclass(frozen=True)
class NoiseConfig:
    """Noise levels (mV) of a synthetic record; :meth:`clean` turns every source off.

    Attributes:
        baseline_wander_mv: RMS of the baseline wander, per lead.
        emg_rms_mv: RMS of the band-limited muscle noise, per lead.
        emg_band_hz: pass band of the muscle noise.
        powerline_mv: amplitude of the mains hum, per lead.
        powerline_hz: mains frequency (50 or 60).
        level_spread: each record scales each level by ``U(1 − spread, 1 + spread)``.
    """

    baseline_wander_mv: float = 0.06
    emg_rms_mv: float = 0.012
    emg_band_hz: tuple[float, float] = (20.0, 150.0)
    powerline_mv: float = 0.01
    powerline_hz: float = 50.0
    level_spread: float = 0.5

    def __post_init__(self) -> None:
        levels = (self.baseline_wander_mv, self.emg_rms_mv, self.powerline_mv)
        if min(levels) < 0 or max(levels) > 5.0:
            raise ValueError(f"noise levels must lie in [0, 5] mV, got {levels}")
        if not 0.0 <= self.level_spread <= 1.0:
            raise ValueError(f"level_spread must lie in [0, 1], got {self.level_spread}")
        if self.powerline_hz not in (50.0, 60.0):
            raise ValueError(f"powerline_hz must be 50 or 60, got {self.powerline_hz}")
        low, high = self.emg_band_hz
        if not 0.0 <= low < high:
            raise ValueError(
                f"emg_band_hz must be (low, high) with 0 ≤ low < high, got {self.emg_band_hz}"
            )

    @classmethod
    def clean(cls) -> NoiseConfig:
        """All noise off."""
        return cls(baseline_wander_mv=0.0, emg_rms_mv=0.0, powerline_mv=0.0, level_spread=0.0)

    @property
    def is_clean(self) -> bool:
        """True when no noise source is on."""
        return self.baseline_wander_mv == 0 and self.emg_rms_mv == 0 and self.powerline_mv == 0


@dataclass(frozen=True)
class NoiseBins:
    """Which rfft bins of a record carry which noise source."""

    n_bins: int
    wander: np.ndarray
    emg: np.ndarray
    powerline: int | None

    @classmethod
    def of(cls, config: NoiseConfig, n_samples: int, fs_hz: float) -> NoiseBins:
        """The bins of each source for ``n_samples`` at ``fs_hz`` (DC and Nyquist never used)."""
        frequencies = np.fft.rfftfreq(n_samples, d=1.0 / fs_hz)
        usable = (frequencies > 0) & (frequencies < min(fs_hz / 2.0, 0.45 * fs_hz))
        wander = np.flatnonzero(
            usable & (frequencies >= WANDER_BAND_HZ[0]) & (frequencies <= WANDER_BAND_HZ[1])
        )
        low, high = config.emg_band_hz
        emg = np.flatnonzero(usable & (frequencies >= low) & (frequencies <= high))
        hum = round(config.powerline_hz * n_samples / fs_hz)
        powerline = hum if hum < frequencies.size and usable[hum] else None
        return cls(frequencies.size, wander, emg, powerline)


@dataclass(frozen=True)
class NoiseDraw:
    """The random numbers that fix one record's noise (drawn once, rendered in a batch).

    Attributes:
        scale: per-source level factors (wander, EMG, powerline).
        wander: ``complex64 [8, n_wander_bins]`` unscaled Gaussian coefficients.
        emg: ``complex64 [8, n_emg_bins]`` unscaled Gaussian coefficients.
        powerline_phase: ``[8]`` phases (rad).
    """

    scale: np.ndarray
    wander: np.ndarray
    emg: np.ndarray
    powerline_phase: np.ndarray


def _complex_gaussian(rng: np.random.Generator, n_bins: int) -> np.ndarray:
    parts = rng.standard_normal((2, _N_INDEPENDENT, n_bins), dtype=np.float32)
    return (parts[0] + 1j * parts[1]).astype(np.complex64)


def draw_noise(
    rng: np.random.Generator, config: NoiseConfig, n_samples: int, fs_hz: float
) -> NoiseDraw | None:
    """Draw the random numbers of one record's noise; ``None`` in clean mode (draws nothing)."""
    if config.is_clean:
        return None
    bins = NoiseBins.of(config, n_samples, fs_hz)
    spread = config.level_spread
    scale = rng.uniform(1.0 - spread, 1.0 + spread, size=3)
    wander = _complex_gaussian(rng, bins.wander.size)
    emg = _complex_gaussian(rng, bins.emg.size)
    powerline_phase = rng.uniform(0.0, 2.0 * np.pi, size=_N_INDEPENDENT)
    return NoiseDraw(scale, wander, emg, powerline_phase)


def _rms_scaled(coefficients: np.ndarray, rms_mv: np.ndarray, n_samples: int) -> np.ndarray:
    """Coefficients scaled so that their inverse rfft has RMS ``rms_mv`` per row (Parseval).

    For rfft bins other than DC and Nyquist, ``mean(x²) = 2 Σ|c_k|² / n²``.
    """
    power = 2.0 * np.sum(np.abs(coefficients.astype(np.complex128)) ** 2, axis=-1) / n_samples**2
    gain = np.divide(rms_mv, np.sqrt(power), out=np.zeros_like(power), where=power > 0)
    return coefficients * gain[..., None]


def render_noise(
    draws: list[NoiseDraw], config: NoiseConfig, n_samples: int, fs_hz: float
) -> np.ndarray:
    """Noise ``float32 [len(draws), 8, n_samples]`` (mV) for the independent leads of a batch."""
    bins = NoiseBins.of(config, n_samples, fs_hz)
    scale = np.stack([d.scale for d in draws])  # [B, 3]
    spectrum = np.zeros((len(draws), _N_INDEPENDENT, bins.n_bins), dtype=np.complex128)
    if config.baseline_wander_mv > 0 and bins.wander.size:
        frequencies_hz = bins.wander * fs_hz / n_samples
        pink = np.stack([d.wander for d in draws]) / frequencies_hz  # 1/f amplitude
        target = np.broadcast_to(config.baseline_wander_mv * scale[:, 0, None], pink.shape[:2])
        spectrum[:, :, bins.wander] = _rms_scaled(pink, target, n_samples)
    if config.emg_rms_mv > 0 and bins.emg.size:
        emg = np.stack([d.emg for d in draws])
        target = np.broadcast_to(config.emg_rms_mv * scale[:, 1, None], emg.shape[:2])
        spectrum[:, :, bins.emg] += _rms_scaled(emg, target, n_samples)
    if config.powerline_mv > 0 and bins.powerline is not None:
        phase = np.stack([d.powerline_phase for d in draws])  # [B, 8]
        amplitude = config.powerline_mv * scale[:, 2, None]
        # A·sin(ωt + φ) = Re(A·e^{i(φ − π/2)}·e^{iωt}); irfft divides by n and counts the bin twice.
        spectrum[:, :, bins.powerline] += (
            amplitude * n_samples / 2.0 * np.exp(1j * (phase - np.pi / 2))
        )
    return np.fft.irfft(spectrum.astype(np.complex64), n=n_samples, axis=-1)
