"""The risk tasks a QTLens model predicts, and how a probability maps to a clinical band.

Like :mod:`models.concepts` for concepts, this is the one place that names the tasks; the API,
the UI, the bundles and the exports read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class RiskBand(str, Enum):
    """Risk band shown to the clinician."""

    LOW = "low"
    INTERMEDIATE = "intermediate"
    HIGH = "high"


@dataclass(frozen=True)
class Task:
    """A binary risk target.

    Attributes:
        name: identifier used in bundles, the API and exports.
        label: what the screen shows.
        description: what a positive label means.
        intermediate_from: probability at which the band becomes intermediate.
        high_from: probability at which the band becomes high.
    """

    name: str
    label: str
    description: str
    intermediate_from: float = 0.2
    high_from: float = 0.5

    def band(self, probability: float) -> RiskBand:
        """The band for a probability in [0, 1]."""
        if probability >= self.high_from:
            return RiskBand.HIGH
        if probability >= self.intermediate_from:
            return RiskBand.INTERMEDIATE
        return RiskBand.LOW


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


def risk_band(task: str, probability: float) -> RiskBand:
    """The clinical band of ``probability`` (0–1) for the task called ``task`` — the one place a
    band is worked out (the API, the worklist, the exports and the model output all call it)."""
    return get_task(task).band(probability)


def task_names() -> tuple[str, ...]:
    """All task names in head order."""
    return tuple(t.name for t in TASKS)
