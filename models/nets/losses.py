"""Training losses of the concept models: concepts (Huber + BCE + Gaussian NLL) and tasks (BCE).

Targets may be missing (NaN) — a real dataset rarely measures every concept or labels every
task — and missing entries are left out of the averages.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from models.nets.bottleneck import ConceptSpace
from models.nets.model import ModelOutput


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` holds; 0 when nothing does."""
    weights = mask.to(values.dtype)
    return (values * weights).sum() / weights.sum().clamp(min=1.0)


def concept_loss(
    output: ModelOutput, targets: torch.Tensor, space: ConceptSpace, variance_weight: float
) -> torch.Tensor:
    """Concept loss of one batch.

    * continuous concepts, measured and derived: Huber (δ = 1 SD) on standardised values — the
      derived ones reach the measured predictions through their formulas, so the network is
      taught the quantities a clinician reads (QTc), not only their inputs (QT, RR);
    * measured binary concepts: binary cross-entropy on the logits;
    * ``variance_weight`` × Gaussian NLL of the standardised measured continuous concepts under
      the predicted log-variance, with the mean detached (Kendall & Gal, NeurIPS 2017).

    Args:
        output: the model's forward output.
        targets: ``[B, K]`` true concepts in registry units (binary 0/1), NaN = unknown.
        space: the model's concept space (standardisation, which concepts are which).
        variance_weight: weight of the NLL term.
    """
    known = targets.isfinite()
    target_std = space.standardise(targets.nan_to_num(0.0))
    raw = output.concept_raw
    continuous = ~space.is_binary
    huber = F.huber_loss(raw, target_std, reduction="none", delta=1.0)
    bce = F.binary_cross_entropy_with_logits(raw, target_std.clamp(0.0, 1.0), reduction="none")
    per_entry = torch.where(continuous, huber, bce)
    supervised = known & (continuous | space.is_measured)
    variance = known & continuous & space.is_measured
    nll = F.gaussian_nll_loss(
        raw.detach(),
        target_std,
        output.concept_logvar.exp(),
        full=False,
        reduction="none",
        eps=1e-4,
    )
    return _masked_mean(per_entry, supervised) + variance_weight * _masked_mean(nll, variance)


def task_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy over tasks ``[B, T]``; NaN labels (task unknown) are skipped."""
    known = labels.isfinite()
    bce = F.binary_cross_entropy_with_logits(logits, labels.nan_to_num(0.0), reduction="none")
    return _masked_mean(bce, known)
