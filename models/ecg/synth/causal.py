"""The documented causal model that turns synthetic concepts into risk probabilities and labels.

For each task the probability is logistic in a few *standardised* concepts (plus sex and age):

    logit p = intercept + Σ_j weight_j · (value_j − centre_j) / scale_j
    p = 1 / (1 + exp(−logit)),   label ~ Bernoulli(p)

Binary concepts enter as 0/1 (centre 0, scale 1); ``female`` is 1 for women, 0 for men. Because
labels are drawn from ``p`` and nothing else, ``p`` is the Bayes-optimal risk, and the exact effect
of an intervention is ``p`` recomputed after changing one concept (and re-deriving the concepts
computed from it, :func:`models.concepts.rederive`) — see :meth:`CausalRiskModel.intervene`.

``full`` (the default) follows the clinical literature: LQTS risk rises with QTc (Fridericia),
Tpeak-Tend, notched T (LQT2), broad-based / late-onset T (LQT1 / LQT3), alternans and low T
amplitude, is higher in women and in the young (congenital LQTS presents early). Drug-induced TdP
risk weighs J-Tpeak_c and Tpeak-Tend besides QTc: pure hERG block prolongs J-Tpeak_c and carries
the risk, while multichannel block (late-Na⁺/Ca²⁺, e.g. ranolazine, verapamil) prolongs QTc
through Tpeak-Tend with J-Tpeak_c unchanged and carries little risk (Johannesen L et al., Clin
Pharmacol Ther 96:549, 2014); alternans, notching, labile QTc, U waves, female sex (Makkar RR et
al., JAMA 270:2590, 1993) and age add to it.

Coefficients (weight per ``scale`` unit above ``centre``; binary and ``female`` per 1):

=====================  ============  =====================  =====================
term                   centre/scale  lqts_risk              tdp_risk
=====================  ============  =====================  =====================
intercept                            −1.9                   −2.2
qtc_fridericia (ms)    440 / 30      +1.8                   +0.3
jtpeak_c (ms)          240 / 30                             +1.5
tpeak_tend (ms)        95 / 20       +0.5                   +0.3
t_amplitude_ii (mV)    0.3 / 0.15    −0.4                   −0.4
qtc_variability (ms)   8 / 5                                +0.4
t_notched                            +1.0                   +0.6
t_broad_based                        +0.6
t_late_onset                         +0.6
t_alternans                          +1.2                   +1.5
u_wave                                                      +0.5
female                               +0.4                   +0.6
age_years              50 / 15       −0.3                   +0.5
=====================  ============  =====================  =====================

``qtc_only``: ``lqts_risk`` logit = −1.35 + 2.5·(QTc − 440)/30, ``tdp_risk`` logit =
−1.6 + 2.0·(QTc − 440)/30.

``qtc_only`` makes both labels depend on QTc (Fridericia) alone — the control data set on which an
explanation method must attribute everything to QTc.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from models.concepts import Sex, is_concept, with_typed_value
from models.tasks import task_names

#: Side inputs a term may use besides the registry concepts.
SIDE_INPUTS: tuple[str, ...] = ("female", "age_years")

LabelModel = Literal["full", "qtc_only"]


@dataclass(frozen=True)
class LogisticTerm:
    """One term ``weight · (value − centre) / scale`` of a logit.

    Attributes:
        name: a registry concept or one of :data:`SIDE_INPUTS`.
        weight: log-odds per scale unit.
        centre, scale: standardisation, in the concept's unit.
    """

    name: str
    weight: float
    centre: float = 0.0
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not (is_concept(self.name) or self.name in SIDE_INPUTS):
            raise ValueError(
                f"{self.name!r} is neither a registry concept nor one of {SIDE_INPUTS}"
            )
        if self.scale <= 0:
            raise ValueError(f"scale of {self.name!r} must be > 0, got {self.scale}")


@dataclass(frozen=True)
class RiskEquation:
    """``logit p = intercept + Σ terms`` for one task."""

    task: str
    intercept: float
    terms: tuple[LogisticTerm, ...]

    @property
    def weights(self) -> np.ndarray:
        """The term weights, in term order."""
        return np.array([t.weight for t in self.terms])

    def standardised(
        self, values: Mapping[str, float], sex: Sex | None, age_years: float | None
    ) -> np.ndarray:
        """The standardised term inputs ``(value − centre) / scale`` of one record."""
        row = []
        for term in self.terms:
            row.append((_input_value(term.name, values, sex, age_years) - term.centre) / term.scale)
        return np.array(row)

    def design_matrix(
        self,
        concepts: np.ndarray,
        concept_order: Sequence[str],
        female: np.ndarray,
        age_years: np.ndarray,
    ) -> np.ndarray:
        """Standardised inputs ``[n, n_terms]`` of many records (``concepts [n, n_concepts]``)."""
        columns = []
        for term in self.terms:
            if term.name == "female":
                raw = np.asarray(female, dtype=np.float64)
            elif term.name == "age_years":
                raw = np.asarray(age_years, dtype=np.float64)
            else:
                raw = np.asarray(concepts, dtype=np.float64)[
                    :, list(concept_order).index(term.name)
                ]
            columns.append((raw - term.centre) / term.scale)
        return np.stack(columns, axis=1)

    def probability(
        self, values: Mapping[str, float], sex: Sex | None, age_years: float | None
    ) -> float:
        """``p`` for one record."""
        logit = self.intercept + float(self.standardised(values, sex, age_years) @ self.weights)
        return float(1.0 / (1.0 + np.exp(-logit)))


def _input_value(
    name: str, values: Mapping[str, float], sex: Sex | None, age_years: float | None
) -> float:
    if name == "female":
        if sex is None:
            raise ValueError("the causal model needs the sex of the record")
        return 1.0 if sex == "female" else 0.0
    if name == "age_years":
        if age_years is None:
            raise ValueError("the causal model needs the age of the record")
        return float(age_years)
    value = values.get(name)
    if value is None:
        raise ValueError(f"the causal model needs concept {name!r}")
    return float(value)


def _full_equations() -> tuple[RiskEquation, ...]:
    qtc = ("qtc_fridericia", 440.0, 30.0)
    tpte = ("tpeak_tend", 95.0, 20.0)
    t_amp = ("t_amplitude_ii", 0.3, 0.15)
    age = ("age_years", 50.0, 15.0)
    lqts = RiskEquation(
        "lqts_risk",
        intercept=-1.9,
        terms=(
            LogisticTerm(qtc[0], 1.8, qtc[1], qtc[2]),
            LogisticTerm(tpte[0], 0.5, tpte[1], tpte[2]),
            LogisticTerm(t_amp[0], -0.4, t_amp[1], t_amp[2]),
            LogisticTerm("t_notched", 1.0),
            LogisticTerm("t_broad_based", 0.6),
            LogisticTerm("t_late_onset", 0.6),
            LogisticTerm("t_alternans", 1.2),
            LogisticTerm("female", 0.4),
            LogisticTerm(age[0], -0.3, age[1], age[2]),
        ),
    )
    tdp = RiskEquation(
        "tdp_risk",
        intercept=-2.2,
        terms=(
            LogisticTerm(qtc[0], 0.3, qtc[1], qtc[2]),
            LogisticTerm("jtpeak_c", 1.5, 240.0, 30.0),
            LogisticTerm(tpte[0], 0.3, tpte[1], tpte[2]),
            LogisticTerm(t_amp[0], -0.4, t_amp[1], t_amp[2]),
            LogisticTerm("qtc_variability", 0.4, 8.0, 5.0),
            LogisticTerm("t_notched", 0.6),
            LogisticTerm("t_alternans", 1.5),
            LogisticTerm("u_wave", 0.5),
            LogisticTerm("female", 0.6),
            LogisticTerm(age[0], 0.5, age[1], age[2]),
        ),
    )
    return lqts, tdp


def _qtc_only_equations() -> tuple[RiskEquation, ...]:
    return (
        RiskEquation("lqts_risk", -1.35, (LogisticTerm("qtc_fridericia", 2.5, 440.0, 30.0),)),
        RiskEquation("tdp_risk", -1.6, (LogisticTerm("qtc_fridericia", 2.0, 440.0, 30.0),)),
    )


@dataclass(frozen=True)
class CausalRiskModel:
    """The generator's ground-truth risk: one :class:`RiskEquation` per task (models.tasks order).

    Build it with :meth:`full` or :meth:`qtc_only` (or pass your own equations).
    """

    equations: tuple[RiskEquation, ...]
    name: str = field(default="custom")

    def __post_init__(self) -> None:
        tasks = tuple(e.task for e in self.equations)
        if tasks != task_names():
            raise ValueError(f"equations must cover tasks {task_names()} in order, got {tasks}")

    @classmethod
    def full(cls) -> CausalRiskModel:
        """The literature-shaped model (see module docstring)."""
        return cls(_full_equations(), name="full")

    @classmethod
    def qtc_only(cls) -> CausalRiskModel:
        """Both labels depend on QTc (Fridericia) only."""
        return cls(_qtc_only_equations(), name="qtc_only")

    @classmethod
    def named(cls, label_model: LabelModel) -> CausalRiskModel:
        """``"full"`` or ``"qtc_only"``."""
        if label_model == "full":
            return cls.full()
        if label_model == "qtc_only":
            return cls.qtc_only()
        raise ValueError(f"unknown label model {label_model!r}; use 'full' or 'qtc_only'")

    def equation(self, task: str) -> RiskEquation:
        """The equation of ``task``."""
        for equation in self.equations:
            if equation.task == task:
                return equation
        raise KeyError(f"unknown task {task!r}; known: {', '.join(task_names())}")

    def probabilities(
        self, values: Mapping[str, float], sex: Sex | None, age_years: float | None
    ) -> dict[str, float]:
        """The Bayes-optimal probability of every task for one record."""
        return {e.task: e.probability(values, sex, age_years) for e in self.equations}

    def intervene(
        self,
        values: Mapping[str, float],
        sex: Sex | None,
        age_years: float | None,
        concept: str,
        new_value: float,
    ) -> dict[str, tuple[float, float]]:
        """The exact effect of setting ``concept`` to ``new_value``: ``{task: (before, after)}``.

        Concepts derived from ``concept`` (e.g. every QTc after a QT change) are re-derived; a
        derived concept set directly (a QTc) back-solves its primary input (QT from the RR in
        force), as a clinician's typed value does (:func:`models.concepts.with_typed_value`).
        """
        after = with_typed_value(values, sex, concept, new_value)
        before = self.probabilities(values, sex, age_years)
        now = self.probabilities(after, sex, age_years)  # type: ignore[arg-type]
        return {task: (before[task], now[task]) for task in before}
