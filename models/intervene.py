"""Clinician interventions: replace concepts, recompute the risk, and choose what to check next.

An intervention never reruns the backbone: the stored :class:`~models.nets.prediction.HeadState`
plus the overrides go through the task head alone (Koh et al., ICML 2020, "test-time
intervention") — a few hundred microseconds on the CPU. Overriding a concept re-derives every
concept derived from it (QT → all four QTc, ``qtc_prolonged``) unless that derived concept is
itself overridden, exactly as :func:`models.concepts.rederive` does. A task head composed into
the bundle from elsewhere (:mod:`models.heads`, e.g. ``tdp_risk`` learned on ECGRDVQ) takes part
in the recomputation, the contributions and the suggestion policies like the network's own.

Which concept to check next (:func:`suggest`), after Shin et al., "A Closer Look at the
Intervention Procedure of Concept Bottleneck Models", ICML 2023:

* ``random`` — a seeded random order (the baseline every policy must beat);
* ``uncertainty`` — the concept the model is least sure of (predicted SD in training SDs;
  binary: Bernoulli SD / 0.5);
* ``expected_risk_change`` — the concept whose true value, drawn from the model's own predictive
  distribution, is expected to move the risk most: ``E|risk(c = v) − risk|`` with
  ``v ~ N(value, SD²)`` (7-point Gauss–Hermite) for continuous concepts and
  ``v ~ Bernoulli(p)`` for binary ones.

The same batched functions (:class:`HeadBatch`, :func:`risk_changes`, :func:`policy_scores`)
drive the intervention curves of :mod:`models.evaluate`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
import torch

from models.bundle import POINTS_HEAD, LoadedBundle, risks_from_explanation
from models.concepts import REGISTRY, Sex, get_concept, is_concept
from models.disagreement import AGREEMENT_Z, Disagreement, disagreements
from models.nets.bottleneck import sex_code
from models.nets.model import ConceptModel, ModelOutput
from models.nets.prediction import ModelPrediction, TaskRisk
from models.tasks import get_task, task_names

Policy = Literal["random", "uncertainty", "expected_risk_change"]
#: What a risk change is measured in: the task probability, or the task logit (for a points
#: head, its points).
RiskScale = Literal["probability", "logit"]
POLICIES: tuple[Policy, ...] = ("random", "uncertainty", "expected_risk_change")

#: Probabilists' Gauss–Hermite nodes (in SDs) and weights for E[f(v)], v ~ N(µ, σ²), and the
#: ±2 SD points that bound the change "within its uncertainty" (weight 0 in the expectation).
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(7)
_NODES_SD = np.concatenate([_GH_NODES, [-2.0, 2.0]])
_NODE_WEIGHTS = np.concatenate([_GH_WEIGHTS / _GH_WEIGHTS.sum(), [0.0, 0.0]])


@dataclass(frozen=True)
class Suggestion:
    """A concept worth checking next.

    Attributes:
        concept: concept name.
        score: the policy's score (higher = check first).
        expected_risk_change: expected absolute change of the task probability (0–1) — for a
            points head (:mod:`models.heads.points`), of its points — if the clinician measured
            this concept, under the model's own uncertainty.
        reason_text: one sentence for the UI.
    """

    concept: str
    score: float
    expected_risk_change: float
    reason_text: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class InterventionResult:
    """The risk after overrides.

    Attributes:
        tasks: per task, the new risk with its concept contributions.
        concepts: per concept, the value the task head read (registry units; binary: the
            model's probability, or the clinician's 0/1), derived concepts re-derived.
        changed: concepts whose value differs from the prediction (overridden or re-derived).
        overrides: the validated overrides that were applied.
    """

    tasks: dict[str, TaskRisk]
    concepts: dict[str, float]
    changed: tuple[str, ...]
    overrides: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "tasks": {name: risk.to_dict() for name, risk in self.tasks.items()},
            "concepts": dict(self.concepts),
            "changed": list(self.changed),
            "overrides": dict(self.overrides),
        }


def validate_override(name: str, value: float) -> float:
    """``value`` as a float if it is a plausible value of concept ``name``.

    Raises:
        ValueError: unknown concept, or a value outside the registry's plausible range (binary
            concepts: not 0 or 1), naming the concept and the range.
    """
    if not is_concept(name):
        raise ValueError(f"unknown concept {name!r}")
    concept = get_concept(name)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{concept.label} ({name}) needs a number, got {value!r}") from None
    if concept.is_plausible(number):
        return number
    if concept.is_binary:
        raise ValueError(f"{concept.label} ({name}) is 0 (absent) or 1 (present), got {number:g}")
    unit = f" {concept.unit}" if concept.unit else ""
    raise ValueError(
        f"{concept.label} ({name}) must lie between {concept.plausible_low:g} and "
        f"{concept.plausible_high:g}{unit}, got {number:g}{unit}"
    )


@dataclass(frozen=True)
class HeadBatch:
    """Task-head inputs of ``B`` records, with their overrides (CPU tensors).

    Attributes:
        values: ``[B, K]`` concept values (registry units, binary = probability), overrides in.
        measured_sd: ``[B, K]`` predicted SD of measured continuous concepts (0 elsewhere).
        sex, age_years: ``[B]`` demographics.
        positive, negative: ``[B, K, m]`` concept embeddings.
        overridden: ``[B, K]`` bool, concepts a clinician (or the oracle) has set.
    """

    values: torch.Tensor
    measured_sd: torch.Tensor
    sex: torch.Tensor
    age_years: torch.Tensor
    positive: torch.Tensor
    negative: torch.Tensor
    overridden: torch.Tensor

    @property
    def keep(self) -> torch.Tensor:
        """``[B, K]`` overridden derived concepts (kept, not re-derived)."""
        derived = torch.tensor([c.is_derived for c in REGISTRY])
        return self.overridden & derived

    @classmethod
    def from_output(
        cls, model: ConceptModel, output: ModelOutput, sex: torch.Tensor, age_years: torch.Tensor
    ) -> HeadBatch:
        """From a batched forward pass."""
        measured_sd = (0.5 * output.concept_logvar).exp() * model.space.sd
        measured_sd = torch.where(
            model.space.is_measured & ~model.space.is_binary, measured_sd, 0.0
        )
        return cls(
            values=output.concept_values,
            measured_sd=measured_sd,
            sex=sex,
            age_years=age_years,
            positive=output.embedding_positive,
            negative=output.embedding_negative,
            overridden=torch.zeros_like(output.concept_values, dtype=torch.bool),
        )

    @classmethod
    def from_prediction(
        cls,
        model: ConceptModel,
        prediction: ModelPrediction,
        sex: Sex | None = None,
        age_years: float | None = None,
    ) -> HeadBatch:
        """From one stored prediction; ``sex``/``age_years`` replace the stored ones when given."""
        if prediction.head_state is None:
            raise ValueError("this prediction has no concepts (black-box model)")
        state = prediction.head_state
        space = model.space
        values = torch.tensor([state.head_values], dtype=torch.float32)
        measured = space.is_measured & ~space.is_binary
        sd = [prediction.concepts[n].uncertainty for n in space.names]
        measured_sd = torch.where(measured, torch.tensor([sd], dtype=torch.float32), 0.0)
        if state.embedding_positive is not None and state.embedding_negative is not None:
            positive = torch.tensor([state.embedding_positive], dtype=torch.float32)
            negative = torch.tensor([state.embedding_negative], dtype=torch.float32)
        else:
            positive = torch.ones(1, space.n_concepts, 1)
            negative = torch.zeros(1, space.n_concepts, 1)
        chosen_sex = prediction.sex if sex is None else sex
        chosen_age = prediction.age_years if age_years is None else age_years
        return cls(
            values=values,
            measured_sd=measured_sd,
            sex=torch.tensor([sex_code(chosen_sex)]),
            age_years=torch.tensor([math.nan if chosen_age is None else float(chosen_age)]),
            positive=positive,
            negative=negative,
            overridden=torch.zeros_like(values, dtype=torch.bool),
        )

    def with_values(self, mask: torch.Tensor, values: torch.Tensor) -> HeadBatch:
        """A copy where ``values`` replace the entries selected by ``mask`` ``[B, K]``."""
        return replace(
            self,
            values=torch.where(mask, values, self.values),
            overridden=self.overridden | mask,
        )

    def select(self, index: slice) -> HeadBatch:
        """Records ``index`` of the batch."""
        return HeadBatch(*(getattr(self, f)[index] for f in self.__dataclass_fields__))


def uncertainty(model: ConceptModel, batch: HeadBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """``(sd [B, K] registry units, probability [B, K])`` given the overrides (overridden: 0)."""
    measured_sd = torch.where(batch.overridden, 0.0, batch.measured_sd)
    return model.space.spread(batch.values, measured_sd, batch.sex, batch.keep)


def risk_changes(
    model: ConceptModel, batch: HeadBatch, task_index: int, scale: RiskScale = "probability"
) -> tuple[torch.Tensor, torch.Tensor]:
    """How much learning each concept's true value would move the risk.

    Args:
        scale: ``probability`` measures changes of the task probability; ``logit`` changes of
            the task logit — for a points head (:mod:`models.heads.points`) its points.

    Returns:
        ``(expected [B, K], bound [B, K])``: expected absolute change of the task risk (on
        ``scale``) under the model's predictive distribution of that concept, and the largest
        change for a value within ±2 SD (binary: either outcome). Overridden concepts give 0.
    """
    space = model.space
    b, k = batch.values.shape
    sd, probability = uncertainty(model, batch)
    nodes_sd = torch.tensor(_NODES_SD, dtype=torch.float32)  # [Q]
    q = nodes_sd.numel()
    continuous_nodes = (batch.values.unsqueeze(-1) + sd.unsqueeze(-1) * nodes_sd).clamp(
        space.plausible_low.unsqueeze(-1), space.plausible_high.unsqueeze(-1)
    )  # [B, K, Q]
    outcome = torch.zeros(q)
    outcome[0] = 1.0  # binary: node 0 = present (weight p), node 1 = absent (weight 1 − p)
    binary_nodes = outcome.expand(b, k, q)
    p = probability.nan_to_num(0.0).unsqueeze(-1)
    binary_weights = torch.cat([p, 1 - p, torch.zeros(b, k, q - 2)], dim=-1)
    is_binary = space.is_binary.view(1, k, 1)
    nodes = torch.where(is_binary, binary_nodes, continuous_nodes)
    weights = torch.where(
        is_binary, binary_weights, torch.tensor(_NODE_WEIGHTS, dtype=torch.float32)
    )
    in_bound = torch.where(
        is_binary, torch.arange(q) < 2, (nodes_sd.abs() <= 2.0).expand(1, k, q)
    )  # [B or 1, K, Q]
    # Candidate rows (record b, concept j, node n): the record's values, column j set to the node.
    eye = torch.eye(k, dtype=torch.bool)  # [K(j), K]
    candidate = torch.where(
        eye.view(1, k, 1, k), nodes.unsqueeze(-1), batch.values.view(b, 1, 1, k)
    )  # [B, K, Q, K]
    keep = batch.keep.view(b, 1, 1, k) | (eye & space.is_derived).view(1, k, 1, k)
    rows = k * q
    logits = model.decide(
        candidate.reshape(b * rows, k),
        batch.sex.repeat_interleave(rows),
        batch.age_years.repeat_interleave(rows),
        batch.positive.repeat_interleave(rows, dim=0),
        batch.negative.repeat_interleave(rows, dim=0),
        keep.expand(b, k, q, k).reshape(b * rows, k),
    )[:, task_index].view(b, k, q)
    current = model.decide(
        batch.values, batch.sex, batch.age_years, batch.positive, batch.negative, batch.keep
    )[:, task_index]
    on_scale = torch.sigmoid if scale == "probability" else torch.clone
    change = (on_scale(logits) - on_scale(current).view(b, 1, 1)).abs()  # [B, K, Q]
    expected = (change * weights).sum(-1)
    bound = torch.where(in_bound, change, 0.0).amax(-1)
    return (
        torch.where(batch.overridden, 0.0, expected),
        torch.where(batch.overridden, 0.0, bound),
    )


def policy_scores(
    model: ConceptModel,
    batch: HeadBatch,
    policy: Policy,
    task_index: int,
    rng: np.random.Generator,
    scale: RiskScale = "probability",
) -> torch.Tensor:
    """``[B, K]`` scores of ``policy`` (higher = check first; ``scale`` as for
    :func:`risk_changes`); overridden concepts get −inf."""
    if policy == "random":
        scores = torch.as_tensor(rng.random(batch.values.shape), dtype=torch.float32)
    elif policy == "uncertainty":
        scores = _relative_uncertainty(model, uncertainty(model, batch)[0])
    elif policy == "expected_risk_change":
        scores = risk_changes(model, batch, task_index, scale)[0]
    else:
        raise ValueError(f"unknown policy {policy!r}; use one of {POLICIES}")
    return torch.where(batch.overridden, -math.inf, scores)


def _relative_uncertainty(model: ConceptModel, sd: torch.Tensor) -> torch.Tensor:
    """SD in training SDs (continuous) or as a fraction of the largest Bernoulli SD (binary)."""
    return torch.where(model.space.is_binary, sd / 0.5, sd / model.space.sd)


def _overrides_batch(
    bundle: LoadedBundle,
    prediction: ModelPrediction,
    overrides: Mapping[str, float] | None,
    sex: Sex | None,
    age_years: float | None,
) -> tuple[ConceptModel, HeadBatch, dict[str, float]]:
    """The bundle's head model and the prediction's head batch with validated overrides applied."""
    model = bundle.concept_model()
    if prediction.bundle_sha256 != bundle.checksum:
        raise ValueError(
            f"the prediction was made by model {prediction.bundle_sha256[:12]}, not by the loaded "
            f"bundle {bundle.checksum[:12]}; predict again with this bundle"
        )
    clean = {name: validate_override(name, value) for name, value in (overrides or {}).items()}
    batch = HeadBatch.from_prediction(model, prediction, sex, age_years)
    mask = torch.tensor([[n in clean for n in model.space.names]])
    values = torch.tensor([[clean.get(n, 0.0) for n in model.space.names]], dtype=torch.float32)
    return model, batch.with_values(mask, values), clean


def intervene(
    bundle: LoadedBundle,
    prediction: ModelPrediction,
    overrides: Mapping[str, float],
    sex: Sex | None = None,
    age: float | None = None,
) -> InterventionResult:
    """The risk after replacing concepts by clinician values (task head only).

    Args:
        bundle: the bundle that made ``prediction``.
        prediction: a stored prediction (``ModelPrediction.from_dict``).
        overrides: concept name → value in registry units (binary: 0 or 1). Every override of
            the record, not only the newest: the result is relative to the model's prediction.
        sex, age: replace the prediction's demographics when given.

    Raises:
        ValueError: unknown concept or implausible value (naming the concept and range), a black
            box bundle, or a prediction from another bundle.
    """
    model, batch, clean = _overrides_batch(bundle, prediction, overrides, sex, age)
    with torch.inference_mode():
        explanation = model.explain(
            batch.values, batch.sex, batch.age_years, batch.positive, batch.negative, batch.keep
        )
    before = prediction.head_state.head_values if prediction.head_state else []
    after = [float(v) for v in explanation.values[0]]
    names = model.space.names
    changed = tuple(
        n for n, old, new in zip(names, before, after) if not math.isclose(old, new, abs_tol=1e-6)
    )
    return InterventionResult(
        tasks=risks_from_explanation(explanation, 0, bundle.bands, bundle.points_tasks),
        concepts=dict(zip(names, after)),
        changed=changed,
        overrides=clean,
    )


def suggest(
    bundle: LoadedBundle,
    prediction: ModelPrediction,
    overrides: Mapping[str, float] | None = None,
    policy: Policy = "expected_risk_change",
    task: str = "lqts_risk",
    sex: Sex | None = None,
    age: float | None = None,
    seed: int = 0,
    measured: Mapping[str, float | None] | None = None,
) -> list[Suggestion]:
    """Concepts not yet overridden, best first, under ``policy`` (see the module docstring).

    Concepts whose model value and measured value disagree beyond their combined uncertainty
    (:func:`models.disagreement.disagreements`) come first, most discordant first, whatever the
    policy: neither number can be trusted until a clinician has looked.

    Args:
        bundle, prediction, overrides, sex, age: as for :func:`intervene`.
        policy: ``random``, ``uncertainty`` or ``expected_risk_change``.
        task: the task whose risk matters (``lqts_risk`` or ``tdp_risk``).
        seed: seed of the ``random`` policy.
        measured: concept name → the signal pipeline's value on the same ECG (registry units;
            ``None`` = not measured); without it nothing is ranked for disagreement.

    Raises:
        ValueError: as :func:`intervene`, or an unknown policy or task.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; use one of {POLICIES}")
    if task not in task_names():
        raise ValueError(f"unknown task {task!r}; use one of {task_names()}")
    model, batch, _ = _overrides_batch(bundle, prediction, overrides, sex, age)
    task_index = task_names().index(task)
    points_head = bundle.task_heads[task]["kind"] == POINTS_HEAD
    scale: RiskScale = "logit" if points_head else "probability"
    with torch.inference_mode():
        scores = policy_scores(
            model, batch, policy, task_index, np.random.default_rng(seed), scale
        )[0]
        expected, bound = (t[0] for t in risk_changes(model, batch, task_index, scale))
        sd, probability = (t[0] for t in uncertainty(model, batch))
    task_label = (
        str(bundle.task_heads[task].get("name", "score")) if points_head else get_task(task).label
    )
    discordant = disagreements(
        prediction.concepts, measured or {}
    )
    first = [model.space.names.index(n) for n in discordant]
    order = first + [
        k for k in torch.argsort(scores, descending=True, stable=True).tolist() if k not in first
    ]
    suggestions = []
    for k in order:
        if batch.overridden[0, k]:
            continue
        concept = REGISTRY[k]
        if concept.name in discordant:
            reason = _disagreement_reason(discordant[concept.name])
        elif policy == "expected_risk_change":
            change = _points_text(float(bound[k])) if points_head else _percent_points_text(
                float(bound[k]))
            reason = _risk_reason(
                concept.name, float(sd[k]), float(probability[k]), change, task_label
            )
        elif policy == "uncertainty":
            reason = _uncertainty_reason(concept.name, float(sd[k]), float(probability[k]))
        else:
            reason = f"Check {concept.label}: picked at random (the baseline policy)."
        suggestions.append(Suggestion(concept.name, float(scores[k]), float(expected[k]), reason))
    return suggestions


