"""How far an ECG lies from the real ECGs a network was trained on (out-of-distribution score).

Two distances of the network's penultimate features (the backbone embedding the concept heads
read) are computed:

* the **Mahalanobis distance** from the real training ECGs' features — the feature-space detector
  of Lee et al. (NeurIPS 2018) with one class; far inputs (noise, pacing spikes) score high;
* the **relative Mahalanobis distance**: that distance minus the one from a *background* fitted on
  everything the network was trained on (real and synthetic ECGs) — Ren et al., "A Simple Fix to
  Mahalanobis Distance for Improving Near-OOD Detection" (arXiv:2106.09022, 2021); it removes what
  all training inputs share, so a synthetic tracing, close to the synthetic half of the training
  data, still scores as unlike the real ECGs.

Covariances are shrunk towards a scaled identity (Ledoit & Wolf, J Multivar Anal 88:365, 2004);
the precision matrices are stored in half precision (computed in single precision). The reported
**percentile** is the larger of the two distances' percentiles.

Each is read against **reference distances**: those of real ECGs the statistics were not fitted
on (the ``tune`` role of :mod:`models.data.splits`). ``percentile`` is where a record falls among
them; an ECG beyond :data:`HIGH_PERCENTILE` is flagged: its concepts and risks rest on
a signal unlike any the network learned from (noise, pacing, swapped leads, a synthetic tracing,
another population).

The statistics live in the network's buffers (:class:`FeatureDistance`), so every bundle carries
its own; a network whose statistics were never fitted reports no score.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

#: Reference percentile above which a record is flagged as unlike the training ECGs.
HIGH_PERCENTILE = 99.0
#: Number of reference quantiles stored (0, 1, …, 100 %).
N_QUANTILES = 101


class FeatureDistance(nn.Module):
    """Mahalanobis and relative Mahalanobis distances of features ``[B, E]``.

    Buffers: ``mean`` ``[E]`` and ``precision`` ``[E, E]`` of the real training features,
    ``background_mean`` and ``background_precision`` of all training features (precisions:
    inverse shrunk covariances, float16), ``quantiles`` and ``relative_quantiles`` ``[101]``
    (0–100 % of the reference records' two distances) and ``fitted`` (1 once :meth:`fit` ran).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("precision", torch.zeros(dim, dim, dtype=torch.float16))
        self.register_buffer("background_mean", torch.zeros(dim))
        self.register_buffer("background_precision", torch.zeros(dim, dim, dtype=torch.float16))
        self.register_buffer("quantiles", torch.zeros(N_QUANTILES))
        self.register_buffer("relative_quantiles", torch.zeros(N_QUANTILES))
        self.register_buffer("fitted", torch.zeros(()))

    @property
    def is_fitted(self) -> bool:
        """Whether statistics were fitted (a network trained without real ECGs has none)."""
        return bool(self.fitted.item() > 0)

    def fit(
        self,
        train_features: np.ndarray,
        background_features: np.ndarray,
        reference_features: np.ndarray,
    ) -> None:
        """Fit the real statistics on ``train_features`` ``[n, E]`` and the background on them
        plus ``background_features`` (the other training inputs, e.g. synthetic ECGs); store the
        quantiles of the distances of ``reference_features`` ``[m, E]`` (real records the fit
        did not see).

        Raises:
            ValueError: fewer than 2 training or 1 reference records.
        """
        from sklearn.covariance import LedoitWolf

        if train_features.shape[0] < 2 or reference_features.shape[0] < 1:
            raise ValueError("the OOD statistics need ≥ 2 training and ≥ 1 reference records")
        for mean, precision, features in (
            (self.mean, self.precision, train_features),
            (
                self.background_mean,
                self.background_precision,
                np.concatenate([train_features, background_features]),
            ),
        ):
            estimate = LedoitWolf().fit(np.asarray(features, dtype=np.float64))
            mean.copy_(torch.as_tensor(estimate.location_, dtype=torch.float32))
            precision.copy_(torch.as_tensor(estimate.precision_, dtype=torch.float16))
        self.fitted.fill_(1.0)
        reference = torch.as_tensor(reference_features, dtype=torch.float32)
        levels = np.linspace(0.0, 100.0, N_QUANTILES)
        for quantiles, distances in zip(
            (self.quantiles, self.relative_quantiles), self.distances(reference), strict=True
        ):
            quantiles.copy_(
                torch.as_tensor(np.percentile(distances.numpy(), levels), dtype=torch.float32)
            )

    @staticmethod
    def _mahalanobis(
        features: torch.Tensor, mean: torch.Tensor, precision: torch.Tensor
    ) -> torch.Tensor:
        device = features.device
        centred = features.float() - mean.to(device)
        squared = ((centred @ precision.to(device).float()) * centred).sum(-1)
        return squared.clamp(min=0.0).sqrt()

    def distances(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mahalanobis and relative Mahalanobis distance ``[B]`` each (dimensionless)."""
        distance = self._mahalanobis(features, self.mean, self.precision)
        background = self._mahalanobis(features, self.background_mean, self.background_precision)
        return distance, distance - background

    def percentile(self, features: torch.Tensor) -> np.ndarray:
        """Percentile (0–100) of each record among the reference records: the larger of its two
        distances' percentiles."""
        levels = np.linspace(0.0, 100.0, N_QUANTILES)
        distance, relative = (d.numpy() for d in self.distances(features))
        return np.maximum(
            np.interp(distance, self.quantiles.cpu().numpy(), levels, left=0.0, right=100.0),
            np.interp(
                relative, self.relative_quantiles.cpu().numpy(), levels, left=0.0, right=100.0
            ),
        )


def describe_score(percentile: float, high: bool) -> str:
    """What a score means, in one or two sentences for a clinician."""
    if high:
        return (
            f"This ECG is unlike the real ECGs the model learned from (further than "
            f"{percentile:.0f} % of held-out real ECGs): noise, pacing, swapped leads or an "
            "unusual recording can make its concepts and risks wrong. Check the tracing and the "
            "measured values."
        )
    return (
        f"This ECG lies within the real ECGs the model learned from (further than "
        f"{percentile:.0f} % of held-out real ECGs)."
    )
