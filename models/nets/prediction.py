"""What a model says about one ECG, as plain JSON-ready data.

:class:`ModelPrediction` is what :meth:`models.bundle.LoadedBundle.predict` returns and what the
web app stores (``to_dict()``) and later hands back to :func:`models.intervene.intervene` — so it
carries, next to the numbers a clinician reads, the state the task head needs to recompute the
risk without the ECG or the backbone (:class:`HeadState`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from models.concepts import Sex, concept_names, get_concept
from models.tasks import RiskBand, get_task, task_names

SCHEMA_VERSION = 1


def _clean(value: float | None) -> float | None:
    """``None`` for missing or non-finite numbers (JSON has no NaN)."""
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True)
class ConceptEstimate:
    """The model's value for one concept.

    Attributes:
        value: registry units; binary concepts 0/1 (probability ≥ 0.5).
        uncertainty: SD in the concept's unit (binary: Bernoulli SD ``sqrt(p (1 − p))``).
        probability: binary concepts only, the probability that it is present.
        derived: computed from other predicted concepts by the registry formula.
    """

    value: float
    uncertainty: float
    probability: float | None = None
    derived: bool = False


@dataclass(frozen=True)
class TaskRisk:
    """One task's risk and how the concepts produce it.

    ``logit = intercept + Σ contributions + age_contribution + sex_contribution``;
    ``probability = sigmoid(logit)``; for a points head (:mod:`models.heads.points`) the logit is
    ``points − 2.5`` and ``points`` holds the score. ``weights`` are logit changes per SD (continuous) or for
    presence (binary) — for a task head composed from elsewhere (:mod:`models.heads`), per SD of
    that head's training data, and 0 for concepts it does not read. Contributions and weights
    are empty for the black box.
    """

    probability: float
    band: RiskBand
    logit: float
    intercept: float = 0.0
    contributions: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    age_contribution: float = 0.0
    sex_contribution: float = 0.0
    points: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        data = asdict(self)
        data["band"] = self.band.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskRisk:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        values["band"] = RiskBand(values["band"])
        return cls(**values)


@dataclass(frozen=True)
class HeadState:
    """What the task head needs to recompute the risk without the backbone.

    Attributes:
        head_values: per concept (registry order) the value the head read, in registry units;
            binary concepts as the predicted probability.
        standardised: the same as activations (continuous: (value − mean) / SD).
        embedding_positive, embedding_negative: CEM concept embeddings ``[K][m]`` (``None``
            for the plain bottleneck, whose embeddings are the constants 1 and 0).
    """

    head_values: list[float]
    standardised: list[float]
    embedding_positive: list[list[float]] | None = None
    embedding_negative: list[list[float]] | None = None


@dataclass(frozen=True)
class OodScore:
    """How far the ECG lies from the real ECGs the network was trained on (:mod:`models.nets.ood`).

    Attributes:
        distance: Mahalanobis distance of the penultimate features from the real training
            ECGs' (dimensionless).
        percentile: where the ECG falls (0–100) among real ECGs held out of the fit, in the
            respect where it lies furthest out (the largest of its feature distances' and input
            descriptors' percentiles, :mod:`models.nets.ood`).
        high: the percentile is above :data:`models.nets.ood.HIGH_PERCENTILE` — the concepts
            and risks rest on a signal unlike the training ECGs.
        respect: that respect (a key of :data:`models.nets.ood.RESPECTS`: ``noise``,
            ``wander``, ``limb_reversal``, ``features``, ``relative_features``); ``None`` in
            predictions stored before respects were named.
    """

    distance: float
    percentile: float
    high: bool
    respect: str | None = None


@dataclass(frozen=True)
class ModelPrediction:
    """The model's output for one ECG (see :meth:`to_dict` for the JSON schema).

    Attributes:
        variant: model variant that produced it.
        bundle_sha256: checksum of the bundle (interventions refuse a different bundle).
        age_years, sex: demographics the model was given.
        leads_used: standard leads present in the input.
        concepts: per concept, in registry order (empty for the black box).
        tasks: per task, in :data:`models.tasks.TASKS` order.
        head_state: ``None`` for the black box.
        ood: the out-of-distribution score, ``None`` for a network without real-ECG statistics.
    """

    variant: str
    bundle_sha256: str
    age_years: float | None
    sex: Sex | None
    leads_used: tuple[str, ...]
    concepts: dict[str, ConceptEstimate]
    tasks: dict[str, TaskRisk]
    head_state: HeadState | None
    ood: OodScore | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict::

        {"schema_version": 1, "variant": "joint", "bundle_sha256": "<64 hex>",
         "age_years": 54 | null, "sex": "female" | "male" | null, "leads_used": ["I", …],
         "concepts": {"qt": {"value": 412.0, "uncertainty": 9.1, "probability": null,
                             "derived": false}, …},
         "tasks": {"lqts_risk": {"probability": 0.42, "band": "intermediate", "logit": -0.32,
                                 "intercept": -1.1, "contributions": {"qt": 0.3, …},
                                 "weights": {"qt": 0.6, …}, "age_contribution": 0.0,
                                 "sex_contribution": 0.1}, …},
         "head_state": {"head_values": [...K], "standardised": [...K],
                        "embedding_positive": [[...m] ×K] | null,
                        "embedding_negative": [[...m] ×K] | null} | null,
         "ood": {"distance": 31.2, "percentile": 64.0, "high": false,
                 "respect": "wander"} | null}
        """
        return {
            "schema_version": SCHEMA_VERSION,
            "variant": self.variant,
            "bundle_sha256": self.bundle_sha256,
            "age_years": self.age_years,
            "sex": self.sex,
            "leads_used": list(self.leads_used),
            "concepts": {
                name: {k: _clean(v) if isinstance(v, float) else v for k, v in asdict(c).items()}
                for name, c in self.concepts.items()
            },
            "tasks": {name: risk.to_dict() for name, risk in self.tasks.items()},
            "head_state": None if self.head_state is None else asdict(self.head_state),
            "ood": None if self.ood is None else asdict(self.ood),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelPrediction:
        """Rebuild a prediction stored with :meth:`to_dict`.

        Raises:
            ValueError: another schema version, or concepts/tasks unknown to this registry.
        """
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"prediction schema version {data.get('schema_version')!r} is not "
                f"{SCHEMA_VERSION}; re-run the prediction with this version of QTLens"
            )
        concepts = {}
        for name, entry in data["concepts"].items():
            get_concept(name)
            concepts[name] = ConceptEstimate(**entry)
        if concepts and tuple(concepts) != concept_names():
            raise ValueError("stored prediction concepts do not match the concept registry")
        tasks = {}
        for name, entry in data["tasks"].items():
            get_task(name)
            tasks[name] = TaskRisk.from_dict(entry)
        if tuple(tasks) != task_names():
            raise ValueError("stored prediction tasks do not match the task registry")
        state = data.get("head_state")
        ood = data.get("ood")
        return cls(
            variant=str(data["variant"]),
            bundle_sha256=str(data["bundle_sha256"]),
            age_years=data.get("age_years"),
            sex=data.get("sex"),
            leads_used=tuple(data.get("leads_used", ())),
            concepts=concepts,
            tasks=tasks,
            head_state=None if state is None else HeadState(**state),
            ood=None if ood is None else OodScore(**ood),
        )
