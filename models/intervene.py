"""Clinician interventions: replace concepts, recompute the risk, and choose what to check next.

An intervention never reruns the backbone: the stored :class:`~models.nets.prediction.HeadState`
plus the overrides go through the task head alone (Koh et al., ICML 2020, "test-time
intervention") — a few hundred microseconds on the CPU. Overriding a concept re-derives every
concept derived from it (QT → all four QTc, ``qtc_prolonged``), exactly as
:func:`models.concepts.rederive` does; a typed derived value (a QTc, J-Tpeak_c, the heart rate) is
back-solved into its primary input first (:meth:`~models.nets.bottleneck.ConceptSpace.back_solve`),
so QTc (Bazett) X and the QTc (Fridericia) implying the same QT give the same risks. The values in
force are then checked against physiology as a whole (QT ≥ RR, a QTc above 700 ms:
:func:`models.concepts.implausible_combinations`). A task head composed into
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

The clinician is only ever asked to check what can be checked on the record: a concept the
registry marks ``checkable`` (calipers or eye on a 10-s strip — not QTc variability, not a derived
QTc), read in a lead the record has, and not already set (nor the input a typed QTc set).

The same batched functions (:class:`HeadBatch`, :func:`risk_changes`, :func:`policy_scores`)
drive the intervention curves of :mod:`models.evaluate`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
import torch

from models.bundle import POINTS_HEAD, LoadedBundle, risks_from_explanation
from models.concepts import (
    REGISTRY,
    Sex,
    get_concept,
    implausible_combinations,
    is_concept,
    typed_target,
)
from models.disagreement import AGREEMENT_Z, Disagreement, disagreements
from models.nets.bottleneck import ConceptSpace, sex_code
from models.nets.model import ConceptModel, ModelOutput
from models.nets.prediction import ModelPrediction, TaskRisk
from models.tasks import get_task, task_names

Policy = Literal["random", "uncertainty", "expected_risk_change"]
POLICIES: tuple[Policy, ...] = ("random", "uncertainty", "expected_risk_change")
#: The policy of "check next" on the record page and in a new prediction's answer.
CHECK_NEXT_POLICY: Policy = "expected_risk_change"

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
        overrides: the validated overrides that were applied (as typed).
        implausible: why the values in force are outside physiology as a whole (empty when
            they are not); :func:`intervene` refuses such a result.
    """

    tasks: dict[str, TaskRisk]
    concepts: dict[str, float]
    changed: tuple[str, ...]
    overrides: dict[str, float]
    implausible: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "tasks": {name: risk.to_dict() for name, risk in self.tasks.items()},
            "concepts": dict(self.concepts),
            "changed": list(self.changed),
            "overrides": dict(self.overrides),
        }


def validate_override(name: str, value: float) -> float:
    """``value`` as a float if concept ``name`` may be typed and ``value`` is plausible for it.

    Raises:
        ValueError: unknown concept, a derived concept that is never an input
            (``qtc_prolonged``), or a value outside the registry's plausible range (binary
            concepts: not 0 or 1), naming the concept and the range.
    """
    if not is_concept(name):
        raise ValueError(f"unknown concept {name!r}")
    concept = get_concept(name)
    if not concept.can_be_typed:
        inputs = ", ".join(get_concept(d).label for d in concept.derived_from)
        raise ValueError(
            f"{concept.label} ({name}) is derived from {inputs}, never an input: set QT or a "
            "QTc instead"
        )
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
        f"{concept.plausible_high:g}{unit}, got {_plain(number)}{unit}"
    )


def _plain(number: float) -> str:
    """``number`` as a clinician reads it: 9004500 as "9,004,500", not "9.0045e+06" (scientific
    notation only from a thousand million, where the size is all that matters)."""
    return f"{number:,.0f}" if 1e4 <= abs(number) < 1e9 else f"{number:g}"


def validate_overrides(overrides: Mapping[str, float]) -> dict[str, float]:
    """Every override validated (:func:`validate_override`), and at most one per primary input.

    Raises:
        ValueError: as :func:`validate_override`, or two values that both set one primary
            concept (QT and a QTc, two QTc formulas), naming both.
    """
    clean = {name: validate_override(name, value) for name, value in overrides.items()}
    setter: dict[str, str] = {}
    for name in clean:
        target = typed_target(name)
        if target in setter:
            first, second = get_concept(setter[target]), get_concept(name)
            raise ValueError(
                f"{first.label} ({first.name}) and {second.label} ({second.name}) both set "
                f"{get_concept(target).label}: give one of them"
            )
        setter[target] = name
    return clean


