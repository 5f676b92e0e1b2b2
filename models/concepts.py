"""The concept registry: the single source of truth for every expert ECG concept in QTLens.

Each :class:`Concept` states its name, label, unit, kind (continuous or binary), normal range,
clinical thresholds, physiological plausibility bounds, how it is measured, references and —
for concepts computed from others (QTc formulas, heart rate, ``qtc_prolonged``) — the derivation.
The order of :data:`REGISTRY` is the order of the bottleneck of every concept model.
Nothing else in QTLens keeps its own list of concept names, units or ranges: the API, the
frontend, the model, the exports and the measurement code all read them from here.

**Primary concepts are the truth; formulas are views.** The *primary* concepts (RR, PR, QRS, QT,
J-Tpeak, Tpeak-Tend, T morphology, …) are independent; every derived one (heart rate, each QTc,
J-Tpeak_c, ``qtc_prolonged``) is always recomputed from the primary values in force, so the task
heads — which may read derived columns — are functions of the primary concepts alone. A clinician
may still type a derived value: its ``inverse`` (next to ``derive``) back-solves the primary input
(a QTc → QT with the RR in force and that formula; J-Tpeak_c → J-Tpeak; heart rate → RR), so every
view and every risk moves the same way whichever field was typed. ``qtc_prolonged`` has no
inverse: it is never an input. :data:`JOINT_LIMITS` and the derived concepts' plausible ranges
reject combinations outside physiology (:func:`implausible_combinations`).

References (cited per concept below):
    * Bazett HC. Heart 7:353-370 (1920).
    * Fridericia LS. Acta Med Scand 53:469-486 (1920).
    * Sagie A et al. (Framingham). Am J Cardiol 70:797-801 (1992).
    * Hodges M et al. J Am Coll Cardiol 1:694 (1983).
    * Rautaharju PM et al. AHA/ACCF/HRS recommendations, Part IV: ST segment, T and U waves, and
      the QT interval. Circulation 119:e241-e250 (2009).
    * Schwartz PJ, Crotti L. QTc behavior during exercise and genetic testing for the long-QT
      syndrome. Circulation 124:2181-2184 (2011) (Schwartz score, notched T, alternans).
    * Johannesen L et al. Clin Pharmacol Ther 96:549-558 (2014) (J-Tpeak_c, Tpeak-Tend).
    * Moss AJ et al. ECG T-wave patterns in genetically distinct forms of the hereditary long QT
      syndrome. Circulation 92:2929-2934 (1995).
    * Andersen MP et al. A robust method for quantification of IKr-related T-wave morphology
      abnormalities. Computers in Cardiology 34:341-344 (2007) (asymmetry, flatness, notch).
    * Priori SG et al. 2015 ESC Guidelines for ventricular arrhythmias. Eur Heart J 36:2793 (2015).
    * Gupta P et al. Tpeak-Tend as a predictor of arrhythmogenesis. J Electrocardiol 41:567 (2008).
    * Kligfield P et al. Comparison of automated interval measurements by widely used algorithms
      in digital electrocardiographs. J Electrocardiol 47:441-447 (2014) (measurement SDs).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from models.ecg import concept_measures as measures
from models.ecg.concept_measures import MeasureFunction

Sex = Literal["female", "male"]


class ConceptKind(str, Enum):
    """Whether a concept is a number with a unit or a yes/no finding."""

    CONTINUOUS = "continuous"
    BINARY = "binary"


class FlagLevel(str, Enum):
    """How far a value is from normal, in increasing severity."""

    NORMAL = "normal"
    BORDERLINE = "borderline"
    ABNORMAL = "abnormal"
    CRITICAL = "critical"

    @property
    def severity(self) -> int:
        """0 (normal) … 3 (critical), for ordering flags."""
        return list(FlagLevel).index(self)


@dataclass(frozen=True)
class Threshold:
    """A clinical cut-off: crossing ``value`` in ``direction`` raises the flag to ``level``.

    ``sex`` restricts the threshold to one sex (``None`` = everyone; when a record's sex is
    unknown, sex-specific thresholds of *both* sexes apply and the more sensitive one wins).
    ``inclusive``: ``value`` itself crosses it (≥ / ≤, as a criterion worded "≥ 480 ms");
    otherwise only beyond it (> / <).
    """

    value: float
    level: FlagLevel
    direction: Literal["above", "below"] = "above"
    sex: Sex | None = None
    note: str = ""
    inclusive: bool = False

    def crossed_by(self, value: float, sex: Sex | None) -> bool:
        """Whether ``value`` crosses this threshold for a patient of ``sex``."""
        if self.sex is not None and sex is not None and self.sex != sex:
            return False
        if value == self.value:
            return self.inclusive
        return value > self.value if self.direction == "above" else value < self.value


@dataclass(frozen=True)
class Flag:
    """The result of comparing a value with a concept's thresholds."""

    level: FlagLevel
    note: str = ""

    @property
    def out_of_range(self) -> bool:
        """True for anything but normal."""
        return self.level is not FlagLevel.NORMAL


Derivation = Callable[[Mapping[str, float], "Sex | None"], float]
#: ``inverse(values, derived_value) -> primary value``: the primary input that makes the derived
#: concept equal ``derived_value`` given the other inputs in force (elementwise, like ``derive``).
Inverse = Callable[[Mapping[str, float], float], float]


