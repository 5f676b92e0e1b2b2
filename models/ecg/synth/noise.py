"""Realistic ECG noise for the synthetic generator: baseline wander, muscle (EMG) and powerline.

Noise is added to the eight independent leads (I, II, V1–V6) before III, aVR, aVL and aVF are
derived, so the limb-lead identities hold on noisy records too. Each source is independent per
lead. Components at or above the Nyquist frequency are left out (an acquisition device's
anti-alias filter removes them), so a 100 Hz record carries no 50 Hz hum.

* Baseline wander: a respiratory sinusoid (0.15–0.4 Hz) plus a slow drift (0.03–0.1 Hz), random
  phases; ``baseline_wander_mv`` is the amplitude of each.
* Muscle (EMG-like): Gaussian noise band-limited to ``emg_band_hz`` (ideal FFT band-pass),
  normalised to ``emg_rms_mv`` RMS.
* Powerline: a ``powerline_hz`` sinusoid (50 or 60 Hz) of amplitude ``powerline_mv``.

Each record scales each level by its own factor drawn from ``U(1 − level_spread, 1 + level_spread)``
so a data set spans cleaner and noisier records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_N_INDEPENDENT = 8


@dataclass(frozen=True)
class NoiseConfig:
    """Noise levels (mV) of a synthetic record; :meth:`clean` turns every source off.

    Attributes:
        baseline_wander_mv: amplitude of the respiratory and drift sinusoids, per lead.
        emg_rms_mv: RMS of the band-limited muscle noise, per lead.
        emg_band_hz: pass band of the muscle noise (upper edge capped below Nyquist).
        powerline_mv: amplitude of the mains hum, per lead.
        powerline_hz: mains frequency (50 or 60).
        level_spread: each record scales each level by ``U(1 − spread, 1 + spread)``.
    """

    baseline_wander_mv: float = 0.08
    emg_rms_mv: float = 0.012
    emg_band_hz: tuple[float, float] = (20.0, 150.0)
    powerline_mv: float = 0.01
    powerline_hz: float = 50.0
    level_spread: float = 0.5

    def __post_init__(self) -> None:
        levels = (self.baseline_wander_mv, self.emg_rms_mv, self.powerline_mv)
        if min(levels) < 0:
            raise ValueError(f"noise levels must be ≥ 0 mV, got {levels}")
        if not 0.0 <= self.level_spread <= 1.0:
            raise ValueError(f"level_spread must lie in [0, 1], got {self.level_spread}")
        if self.powerline_hz not in (50.0, 60.0):
            raise ValueError(f"powerline_hz must be 50 or 60, got {self.powerline_hz}")
        low, high = self.emg_band_hz
        if not 0.0 <= low < high:
            raise ValueError(f"emg_band_hz must be (low, high) with 0 ≤ low < high, got {self.emg_band_hz}")

    @classmethod
    def clean(cls) -> NoiseConfig:
        """All noise off."""
        return cls(baseline_wander_mv=0.0, emg_rms_mv=0.0, powerline_mv=0.0, level_spread=0.0)

    @property
    def is_clean(self) -> bool:
        """True when no noise source is on."""
        return self.baseline_wander_mv == 0 and self.emg_rms_mv == 0 and self.powerline_mv == 0


@dataclass(frozen=True)
class NoiseDraw:
    """The random numbers that fix one record's noise (drawn once, rendered in a batch).

    Attributes:
        scale: per-source level factors (wander, EMG, powerline).
        wander_hz, wander_phase: ``[8, 2]`` frequencies (Hz) and phases (rad) of the two
            baseline sinusoids per lead.
        powerline_phase: ``[8]`` phases (rad).
        white: ``[8, n_samples]`` standard normal samples for the EMG noise.
    """

    scale: np.ndarray
    wander_hz: np.ndarray
    wander_phase: np.ndarray
    powerline_phase: np.ndarray
    white: np.ndarray


def draw_noise(rng: np.random.Generator, config: NoiseConfig, n_samples: int) -> NoiseDraw | None:
    """Draw the random numbers of one record's noise; ``None`` in clean mode (draws nothing)."""
    if config.is_clean:
        return None
    spread = config.level_spread
    scale = rng.uniform(1.0 - spread, 1.0 + spread, size=3)
    wander_hz = np.stack(
        [rng.uniform(0.15, 0.4, _N_INDEPENDENT), rng.uniform(0.03, 0.1, _N_INDEPENDENT)], axis=1
    )
    wander_phase = rng.uniform(0.0, 2.0 * np.pi, size=(_N_INDEPENDENT, 2))
    powerline_phase = rng.uniform(0.0, 2.0 * np.pi, size=_N_INDEPENDENT)
    white = rng.standard_normal((_N_INDEPENDENT, n_samples))
    return NoiseDraw(scale, wander_hz, wander_phase, powerline_phase, white)


def render_noise(
    draws: list[NoiseDraw], config: NoiseConfig, n_samples: int, fs_hz: float
) -> np.ndarray:
    """Noise ``float64 [len(draws), 8, n_samples]`` (mV) for the independent leads of a batch."""
    scale = np.stack([d.scale for d in draws])  # [B, 3]
    t_s = np.arange(n_samples) / fs_hz
    noise = np.zeros((len(draws), _N_INDEPENDENT, n_samples))
    nyquist_hz = fs_hz / 2.0
    if config.baseline_wander_mv > 0:
        wander_hz = np.stack([d.wander_hz for d in draws])
        wander_phase = np.stack([d.wander_phase for d in draws])
        amplitude = config.baseline_wander_mv * scale[:, 0, None, None]
        for component in range(2):
            noise += amplitude * np.sin(
                2.0 * np.pi * wander_hz[:, :, component, None] * t_s
                + wander_phase[:, :, component, None]
            )
    if config.emg_rms_mv > 0:
        white = np.stack([d.white for d in draws])
        frequencies = np.fft.rfftfreq(n_samples, d=1.0 / fs_hz)
        low, high = config.emg_band_hz
        band = (frequencies >= low) & (frequencies <= min(high, 0.9 * nyquist_hz))
        if band.any():
            spectrum = np.fft.rfft(white, axis=-1) * band
            emg = np.fft.irfft(spectrum, n=n_samples, axis=-1)
            emg /= np.sqrt(np.mean(emg**2, axis=-1, keepdims=True))
            noise += config.emg_rms_mv * scale[:, 1, None, None] * emg
    if config.powerline_mv > 0 and config.powerline_hz < nyquist_hz:
        phase = np.stack([d.powerline_phase for d in draws])
        noise += (config.powerline_mv * scale[:, 2, None, None]) * np.sin(
            2.0 * np.pi * config.powerline_hz * t_s + phase[:, :, None]
        )
    return noise