#: ``[K, K]``: row i marks the concepts a typed value of concept i sets (itself and, for a
#: derived concept with an inverse, its primary input).
_SETS = torch.tensor(
    [[a.name == b.name or typed_target(a.name) == b.name for b in REGISTRY] for a in REGISTRY]
)


@dataclass(frozen=True)
class HeadBatch:
    """Task-head inputs of ``B`` records, with their overrides (CPU tensors).

    Attributes:
        values: ``[B, K]`` concept values (registry units, binary = probability), overrides in
            as primary concepts (typed derived values back-solved); derived columns are
            re-derived by the head.
        measured_sd: ``[B, K]`` predicted SD of measured continuous concepts (0 elsewhere).
        sex, age_years: ``[B]`` demographics.
        positive, negative: ``[B, K, m]`` concept embeddings.
        overridden: ``[B, K]`` bool, concepts a clinician (or the oracle) has set, with the
            primary inputs a typed derived value set.
    """

    values: torch.Tensor
    measured_sd: torch.Tensor
    sex: torch.Tensor
    age_years: torch.Tensor
    positive: torch.Tensor
    negative: torch.Tensor
    overridden: torch.Tensor

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

    def with_values(
        self, space: ConceptSpace, mask: torch.Tensor, values: torch.Tensor
    ) -> HeadBatch:
        """A copy where ``values`` are set for the entries selected by ``mask`` ``[B, K]`` —
        typed derived values back-solved into their primary inputs
        (:meth:`ConceptSpace.back_solve`)."""
        overrides = torch.where(mask, values, math.nan)
        return replace(
            self,
            values=space.back_solve(self.values, overrides),
            overridden=self.overridden | (mask.float() @ _SETS.float() > 0),
        )

    def select(self, index: slice) -> HeadBatch:
        """Records ``index`` of the batch."""
        return HeadBatch(*(getattr(self, f)[index] for f in self.__dataclass_fields__))


