"""How good is an attribution? Localisation, faithfulness and the model-randomisation check.

* **Localisation** — the share of the attribution mass ``Σ|a|`` that falls inside a region with a
  known meaning (QT interval, ST–T segment, T wave, the synthetic shortcut spikes), against the
  region's share of the signal (what a uniform map would give). ``enrichment = share / chance``;
  above 1 the method concentrates on the region. Regions come from the synthetic generator's exact
  fiducials or from cardiologists' annotations (LUDB); samples where the truth is unknown (LUDB's
  unannotated first and last seconds, absent leads) are left out of both shares.
* **Faithfulness** — deletion and insertion curves (Petsiuk et al., "RISE", BMVC 2018; Samek et
  al., IEEE TNNLS 28:2660, 2017): the model's task probability as the most-attributed input samples
  are set to the baseline (deletion: a faithful map makes it fall fast, small area) or restored
  onto the baseline (insertion: it rises fast, large area), with a random ordering as the
  reference.
* **Model randomisation** — Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018:
  re-initialise the network block by block from the output down (cascading) and measure the
  Spearman rank correlation between the attribution magnitudes before and after. A method whose
  maps survive randomisation of the weights explains the input, not the model.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from models.explain.attributions import Attribution, AttributionOptions, ExplainableModel, explain
from models.nets.batching import InputBatch

#: Fractions of the input samples removed / restored along the faithfulness curves.
CURVE_FRACTIONS: tuple[float, ...] = tuple(np.round(np.linspace(0.0, 1.0, 21), 3))


@dataclass(frozen=True)
class RegionMasks:
    """Regions with a known meaning on the model-input grid of ``n`` records.

    Attributes:
        regions: name → ``[n, 12, L]`` bool, samples inside the region.
        evaluated: ``[n, 12, L]`` bool, samples where the truth is known (present leads, the
            annotated stretch); shares are computed over these only.
    """

    regions: Mapping[str, np.ndarray]
    evaluated: np.ndarray


def interval_mask(
    intervals_s: np.ndarray, start_s: float, fs_hz: float, n_samples: int
) -> np.ndarray:
    """``[L]`` bool: model-input samples inside any ``[begin, end]`` row of ``intervals_s`` (s).

    Rows with a NaN end are skipped; times are record times, the input starting at ``start_s``.
    """
    mask = np.zeros(n_samples, dtype=bool)
    for begin, end in intervals_s:
        if not (np.isfinite(begin) and np.isfinite(end)) or end < begin:
            continue
        first = max(0, int(np.ceil((begin - start_s) * fs_hz)))
        last = min(n_samples, int(np.floor((end - start_s) * fs_hz)) + 1)
        mask[first:last] = True
    return mask


@dataclass(frozen=True)
class Localisation:
    """Attribution mass in one region (means over the scored records).

    Attributes:
        share: mean share of ``Σ|a|`` inside the region.
        chance: mean share of the evaluated samples inside the region.
        enrichment: ``share / chance``.
        above_chance: fraction of records whose share exceeds their chance share.
        n_records: records scored.
    """

    share: float
    chance: float
    enrichment: float
    above_chance: float
    n_records: int


def region_shares(
    attribution: Attribution, masks: RegionMasks, region: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per record, ``(share of Σ|a| inside the region, share of the evaluated samples inside
    it)``; NaN for records with no attribution or none of the region on the evaluated samples."""
    magnitude = np.abs(attribution.values) * masks.evaluated
    inside = masks.regions[region] & masks.evaluated
    total = magnitude.sum(axis=(1, 2))
    size = inside.sum(axis=(1, 2))
    scored = (total > 0) & (size > 0)
    share = np.full(len(total), np.nan)
    chance = np.full(len(total), np.nan)
    share[scored] = (magnitude * inside).sum(axis=(1, 2))[scored] / total[scored]
    chance[scored] = size[scored] / masks.evaluated.sum(axis=(1, 2))[scored]
    return share, chance


