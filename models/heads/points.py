"""A fixed-weight points head: published clinical criteria scored over the concepts.

Until real long-QT labels exist, a learned Long-QT head can only learn what its training data
says — for the demo network a synthetic causal model. A :class:`PointsTaskHead` instead scores
a published point system over the registry concepts, with no fitted parameter at all. QTLens
ships one: the ECG items of the Schwartz score for congenital long-QT syndrome
(:func:`schwartz_head`, Schwartz PJ, Crotti L. Circulation 124:2181-2184 (2011)):

==============================================  ======  =====================================
item                                            points  concept read
==============================================  ======  =====================================
QTc ≥ 480 ms                                    3       ``qtc_bazett`` (the score uses Bazett)
QTc 460–479 ms                                  2
QTc 450–459 ms (male)                           1
T-wave alternans                                1       ``t_alternans``
Notched T wave in 3 leads                       1       ``t_notched``
Low heart rate for age (< 2nd percentile)       0.5     ``heart_rate`` and age
==============================================  ======  =====================================

The score's fourth-minute-of-recovery QTc item (exercise test) and its clinical and family
history items are out of reach of a resting ECG, so at most 5.5 of the score's points are
scored here. The guideline's probability categories — ≤ 1 point low, 1.5–3 intermediate,
≥ 3.5 high probability of LQTS — are the head's risk bands.

How the items read the concepts: a binary finding counts when its value (the clinician's 0/1, or
the network's probability) is ≥ 0.5, the same call the concept panel shows; a sex-specific item
applies to a record of unknown sex (the sensitive side, as :class:`models.concepts.Threshold`
does); "low heart rate for age" uses the 2nd percentile of Davignon et al. (Pediatr Cardiol
1:123 (1979/80)) up to 16 years and 50 bpm from 16 years on or when the age is unknown (the lower
limit of normal sinus rate in Mason JW et al. Circulation 115:1306 (2007)).

The head plugs into :class:`~models.heads.logistic.ComposedConceptModel` like a logistic head:
its task "logit" is ``points − POINTS_CENTRE`` (so the bands sit at fixed probabilities and every
intervention, contribution and suggestion works unchanged), each concept's contribution is the
points its item awards, and :func:`points_from_logit` gives the points back. The probability is
a monotone display of the points, *not* a calibrated probability of LQTS; the UI and
``qtlens predict`` show points and category instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from models.concepts import concept_names, get_concept
from models.heads.logistic import HEAD_FORMAT, HeadPart, LogisticTaskHead, read_head_file
from models.nets.bottleneck import SEX_FEMALE, SEX_MALE
from models.tasks import Bands, get_task

POINTS_KIND = "points"
#: The logit is ``points − POINTS_CENTRE``: probability ½ in the middle of the intermediate band.
POINTS_CENTRE = 2.5
#: Age (years) assumed when a record's age is unknown: an adult.
UNKNOWN_AGE_YEARS = 30.0
SCHWARTZ_REFERENCE = (
    "Schwartz PJ, Crotti L. QTc behavior during exercise and genetic testing for the long-QT "
    "syndrome. Circulation 124:2181-2184 (2011)"
)


@dataclass(frozen=True)
class PointsTier:
    """One way an item scores: ``points`` when the concept is ``≥ value`` (``direction="at_least"``)
    or ``< value`` (``"below"``), for ``sex`` (``None`` = any) and ages in ``[age_from, age_to)``
    years."""

    value: float
    points: float
    direction: Literal["at_least", "below"] = "at_least"
    sex: Literal["female", "male"] | None = None
    age_from: float = 0.0
    age_to: float = math.inf

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PointsTier:
        """Inverse of :func:`dataclasses.asdict` (``age_to`` ``null`` = no upper bound)."""
        values = dict(data)
        if values.get("age_to") is None:
            values["age_to"] = math.inf
        tier = cls(**values)
        if tier.direction not in ("at_least", "below") or tier.sex not in (None, "female", "male"):
            raise ValueError(f"invalid points tier {dict(data)}")
        return tier

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        data = asdict(self)
        data["age_to"] = None if math.isinf(self.age_to) else self.age_to
        return data


@dataclass(frozen=True)
class PointsItem:
    """One criterion: the most points any of its tiers awards (0 when none applies).

    Attributes:
        label: the criterion as the guideline words it.
        concept: the registry concept it reads (its contribution is attributed to it).
        tiers: the ways it scores.
        reference: where the criterion and its cut-offs are published.
    """

    label: str
    concept: str
    tiers: tuple[PointsTier, ...]
    reference: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"label": self.label, "concept": self.concept, "reference": self.reference,
                "tiers": [t.to_dict() for t in self.tiers]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PointsItem:
        """Inverse of :meth:`to_dict` (the concept must be registered)."""
        get_concept(str(data["concept"]))
        return cls(label=str(data["label"]), concept=str(data["concept"]),
                   tiers=tuple(PointsTier.from_dict(t) for t in data["tiers"]),
                   reference=str(data["reference"]))

    @property
    def max_points(self) -> float:
        """The most this item can award."""
        return max(t.points for t in self.tiers)


@dataclass(frozen=True)
class PointsTaskHead:
    """A published point system over the concepts, as data (see the module docstring).

    Attributes:
        task: the task it scores.
        name: the score's name (``"Schwartz score (ECG items)"``), shown beside the risk.
        items: its criteria, each on one concept (a concept may carry several items).
        categories: ``(label, from_points)`` in increasing order, the first from 0 — the
            guideline's probability categories, which become the risk bands.
        learned_from: one line saying where the weights come from (nothing is learned).
        details: provenance and limitations.
    """

    task: str
    name: str
    items: tuple[PointsItem, ...]
    categories: tuple[tuple[str, float], ...]
    learned_from: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        get_task(self.task)
        if not self.items:
            raise ValueError("a points head needs at least one item")
        if [c[0] for c in self.categories] != ["low", "intermediate", "high"]:
            raise ValueError("a points head's categories are low, intermediate and high")

    @property
    def max_points(self) -> float:
        """The most the head can award."""
        return sum(item.max_points for item in self.items)

    def to_dict(self) -> dict[str, Any]:
        """The head file's JSON object."""
        return {
            "format": HEAD_FORMAT,
            "task": self.task,
            "kind": POINTS_KIND,
            "name": self.name,
            "learned_from": self.learned_from,
            "max_points": self.max_points,
            "categories": [{"band": b, "from_points": p} for b, p in self.categories],
            "items": [i.to_dict() for i in self.items],
            **dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PointsTaskHead:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: another format or kind, an unknown task or concept, a malformed item.
        """
        if data.get("format") != HEAD_FORMAT or data.get("kind") != POINTS_KIND:
            raise ValueError(
                f"not a QTLens points head (format {data.get('format')!r}, kind "
                f"{data.get('kind')!r}; expected {HEAD_FORMAT!r}, {POINTS_KIND!r})"
            )
        own = {"format", "task", "kind", "name", "learned_from", "max_points", "categories",
               "items"}
        try:
            return cls(
                task=str(data["task"]),
                name=str(data["name"]),
                items=tuple(PointsItem.from_dict(i) for i in data["items"]),
                categories=tuple((str(c["band"]), float(c["from_points"]))
                                 for c in data["categories"]),
                learned_from=str(data["learned_from"]),
                details={k: v for k, v in data.items() if k not in own},
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed points head: {error}") from None

    def save(self, path: Path) -> None:
        """Write the head as JSON to ``path``."""
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: Path) -> PointsTaskHead:
        """Read a head written by :meth:`save`; ``ValueError`` naming the file otherwise."""
        return read_head_file(path, cls.from_dict)

    def category(self, points: float) -> str:
        """The guideline's category (``low``/``intermediate``/``high``) of a score."""
        return [label for label, start in self.categories if points >= start - 1e-6][-1]

    @property
    def bands(self) -> Bands:
        """The categories as probability bands of the head's logit: each cut-off a quarter point
        below the category's first score, so that a score on the half-point grid falls in its
        category whatever the float rounding."""
        cut = {label: _probability(logit_from_points(start - 0.25))
               for label, start in self.categories}
        starts = ", ".join(f"{label} from {start:g}" for label, start in self.categories[1:])
        return Bands(cut["intermediate"], cut["high"],
                     f"{self.name} categories ({starts} points), not calibrated on data")

    def module(self) -> PointsHeadModule:
        """The head as a module on registry-ordered concept tensors."""
        return PointsHeadModule(self)


def load_task_head(path: Path) -> LogisticTaskHead | PointsTaskHead:
    """The logistic or points head in the file ``path`` (by its ``kind``).

    Raises:
        ValueError: unreadable, or not a valid head of either kind (naming the file).
    """
    return read_head_file(
        path,
        lambda data: (PointsTaskHead if data.get("kind") == POINTS_KIND else LogisticTaskHead)
        .from_dict(data),
    )


def _probability(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-logit))