@dataclass(frozen=True)
class Concept:
    """One expert ECG concept.

    Attributes:
        name: stable identifier (``qtc_fridericia``), used in the API, exports and bundles.
        label: what a cardiologist reads on screen.
        unit: ``"ms"``, ``"mV"``, ``"bpm"``, ``"a.u."`` or ``""`` for binary findings.
        kind: continuous (regressed) or binary (classified, value 0/1 with a probability).
        description: what it is and why it matters for LQTS / TdP.
        how_measured: the measurement rule applied on the signal.
        normal_low, normal_high: usual normal range (``None`` = open end); binary: normal is 0.
        thresholds: clinical cut-offs that raise a flag.
        plausible_low, plausible_high: physiological bounds; a value outside is rejected as an
            input error (never clipped silently).
        derived_from: names of the concepts this one is computed from (empty = measured).
        sex_specific: ``derive`` reads ``sex`` (so batched code evaluates it per sex).
        derive: the formula for a derived concept: ``derive(values, sex) -> value``. It must be
            elementwise arithmetic (``+ - * / **``, comparisons) with no ``math.*`` call or
            ``float()``, so the same formula serves floats here, numpy arrays and the batched
            torch tensors inside the concept models (``models/nets/bottleneck.py``).
        solves: for a derived concept a clinician may type, the primary concept its value is
            back-solved into (``qt`` for every QTc, ``jtpeak`` for J-Tpeak_c, ``rr`` for the
            heart rate); ``None`` = never an input (``qtc_prolonged``).
        inverse: the back-solving formula, next to ``derive`` and under the same elementwise
            rule: ``inverse(values, typed) -> value of solves`` with the other inputs in force.
        checkable: a clinician can check it with calipers or by eye on a 10-s strip (so "check
            next" may propose it). A derived concept never is, whatever this says
            (:attr:`can_be_checked`): its inputs are checked instead.
        lead: the lead it is read in, when only one (a record without that lead cannot have it
            checked).
        measure: for a measured concept, the function computing it from an analysed record
            (:mod:`models.ecg.concept_measures`): value in ``unit`` or ``Unavailable(reason)``.
        rate_corrected: corrects for heart rate with the RR interval, so it is unavailable when
            the rhythm is too irregular for one RR to stand for the rate (atrial fibrillation).
        references: literature that defines the measure or its thresholds.
        decimals: digits shown in the UI.
        qt_definition: for a QT or a concept computed from it, which QT: ``"global"`` (CSE:
            earliest QRS onset → latest T end over the leads, as the ECGRDVQ table's vector-
            magnitude QT) or ``"lead"`` (one lead, II or V5, as the LQTS criteria); ``None``
            for every other concept.
        range_at_60_bpm: the usual range holds at 60 bpm only: a rate-dependent raw interval
            (QT, J-Tpeak) whose rate-corrected view carries the range flag. Shown as "… at
            60 bpm"; the raw interval is flagged by its own clinical cut-offs alone (QT > 500 ms
            at any rate), so a QT of 330 ms at 110 bpm is not called short.
        measurement_sd: SD (in ``unit``) of the signal pipeline's measurement error, stated from the spread between validated automated algorithms
            (Kligfield 2014 for intervals); with the model's predicted SD it sets how far the
            model and the measurement may differ before they are said to disagree
            (:mod:`models.disagreement`); binary findings on their 0–1 scale. ``None``: never
            flagged.
    """

    name: str
    label: str
    unit: str
    kind: ConceptKind
    description: str
    how_measured: str
    normal_low: float | None = None
    normal_high: float | None = None
    thresholds: tuple[Threshold, ...] = ()
    plausible_low: float = -math.inf
    plausible_high: float = math.inf
    derived_from: tuple[str, ...] = ()
    sex_specific: bool = False
    derive: Derivation | None = field(default=None, compare=False, repr=False)
    measure: MeasureFunction | None = field(default=None, compare=False, repr=False)
    solves: str | None = None
    inverse: Inverse | None = field(default=None, compare=False, repr=False)
    checkable: bool = True
    lead: str | None = None
    rate_corrected: bool = False
    references: tuple[str, ...] = ()
    decimals: int = 0
    qt_definition: Literal["global", "lead"] | None = None
    measurement_sd: float | None = None
    range_at_60_bpm: bool = False

    def __post_init__(self) -> None:
        if (self.solves is None) != (self.inverse is None):
            raise ValueError(f"{self.name}: give both solves and inverse, or neither")
        if self.solves is not None and self.solves not in self.derived_from:
            raise ValueError(f"{self.name} back-solves {self.solves}, not one of its inputs")

    @property
    def is_binary(self) -> bool:
        """True for yes/no findings."""
        return self.kind is ConceptKind.BINARY

    @property
    def is_derived(self) -> bool:
        """True when computed from other concepts rather than measured directly."""
        return bool(self.derived_from)

    @property
    def is_primary(self) -> bool:
        """True for the independent concepts the task heads are a function of."""
        return not self.is_derived

    @property
    def can_be_checked(self) -> bool:
        """"Check next" may propose it: checkable on a strip and not derived."""
        return self.checkable and not self.is_derived

    @property
    def can_be_typed(self) -> bool:
        """A clinician may give its value: primary, or derived with a back-solving inverse."""
        return self.is_primary or self.inverse is not None

    def is_plausible(self, value: float) -> bool:
        """Whether ``value`` lies in the physiological range (binary: exactly 0 or 1)."""
        if not math.isfinite(value):
            return False
        if self.is_binary:
            return value in (0.0, 1.0)
        return self.plausible_low <= value <= self.plausible_high

    def normal_bounds(self, sex: Sex | None = None) -> tuple[float | None, float | None]:
        """The usual range for a patient of ``sex`` (``None`` = open end), in ``unit``.

        On a side with clinical cut-offs, the bound is the mildest cut-off that applies (QTc:
        450 ms for men, 460 for women, 450 when sex is unknown; heart rate: 50 bpm, the AHA
        bradycardia limit, not the textbook 60), so a value inside the range shown is never
        flagged and one outside it always is. A side without cut-offs keeps the registry's
        range. A range that holds at 60 bpm only (:attr:`range_at_60_bpm`) is the registry's as
        it stands. Binary findings: ``(None, None)`` (normal is 0).
        """
        if self.is_binary:
            return None, None
        if self.range_at_60_bpm:
            return self.normal_low, self.normal_high
        bounds = {"below": self.normal_low, "above": self.normal_high}
        for direction in bounds:
            cut_offs = [
                t.value for t in self.thresholds
                if t.direction == direction and (t.sex is None or sex is None or t.sex == sex)
            ]
            if cut_offs:
                bounds[direction] = max(cut_offs) if direction == "below" else min(cut_offs)
        return bounds["below"], bounds["above"]

    def flag(self, value: float | None, sex: Sex | None = None) -> Flag:
        """The most severe threshold ``value`` crosses; borderline when it crosses none but lies
        outside :meth:`normal_bounds` (a side without clinical cut-offs, e.g. T flatness 0.9;
        never for a range that holds at 60 bpm only); normal otherwise, or when the value is
        unknown."""
        if value is None or not math.isfinite(value):
            return Flag(FlagLevel.NORMAL)
        crossed = [t for t in self.thresholds if t.crossed_by(value, sex)]
        if crossed:
            worst = max(crossed, key=lambda t: t.level.severity)
            return Flag(worst.level, worst.note)
        if self.range_at_60_bpm:
            return Flag(FlagLevel.NORMAL)
        low, high = self.normal_bounds(sex)
        side = ("below" if low is not None and value < low
                else "above" if high is not None and value > high else None)
        return Flag(FlagLevel.NORMAL) if side is None else Flag(
            FlagLevel.BORDERLINE, f"{side} the usual range")

    def normal_range_text(self, sex: Sex | None = None) -> str:
        """Human-readable usual range (:meth:`normal_bounds`), e.g. ``"120–200 ms"`` or
        ``"absent"``."""
        if self.is_binary:
            return "absent"
        low, high = self.normal_bounds(sex)
        unit = f" {self.unit}" if self.unit else ""
        if self.range_at_60_bpm:
            unit += " at 60 bpm"
        if low is not None and high is not None:
            return f"{low:g}–{high:g}{unit}"
        if high is not None:
            return f"≤ {high:g}{unit}"
        if low is not None:
            return f"≥ {low:g}{unit}"
        return "—"