def localisation(
    attribution: Attribution, masks: RegionMasks, records: np.ndarray | None = None
) -> dict[str, Localisation]:
    """Per region, how much of the attribution magnitude lies inside it.

    Args:
        attribution: attributions of the ``n`` records of ``masks``.
        masks: the regions.
        records: ``[n]`` bool, the records to score (default all); records with no attribution
            or none of a region on their evaluated samples are not scored for it.
    """
    out = {}
    for name in masks.regions:
        share, chance = region_shares(attribution, masks, name)
        scored = np.isfinite(share) & (True if records is None else records)
        if not scored.any():
            continue
        out[name] = Localisation(
            share=float(share[scored].mean()),
            chance=float(chance[scored].mean()),
            enrichment=float(share[scored].mean() / chance[scored].mean()),
            above_chance=float((share[scored] > chance[scored]).mean()),
            n_records=int(scored.sum()),
        )
    return out


@dataclass(frozen=True)
class FaithfulnessCurves:
    """Deletion and insertion curves of one ordering (means over records).

    Attributes:
        fractions: share of the input samples removed (deletion) or restored (insertion).
        deletion, insertion: mean model probability of the target task at each fraction.
        deletion_auc, insertion_auc: areas under the curves (trapezoid over the fractions).
    """

    fractions: tuple[float, ...]
    deletion: tuple[float, ...]
    insertion: tuple[float, ...]
    deletion_auc: float
    insertion_auc: float


def _perturbed_probabilities(
    net: ExplainableModel,
    batch: InputBatch,
    order: np.ndarray,
    target_index: int,
    fractions: Sequence[float],
    insert: bool,
) -> np.ndarray:
    """``[len(fractions)]`` mean target probability with the first ``f`` of ``order`` (per record,
    flat indices into ``[12·L]``) removed to (``insert=False``) or restored from the baseline."""
    signal, mask, sex, age = batch.tensors(net.device)
    flat = signal.reshape(signal.shape[0], -1)
    ranks = torch.empty_like(torch.as_tensor(order))
    ranks.scatter_(1, torch.as_tensor(order), torch.arange(order.shape[1]).expand_as(ranks))
    means = []
    with torch.no_grad():
        for fraction in fractions:
            chosen = (ranks < round(fraction * order.shape[1])).to(net.device)
            kept = chosen if insert else ~chosen
            perturbed = torch.where(kept, flat, torch.zeros_like(flat)).view_as(signal)
            logits = net(perturbed, mask, sex, age)[:, target_index]
            means.append(float(torch.sigmoid(logits).mean()))
    return np.array(means)


def faithfulness(
    net: ExplainableModel,
    batch: InputBatch,
    scores: np.ndarray,
    target_index: int,
    fractions: Sequence[float] = CURVE_FRACTIONS,
) -> FaithfulnessCurves:
    """Deletion and insertion curves for per-sample ``scores [n, 12, L]`` (higher = first).

    Absent leads are never chosen before present ones (their scores are set to −inf); the
    target must be a task (its logit is turned into a probability).
    """
    ranked = np.where(batch.lead_mask[:, :, None], scores, -np.inf).reshape(len(batch), -1)
    order = np.argsort(-ranked, axis=1, kind="stable")
    deletion = _perturbed_probabilities(net, batch, order, target_index, fractions, False)
    insertion = _perturbed_probabilities(net, batch, order, target_index, fractions, True)
    x = np.asarray(fractions)
    return FaithfulnessCurves(
        fractions=tuple(float(f) for f in fractions),
        deletion=tuple(deletion.round(5).tolist()),
        insertion=tuple(insertion.round(5).tolist()),
        deletion_auc=float(np.trapezoid(deletion, x)),
        insertion_auc=float(np.trapezoid(insertion, x)),
    )


def cascade_blocks(net: ExplainableModel) -> list[tuple[str, nn.Module]]:
    """The network's blocks from the output down: task head, concept head (concept models),
    the residual stages from the last, the stem — the order of cascading randomisation."""
    model = net.model
    blocks: list[tuple[str, nn.Module]] = [("task_head", model.task_head)]
    if model.has_concepts:
        blocks.append(("concept_head", model.concept_head))
    stages = list(model.backbone.stages)
    blocks += [(f"backbone.stages.{i}", stages[i]) for i in reversed(range(len(stages)))]
    blocks.append(("backbone.stem", model.backbone.stem))
    return blocks