def logit(probability: float) -> float:
    """The task logit of ``probability`` (in (0, 1)): the inverse of the head's sigmoid."""
    return math.log(probability / (1.0 - probability))


def points_from_logit(logit: float) -> float:
    """The points of a points head's task logit, rounded to the half points the items award."""
    return round(2.0 * (logit + POINTS_CENTRE)) / 2.0


def logit_from_points(points: float) -> float:
    """A points head's task logit for ``points``."""
    return points - POINTS_CENTRE


def fewest_points_reaching(logit: float) -> float:
    """The fewest points (in the half points the items award) whose task logit reaches
    ``logit``: where a band that starts at ``logit`` starts, in points."""
    return math.ceil(2.0 * (logit + POINTS_CENTRE) - 1e-9) / 2.0


#: The lower limit of a normal resting heart rate (bpm) by age (years): Davignon's 2nd
#: percentile up to 16 years, then the adult lower limit of normal sinus rate.
_LOW_RATE_FOR_AGE: tuple[tuple[float, float, float], ...] = (
    # (age from, age to, bpm)
    (0.0, 1 / 365.25, 94.0),
    (1 / 365.25, 3 / 365.25, 91.0),
    (3 / 365.25, 7 / 365.25, 90.0),
    (7 / 365.25, 30 / 365.25, 106.0),
    (30 / 365.25, 0.25, 120.0),
    (0.25, 0.5, 105.0),
    (0.5, 1.0, 108.0),
    (1.0, 3.0, 89.0),
    (3.0, 5.0, 73.0),
    (5.0, 8.0, 65.0),
    (8.0, 12.0, 62.0),
    (12.0, 16.0, 60.0),
    (16.0, math.inf, 50.0),
)


