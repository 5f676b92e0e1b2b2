"""How far an ECG lies from the real ECGs a network was trained on (out-of-distribution score).

The score is the Mahalanobis distance of the network's penultimate features (the backbone
embedding the concept heads read) from the mean of the real training ECGs' features, under their
covariance shrunk towards a scaled identity (Ledoit & Wolf, J Multivar Anal 88:365, 2004) — the
feature-space detector of Lee et al., "A Simple Unified Framework for Detecting
Out-of-Distribution Samples and Adversarial Attacks" (NeurIPS 2018), with one class.

It is read against **reference distances**: those of real ECGs the statistics were not fitted on
(the ``tune`` role of :mod:`models.data.splits`). ``percentile`` is where a record's distance
falls among them; an ECG beyond :data:`HIGH_PERCENTILE` is flagged: its concepts and risks rest on
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
    """Mahalanobis distance of features ``[B, E]`` from fitted training statistics.

    Buffers: ``mean`` ``[E]``, ``precision`` ``[E, E]`` (inverse shrunk covariance),
    ``quantiles`` ``[101]`` (0–100 % of the reference distances) and ``fitted`` (1 once
    :meth:`fit` ran).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("precision", torch.zeros(dim, dim))
        self.register_buffer("quantiles", torch.zeros(N_QUANTILES))
        self.register_buffer("fitted", torch.zeros(()))

    @property
    def is_fitted(self) -> bool:
        """Whether statistics were fitted (a network trained without real ECGs has none)."""
        return bool(self.fitted.item() > 0)

    def fit(self, train_features: np.ndarray, reference_features: np.ndarray) -> None:
        """Fit mean and shrunk precision on ``train_features`` ``[n, E]``; store the quantiles of
        the distances of ``reference_features`` ``[m, E]`` (records the fit did not see).

        Raises:
            ValueError: fewer than 2 training or 1 reference records.
        """
        from sklearn.covariance import LedoitWolf

        if train_features.shape[0] < 2 or reference_features.shape[0] < 1:
            raise ValueError("the OOD statistics need ≥ 2 training and ≥ 1 reference records")
        estimate = LedoitWolf().fit(np.asarray(train_features, dtype=np.float64))
        self.mean.copy_(torch.as_tensor(estimate.location_, dtype=torch.float32))
        self.precision.copy_(torch.as_tensor(estimate.precision_, dtype=torch.float32))
        self.fitted.fill_(1.0)
        distances = self.distance(torch.as_tensor(reference_features, dtype=torch.float32))
        levels = np.linspace(0.0, 100.0, N_QUANTILES)
        self.quantiles.copy_(
            torch.as_tensor(np.percentile(distances.numpy(), levels), dtype=torch.float32)
        )

    def distance(self, features: torch.Tensor) -> torch.Tensor:
        """Mahalanobis distance ``[B]`` (dimensionless) of ``features`` ``[B, E]``."""
        device = features.device
        centred = features.float() - self.mean.to(device)
        squared = ((centred @ self.precision.to(device)) * centred).sum(-1)
        return squared.clamp(min=0.0).sqrt()

    def percentile(self, distance: np.ndarray) -> np.ndarray:
        """Percentile (0–100) of each distance among the reference distances."""
        levels = np.linspace(0.0, 100.0, N_QUANTILES)
        return np.interp(distance, self.quantiles.cpu().numpy(), levels, left=0.0, right=100.0)


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
