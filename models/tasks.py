"""The risk tasks a QTLens model predicts, and how a probability maps to a clinical band.

Like :mod:`models.concepts` for concepts, this is the one place that names the tasks; the API,
the UI, the bundles and the exports read them from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class RiskBand(str, Enum):
    """Risk band shown to the clinician."""

    LOW = "low"
    INTERMEDIATE = "intermediate"
    HIGH = "high"


@dataclass(frozen=True)
class Bands:
    """Where a task head's probability becomes intermediate and high — the one rule that turns a
    probability into a :class:`RiskBand`. Callers band a risk with the bands in force,
    :meth:`models.bundle.LoadedBundle.band` (record page, worklist, change-based risk, CLI,
    analytics), never with a task's defaults directly.

    Attributes:
        intermediate_from: probability at which the band becomes intermediate.
        high_from: probability at which the band becomes high.
        set_by: how the cut-offs were set (data and split, or the guideline), for the model card.
    """

    intermediate_from: float = 0.2
    high_from: float = 0.5
    set_by: str = "QTLens defaults (0.2 and 0.5), not calibrated on data"

    def __post_init__(self) -> None:
        if not 0.0 < self.intermediate_from <= self.high_from <= 1.0:
            raise ValueError(
                f"band cut-offs must satisfy 0 < intermediate ≤ high ≤ 1, got "
                f"{self.intermediate_from}, {self.high_from}"
            )

    def band(self, probability: float) -> RiskBand:
        """The band for a probability in [0, 1]."""
        if probability >= self.high_from:
            return RiskBand.HIGH
        if probability >= self.intermediate_from:
            return RiskBand.INTERMEDIATE
        return RiskBand.LOW

    def to_dict(self) -> dict[str, float | str]:
        """JSON-ready dict (the card's ``task_heads.<task>.bands``)."""
        return {"intermediate_from": self.intermediate_from, "high_from": self.high_from,
                "set_by": self.set_by}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Bands:
        """Inverse of :meth:`to_dict`; ``ValueError`` when malformed."""
        try:
            return cls(float(data["intermediate_from"]), float(data["high_from"]),
                       str(data.get("set_by", "")))
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed risk bands {dict(data)!r}: {error}") from None


@dataclass(frozen=True)
class Task:
    """A binary risk target.

    Attributes:
        name: identifier used in bundles, the API and exports.
        label: what the screen shows.
        description: what a positive label means.
        bands: the default bands, for a head whose card states none (and for analytics of a
            prediction whose model's card is not at hand).
    """

    name: str
    label: str
    description: str
    bands: Bands = Bands()


TASKS: tuple[Task, ...] = (
    Task(
        name="lqts_risk",
        label="Long-QT risk",
        description="Probability that the ECG shows a long-QT phenotype (congenital or acquired), "
        "as labelled by the training data (synthetic causal model, PTB-XL LNGQT, Challenge "
        "SNOMED 111975006).",
    ),
    Task(
        name="tdp_risk",
        label="Drug-induced TdP risk",
        description="Probability of a Torsade-de-Pointes-prone repolarisation pattern: "
        "high-risk hERG block (dofetilide/quinidine in ECGRDVQ) or the synthetic causal label.",
    ),
)

_BY_NAME = {t.name: t for t in TASKS}


def get_task(name: str) -> Task:
    """The task called ``name``; ``KeyError`` listing the valid names otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(_BY_NAME)}") from None


def task_names() -> tuple[str, ...]:
    """All task names in head order."""
    return tuple(t.name for t in TASKS)