def schwartz_head() -> PointsTaskHead:
    """The ECG items of the Schwartz score as the ``lqts_risk`` head (see the module docstring)."""
    qtc = "qtc_bazett"
    return PointsTaskHead(
        task="lqts_risk",
        name="Schwartz score (ECG items)",
        items=(
            PointsItem(
                "QTc (Bazett) ≥ 480 ms: 3, 460–479 ms: 2, 450–459 ms in a male: 1",
                qtc,
                (PointsTier(480.0, 3.0), PointsTier(460.0, 2.0), PointsTier(450.0, 1.0,
                                                                             sex="male")),
                SCHWARTZ_REFERENCE,
            ),
            PointsItem("T-wave alternans: 1", "t_alternans", (PointsTier(0.5, 1.0),),
                       SCHWARTZ_REFERENCE),
            PointsItem("Notched T wave in 3 leads: 1", "t_notched", (PointsTier(0.5, 1.0),),
                       SCHWARTZ_REFERENCE),
            PointsItem(
                "Low heart rate for age (below the 2nd percentile): 0.5",
                "heart_rate",
                tuple(PointsTier(bpm, 0.5, "below", age_from=start, age_to=end)
                      for start, end, bpm in _LOW_RATE_FOR_AGE),
                f"{SCHWARTZ_REFERENCE}; Davignon A et al. Pediatr Cardiol 1:123 (1979/80) "
                "(2nd percentile < 16 years); Mason JW et al. Circulation 115:1306 (2007) "
                "(50 bpm, adults)",
            ),
        ),
        categories=(("low", 0.0), ("intermediate", 1.5), ("high", 3.5)),
        learned_from="nothing learned: the published Schwartz score's ECG items "
        "(Schwartz & Crotti, Circulation 2011), scored over the concepts",
        details={
            "reference": SCHWARTZ_REFERENCE,
            "short_reference": "Schwartz & Crotti, Circulation 2011",
            "categories_meaning": "the guideline's probability of LQTS: ≤ 1 point low, "
            "1.5–3 intermediate, ≥ 3.5 high",
            "limitations": [
                ("Only the ECG items: the 4th-minute-of-recovery QTc (exercise test), syncope, "
                "torsade de pointes, congenital deafness and family history also score in the "
                "full Schwartz score and are out of reach of a resting ECG, so a record here "
                "scores at most 5.5 points and a 'low' category does not rule LQTS out."),
                ("The items read the concepts in force (the network's, or a clinician's "
                "override), so a wrong QTc gives a wrong score: check the QTc on the tracing."),
                ("The probability shown with it is the points on a logistic display scale "
                "(points − 2.5), not a calibrated probability of LQTS."),
            ],
        },
    )


