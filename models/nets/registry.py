"""The model variants QTLens trains, by name — one architecture plus a training recipe each.

Like :mod:`models.concepts`, the registry is an immutable tuple: :func:`create_model` builds any
variant from a :class:`~models.nets.model.ModelConfig`, and ``tests/nets`` runs the same
parametrised tests on every entry (the timm pattern).

Training recipes follow Koh et al., "Concept Bottleneck Models", ICML 2020:

* ``independent`` — the concept predictor learns the concepts; the task head learns from the
  *true* concepts; at test time the head reads the predicted ones.
* ``sequential`` — first the concept predictor; then, with it frozen, the task head on its
  predictions.
* ``joint`` — both at once, ``L_task + λ · L_concept`` (λ = ``concept_loss_weight``).
* ``cem`` — Concept Embedding Model (Espinosa Zarlenga et al., NeurIPS 2022), trained jointly
  with RandInt: each concept is replaced by its true value with probability
  ``randint_probability`` during training, which teaches the head to use interventions.
* ``blackbox`` — the same backbone with a direct head; the baseline the concept models must match.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from models.nets.model import Architecture, BlackBoxModel, ConceptModel, ModelConfig, RiskModel


@dataclass(frozen=True)
class Stage:
    """One phase of a training recipe.

    Attributes:
        name: shown in the progress bar and the card.
        concept_weight: multiplier of the concept loss (``"lambda"`` = the config's λ).
        task_weight: multiplier of the task loss.
        trainable: ``"all"`` parameters, or only ``"task_head"`` (the rest frozen, in eval mode).
        overrides: what the task head reads during training — ``"none"`` (the predictions),
            ``"true"`` (the true concepts) or ``"randint"`` (each concept true with probability
            ``randint_probability``).
    """

    name: str
    concept_weight: float | Literal["lambda"]
    task_weight: float
    trainable: Literal["all", "task_head"] = "all"
    overrides: Literal["none", "true", "randint"] = "none"

    def concept_weight_for(self, config: ModelConfig) -> float:
        """The concept-loss multiplier under ``config``."""
        return (
            config.concept_loss_weight if self.concept_weight == "lambda" else self.concept_weight
        )


@dataclass(frozen=True)
class Variant:
    """A registered model variant.

    Attributes:
        name: identifier used on the command line and in bundle cards.
        architecture: ``"cbm"``, ``"cem"`` or ``"blackbox"``.
        stages: the training recipe, run in order.
        description: one line for ``--help`` and the card.
        reference: the paper that defines it.
    """

    name: str
    architecture: Architecture
    stages: tuple[Stage, ...]
    description: str
    reference: str


_KOH = "Koh PW et al. Concept Bottleneck Models. ICML 2020"

VARIANTS: tuple[Variant, ...] = (
    Variant(
        name="independent",
        architecture="cbm",
        stages=(Stage("independent", concept_weight=1.0, task_weight=1.0, overrides="true"),),
        description="concept predictor and task head trained separately (head on true concepts)",
        reference=_KOH,
    ),
    Variant(
        name="sequential",
        architecture="cbm",
        stages=(
            Stage("concepts", concept_weight=1.0, task_weight=0.0),
            Stage("task head", concept_weight=0.0, task_weight=1.0, trainable="task_head"),
        ),
        description="concept predictor first, then the task head on its frozen predictions",
        reference=_KOH,
    ),
    Variant(
        name="joint",
        architecture="cbm",
        stages=(Stage("joint", concept_weight="lambda", task_weight=1.0),),
        description="concepts and risk trained together: L_task + λ·L_concept",
        reference=_KOH,
    ),
    Variant(
        name="cem",
        architecture="cem",
        stages=(Stage("joint", concept_weight="lambda", task_weight=1.0, overrides="randint"),),
        description="concept embedding model, joint training with RandInt interventions",
        reference="Espinosa Zarlenga M et al. Concept Embedding Models. NeurIPS 2022",
    ),
    Variant(
        name="blackbox",
        architecture="blackbox",
        stages=(Stage("task", concept_weight=0.0, task_weight=1.0),),
        description="same backbone, direct risk head, no concepts (the comparison baseline)",
        reference="Strodthoff N et al. IEEE JBHI 25:1519 (2021) (xresnet1d on PTB-XL)",
    ),
)

_BY_NAME = {v.name: v for v in VARIANTS}


def variant_names() -> tuple[str, ...]:
    """Names of every registered variant."""
    return tuple(_BY_NAME)


def get_variant(name: str) -> Variant:
    """The variant called ``name``; ``KeyError`` listing the valid names otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown model variant {name!r}; known: {', '.join(_BY_NAME)}") from None


def create_model(config: ModelConfig) -> RiskModel:
    """A freshly initialised model of ``config.variant`` (use ``torch.manual_seed`` first)."""
    variant = get_variant(config.variant)
    if variant.architecture == "blackbox":
        return BlackBoxModel(config)
    return ConceptModel(config, variant.architecture)


def config_for(variant: str, base: ModelConfig | None = None) -> ModelConfig:
    """``base`` (default config when ``None``) switched to ``variant``."""
    get_variant(variant)
    return replace(base or ModelConfig(), variant=variant)