def _format(name: str, value: float) -> str:
    concept = get_concept(name)
    unit = f" {concept.unit}" if concept.unit else ""
    return f"{value:.{concept.decimals}f}{unit}"


def _percent_points_text(change: float) -> str:
    """A probability change as percentage points: ``"12 points"``."""
    points = round(100 * change)
    return f"{points} point{'' if points == 1 else 's'}"


def _points_text(change: float) -> str:
    """A points head's change, on its half-point grid: ``"1.5 points"``."""
    points = round(2.0 * change) / 2.0
    return f"{points:g} point{'' if points == 1 else 's'}"


def _risk_reason(name: str, sd: float, probability: float, change: str, task_label: str) -> str:
    concept = get_concept(name)
    if concept.is_binary:
        return (
            f"Check {concept.label} (model: {probability:.0%} likely): confirming or ruling it "
            f"out moves the {task_label} by up to {change}."
        )
    return (
        f"Check {concept.label}: within its uncertainty (±{_format(name, 2 * sd)}) it moves the "
        f"{task_label} by up to {change}."
    )


def _disagreement_reason(found: Disagreement) -> str:
    concept = get_concept(found.concept)
    return (
        f"Check {concept.label}: {found.text} — further apart than their combined uncertainty "
        f"(±{_format(found.concept, AGREEMENT_Z * found.combined_sd)})."
    )


def _uncertainty_reason(name: str, sd: float, probability: float) -> str:
    concept = get_concept(name)
    if concept.is_binary:
        return (
            f"Check {concept.label}: the model is unsure whether it is present ({probability:.0%})."
        )
    return f"Check {concept.label}: the model's uncertainty is ±{_format(name, sd)}."