class PointsHeadModule(nn.Module):
    """A :class:`PointsTaskHead` on registry-ordered concept tensors (no parameters)."""

    def __init__(self, head: PointsTaskHead) -> None:
        super().__init__()
        names = concept_names()
        self.n_concepts = len(names)
        rows = [
            (names.index(item.concept), t.value, t.points, t.direction == "below",
             {None: 0, "female": SEX_FEMALE, "male": SEX_MALE}[t.sex], t.age_from,
             min(t.age_to, 1e6), item_index)
            for item_index, item in enumerate(head.items) for t in item.tiers
        ]
        columns = list(zip(*rows, strict=True))
        self.register_buffer("concept_index", torch.tensor(columns[0]), False)
        self.register_buffer("threshold", torch.tensor(columns[1]), False)
        self.register_buffer("points", torch.tensor(columns[2]), False)
        self.register_buffer("below", torch.tensor(columns[3]), False)
        self.register_buffer("sex_only", torch.tensor(columns[4]), False)
        self.register_buffer("age_from", torch.tensor(columns[5]), False)
        self.register_buffer("age_to", torch.tensor(columns[6]), False)
        self.register_buffer("item_index", torch.tensor(columns[7]), False)
        self.n_items = len(head.items)
        item_concepts = [names.index(item.concept) for item in head.items]
        self.register_buffer("item_concept", torch.tensor(item_concepts), False)
        max_points = torch.zeros(self.n_concepts).index_add(
            0, torch.tensor(item_concepts), torch.tensor([i.max_points for i in head.items])
        )
        self.register_buffer("max_points", max_points, False)

    def explain(self, values: torch.Tensor, sex: torch.Tensor, age_years: torch.Tensor) -> HeadPart:
        """The points of ``values`` ``[B, K]`` (registry units), sex codes ``[B]``, age ``[B]``
        as a :class:`HeadPart`: ``logit = points − POINTS_CENTRE``, ``concept`` the points each
        concept's items award, ``weight`` the most they can award."""
        b = values.shape[0]
        chosen = values[:, self.concept_index]  # [B, R]
        crossed = torch.where(self.below, chosen < self.threshold, chosen >= self.threshold)
        # Unknown sex (code 0) meets sex-specific tiers too: the sensitive side.
        sex_ok = (self.sex_only == 0) | (sex.view(b, 1) == 0) | (sex.view(b, 1) == self.sex_only)
        age = age_years.to(values.dtype).nan_to_num(UNKNOWN_AGE_YEARS).view(b, 1)
        age_ok = (age >= self.age_from) & (age < self.age_to)
        awarded = torch.where(crossed & sex_ok & age_ok, self.points, 0.0).to(values.dtype)
        per_item = values.new_zeros(b, self.n_items).scatter_reduce(
            1, self.item_index.expand(b, -1), awarded, reduce="amax", include_self=True
        )
        concept = values.new_zeros(b, self.n_concepts).index_add(1, self.item_concept, per_item)
        weight = self.max_points.to(values.dtype).expand(b, -1)
        intercept = values.new_full((b,), -POINTS_CENTRE)
        zeros = values.new_zeros(b)
        return HeadPart(intercept + concept.sum(-1), intercept, concept, weight, zeros, zeros)