def _rr_s(values: Mapping[str, float]) -> float:
    return values["rr"] / 1000.0


def qtc_fridericia_threshold_ms(sex: Sex | None) -> float:
    """Upper normal QTc (Fridericia) in ms: 450 for men, 460 for women, 450 when sex is unknown.

    Rautaharju et al., Circulation 2009. The lower (male) bound is used when sex is unknown so
    that ``qtc_prolonged`` errs on the sensitive side.
    """
    return 460.0 if sex == "female" else 450.0


def _qtc_thresholds(schwartz: bool) -> tuple[Threshold, ...]:
    """The QTc cut-offs; the 480 ms one names the Schwartz score only on the formula the score
    counts (Bazett's, ``schwartz``)."""
    marked = ("≥ 480 ms scores 3 points in the Schwartz LQTS score" if schwartz
              else "≥ 480 ms: markedly prolonged (the Schwartz LQTS score counts Bazett's QTc)")
    return (
        Threshold(450, FlagLevel.BORDERLINE, sex="male", note="above the upper normal limit for men"),
        Threshold(460, FlagLevel.BORDERLINE, sex="female",
                  note="above the upper normal limit for women"),
        Threshold(480, FlagLevel.ABNORMAL, note=marked, inclusive=True),
        Threshold(500, FlagLevel.CRITICAL, note="> 500 ms: high risk of Torsade de Pointes"),
        Threshold(340, FlagLevel.ABNORMAL, direction="below", note="short QT"),
    )


_REF_QTC = (
    "Rautaharju PM et al. Circulation 119:e241 (2009)",
    "Priori SG et al. Eur Heart J 36:2793 (2015)",
)
#: No QTc outside these bounds has been recorded in a living patient (above 700 ms: an
#: input error, e.g. a QT measured on a 200 ms RR).
_PLAUSIBLE_QTC = (200.0, 700.0)
#: A yes/no finding read on the median beat, on its 0–1 scale: with the model's Bernoulli SD it
#: flags only a model more than 90 % sure of the opposite of the measurement.
_FINDING_MEASUREMENT_SD = 0.35
#: QT measured by validated automated algorithms differs by about 10–15 ms (SD) between them
#: (Kligfield P et al. J Electrocardiol 47:441 (2014)); a QTc adds the RR's share.
_QTC_MEASUREMENT_SD_MS = 14.0


def _qtc(
    name: str,
    label: str,
    formula_text: str,
    derive: Derivation,
    inverse: Inverse,
    reference: str,
    schwartz: bool = False,
) -> Concept:
    """Every QTc formula shares inputs, thresholds and bounds; only the correction (and its
    inverse, which back-solves QT from a typed QTc and the RR in force) differs, and the note of
    the 480 ms cut-off, which names the Schwartz score on Bazett's (``schwartz``) alone."""
    return Concept(
        name=name,
        label=label,
        unit="ms",
        kind=ConceptKind.CONTINUOUS,
        description=f"QT corrected for heart rate by {formula_text}.",
        how_measured=f"{formula_text} from the measured QT and median RR.",
        normal_low=350,
        normal_high=450,
        thresholds=_qtc_thresholds(schwartz),
        plausible_low=_PLAUSIBLE_QTC[0],
        plausible_high=_PLAUSIBLE_QTC[1],
        derived_from=("qt", "rr"),
        derive=derive,
        solves="qt",
        inverse=inverse,
        checkable=False,
        rate_corrected=True,
        references=(reference, *_REF_QTC),
        qt_definition="global",
        measurement_sd=_QTC_MEASUREMENT_SD_MS,
    )