def uncertainty(model: ConceptModel, batch: HeadBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """``(sd [B, K] registry units, probability [B, K])`` given the overrides (overridden: 0)."""
    measured_sd = torch.where(batch.overridden, 0.0, batch.measured_sd)
    return model.space.spread(batch.values, measured_sd, batch.sex)


def risk_changes(
    model: ConceptModel,
    batch: HeadBatch,
    sd: torch.Tensor,
    probability: torch.Tensor,
    concepts: torch.Tensor | None = None,
    on_logit: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """How much learning each concept's true value would move each task's risk.

    One batched pass of the task head serves every task, every concept and the current risk.

    Args:
        model, batch: the head model and the records with their overrides.
        sd, probability: :func:`uncertainty` of ``batch``.
        concepts: ``[K]`` bool, the concepts worth evaluating (others give 0); all by default.
        on_logit: ``[T]`` bool, tasks whose change is measured on the logit — a points head's
            points (:mod:`models.heads.points`) — rather than the probability.

    Returns:
        ``(expected [B, T, K], bound [B, T, K])``: expected absolute change of each task's
        probability under the model's predictive distribution of that concept, and the largest
        change for a value within ±2 SD (binary: either outcome). Overridden concepts, and
        derived ones (re-derived from their inputs whatever is put in), give 0.
    """
    space = model.space
    b, k = batch.values.shape
    columns = torch.arange(k) if concepts is None else torch.nonzero(concepts).squeeze(1)
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
    # Candidate rows (record b, concept j, node n): the record's values, column j set to the node;
    # then the records themselves (the current risk), all through the head at once.
    c = columns.numel()
    eye = torch.eye(k, dtype=torch.bool)[columns]  # [C(j), K]
    candidate = torch.where(
        eye.view(1, c, 1, k), nodes[:, columns].unsqueeze(-1), batch.values.view(b, 1, 1, k)
    )  # [B, C, Q, K]
    rows = c * q
    values = torch.cat([candidate.reshape(b * rows, k), batch.values])
    logits = model.decide(
        values,
        torch.cat([batch.sex.repeat_interleave(rows), batch.sex]),
        torch.cat([batch.age_years.repeat_interleave(rows), batch.age_years]),
        torch.cat([batch.positive.repeat_interleave(rows, dim=0), batch.positive]),
        torch.cat([batch.negative.repeat_interleave(rows, dim=0), batch.negative]),
    )  # [B·rows + B, T]
    t = logits.shape[1]
    if on_logit is not None:
        logits = torch.where(on_logit, logits, torch.sigmoid(logits))
    else:
        logits = torch.sigmoid(logits)
    moved = logits[: b * rows].view(b, c, q, t).permute(0, 3, 1, 2)  # [B, T, C, Q]
    current = logits[b * rows :].view(b, t, 1, 1)
    change = (moved - current).abs()
    expected = torch.zeros(b, t, k).index_copy(
        2, columns, (change * weights[..., columns, :].unsqueeze(1)).sum(-1)
    )  # [B, T, K]
    bound = torch.zeros(b, t, k).index_copy(
        2, columns, torch.where(in_bound[..., columns, :].unsqueeze(1), change, 0.0).amax(-1)
    )
    overridden = batch.overridden.unsqueeze(1)
    return torch.where(overridden, 0.0, expected), torch.where(overridden, 0.0, bound)


def _scores(
    model: ConceptModel,
    policy: Policy,
    rng: np.random.Generator,
    sd: torch.Tensor,
    expected: torch.Tensor,
) -> torch.Tensor:
    """``[B, K]`` scores of ``policy`` from the batch's uncertainty and one task's expected risk
    changes (higher = check first)."""
    if policy == "random":
        return torch.as_tensor(rng.random(sd.shape), dtype=torch.float32)
    if policy == "uncertainty":
        return _relative_uncertainty(model, sd)
    if policy == "expected_risk_change":
        return expected
    raise ValueError(f"unknown policy {policy!r}; use one of {POLICIES}")


def policy_scores(
    model: ConceptModel,
    batch: HeadBatch,
    policy: Policy,
    task_index: int,
    rng: np.random.Generator,
) -> torch.Tensor:
    """``[B, K]`` scores of ``policy`` (higher = check first); overridden concepts get −inf."""
    sd, probability = uncertainty(model, batch)
    expected = (
        risk_changes(model, batch, sd, probability)[0][:, task_index]
        if policy == "expected_risk_change"
        else torch.zeros_like(sd)
    )
    scores = _scores(model, policy, rng, sd, expected)
    return torch.where(batch.overridden, -math.inf, scores)


def _relative_uncertainty(model: ConceptModel, sd: torch.Tensor) -> torch.Tensor:
    """SD in training SDs (continuous) or as a fraction of the largest Bernoulli SD (binary)."""
    return torch.where(model.space.is_binary, sd / 0.5, sd / model.space.sd)


def head_batch(
    bundle: LoadedBundle,
    prediction: ModelPrediction,
    sex: Sex | None = None,
    age_years: float | None = None,
) -> tuple[ConceptModel, HeadBatch]:
    """The bundle's head model and the prediction's head batch (no overrides) — the one place
    that checks the prediction was made by this bundle.

    Raises:
        ValueError: a black-box bundle, or a prediction from another bundle.
    """
    model = bundle.concept_model()
    if prediction.bundle_sha256 != bundle.checksum:
        raise ValueError(
            f"the prediction was made by model {prediction.bundle_sha256[:12]}, not by the loaded "
            f"bundle {bundle.checksum[:12]}; predict again with this bundle"
        )
    return model, HeadBatch.from_prediction(model, prediction, sex, age_years)


def apply_overrides(
    model: ConceptModel, batch: HeadBatch, overrides: Mapping[str, float]
) -> tuple[HeadBatch, dict[str, float]]:
    """``batch`` (one record) with validated overrides in force, and the overrides as validated.

    Raises:
        ValueError: as :func:`validate_overrides`.
    """
    clean = validate_overrides(overrides)
    if not clean:  # nothing to put in: the batch as it is (a fresh prediction's state)
        return batch, clean
    names = model.space.names
    mask = torch.tensor([[n in clean for n in names]])
    values = torch.tensor([[clean.get(n, 0.0) for n in names]], dtype=torch.float32)
    return batch.with_values(model.space, mask, values), clean


def recompute(
    bundle: LoadedBundle,
    model: ConceptModel,
    batch: HeadBatch,
    prediction: ModelPrediction,
    overrides: dict[str, float],
) -> InterventionResult:
    """One pass of the task head over one record's batch: risks (banded by the bundle's heads),
    contributions, concepts in force, what changed from the prediction and what is outside
    physiology."""
    with torch.inference_mode():
        explanation = model.explain(
            batch.values, batch.sex, batch.age_years, batch.positive, batch.negative
        )
    before = prediction.head_state.head_values if prediction.head_state else []
    names = model.space.names
    after = dict(zip(names, explanation.values[0].tolist()))
    changed = tuple(
        n for n, old in zip(names, before) if not math.isclose(old, after[n], abs_tol=1e-6)
    )
    set_names = [n for n, flag in zip(names, batch.overridden[0].tolist()) if flag]
    return InterventionResult(
        tasks=risks_from_explanation(explanation, 0, bundle.bands, bundle.points_tasks),
        concepts=after,
        changed=changed,
        overrides=overrides,
        implausible=tuple(implausible_combinations(after, set_names)),
    )


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
            A derived concept (a QTc) sets its primary input (QT) with the RR in force.
        sex, age: replace the prediction's demographics when given.

    Raises:
        ValueError: unknown concept, implausible value (naming the concept and range), a
            combination outside physiology (naming the concepts), two values setting one input,
            a black box bundle, or a prediction from another bundle.
    """
    model, base = head_batch(bundle, prediction, sex, age)
    batch, clean = apply_overrides(model, base, overrides)
    result = recompute(bundle, model, batch, prediction, clean)
    if result.implausible:
        raise ValueError("; ".join(result.implausible))
    return result


def checkable_mask(leads: Collection[str] | None = None) -> torch.Tensor:
    """``[K]`` bool: concepts a clinician can check on a record with ``leads`` (``None``: any
    lead), per the registry's ``checkable`` and ``lead``."""
    return torch.tensor(
        [c.can_be_checked and (c.lead is None or leads is None or c.lead in leads) for c in REGISTRY]
    )


def rank_checks(
    model: ConceptModel,
    batch: HeadBatch,
    tasks: Sequence[str],
    policy: Policy = "expected_risk_change",
    leads: Collection[str] | None = None,
    seed: int = 0,
    discordant: Mapping[str, Disagreement] | None = None,
    points: Mapping[str, str] | None = None,
    limit: int | None = None,
) -> dict[str, list[Suggestion]]:
    """Per task, the concepts a clinician can check on this record, best first (one record;
    the best ``limit`` of them when given).

    The uncertainty and one batched pass of risk changes serve every task. Only checkable
    concepts (:func:`checkable_mask`) not already set are ranked. Concepts whose model and
    measured values disagree (``discordant``, most discordant first:
    :func:`models.disagreement.disagreements`) come first whatever the policy — a derived one
    (a QTc) through the primary input a clinician checks (QT): neither number can be trusted
    until a clinician has looked. ``points`` names the tasks whose head is a points head (task →
    the score's name, e.g. "Schwartz score"): their changes are counted in points.

    Raises:
        ValueError: an unknown policy or task.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; use one of {POLICIES}")
    for task in tasks:
        if task not in task_names():
            raise ValueError(f"unknown task {task!r}; use one of {task_names()}")
    allowed = checkable_mask(leads) & ~batch.overridden[0]
    with torch.inference_mode():
        sd, probability = uncertainty(model, batch)
        on_logit = torch.tensor([t in (points or {}) for t in task_names()])
        expected, bound = risk_changes(model, batch, sd, probability, allowed, on_logit)
    names = model.space.names
    # Python numbers taken once per tensor (``tolist``): one per element costs microseconds each.
    is_allowed, sd_of, probability_of = (
        allowed.tolist(), sd[0].tolist(), probability[0].tolist())
    expected_of, bound_of = expected[0].tolist(), bound[0].tolist()  # [T][K]
    first: dict[int, Disagreement] = {}
    for name, found in (discordant or {}).items():
        k = names.index(typed_target(name))
        if is_allowed[k] and k not in first:
            first[k] = found
    ranked: dict[str, list[Suggestion]] = {}
    for task in tasks:
        j = task_names().index(task)
        scores = _scores(model, policy, np.random.default_rng(seed), sd, expected[:, j])[0]
        score_of = scores.tolist()
        label = (points or {}).get(task) or get_task(task).label
        counted = _points_text if task in (points or {}) else points_text
        order = list(first) + [
            k for k in torch.argsort(scores, descending=True, stable=True).tolist()
            if is_allowed[k] and k not in first
        ]
        ranked[task] = [
            Suggestion(
                names[k],
                score_of[k],
                expected_of[j][k],
                _disagreement_reason(first[k]) if k in first else _reason(
                    policy, names[k], sd_of[k], probability_of[k], counted(bound_of[j][k]),
                    label),
            )
            for k in order[:limit]
        ]
    return ranked


def check_next(
    bundle: LoadedBundle,
    prediction: ModelPrediction,
    overrides: Mapping[str, float] | None = None,
    policy: Policy = CHECK_NEXT_POLICY,
    tasks: Sequence[str] | None = None,
    sex: Sex | None = None,
    age: float | None = None,
    seed: int = 0,
    leads: Collection[str] | None = None,
    measured: Mapping[str, float | None] | None = None,
    limit: int | None = None,
) -> dict[str, list[Suggestion]]:
    """Per task (every task by default), the concepts a clinician can check and has not set,
    best first under ``policy`` (the best ``limit`` when given): one batched pass of risk
    changes serves every task (:func:`rank_checks`).

    Concepts whose model value and measured value disagree beyond their combined uncertainty
    (:func:`models.disagreement.disagreements`) come first, most discordant first, whatever the
    policy: neither number can be trusted until a clinician has looked.

    Args:
        bundle, prediction, overrides, sex, age: as for :func:`intervene`.
        policy: ``random``, ``uncertainty`` or ``expected_risk_change``.
        tasks: the tasks whose risk matters (e.g. ``("lqts_risk",)``).
        seed: seed of the ``random`` policy.
        leads: the record's leads (a concept read in a lead it lacks is not proposed).
        measured: concept name → the signal pipeline's value on the same ECG (registry units;
            ``None`` = not measured); without it nothing is ranked for disagreement.
        limit: keep the best ``limit`` per task.

    Raises:
        ValueError: as :func:`intervene`, or an unknown policy or task.
    """
    model, base = head_batch(bundle, prediction, sex, age)
    batch, _ = apply_overrides(model, base, overrides or {})
    discordant = disagreements(prediction.concepts, measured or {})
    return rank_checks(model, batch, task_names() if tasks is None else tasks, policy, leads,
                       seed, discordant, points_heads(bundle), limit)


def suggest(
    bundle: LoadedBundle,
    prediction: ModelPrediction,
    overrides: Mapping[str, float] | None = None,
    policy: Policy = CHECK_NEXT_POLICY,
    task: str = "lqts_risk",
    sex: Sex | None = None,
    age: float | None = None,
    seed: int = 0,
    leads: Collection[str] | None = None,
    measured: Mapping[str, float | None] | None = None,
) -> list[Suggestion]:
    """:func:`check_next` for one ``task``: every concept worth checking, best first."""
    return check_next(bundle, prediction, overrides, policy, (task,), sex, age, seed, leads,
                      measured)[task]


def points_heads(bundle: LoadedBundle) -> dict[str, str]:
    """Task → the score's name, for the tasks whose head in force is a points head."""
    return {task: str(entry.get("name", "score")) for task, entry in bundle.task_heads.items()
            if entry["kind"] == POINTS_HEAD}


def _reason(
    policy: Policy, name: str, sd: float, probability: float, change: str, task_label: str
) -> str:
    """The sentence shown with a suggestion (``change``: the largest risk change, in words)."""
    if policy == "expected_risk_change":
        return _risk_reason(name, sd, probability, change, task_label)
    if policy == "uncertainty":
        return _uncertainty_reason(name, sd, probability)
    return f"Check {get_concept(name).label}: picked at random (the baseline policy)."


def _format(name: str, value: float) -> str:
    concept = get_concept(name)
    unit = f" {concept.unit}" if concept.unit else ""
    return f"{value:.{concept.decimals}f}{unit}"


def points_text(change: float) -> str:
    """A probability change (0–1) in percentage points, in words: ``"1 point"``,
    ``"12 points"``, ``"less than 1 point"``."""
    points = round(100 * change)
    if points < 1:
        return "less than 1 point"
    return f"{points} point" if points == 1 else f"{points} points"


def _points_text(change: float) -> str:
    """A points head's change, on its half-point grid: ``"1.5 points"``, ``"1 point"``."""
    points = round(2.0 * change) / 2.0
    return f"{points:g} point{'' if points == 1 else 's'}"


def _risk_reason(name: str, sd: float, probability: float, points: str, task_label: str) -> str:
    concept = get_concept(name)
    if concept.is_binary:
        return (
            f"Check {concept.label} (model: {probability:.0%} likely): confirming or ruling it "
            f"out moves the {task_label} by up to {points}."
        )
    return (
        f"Check {concept.label}: within its uncertainty (±{_format(name, 2 * sd)}) it moves the "
        f"{task_label} by up to {points}."
    )


def _disagreement_reason(found: Disagreement) -> str:
    concept = get_concept(found.concept)
    checked = get_concept(typed_target(found.concept))
    what = found.text if checked is concept else f"{concept.label} {found.text}"
    return (
        f"Check {checked.label}: {what} — further apart than their combined uncertainty "
        f"(±{_format(found.concept, AGREEMENT_Z * found.combined_sd)})."
    )


def _uncertainty_reason(name: str, sd: float, probability: float) -> str:
    concept = get_concept(name)
    if concept.is_binary:
        return (
            f"Check {concept.label}: the model is unsure whether it is present ({probability:.0%})."
        )
    return f"Check {concept.label}: the model's uncertainty is ±{_format(name, sd)}."
