"""Concept models (ECG → concepts → risk) and the black box they are measured against.

Both share :class:`~models.nets.backbone.XResNet1d`. A :class:`ConceptModel` then predicts the
concepts (:mod:`models.nets.bottleneck`), derives the derived ones and feeds the bottleneck to a
*linear* task head — one logit per task in :data:`models.tasks.TASKS` — so every concept's
contribution to the logit is exact (``weight · activation``) and can be shown to a clinician. The
:class:`BlackBoxModel` puts the same kind of linear head straight on the ECG embedding.

A 1-hidden-layer MLP task head was considered (design.md allows it) and not built: its
per-concept contributions would need an approximate attribution method, while the linear head
gives exact ones and readable weights.

Inputs of ``forward`` (all models):
    signal ``[B, 12, L]`` standardised leads (see :mod:`models.bundle` for the preprocessing),
    lead_mask ``[B, 12]`` (1 = lead present), sex ``[B]`` codes (0 unknown, 1 female, 2 male),
    age_years ``[B]`` (NaN unknown), and for training only ``overrides`` ``[B, K]``: concept
    values in registry units that replace the prediction on the way to the task head (NaN = use
    the prediction) — the true concepts of the independent variant and of CEM's RandInt.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, NamedTuple

import torch
from torch import nn

from models.nets.backbone import BackboneConfig, XResNet1d
from models.nets.bottleneck import (
    SEX_FEMALE,
    SEX_MALE,
    ConceptEmbeddingHead,
    ConceptHead,
    ConceptSpace,
)
from models.nets.ood import FeatureDistance
from models.nets.periodicity import RhythmReader
from models.tasks import TASKS

Architecture = Literal["cbm", "cem", "blackbox"]


@dataclass(frozen=True)
class ModelConfig:
    """Everything that fixes a model's shape and its training objective.

    Attributes:
        variant: name in :data:`models.nets.registry.VARIANTS`.
        backbone: encoder shape.
        fs_hz: input sampling rate the model is trained at (Hz).
        duration_s: input length in seconds.
        concept_loss_weight: λ, weight of the concept loss against the task loss (joint, CEM).
        variance_loss_weight: weight of the Gaussian NLL that trains the concept log-variances.
        use_demographics: feed age and sex to the task head.
        cem_embedding_dim: ``m``, size of each CEM concept embedding.
        randint_probability: CEM RandInt — chance that a concept is replaced by its true value
            during training (Espinosa Zarlenga et al. 2022 use 0.25).
        rhythm_reader: concept models read RR from where the ECG repeats
            (:class:`~models.nets.periodicity.RhythmReader`) instead of from the pooled
            embedding. A bundle saved before the reader existed has no such key and loads without
            it (:meth:`from_dict`).
    """

    variant: str = "joint"
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    fs_hz: float = 100.0
    duration_s: float = 10.0
    concept_loss_weight: float = 1.0
    variance_loss_weight: float = 0.1
    use_demographics: bool = True
    cem_embedding_dim: int = 16
    randint_probability: float = 0.25
    rhythm_reader: bool = True

    @property
    def n_samples(self) -> int:
        """Samples per lead of the model input."""
        return round(self.fs_hz * self.duration_s)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (stored in the bundle card)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error, and a config without
        ``rhythm_reader`` (saved before the reader) is one without the reader."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        values = {"rhythm_reader": False, **data}
        backbone = dict(values.pop("backbone", {}))
        for key in ("stem_widths", "widths", "blocks"):
            if key in backbone:
                backbone[key] = tuple(backbone[key])
        return cls(backbone=BackboneConfig(**backbone), **values)


class ModelOutput(NamedTuple):
    """What every model returns (concept fields are empty, ``[B, 0]``, for the black box).

    Attributes:
        task_logits: ``[B, T]`` one logit per task (order of :data:`models.tasks.TASKS`).
        concept_values: ``[B, K]`` predicted concepts in registry units (binary: probability),
            derived ones derived; never the overrides.
        concept_raw: ``[B, K]`` standardised continuous concepts and logits of measured binary
            ones — what the concept loss compares with the targets.
        concept_logvar: ``[B, K]`` log-variance of standardised measured continuous concepts.
        embedding_positive, embedding_negative: ``[B, K, m]`` concept embeddings c⁺, c⁻.
        features: ``[B, E]`` the backbone embedding (penultimate features), which the
            out-of-distribution score (:mod:`models.nets.ood`) measures.
    """

    task_logits: torch.Tensor
    concept_values: torch.Tensor
    concept_raw: torch.Tensor
    concept_logvar: torch.Tensor
    embedding_positive: torch.Tensor
    embedding_negative: torch.Tensor
    features: torch.Tensor


class HeadExplanation(NamedTuple):
    """The task head's reading of a concept vector, decomposed exactly.

    ``logits = intercept + concept.sum(-1) + age + sex``.

    Attributes:
        values: ``[B, K]`` concept values the head read (registry units; derived re-derived).
        activations: ``[B, K]`` the same standardised (binary unchanged).
        logits: ``[B, T]`` task logits.
        intercept: ``[B, T]`` logit with every concept at its reference (continuous: training
            mean; binary: absent) and age/sex unknown.
        concept: ``[B, T, K]`` each concept's push on the logit.
        weight: ``[B, T, K]`` logit change per standardised unit (continuous: per SD; binary:
            present vs absent).
        age: ``[B, T]`` age's push on the logit.
        sex: ``[B, T]`` sex's push on the logit.
    """

    values: torch.Tensor
    activations: torch.Tensor
    logits: torch.Tensor
    intercept: torch.Tensor
    concept: torch.Tensor
    weight: torch.Tensor
    age: torch.Tensor
    sex: torch.Tensor


@contextlib.contextmanager
def full_precision(device_type: str) -> Iterator[None]:
    """Disable autocast inside (concept values in ms must not be rounded to bfloat16)."""
    if torch.is_autocast_enabled(device_type):
        with torch.autocast(device_type=device_type, enabled=False):
            yield
    else:
        yield


class Demographics(nn.Module):
    """Age and sex as task-head features ``[B, 3]``: age z-score (0 unknown), female, male.

    Buffers ``age_mean``/``age_sd`` are the training-set age statistics (years).
    """

    n_features = 3

    def __init__(self, enabled: bool) -> None:
        super().__init__()
        self.enabled = enabled
        self.register_buffer("age_mean", torch.tensor(50.0))
        self.register_buffer("age_sd", torch.tensor(15.0))
        self.register_buffer("sex_codes", torch.tensor([SEX_FEMALE, SEX_MALE]), persistent=False)

    @property
    def width(self) -> int:
        """Number of features given to the task head (0 when demographics are off)."""
        return self.n_features if self.enabled else 0

    def set_statistics(self, age_mean: float, age_sd: float) -> None:
        """Store the training-set age mean and SD in years."""
        if not age_sd > 0:
            raise ValueError(f"age SD must be positive, got {age_sd}")
        self.age_mean.fill_(age_mean)
        self.age_sd.fill_(age_sd)

    def forward(self, sex: torch.Tensor, age_years: torch.Tensor) -> torch.Tensor:
        age_z = ((age_years - self.age_mean) / self.age_sd).nan_to_num(0.0)  # [B]
        sex_onehot = (sex.unsqueeze(1) == self.sex_codes).to(age_z.dtype)  # [B, 2] female, male
        return torch.cat([age_z.unsqueeze(1), sex_onehot], dim=1)[:, : self.width]  # [B, 3]


class _RiskModelBase(nn.Module):
    """What every model has: its config, the XResNet1d backbone and the age/sex features."""

    #: Whether the model predicts concepts (and so accepts interventions).
    has_concepts: bool = False

    def __init__(self, config: ModelConfig, architecture: Architecture) -> None:
        super().__init__()
        self.config = config
        self.architecture = architecture
        self.backbone = XResNet1d(config.backbone)
        self.demographics = Demographics(config.use_demographics)
        self.ood = FeatureDistance(config.backbone.embedding_dim)


class ConceptModel(_RiskModelBase):
    """ECG → concepts → risk: the bottleneck variants (independent, sequential, joint, CEM)."""

    has_concepts = True

    def __init__(self, config: ModelConfig, architecture: Architecture) -> None:
        super().__init__(config, architecture)
        self.space = ConceptSpace()
        emb = config.backbone.embedding_dim
        self.concept_head: ConceptHead | ConceptEmbeddingHead
        if architecture == "cem":
            self.concept_head = ConceptEmbeddingHead(emb, self.space, config.cem_embedding_dim)
        else:
            self.concept_head = ConceptHead(emb, self.space)
        n_features = self.space.n_concepts * self.concept_head.embedding_dim
        self.task_head = nn.Linear(n_features + self.demographics.width, len(TASKS))
        # Added to the predicted log-variances: 2·log of each concept's SD scale, fitted on
        # held-out windows after training (:func:`models.train_real.calibrate_uncertainty`;
        # zero = the variances as trained).
        self.register_buffer("concept_logvar_offset", torch.zeros(self.space.n_concepts))
        self.rhythm = RhythmReader(config.fs_hz) if config.rhythm_reader else None
        # How much of the standardised read interval each concept's raw output adds (learned
        # from 0; RR's own entry is unused: RR is the interval).
        self.interval_weight = (
            nn.Parameter(torch.zeros(self.space.n_concepts)) if config.rhythm_reader else None
        )
        #: Bottleneck column of RR, as an index and as a ``[K]`` mask.
        self.rr_index = self.space.names.index("rr")
        rr_column = torch.zeros(self.space.n_concepts, dtype=torch.bool)
        rr_column[self.rr_index] = True
        self.register_buffer("rr_column", rr_column, persistent=False)

    def forward(
        self,
        signal: torch.Tensor,
        lead_mask: torch.Tensor,
        sex: torch.Tensor,
        age_years: torch.Tensor,
        overrides: torch.Tensor | None = None,
    ) -> ModelOutput:
        embedding = self.backbone(signal, lead_mask)  # [B, E]
        with full_precision(signal.device.type):
            raw, logvar, positive, negative = self.concept_head(embedding.float())
            if self.rhythm is not None:
                raw = self._rr_from_rhythm(raw, signal, lead_mask)
            logvar = logvar + self.concept_logvar_offset
            values = self.space.derive(self.space.values_from_raw(raw), sex)  # [B, K]
            activations = self.space.standardise(values)
            raw = torch.where(self.space.is_derived, activations, raw)
            if overrides is not None:
                activations = self.space.standardise(self.space.override(values, overrides, sex))
            logits = self._head(activations, sex, age_years, positive, negative)
        return ModelOutput(logits, values, raw, logvar, positive, negative, embedding)

    def _rr_from_rhythm(
        self, raw: torch.Tensor, signal: torch.Tensor, lead_mask: torch.Tensor
    ) -> torch.Tensor:
        """``raw`` ``[B, K]`` with RR (standardised) read by the rhythm reader, and every other
        concept plus ``interval_weight`` × that interval (QT lengthens with RR: a concept may
        lean on the read interval instead of on the pooled features' coarser sense of the
        rate). The RR loss trains the reader, and the RR row of the concept head gives only its
        log-variance. RR is the read interval itself, not a correction of it by the pooled
        features: in the experiment of 17d0cc9 a learned correction pulled fast and slow rates
        towards the mean (real tune windows: 2.2 bpm MAE corrected, 1.4 the interval alone)."""
        rr = self.rr_index
        interval_ms = self.rhythm(signal, lead_mask).unsqueeze(1)  # type: ignore[misc]  # [B, 1]
        interval_z = (interval_ms - self.space.mean[rr]) / self.space.sd[rr]
        return torch.where(self.rr_column, interval_z, raw + self.interval_weight * interval_z)

    def _head(
        self,
        activations: torch.Tensor,
        sex: torch.Tensor,
        age_years: torch.Tensor,
        positive: torch.Tensor,
        negative: torch.Tensor,
    ) -> torch.Tensor:
        """Task logits ``[B, T]`` from activations ``[B, K]`` (head input ``c⁻ + a (c⁺ − c⁻)``)."""
        if self.architecture == "cem":
            features = negative + activations.unsqueeze(-1) * (positive - negative)  # [B, K, m]
        else:
            features = activations  # c⁺ = 1, c⁻ = 0: the head reads the activations themselves
        inputs = torch.cat([features.flatten(1), self.demographics(sex, age_years)], dim=1)
        return self.task_head(inputs)

    def decide(
        self,
        values: torch.Tensor,
        sex: torch.Tensor,
        age_years: torch.Tensor,
        positive: torch.Tensor,
        negative: torch.Tensor,
    ) -> torch.Tensor:
        """Task logits ``[B, T]`` from concept values alone — the intervention path.

        Args:
            values: ``[B, K]`` registry units (binary: probability or a clinician's 0/1); the
                derived columns are re-derived from the primary ones, so the logits are a
                function of the primary concepts (back-solve typed derived values first:
                :meth:`ConceptSpace.back_solve`).
            sex, age_years: ``[B]`` demographics.
            positive, negative: ``[B, K, m]`` concept embeddings from the forward pass.
        """
        return self._decide_derived(self.space.derive(values, sex), sex, age_years, positive,
                                    negative)

    def _decide_derived(
        self,
        derived: torch.Tensor,
        sex: torch.Tensor,
        age_years: torch.Tensor,
        positive: torch.Tensor,
        negative: torch.Tensor,
    ) -> torch.Tensor:
        """:meth:`decide` on values ``[B, K]`` whose derived columns are already derived."""
        return self._head(self.space.standardise(derived), sex, age_years, positive, negative)

    def explain(
        self,
        values: torch.Tensor,
        sex: torch.Tensor,
        age_years: torch.Tensor,
        positive: torch.Tensor,
        negative: torch.Tensor,
    ) -> HeadExplanation:
        """:meth:`decide` with its exact per-concept decomposition (same arguments)."""
        k, m = self.space.n_concepts, self.concept_head.embedding_dim
        weight = self.task_head.weight  # [T, K·m + D]
        concept_weight = weight[:, : k * m].reshape(-1, k, m)  # [T, K, m]
        derived = self.space.derive(values, sex)  # [B, K]
        activations = self.space.standardise(derived)
        per_unit = torch.einsum("tkm,bkm->btk", concept_weight, positive - negative)  # [B, T, K]
        concept = per_unit * activations.unsqueeze(1)  # [B, T, K]
        intercept = self.task_head.bias + torch.einsum("tkm,bkm->bt", concept_weight, negative)
        demo = self.demographics(sex, age_years)  # [B, D]
        demo_push = demo.unsqueeze(1) * weight[:, k * m :]  # [B, T, D]
        age = demo_push[..., :1].sum(-1)  # [B, T] (zeros without demographics)
        sex_push = demo_push[..., 1:].sum(-1)
        logits = intercept + concept.sum(-1) + age + sex_push
        return HeadExplanation(
            derived, activations, logits, intercept, concept, per_unit, age, sex_push
        )


class BlackBoxModel(_RiskModelBase):
    """ECG → risk directly: the same backbone, a linear head on the embedding (+ age, sex)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config, "blackbox")
        self.task_head = nn.Linear(
            config.backbone.embedding_dim + self.demographics.width, len(TASKS)
        )

    def forward(
        self,
        signal: torch.Tensor,
        lead_mask: torch.Tensor,
        sex: torch.Tensor,
        age_years: torch.Tensor,
        overrides: torch.Tensor | None = None,
    ) -> ModelOutput:
        """Task logits; ``overrides`` is accepted for a uniform signature and has no effect."""
        embedding = self.backbone(signal, lead_mask)  # [B, E]
        inputs = torch.cat([embedding, self.demographics(sex, age_years).to(embedding.dtype)], 1)
        logits = self.task_head(inputs).float()  # [B, T]
        empty = logits.new_zeros(logits.shape[0], 0)
        empty_embedding = logits.new_zeros(logits.shape[0], 0, 0)
        return ModelOutput(
            logits, empty, empty, empty, empty_embedding, empty_embedding, embedding
        )


RiskModel = ConceptModel | BlackBoxModel