REGISTRY: tuple[Concept, ...] = (
    Concept(
        name="heart_rate",
        measurement_sd=2.0,
        label="Heart rate",
        unit="bpm",
        kind=ConceptKind.CONTINUOUS,
        description="Ventricular rate. Bradycardia unmasks QT prolongation and pause-dependent TdP.",
        how_measured="60000 / median RR interval (ms).",
        normal_low=60,
        normal_high=100,
        thresholds=(  # the RR interval's flags, read as a rate (60000 / ms)
            Threshold(100, FlagLevel.BORDERLINE, note="tachycardia"),
            Threshold(120, FlagLevel.ABNORMAL, note="marked tachycardia"),
            Threshold(200, FlagLevel.CRITICAL, note="rate above 200 bpm"),
            Threshold(50, FlagLevel.BORDERLINE, direction="below", note="bradycardia"),
            Threshold(40, FlagLevel.ABNORMAL, direction="below", note="marked bradycardia"),
        ),
        plausible_low=20,
        plausible_high=300,
        derived_from=("rr",),
        derive=lambda v, sex: 60000.0 / v["rr"],
        solves="rr",
        inverse=lambda v, hr: 60000.0 / hr,
        checkable=False,
        references=("Rautaharju PM et al. Circulation 119:e241 (2009)",),
    ),
    Concept(
        name="rr",
        measurement_sd=10.0,
        measure=measures.measure_rr,
        label="RR interval",
        unit="ms",
        kind=ConceptKind.CONTINUOUS,
        description="Median interval between consecutive R peaks; the rate every QTc corrects for.",
        how_measured="Median of R-R intervals of normal beats over the record.",
        normal_low=600,
        normal_high=1000,
        thresholds=(  # the heart-rate flags, read as RR (60000 / bpm)
            Threshold(600, FlagLevel.BORDERLINE, direction="below", note="tachycardia"),
            Threshold(500, FlagLevel.ABNORMAL, direction="below", note="marked tachycardia"),
            Threshold(1200, FlagLevel.BORDERLINE, note="bradycardia"),
            Threshold(1500, FlagLevel.ABNORMAL, note="marked bradycardia"),
            Threshold(300, FlagLevel.CRITICAL, direction="below", note="rate above 200 bpm"),
        ),
        plausible_low=200,
        plausible_high=3000,
        references=("Rautaharju PM et al. Circulation 119:e241 (2009)",),
    ),
    Concept(
        name="pr",
        measurement_sd=10.0,
        measure=measures.measure_pr,
        label="PR interval",
        unit="ms",
        kind=ConceptKind.CONTINUOUS,
        description="Atrioventricular conduction time.",
        how_measured="P onset → global QRS onset on the median beat.",
        normal_low=120,
        normal_high=200,
        thresholds=(
            Threshold(200, FlagLevel.BORDERLINE, note="first-degree AV block"),
            Threshold(120, FlagLevel.BORDERLINE, direction="below", note="short PR"),
        ),
        plausible_low=40,
        plausible_high=500,
        references=("Rautaharju PM et al. Circulation 119:e241 (2009)",),
    ),
    Concept(
        name="qrs",
        measurement_sd=8.0,
        measure=measures.measure_qrs,
        label="QRS duration",
        unit="ms",
        kind=ConceptKind.CONTINUOUS,
        description="Ventricular depolarisation time. A wide QRS lengthens QT without "
        "prolonging repolarisation, so QT is less interpretable when QRS ≥ 120 ms.",
        how_measured="Global QRS onset → global QRS offset across all leads on the median beat.",
        normal_low=70,
        normal_high=110,
        thresholds=(
            Threshold(110, FlagLevel.BORDERLINE, note="incomplete conduction delay"),
            # Inclusive: QT is declined from this QRS on (a QRS of 120 ms was flagged
            # "incomplete conduction delay" beside "QT unavailable: QRS ≥ 120 ms").
            Threshold(measures.WIDE_QRS_MS, FlagLevel.ABNORMAL, inclusive=True,
                      note="wide QRS: QT less interpretable"),
        ),
        plausible_low=40,
        plausible_high=250,
        references=("Surawicz B et al. Circulation 119:e235 (2009)",),
    ),
    Concept(
        name="qt",
        measurement_sd=12.0,
        measure=measures.measure_qt,
        label="QT interval",
        unit="ms",
        kind=ConceptKind.CONTINUOUS,
        description="Global QRS onset to the end of the T wave: total ventricular "
        "depolarisation and repolarisation time.",
        how_measured="Global QT (CSE definition) on the median beat: the earliest QRS onset over the "
        "leads (multi-lead spatial velocity) → the latest T end over the leads (each lead's "
        "tangent to the isoelectric level; at most 30 ms after the third-latest, so one or two "
        "noisy leads cannot carry it further). Low-confidence when the T end rests on ≤ 2 "
        "leads, when QTcF is outside 300–650 ms, or when ≥ 3 leads end their T wave more than "
        "80 ms before the leads the T end follows (a U wave or a biphasic T's second lobe). "
        "Unavailable when QRS ≥ 120 ms. The lead QT (II or V5) is reported beside it.",
        normal_low=350,
        normal_high=440,
        range_at_60_bpm=True,
        thresholds=(
            Threshold(500, FlagLevel.CRITICAL,
                      note="QT > 500 ms: high risk of Torsade de Pointes at any rate"),
        ),
        plausible_low=150,
        plausible_high=800,
        references=(
            "Postema PG, Wilde AAM. The measurement of the QT interval. Curr Cardiol Rev 10:287 (2014)",
            ("The CSE Working Party. Recommendations for measurement standards in quantitative "
            "electrocardiography. Eur Heart J 6:815 (1985)"),
        ),
        qt_definition="global",
    ),
    _qtc(
        "qtc_bazett",
        "QTc (Bazett)",
        "Bazett's formula QT / √RR(s)",
        lambda v, sex: v["qt"] / _rr_s(v) ** 0.5,
        lambda v, qtc: qtc * _rr_s(v) ** 0.5,
        "Bazett HC. Heart 7:353 (1920)",
        schwartz=True,
    ),
    _qtc(
        "qtc_fridericia",
        "QTc (Fridericia)",
        "Fridericia's formula QT / ∛RR(s)",
        lambda v, sex: v["qt"] / _rr_s(v) ** (1.0 / 3.0),
        lambda v, qtc: qtc * _rr_s(v) ** (1.0 / 3.0),
        "Fridericia LS. Acta Med Scand 53:469 (1920)",
    ),
    _qtc(
        "qtc_framingham",
        "QTc (Framingham)",
        "the Framingham formula QT + 154 × (1 − RR(s))",
        lambda v, sex: v["qt"] + 154.0 * (1.0 - _rr_s(v)),
        lambda v, qtc: qtc - 154.0 * (1.0 - _rr_s(v)),
        "Sagie A et al. Am J Cardiol 70:797 (1992)",
    ),
    _qtc(
        "qtc_hodges",
        "QTc (Hodges)",
        "Hodges' formula QT + 1.75 × (HR − 60)",
        lambda v, sex: v["qt"] + 1.75 * (60000.0 / v["rr"] - 60.0),
        lambda v, qtc: qtc - 1.75 * (60000.0 / v["rr"] - 60.0),
        "Hodges M et al. J Am Coll Cardiol 1:694 (1983)",
    ),
    Concept(
        name="jtpeak",
        measurement_sd=12.0,
        measure=measures.measure_jtpeak,
        label="J-Tpeak",
        unit="ms",
        kind=ConceptKind.CONTINUOUS,
        description="Early repolarisation: J point (QRS offset) to the peak of the T wave.",
        how_measured="Global QRS offset → T peak on the vector-magnitude median beat.",
        normal_low=170,
        normal_high=260,
        range_at_60_bpm=True,
        plausible_low=50,
        plausible_high=600,
        references=("Johannesen L et al. Clin Pharmacol Ther 96:549 (2014)",),
    ),
    Concept(
        name="jtpeak_c",
        measurement_sd=14.0,
        label="J-Tpeak corrected",
        unit="ms",
        kind=ConceptKind.CONTINUOUS,
        description="Heart-rate corrected J-Tpeak. Pure hERG block prolongs it; added late "
        "sodium or calcium block (ranolazine, verapamil) keeps it short — the drug signal "
        "that separates high from low TdP risk.",
        how_measured="J-Tpeak / RR(s)^0.58 (Johannesen 2014).",
        normal_low=170,
        normal_high=260,
        thresholds=(Threshold(280, FlagLevel.BORDERLINE, note="prolonged early repolarisation"),),
        plausible_low=50,
        plausible_high=600,
        derived_from=("jtpeak", "rr"),
        derive=lambda v, sex: v["jtpeak"] / _rr_s(v) ** 0.58,
        solves="jtpeak",
        inverse=lambda v, jtpc: jtpc * _rr_s(v) ** 0.58,
        checkable=False,
        rate_corrected=True,
        references=("Johannesen L et al. Clin Pharmacol Ther 96:549 (2014)",),
    ),
    Concept(
        name="tpeak_tend",
        measurement_sd=10.0,
        measure=measures.measure_tpeak_tend,
        label="Tpeak-Tend",
        unit="ms",
        kind=ConceptKind.CONTINUOUS,
        description="Late repolarisation: T peak to T end, a marker of transmural dispersion "
        "of repolarisation and of arrhythmic risk.",
        how_measured="T peak of the vector-magnitude median beat → global T end (tangent "
        "method).",
        normal_low=60,
        normal_high=110,
        thresholds=(
            Threshold(110, FlagLevel.BORDERLINE, note="prolonged Tpeak-Tend"),
            Threshold(120, FlagLevel.ABNORMAL, note="markedly prolonged Tpeak-Tend"),
        ),
        plausible_low=20,
        plausible_high=350,
        references=(
            "Gupta P et al. J Electrocardiol 41:567 (2008)",
            "Johannesen L et al. Clin Pharmacol Ther 96:549 (2014)",
        ),
    ),
    Concept(
        name="t_amplitude_ii",
        measurement_sd=0.03,
        measure=measures.measure_t_amplitude_ii,
        label="T amplitude (II)",
        unit="mV",
        kind=ConceptKind.CONTINUOUS,
        description="T-wave peak amplitude in lead II relative to the isoelectric (PR) level. "
        "hERG block lowers and flattens T.",
        how_measured="T peak minus isoelectric level on the lead II median beat.",
        lead="II",
        normal_low=0.1,
        normal_high=0.8,
        thresholds=(
            Threshold(0.1, FlagLevel.BORDERLINE, direction="below", note="flat T wave"),
            Threshold(measures.T_INVERTED_MV, FlagLevel.ABNORMAL, direction="below",
                      note="inverted T wave"),
        ),
        plausible_low=-3.0,
        plausible_high=3.0,
        references=("Rautaharju PM et al. Circulation 119:e241 (2009)",),
        decimals=2,
    ),
    Concept(
        name="t_amplitude_v5",
        measurement_sd=0.03,
        measure=measures.measure_t_amplitude_v5,
        label="T amplitude (V5)",
        unit="mV",
        kind=ConceptKind.CONTINUOUS,
        description="T-wave peak amplitude in lead V5 relative to the isoelectric level.",
        how_measured="T peak minus isoelectric level on the V5 median beat.",
        lead="V5",
        normal_low=0.1,
        normal_high=1.0,
        thresholds=(
            Threshold(0.1, FlagLevel.BORDERLINE, direction="below", note="flat T wave"),
            Threshold(measures.T_INVERTED_MV, FlagLevel.ABNORMAL, direction="below",
                      note="inverted T wave"),
        ),
        plausible_low=-3.0,
        plausible_high=3.0,
        references=("Rautaharju PM et al. Circulation 119:e241 (2009)",),
        decimals=2,
    ),
    Concept(
        name="t_asymmetry",
        measurement_sd=0.08,
        measure=measures.measure_t_asymmetry,
        label="T asymmetry",
        unit="a.u.",
        kind=ConceptKind.CONTINUOUS,
        description="Imbalance between the ascending and descending limbs of the T wave; "
        "IKr (hERG) block makes T more asymmetric.",
        how_measured="|w_desc − w_asc| / (w_desc + w_asc) from the half-amplitude widths of the "
        "ascending and descending T limbs (0 = symmetric), on the principal T-wave lead of the "
        "median beat — II, else V5, else the lead with the largest T (T ≥ 0.1 mV) — "
        "(models/ecg/morphology.py).",
        normal_low=0.0,
        normal_high=0.35,
        thresholds=(Threshold(0.5, FlagLevel.BORDERLINE, note="marked T asymmetry"),),
        plausible_low=0.0,
        plausible_high=1.0,
        checkable=False,  # an index computed over the T wave (or beats): no caliper reads it
        references=("Andersen MP et al. Computers in Cardiology 34:341 (2007)",),
        decimals=2,
    ),
    Concept(
        name="t_flatness",
        measurement_sd=0.04,
        measure=measures.measure_t_flatness,
        label="T flatness",
        unit="a.u.",
        kind=ConceptKind.CONTINUOUS,
        description="How flat-topped the T wave is, from the kurtosis of its mass "
        "distribution (0 = peaked, towards 1 = flat): its shape, not its duration, which "
        "Broad-based T reads.",
        how_measured="1.8 / kurtosis of the T-wave mass over time, clipped to [0, 1] "
        "(rectangular = 1, Gaussian = 0.6), on the principal T-wave lead of the median beat "
        "— II, else V5, else the lead with the largest T (T ≥ 0.1 mV) — "
        "(models/ecg/morphology.py).",
        # Measured between tangent T onset and T end, normal T waves are flat-topped: 5th-95th
        # percentile 0.74-0.79 on 120 normal PTB-XL records (QTLens measure, 2025).
        normal_low=0.70,
        normal_high=0.82,
        # The shape only: "flat, broad" stood beside "Broad-based T: no" on 10 of 431 records.
        thresholds=(Threshold(0.85, FlagLevel.BORDERLINE, note="flat-topped T wave"),),
        plausible_low=0.0,
        plausible_high=1.0,
        checkable=False,  # an index computed over the T wave (or beats): no caliper reads it
        references=("Andersen MP et al. Computers in Cardiology 34:341 (2007)",),
        decimals=2,
    ),
    Concept(
        name="qtc_variability",
        measurement_sd=4.0,
        measure=measures.measure_qtc_variability,
        label="QTc variability",
        unit="ms",
        kind=ConceptKind.CONTINUOUS,
        description="Standard deviation of beat-to-beat QTc (Fridericia); raised temporal "
        "lability of repolarisation precedes TdP.",
        how_measured="SD (ddof = 1) of per-beat QTc (Fridericia, preceding RR) over the beats "
        "of the median beat; a beat's QT is the median-beat QT moved by the lag (± 40 ms) that "
        "best matches its T wave to the median T wave.",
        rate_corrected=True,
        normal_low=0,
        normal_high=15,
        thresholds=(Threshold(20, FlagLevel.BORDERLINE, note="labile repolarisation"),),
        plausible_low=0,
        plausible_high=200,
        checkable=False,  # an index computed over the T wave (or beats): no caliper reads it
        references=("Berger RD et al. Circulation 96:1557 (1997)",),
        decimals=1,
    ),
    Concept(
        name="t_notched",
        measurement_sd=_FINDING_MEASUREMENT_SD,
        measure=measures.measure_t_notched,
        label="Notched T",
        unit="",
        kind=ConceptKind.BINARY,
        description="T wave with two local maxima (a notch) in at least three leads — the "
        "LQT2 pattern, 1 point in the Schwartz score.",
        how_measured="≥ 2 local maxima (each ≥ 30 % of the T peak and standing out by "
        "≥ 0.01 mV and 3 % of it) between T onset and T end, in ≥ 3 of the median-beat leads "
        "whose T is ≥ 0.05 mV.",
        thresholds=(Threshold(0.5, FlagLevel.ABNORMAL, note="notched T in ≥ 3 leads"),),
        references=("Schwartz PJ, Crotti L. Circulation 124:2181 (2011)",),
    ),
    Concept(
        name="t_inverted",
        measurement_sd=_FINDING_MEASUREMENT_SD,
        measure=measures.measure_t_inverted,
        label="Inverted T",
        unit="",
        kind=ConceptKind.BINARY,
        description="Negative T wave in II or V5 where it should be upright.",
        how_measured="T amplitude < −0.05 mV in lead II or V5 of the median beat.",
        thresholds=(Threshold(0.5, FlagLevel.ABNORMAL, note="T inversion"),),
        references=("Rautaharju PM et al. Circulation 119:e241 (2009)",),
    ),
    Concept(
        name="t_late_onset",
        measurement_sd=_FINDING_MEASUREMENT_SD,
        measure=measures.measure_t_late_onset,
        label="Late-onset T",
        unit="",
        kind=ConceptKind.BINARY,
        description="Long isoelectric ST segment followed by a normal-looking T — the LQT3 "
        "pattern.",
        how_measured="J point → T onset ≥ 160 ms with T onset → T end < 240 ms, on the "
        "principal T-wave lead of the median beat.",
        thresholds=(Threshold(0.5, FlagLevel.BORDERLINE, note="LQT3-like pattern"),),
        references=("Moss AJ et al. Circulation 92:2929 (1995)",),
    ),
    Concept(
        name="t_broad_based",
        measurement_sd=_FINDING_MEASUREMENT_SD,
        measure=measures.measure_t_broad_based,
        label="Broad-based T",
        unit="",
        kind=ConceptKind.BINARY,
        description="Broad-based, prolonged T wave — the LQT1 pattern.",
        how_measured="T onset → T end ≥ 240 ms on the principal T-wave lead of the median beat.",
        thresholds=(Threshold(0.5, FlagLevel.BORDERLINE, note="LQT1-like pattern"),),
        references=("Moss AJ et al. Circulation 92:2929 (1995)",),
    ),
    Concept(
        name="u_wave",
        measurement_sd=_FINDING_MEASUREMENT_SD,
        measure=measures.measure_u_wave,
        label="U wave",
        unit="",
        kind=ConceptKind.BINARY,
        description="A distinct wave after T and before the next P (hypokalaemia, drug effect).",
        how_measured="A separate wave standing ≥ 0.05 mV out of the segment from 40 ms after "
        "T end to 20 ms before the next P onset, in any usable lead of the median beat.",
        thresholds=(Threshold(0.5, FlagLevel.BORDERLINE, note="U wave present"),),
        references=("Rautaharju PM et al. Circulation 119:e241 (2009)",),
    ),
    Concept(
        name="t_alternans",
        measurement_sd=_FINDING_MEASUREMENT_SD,
        measure=measures.measure_t_alternans,
        label="T-wave alternans",
        unit="",
        kind=ConceptKind.BINARY,
        description="Beat-to-beat alternation of T-wave amplitude — a harbinger of TdP.",
        how_measured="|Mean T amplitude of even − odd beats| ≥ 0.05 mV in the lead with the "
        "largest T, alternating in ≥ 75 % of successive beats (at least 6 beats).",
        thresholds=(Threshold(0.5, FlagLevel.CRITICAL, note="T-wave alternans: high TdP risk"),),
        references=("Schwartz PJ, Crotti L. Circulation 124:2181 (2011)",),
    ),
    Concept(
        name="qtc_prolonged",
        measurement_sd=_FINDING_MEASUREMENT_SD,
        label="QTc prolonged",
        unit="",
        kind=ConceptKind.BINARY,
        description="QTc (Fridericia) above the sex-specific upper normal limit "
        "(450 ms men, 460 ms women; 450 ms when sex is unknown).",
        how_measured="Derived: qtc_fridericia > sex-specific threshold.",
        thresholds=(Threshold(0.5, FlagLevel.ABNORMAL, note="QTc above the normal limit"),),
        derived_from=("qtc_fridericia",),
        sex_specific=True,
        qt_definition="global",
        derive=lambda v, sex: (v["qtc_fridericia"] > qtc_fridericia_threshold_ms(sex)) * 1.0,
        checkable=False,
        references=("Rautaharju PM et al. Circulation 119:e241 (2009)",),
    ),
)

