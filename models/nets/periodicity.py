"""The concept network's rhythm reader: the beat interval (RR) from where the ECG repeats.

A convolutional encoder that ends in global average and max pooling sees *what* the beats look
like but not how far apart they are: on real ECGs the fine-tuned XResNet1d missed the heart rate
by 4.9 bpm (MAE on the real tune windows), mostly by reading tachycardias as slow. The beat
interval is the lag at which the ECG best matches itself, so a concept model reads its RR from
the autocorrelation, the classic periodicity estimator of pitch tracking (Rabiner, IEEE Trans
ASSP 25:24, 1977; de Cheveigné & Kawahara, JASA 111:1917, 2002):

1. the envelope: mean over the present leads of the absolute first difference of the standardised
   signal (QRS complexes dominate it), centred;
2. its autocorrelation (biased estimate, so a longer lag — a multiple of the beat interval — scores
   lower than the interval itself), normalised to 1 at lag 0, read at ``n_lags`` log-spaced lags
   from ``shortest_s`` to ``longest_s`` (linear interpolation between samples);
3. a small convolution over the log-lag axis scores each lag. On a log axis a lag and its double
   are a fixed distance apart, so its receptive field — wider than one octave — can learn to
   prefer an interval over its multiples and sub-multiples (the octave errors of a plain argmax,
   e.g. bigeminy read at half the rate); a learned per-lag prior adds what is likely. The scores
   start as ``30 · ac``, a soft-argmax of the autocorrelation, and are learned end to end from the
   RR loss;
4. a softmax over the scores gives the expected log-interval;
5. an energy gate: the normalised autocorrelation does not depend on the signal's scale, so the
   interval would jump from nothing to its full value the moment a signal departs from zero —
   and Integrated Gradients, which integrates along ``α · x`` from the all-zero input, would
   never see the jump it must account for. The expected log-interval is therefore weighed by
   ``sigmoid((ln E − ln E₀) / w)`` of the envelope's energy ``E`` (which scales with ``α²``),
   reaching the prior interval (0.8 s) at zero energy; ``E₀`` lies far below the energy of any
   real or synthetic development ECG (the gate is ≥ 0.98 on all of them), so only the flat
   inputs of an attribution path are pulled to the prior.

Only the concept models have it (:class:`models.nets.model.ConceptModel` takes its RR from it,
the RR head giving only the variance, and every other concept may lean on the read interval by a
learned weight); the black box, its embedding and every post-hoc explanation of it are
unchanged. Computed in float32 (FFT has no bfloat16 kernel on the CPU).
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: Centre and scale of the standardised log-interval (s): ln 0.8 s (75 bpm) ± 0.4.
_LOG_LAG_CENTRE = math.log(0.8)
_LOG_LAG_SCALE = 0.4
#: Envelope energy (standardised signal units²) at which the gate is one half, and the gate's
#: width in ln-energy (wide, so the transition spreads over a factor of about 7 in α). At 100 Hz
#: the synthetic ECGs' energies start at 0.0018 (gate 0.994), the real development ECGs' at 0.04.
ENERGY_FLOOR = 1e-5
ENERGY_WIDTH = 1.0


def envelope(signal: torch.Tensor, lead_mask: torch.Tensor) -> torch.Tensor:
    """``[B, L − 1]`` centred mean absolute first difference over the present leads (a.u.)."""
    mask = lead_mask.to(signal.dtype).unsqueeze(-1)  # [B, 12, 1]
    slope = (signal[..., 1:] - signal[..., :-1]).abs() * mask  # [B, 12, L − 1]
    mean_slope = slope.sum(1) / mask.sum(1).clamp(min=1.0)  # [B, L − 1]
    return mean_slope - mean_slope.mean(-1, keepdim=True)


def autocorrelation(series: torch.Tensor) -> torch.Tensor:
    """``[B, N]`` biased autocorrelation of ``series`` ``[B, N]`` at lags 0…N−1, 1 at lag 0."""
    n = series.shape[-1]
    spectrum = torch.fft.rfft(series, 2 * n)  # zero-padded: linear, not circular, correlation
    ac = torch.fft.irfft(spectrum * spectrum.conj(), 2 * n)[..., :n]
    return ac / ac[..., :1].clamp(min=1e-6)


def energy_gate(series: torch.Tensor) -> torch.Tensor:
    """``[B]`` in (0, 1): how much of the read interval counts, from the mean square of the
    centred envelope ``series`` ``[B, N]`` (0 for a flat input, ≈ 1 for any ECG)."""
    energy = series.square().mean(-1)
    return torch.sigmoid((torch.log(energy + 1e-12) - math.log(ENERGY_FLOOR)) / ENERGY_WIDTH)


class RhythmReader(nn.Module):
    """``(signal [B, 12, L], lead_mask [B, 12]) -> [B]`` beat interval (ms).

    Args:
        fs_hz: sampling rate of ``signal`` (Hz).
        shortest_s, longest_s: range of beat intervals considered (s; 0.25–2.0 s is 30–240 bpm).
        n_lags: log-spaced lags scored.
        width: channels of the lag scorer.
    """

    def __init__(
        self,
        fs_hz: float,
        shortest_s: float = 0.25,
        longest_s: float = 2.0,
        n_lags: int = 64,
        width: int = 8,
    ) -> None:
        super().__init__()
        lags_s = torch.exp(torch.linspace(math.log(shortest_s), math.log(longest_s), n_lags))
        self.register_buffer("lag_samples", lags_s * fs_hz, persistent=False)
        self.register_buffer(
            "log_lag_z", (lags_s.log() - _LOG_LAG_CENTRE) / _LOG_LAG_SCALE, persistent=False
        )
        self.scorer = nn.Sequential(
            nn.Conv1d(1, width, 9, padding=4),
            nn.ReLU(),
            nn.Conv1d(width, width, 9, padding=8, dilation=2),
            nn.ReLU(),
            nn.Conv1d(width, 1, 9, padding=16, dilation=4),
        )
        nn.init.zeros_(self.scorer[-1].weight)
        nn.init.zeros_(self.scorer[-1].bias)
        self.gain = nn.Parameter(torch.tensor(30.0))
        self.prior = nn.Parameter(torch.zeros(n_lags))

    def lag_autocorrelation(self, series: torch.Tensor) -> torch.Tensor:
        """``[B, n_lags]`` normalised autocorrelation of the envelope ``series`` at the lags."""
        ac = autocorrelation(series)  # [B, L − 1]
        position = self.lag_samples.clamp(max=ac.shape[-1] - 1.001)
        low = position.floor().long()
        fraction = position - low
        return ac[..., low] * (1 - fraction) + ac[..., low + 1] * fraction

    def forward(self, signal: torch.Tensor, lead_mask: torch.Tensor) -> torch.Tensor:
        with torch.autocast(signal.device.type, enabled=False):
            series = envelope(signal.float(), lead_mask)
            ac = self.lag_autocorrelation(series)  # [B, n_lags]
            scores = self.gain * ac + self.prior + self.scorer(ac.unsqueeze(1)).squeeze(1)
            log_lag_z = (scores.softmax(-1) * self.log_lag_z).sum(-1) * energy_gate(series)
        return 1000.0 * torch.exp(log_lag_z * _LOG_LAG_SCALE + _LOG_LAG_CENTRE)
