"""A logistic task head on registry concepts, and a concept network composed with such heads.

:class:`LogisticTaskHead` is the whole head as data — intercept, and per feature its training
mean and SD and its logit change per SD — so a clinician can read it and a bundle can checksum
it. Features are registry concepts (:mod:`models.concepts`, registry units), change concepts of an
ECG and its baseline (:mod:`models.change`; a *change head* reads these), or the demographics
``age_years`` (years) and ``female`` (1 female, 0 male)::

    logit = intercept + Σ_f coefficient_per_sd_f · (x_f − mean_f) / sd_f

An unknown age or sex sits at its training mean (it pushes the logit by 0).

:class:`ComposedConceptModel` is a :class:`~models.nets.model.ConceptModel` whose logits for
some tasks come from such heads instead of its own linear head. The heads read the same concept
values the network head reads (predicted, derived ones re-derived, clinician overrides in), so
the forward pass, :meth:`~ComposedConceptModel.decide` (intervention policies) and
:meth:`~ComposedConceptModel.explain` (per-concept contributions) all use them. Their
contributions are exact in the same sense as the network head's: ``weight`` is the logit change
per SD of the *head's* training data, ``intercept`` the logit with every feature at the head's
training mean.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

import torch
from torch import nn

from models.change import get_change_concept, is_change_concept
from models.concepts import concept_names, get_concept, is_concept
from models.nets.bottleneck import SEX_FEMALE, SEX_MALE
from models.nets.model import (
    Architecture,
    ConceptModel,
    HeadExplanation,
    ModelConfig,
    ModelOutput,
    full_precision,
)
from models.tasks import get_task, task_names

_Head = TypeVar("_Head")

#: ``format`` of a head file; a reader refuses any other.
HEAD_FORMAT = "qtlens-task-head-1"
AGE_FEATURE = "age_years"
FEMALE_FEATURE = "female"
#: Demographic features a head may read: name → unit.
DEMOGRAPHIC_UNITS: Mapping[str, str] = {AGE_FEATURE: "years", FEMALE_FEATURE: ""}


def feature_unit(name: str) -> str:
    """Unit of a head feature: the unit of a concept or change concept, ``years`` for age,
    ``""`` for sex.

    Raises:
        ValueError: neither a (change) concept nor a demographic feature.
    """
    if is_concept(name):
        return get_concept(name).unit
    if is_change_concept(name):
        return get_change_concept(name).concept.unit
    if name in DEMOGRAPHIC_UNITS:
        return DEMOGRAPHIC_UNITS[name]
    raise ValueError(
        f"unknown head feature {name!r}: use registry concepts, change concepts (delta_…) or "
        f"{', '.join(DEMOGRAPHIC_UNITS)}"
    )


def _finite(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {number}")
    return number


@dataclass(frozen=True)
class HeadFeature:
    """One input of a logistic head.

    Attributes:
        name: registry concept name, ``age_years`` or ``female``.
        mean, sd: the training data's mean and SD (population SD) in the feature's unit.
        coefficient_per_sd: logit change per SD of the training data.
    """

    name: str
    mean: float
    sd: float
    coefficient_per_sd: float

    @property
    def unit(self) -> str:
        """The feature's unit (``ms`` for interval concepts)."""
        return feature_unit(self.name)

    @property
    def coefficient_per_unit(self) -> float:
        """Logit change per unit (per ms for interval concepts, per year for age)."""
        return self.coefficient_per_sd / self.sd

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (unit and per-unit coefficient included for readers)."""
        return {
            "name": self.name,
            "unit": self.unit,
            "mean": self.mean,
            "sd": self.sd,
            "coefficient_per_sd": self.coefficient_per_sd,
            "coefficient_per_unit": self.coefficient_per_unit,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HeadFeature:
        """Inverse of :meth:`to_dict` (validates the name and the numbers)."""
        name = str(data.get("name"))
        feature_unit(name)
        sd = _finite(data.get("sd"), f"SD of {name}")
        if sd <= 0:
            raise ValueError(f"SD of {name} must be positive, got {sd}")
        return cls(
            name=name,
            mean=_finite(data.get("mean"), f"mean of {name}"),
            sd=sd,
            coefficient_per_sd=_finite(data.get("coefficient_per_sd"), f"coefficient of {name}"),
        )


@dataclass(frozen=True)
class LogisticTaskHead:
    """A task head learned from a concept table, as data.

    Attributes:
        task: the task it predicts (:data:`models.tasks.TASKS`).
        intercept: logit with every feature at its training mean.
        features: the inputs, at most once each.
        learned_from: one line naming the data, shown beside the risk.
        details: provenance (data, target, regularisation, evaluation summary, code version).
    """

    task: str
    intercept: float
    features: tuple[HeadFeature, ...]
    learned_from: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        get_task(self.task)
        names = [f.name for f in self.features]
        concepts = [n for n in names if is_concept(n)]
        changes = [n for n in names if is_change_concept(n)]
        if not (concepts or changes):
            raise ValueError("a task head needs at least one concept among its features")
        if concepts and changes:
            raise ValueError(
                f"a task head reads one ECG or its change from baseline, not both: {names}"
            )
        if len(set(names)) != len(names):
            raise ValueError(f"task head features repeat: {names}")
        if not self.learned_from.strip():
            raise ValueError("a task head must say what data it was learned from")

    @property
    def reads_change(self) -> bool:
        """Whether it is a change head (its inputs are change concepts of an ECG pair)."""
        return any(is_change_concept(f.name) for f in self.features)

    def logit_contributions(
        self, values: Mapping[str, float | None], female: float | None, age_years: float | None
    ) -> dict[str, float]:
        """Each feature's logit push ``coefficient_per_sd · (x − mean) / sd`` for one ECG.

        Args:
            values: (change) concept values in their units; a missing concept is an error.
            female: 1 female, 0 male, ``None`` unknown (no push).
            age_years: years, ``None`` unknown (no push).

        Raises:
            ValueError: a concept feature without a finite value.
        """
        known = {**values, FEMALE_FEATURE: female, AGE_FEATURE: age_years}
        pushes = {}
        for feature in self.features:
            value = known.get(feature.name)
            if value is None or not math.isfinite(value):
                if feature.name in DEMOGRAPHIC_UNITS:
                    pushes[feature.name] = 0.0
                    continue
                raise ValueError(f"the head needs {feature.name}, which is unavailable")
            pushes[feature.name] = feature.coefficient_per_sd * (value - feature.mean) / feature.sd
        return pushes

    def probability(
        self,
        values: Mapping[str, float | None],
        female: float | None = None,
        age_years: float | None = None,
    ) -> float:
        """The head's probability for one ECG (see :meth:`logit_contributions`)."""
        logit = self.intercept + sum(self.logit_contributions(values, female, age_years).values())
        return 1.0 / (1.0 + math.exp(-logit))

    def to_dict(self) -> dict[str, Any]:
        """The head file's JSON object."""
        return {
            "format": HEAD_FORMAT,
            "task": self.task,
            "kind": "logistic",
            "learned_from": self.learned_from,
            "intercept": self.intercept,
            "features": [f.to_dict() for f in self.features],
            **dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogisticTaskHead:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: another format, an unknown task or feature, or a non-finite number.
        """
        if data.get("format") != HEAD_FORMAT or data.get("kind") != "logistic":
            raise ValueError(
                f"not a QTLens logistic task head (format {data.get('format')!r}, "
                f"kind {data.get('kind')!r}; expected {HEAD_FORMAT!r}, 'logistic')"
            )
        own = {"format", "task", "kind", "learned_from", "intercept", "features"}
        try:
            return cls(
                task=str(data["task"]),
                intercept=_finite(data["intercept"], "intercept"),
                features=tuple(HeadFeature.from_dict(f) for f in data["features"]),
                learned_from=str(data["learned_from"]),
                details={k: v for k, v in data.items() if k not in own},
            )
        except KeyError as error:
            raise ValueError(f"task head lacks {error.args[0]!r}") from None

    def save(self, path: Path) -> None:
        """Write the head as JSON to ``path``."""
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")

    def module(self) -> LogisticHeadModule:
        """The head as a module on registry-ordered concept tensors."""
        return LogisticHeadModule(self)

    @classmethod
    def load(cls, path: Path) -> LogisticTaskHead:
        """Read a head written by :meth:`save`.

        Raises:
            ValueError: unreadable JSON or not a valid head (naming the file).
        """
        return read_head_file(path, cls.from_dict)


def read_head_file(path: Path, parse: Callable[[dict[str, Any]], _Head]) -> _Head:
    """``parse`` of the JSON object in the head file ``path``.

    Raises:
        ValueError: unreadable JSON or not a valid head (naming the file).
    """
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise TypeError("the file must hold a JSON object")
        return parse(data)
    except (OSError, UnicodeDecodeError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from None


class TaskHead(Protocol):
    """What a head composed into a concept network provides (logistic or points head)."""

    task: str
    learned_from: str

    def module(self) -> nn.Module:
        """A module whose ``explain(values, sex, age_years)`` returns a :class:`HeadPart`."""
        ...

    def save(self, path: Path) -> None:
        """Write the head file."""
        ...


class HeadPart(NamedTuple):
    """One head's exact decomposition for ``B`` records (see :class:`HeadExplanation`).

    ``logit = intercept + concept.sum(-1) + age + sex``.
    """

    logit: torch.Tensor  # [B]
    intercept: torch.Tensor  # [B]
    concept: torch.Tensor  # [B, K]
    weight: torch.Tensor  # [B, K]
    age: torch.Tensor  # [B]
    sex: torch.Tensor  # [B]


class LogisticHeadModule(nn.Module):
    """A :class:`LogisticTaskHead` on registry-ordered concept tensors.

    Buffers are not persistent: the head lives in its JSON file, not in the network's weights.
    """

    def __init__(self, head: LogisticTaskHead) -> None:
        super().__init__()
        if head.reads_change:
            raise ValueError(
                "a change head reads an ECG and its baseline, not one ECG's concepts: it cannot "
                "be composed into a network"
            )
        names = concept_names()
        on_concepts = [f for f in head.features if is_concept(f.name)]
        self.register_buffer(
            "concept_index",
            torch.tensor([names.index(f.name) for f in on_concepts], dtype=torch.long),
            False,
        )
        self.register_buffer("concept_mean", torch.tensor([f.mean for f in on_concepts]), False)
        self.register_buffer("concept_sd", torch.tensor([f.sd for f in on_concepts]), False)
        self.register_buffer(
            "concept_coef", torch.tensor([f.coefficient_per_sd for f in on_concepts]), False
        )
        by_name = {f.name: f for f in head.features}
        for name in DEMOGRAPHIC_UNITS:
            # [mean, SD, coefficient per SD]; a head without the feature gives it weight 0.
            feature = by_name.get(name, HeadFeature(name, 0.0, 1.0, 0.0))
            self.register_buffer(
                f"{name}_z",
                torch.tensor([feature.mean, feature.sd, feature.coefficient_per_sd]),
                False,
            )
        self.register_buffer("intercept", torch.tensor(head.intercept), False)
        self.n_concepts = len(names)

    def _push(self, name: str, value: torch.Tensor) -> torch.Tensor:
        """``[B]`` logit push of a demographic feature (NaN = unknown → 0)."""
        mean, sd, coef = getattr(self, f"{name}_z")
        return (coef * (value - mean) / sd).nan_to_num(0.0)

    def explain(self, values: torch.Tensor, sex: torch.Tensor, age_years: torch.Tensor) -> HeadPart:
        """The head on ``values`` ``[B, K]`` (registry units), sex codes ``[B]``, age ``[B]``."""
        b = values.shape[0]
        chosen = values[:, self.concept_index]  # [B, F]
        push = self.concept_coef * (chosen - self.concept_mean) / self.concept_sd
        concept = values.new_zeros(b, self.n_concepts).index_copy(1, self.concept_index, push)
        weight = values.new_zeros(b, self.n_concepts).index_copy(
            1, self.concept_index, self.concept_coef.expand(b, -1).to(values.dtype)
        )
        female = torch.where(
            sex == SEX_FEMALE,
            1.0,
            torch.where(sex == SEX_MALE, 0.0, math.nan),
        ).to(values.dtype)
        age = self._push(AGE_FEATURE, age_years.to(values.dtype))
        sex_push = self._push(FEMALE_FEATURE, female)
        intercept = self.intercept.expand(b).to(values.dtype)
        logit = intercept + concept.sum(-1) + age + sex_push
        return HeadPart(logit, intercept, concept, weight, age, sex_push)


class ComposedConceptModel(ConceptModel):
    """A concept network whose logits for some tasks come from task heads given as data
    (:class:`LogisticTaskHead`, :class:`models.heads.points.PointsTaskHead`).

    Args:
        config, architecture: as for :class:`~models.nets.model.ConceptModel`.
        heads: task name → the head that replaces the network's own head for that task.
    """

    def __init__(
        self,
        config: ModelConfig,
        architecture: Architecture,
        heads: Mapping[str, TaskHead],
    ) -> None:
        super().__init__(config, architecture)
        if not heads:
            raise ValueError("a composed model needs at least one task head")
        for task, head in heads.items():
            if head.task != task:
                raise ValueError(f"the head given for {task} predicts {head.task}")
        self.composed = nn.ModuleDict({t: h.module() for t, h in heads.items()})
        self.composed_index = {t: task_names().index(t) for t in heads}

    def forward(
        self,
        signal: torch.Tensor,
        lead_mask: torch.Tensor,
        sex: torch.Tensor,
        age_years: torch.Tensor,
        overrides: torch.Tensor | None = None,
    ) -> ModelOutput:
        output = super().forward(signal, lead_mask, sex, age_years, overrides)
        values = output.concept_values
        if overrides is not None:
            values = self.space.override(values, overrides, sex)
        logits = output.task_logits.clone()
        with full_precision(signal.device.type):
            for task, head in self.composed.items():
                logits[:, self.composed_index[task]] = head.explain(values, sex, age_years).logit
        return output._replace(task_logits=logits)

    def decide(
        self,
        values: torch.Tensor,
        sex: torch.Tensor,
        age_years: torch.Tensor,
        positive: torch.Tensor,
        negative: torch.Tensor,
    ) -> torch.Tensor:
        """Task logits ``[B, T]`` from concept values, composed heads included (without the
        per-concept decomposition :meth:`explain` adds: the suggestion policies call this on
        hundreds of candidate rows)."""
        derived = self.space.derive(values, sex)  # once, for the network and composed heads
        logits = self._decide_derived(derived, sex, age_years, positive, negative).clone()
        for task, head in self.composed.items():
            logits[:, self.composed_index[task]] = head.explain(derived, sex, age_years).logit
        return logits

    def explain(
        self,
        values: torch.Tensor,
        sex: torch.Tensor,
        age_years: torch.Tensor,
        positive: torch.Tensor,
        negative: torch.Tensor,
    ) -> HeadExplanation:
        """The network head's decomposition with the composed tasks' rows replaced."""
        network = super().explain(values, sex, age_years, positive, negative)
        logits, intercept, age, sex_push = (
            t.clone() for t in (network.logits, network.intercept, network.age, network.sex)
        )
        concept, weight = network.concept.clone(), network.weight.clone()
        for task, head in self.composed.items():
            j = self.composed_index[task]
            part = head.explain(network.values, sex, age_years)
            logits[:, j], intercept[:, j], age[:, j], sex_push[:, j] = (
                part.logit,
                part.intercept,
                part.age,
                part.sex,
            )
            concept[:, j], weight[:, j] = part.concept, part.weight
        return HeadExplanation(
            network.values, network.activations, logits, intercept, concept, weight, age, sex_push
        )