_BY_NAME: dict[str, Concept] = {c.name: c for c in REGISTRY}

#: The QTc formulas. One is shown as "the QTc" (record page headline, worklist): a setting
#: (``QTLENS_PRIMARY_QTC``), Fridericia by default; the others are one click away.
QTC_FORMULAS: tuple[str, ...] = ("qtc_fridericia", "qtc_bazett", "qtc_framingham", "qtc_hodges")
#: The default primary QTc, and the one every clinical rule reads (``qtc_prolonged``, TCAV sets).
DEFAULT_QTC = "qtc_fridericia"


def qtc_formula(name: str) -> Concept:
    """The QTc concept called ``name``; ``ValueError`` naming the formulas otherwise."""
    if name not in QTC_FORMULAS:
        raise ValueError(f"unknown QTc formula {name!r}; use one of {', '.join(QTC_FORMULAS)}")
    return _BY_NAME[name]


@dataclass(frozen=True)
class JointLimit:
    """Two intervals (ms) of one beat that physiology orders: ``shorter`` < ``longer``."""

    shorter: str
    longer: str
    why: str


#: Combinations outside physiology, each value plausible on its own (QT 800 ms with RR 200 ms).
JOINT_LIMITS: tuple[JointLimit, ...] = (
    JointLimit("qt", "rr", "repolarisation must end before the next beat"),
    JointLimit("pr", "rr", "AV conduction must finish within the cycle"),
    JointLimit("qrs", "qt", "QT includes the QRS"),
    JointLimit("jtpeak", "qt", "QT includes J-Tpeak"),
    JointLimit("tpeak_tend", "qt", "QT includes Tpeak-Tend"),
)