def _reinitialise(block: nn.Module) -> None:
    """Fresh initial weights (and batch-norm statistics) for every layer of ``block``."""
    for module in block.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()


def rank_correlation(a: np.ndarray, b: np.ndarray, lead_mask: np.ndarray) -> float:
    """Mean over records of the Spearman correlation of ``|a|`` and ``|b|`` on present leads."""
    values = []
    for i in range(a.shape[0]):
        x, y = np.abs(a[i][lead_mask[i]]).ravel(), np.abs(b[i][lead_mask[i]]).ravel()
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            values.append(0.0)  # a constant map carries no ranking
            continue
        values.append(float(spearmanr(x, y).statistic))
    return float(np.mean(values))


@dataclass(frozen=True)
class RandomisationCurve:
    """Cascading model randomisation of one method.

    Attributes:
        blocks: blocks re-initialised so far, from the output down.
        correlation: Spearman correlation with the original map after each step.
    """

    blocks: tuple[str, ...]
    correlation: tuple[float, ...]


def model_randomisation(
    net: ExplainableModel,
    batch: InputBatch,
    target: str,
    methods: Sequence[str],
    options: AttributionOptions,
    seed: int = 0,
    progress: Callable[[], object] | None = None,
) -> dict[str, RandomisationCurve]:
    """Adebayo et al.'s cascading randomisation test for every method in ``methods``.

    Args:
        net: the trained network.
        batch: records to explain (a handful suffices).
        target: task or concept explained.
        methods: attribution method names.
        options: method settings.
        seed: seed of the re-initialisation.
        progress: called after each (block, method) pair.
    """
    original = {m: explain(m, net, batch, target, options=options).values for m in methods}
    randomised = copy.deepcopy(net)
    done: list[str] = []
    correlations: dict[str, list[float]] = {m: [] for m in methods}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name, block in cascade_blocks(randomised):
            _reinitialise(block)
            block.requires_grad_(False)
            done.append(name)
            for method in methods:
                values = explain(method, randomised, batch, target, options=options).values
                correlations[method].append(
                    rank_correlation(original[method], values, batch.lead_mask)
                )
                if progress is not None:
                    progress()
    return {m: RandomisationCurve(tuple(done), tuple(c)) for m, c in correlations.items()}


@dataclass(frozen=True)
class ShortcutExposure:
    """Does an attribution method point at the shortcut artefact?

    The spike sites of records that carry the spike are compared with the same sites of records
    that do not (where the spike would be): a model that reads the spike concentrates its
    attribution there only when the spike is present.

    Attributes:
        share_present, share_absent: mean share of ``Σ|a|`` at the sites, records with / without
            the spike.
        chance: mean share of the signal the sites cover.
        enrichment: ``share_present / chance``.
        ratio: ``share_present / share_absent``.
        p_value: one-sided Mann–Whitney U test, shares with the spike > without.
        n_present, n_absent: records in each group.
    """

    share_present: float
    share_absent: float
    chance: float
    enrichment: float
    ratio: float
    p_value: float
    n_present: int
    n_absent: int


def shortcut_exposure(
    attribution: Attribution, masks: RegionMasks, present: np.ndarray, region: str = "shortcut"
) -> ShortcutExposure | None:
    """:class:`ShortcutExposure` of one attribution (``None`` when a group has no records)."""
    from scipy.stats import mannwhitneyu

    share, chance = region_shares(attribution, masks, region)
    scored = np.isfinite(share)
    with_spike, without = share[scored & present], share[scored & ~present]
    if with_spike.size == 0 or without.size == 0:
        return None
    mean_present, mean_absent = float(with_spike.mean()), float(without.mean())
    mean_chance = float(chance[scored & present].mean())
    return ShortcutExposure(
        share_present=mean_present,
        share_absent=mean_absent,
        chance=mean_chance,
        enrichment=mean_present / mean_chance,
        ratio=mean_present / mean_absent if mean_absent > 0 else float("inf"),
        p_value=float(mannwhitneyu(with_spike, without, alternative="greater").pvalue),
        n_present=int(with_spike.size),
        n_absent=int(without.size),
    )