def _shown(concept: Concept, value: float) -> str:
    unit = f" {concept.unit}" if concept.unit else ""
    return f"{concept.label} {round(value, max(concept.decimals, 1)):g}{unit}"


def implausible_combinations(
    values: Mapping[str, float | None], changed: Iterable[str]
) -> list[str]:
    """Why the values in force are outside physiology, one sentence per problem naming both (or
    all) concepts involved; only problems touching a ``changed`` concept (or a concept derived
    from one) are reported, so a model estimate never blocks an unrelated edit.

    Args:
        values: every concept's value in force (registry units), derived ones re-derived.
        changed: the concepts a clinician set.
    """
    touched = set(changed)
    for name in list(touched):
        touched.update(dependants(name))
    problems = []
    for limit in JOINT_LIMITS:
        short, long_ = values.get(limit.shorter), values.get(limit.longer)
        if short is None or long_ is None or not touched & {limit.shorter, limit.longer}:
            continue
        if short >= long_:
            a, b = _BY_NAME[limit.shorter], _BY_NAME[limit.longer]
            problems.append(
                f"{_shown(a, short)} is not shorter than {_shown(b, long_)} ({a.name} ≥ "
                f"{b.name}): {limit.why}"
            )
    for concept in derivation_order():
        value = values.get(concept.name)
        if concept.name not in touched or value is None or concept.is_binary:
            continue
        if not concept.plausible_low <= value <= concept.plausible_high:
            inputs = " and ".join(
                _shown(_BY_NAME[d], values[d])  # type: ignore[arg-type]
                for d in concept.derived_from
            )
            problems.append(
                f"{_shown(concept, value)} ({concept.name}) from {inputs} lies outside "
                f"{concept.plausible_low:g}–{concept.plausible_high:g} {concept.unit}"
            )
    return problems


def concept_names() -> tuple[str, ...]:
    """All concept names in bottleneck order."""
    return tuple(c.name for c in REGISTRY)


def get_concept(name: str) -> Concept:
    """The concept called ``name``; ``KeyError`` listing the valid names otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown concept {name!r}; known: {', '.join(_BY_NAME)}") from None


def is_concept(name: str) -> bool:
    """Whether ``name`` is a registered concept."""
    return name in _BY_NAME


def derivation_order() -> tuple[Concept, ...]:
    """Derived concepts ordered so that each comes after everything it is derived from."""
    ordered: list[Concept] = []
    done: set[str] = {c.name for c in REGISTRY if not c.is_derived}
    pending = [c for c in REGISTRY if c.is_derived]
    while pending:
        ready = [c for c in pending if all(d in done for d in c.derived_from)]
        if not ready:
            raise RuntimeError(f"cyclic derivations among {[c.name for c in pending]}")
        for concept in ready:
            ordered.append(concept)
            done.add(concept.name)
            pending.remove(concept)
    return tuple(ordered)


def back_solving_order() -> tuple[Concept, ...]:
    """The derived concepts a clinician may type, ordered so that a back-solved input is in
    place before another inverse reads it (heart rate → RR before any QTc → QT)."""
    typed = [c for c in derivation_order() if c.inverse is not None]
    read_by_others = {d for c in typed for d in c.derived_from if d != c.solves}
    return tuple(sorted(typed, key=lambda c: c.solves not in read_by_others))


def typed_target(name: str) -> str:
    """The primary concept a typed value of ``name`` sets (itself when primary)."""
    return get_concept(name).solves or name


def dependants(name: str) -> tuple[str, ...]:
    """Every derived concept whose value changes when ``name`` changes (transitively)."""
    result: list[str] = []
    frontier = {name}
    for concept in derivation_order():
        if frontier.intersection(concept.derived_from):
            result.append(concept.name)
            frontier.add(concept.name)
    return tuple(result)


def with_typed_value(
    values: Mapping[str, float | None], sex: Sex | None, name: str, typed: float
) -> dict[str, float | None]:
    """The concept values after ``typed`` is given for ``name`` (units as in the registry).

    A primary concept takes the value; a derived one with an ``inverse`` back-solves its primary
    input with the other inputs in force (a QTc sets QT from the RR in force), as a clinician's
    typed value does in the concept models; then every derived concept is re-derived, so the
    typed view shows ``typed`` and every other view agrees with it.

    Raises:
        ValueError: ``name`` is derived without an inverse (``qtc_prolonged``): never an input.
    """
    concept = get_concept(name)
    changed: dict[str, float | None] = dict(values)
    if concept.inverse is not None:
        changed[concept.solves] = float(concept.inverse(changed, float(typed)))
    elif concept.is_derived:
        raise ValueError(f"{name} is derived from {', '.join(concept.derived_from)}; "
                         "it is never an input")
    else:
        changed[name] = float(typed)
    return rederive(changed, sex)


def rederive(values: Mapping[str, float | None], sex: Sex | None) -> dict[str, float | None]:
    """Recompute every derived concept from its inputs, in dependency order.

    Args:
        values: concept values (units as in the registry); ``None`` = unavailable.
        sex: the patient's sex, for sex-specific derivations (``qtc_prolonged``).

    Returns:
        A new dict with derived values filled in; a derived value is ``None`` when any input is.
    """
    out: dict[str, float | None] = dict(values)
    for concept in derivation_order():
        if concept.derive is None:
            continue
        inputs = [out.get(d) for d in concept.derived_from]
        if any(v is None or not math.isfinite(v) for v in inputs):
            out[concept.name] = None
            continue
        out[concept.name] = float(concept.derive(out, sex))  # type: ignore[arg-type]
    return out
