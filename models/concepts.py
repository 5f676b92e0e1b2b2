"""The concept registry: the single source of truth for every expert ECG concept in QTLens.

Each :class:`Concept` states its name, label, unit, kind (continuous or binary), normal range,
clinical thresholds, physiological plausibility bounds, how it is measured, references and —
for concepts computed from others (QTc formulas, heart rate, ``qtc_prolonged``) — the derivation.
The order of :data:`REGISTRY` is the order of the bottleneck of every concept model.
Nothing else in QTLens keeps its own list of concept names, units or ranges: the API, the
frontend, the model, the exports and the measurement code all read them from here.

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
    """

    value: float
    level: FlagLevel
    direction: Literal["above", "below"] = "above"
    sex: Sex | None = None
    note: str = ""

    def crossed_by(self, value: float, sex: Sex | None) -> bool:
        """Whether ``value`` crosses this threshold for a patient of ``sex``."""
        if self.sex is not None and sex is not None and self.sex != sex:
            return False
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
    rate_corrected: bool = False
    references: tuple[str, ...] = ()
    decimals: int = 0
    qt_definition: Literal["global", "lead"] | None = None

    @property
    def is_binary(self) -> bool:
        """True for yes/no findings."""
        return self.kind is ConceptKind.BINARY

    @property
    def is_derived(self) -> bool:
        """True when computed from other concepts rather than measured directly."""
        return bool(self.derived_from)

    def is_plausible(self, value: float) -> bool:
        """Whether ``value`` lies in the physiological range (binary: exactly 0 or 1)."""
        if not math.isfinite(value):
            return False
        if self.is_binary:
            return value in (0.0, 1.0)
        return self.plausible_low <= value <= self.plausible_high

    def flag(self, value: float | None, sex: Sex | None = None) -> Flag:
        """The most severe threshold ``value`` crosses (normal when none, or when unknown)."""
        if value is None or not math.isfinite(value):
            return Flag(FlagLevel.NORMAL)
        crossed = [t for t in self.thresholds if t.crossed_by(value, sex)]
        if not crossed:
            return Flag(FlagLevel.NORMAL)
        worst = max(crossed, key=lambda t: t.level.severity)
        return Flag(worst.level, worst.note)

    def normal_range_text(self) -> str:
        """Human-readable normal range, e.g. ``"120–200 ms"`` or ``"absent"``."""
        if self.is_binary:
            return "absent"
        unit = f" {self.unit}" if self.unit else ""
        if self.normal_low is not None and self.normal_high is not None:
            return f"{self.normal_low:g}–{self.normal_high:g}{unit}"
        if self.normal_high is not None:
            return f"≤ {self.normal_high:g}{unit}"
        if self.normal_low is not None:
            return f"≥ {self.normal_low:g}{unit}"
        return "—"


def _rr_s(values: Mapping[str, float]) -> float:
    return values["rr"] / 1000.0


def qtc_fridericia_threshold_ms(sex: Sex | None) -> float:
    """Upper normal QTc (Fridericia) in ms: 450 for men, 460 for women, 450 when sex is unknown.

    Rautaharju et al., Circulation 2009. The lower (male) bound is used when sex is unknown so
    that ``qtc_prolonged`` errs on the sensitive side.
    """
    return 460.0 if sex == "female" else 450.0


_QTC_THRESHOLDS: tuple[Threshold, ...] = (
    Threshold(450, FlagLevel.BORDERLINE, sex="male", note="above the upper normal limit for men"),
    Threshold(460, FlagLevel.BORDERLINE, sex="female", note="above the upper normal limit for women"),
    Threshold(480, FlagLevel.ABNORMAL, note="≥ 480 ms scores 3 points in the Schwartz LQTS score"),
    Threshold(500, FlagLevel.CRITICAL, note="> 500 ms: high risk of Torsade de Pointes"),
    Threshold(340, FlagLevel.ABNORMAL, direction="below", note="short QT"),
)

_REF_QTC = (
    "Rautaharju PM et al. Circulation 119:e241 (2009)",
    "Priori SG et al. Eur Heart J 36:2793 (2015)",
)
_PLAUSIBLE_QTC = (200.0, 800.0)


def _qtc(name: str, label: str, formula_text: str, derive: Derivation, reference: str) -> Concept:
    """Every QTc formula shares inputs, thresholds and bounds; only the correction differs."""
    return Concept(
        name=name,
        label=label,
        unit="ms",
        kind=ConceptKind.CONTINUOUS,
        description=f"QT corrected for heart rate by {formula_text}.",
        how_measured=f"{formula_text} from the measured QT and median RR.",
        normal_low=350,
        normal_high=450,
        thresholds=_QTC_THRESHOLDS,
        plausible_low=_PLAUSIBLE_QTC[0],
        plausible_high=_PLAUSIBLE_QTC[1],
        derived_from=("qt", "rr"),
        derive=derive,
        rate_corrected=True,
        references=(reference, *_REF_QTC),
        qt_definition="global",
    )


REGISTRY: tuple[Concept, ...] = (
    Concept(
        name="heart_rate",
        label="Heart rate",
        unit="bpm",
        kind=ConceptKind.CONTINUOUS,
        description="Ventricular rate. Bradycardia unmasks QT prolongation and pause-dependent TdP.",
        how_measured="60000 / median RR interval (ms).",
        normal_low=60,
        normal_high=100,
        thresholds=(
            Threshold(100, FlagLevel.BORDERLINE, note="tachycardia"),
            Threshold(50, FlagLevel.BORDERLINE, direction="below", note="bradycardia"),
            Threshold(40, FlagLevel.ABNORMAL, direction="below", note="marked bradycardia"),
        ),
        plausible_low=20,
        plausible_high=300,
        derived_from=("rr",),
        derive=lambda v, sex: 60000.0 / v["rr"],
        references=("Rautaharju PM et al. Circulation 119:e241 (2009)",),
    ),
    Concept(
        name="rr",
        measure=measures.measure_rr,
        label="RR interval",
        unit="ms",
        kind=ConceptKind.CONTINUOUS,
        description="Median interval between consecutive R peaks; the rate every QTc corrects for.",
        how_measured="Median of R-R intervals of normal beats over the record.",
        normal_low=600,
        normal_high=1000,
        plausible_low=200,
        plausible_high=3000,
        references=("Rautaharju PM et al. Circulation 119:e241 (2009)",),
    ),
    Concept(
        name="pr",
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
            Threshold(120, FlagLevel.ABNORMAL, note="wide QRS: QT less interpretable"),
        ),
        plausible_low=40,
        plausible_high=250,
        references=("Surawicz B et al. Circulation 119:e235 (2009)",),
    ),
    Concept(
        name="qt",
        measure=measures.measure_qt,
        label="QT interval",
        unit="ms",
        kind=ConceptKind.CONTINUOUS,
        description="Global QRS onset to the end of the T wave: total ventricular "
        "depolarisation and repolarisation time.",
        how_measured="Global QT (CSE definition) on the median beat: the earliest QRS onset over the "
        "leads (multi-lead spatial velocity) → the latest T end over the leads (each lead's "
        "tangent to the isoelectric level; a latest T end > 30 ms after the next is dropped, "
        "repeatedly). Low-confidence when the T end rests on ≤ 2 leads or QTcF is outside "
        "300–650 ms. Unavailable when QRS ≥ 120 ms. The lead QT (II or V5) is reported beside it.",
        normal_low=350,
        normal_high=440,
        thresholds=(
            Threshold(500, FlagLevel.CRITICAL,
                      note="QT > 500 ms: high risk of Torsade de Pointes at any rate"),
        ),
        plausible_low=150,
        plausible_high=800,
        references=(
            "Postema PG, Wilde AAM. The measurement of the QT interval. Curr Cardiol Rev 10:287 (2014)",
            "The CSE Working Party. Recommendations for measurement standards in quantitative "
            "electrocardiography. Eur Heart J 6:815 (1985)",
        ),
        qt_definition="global",
    ),
    _qtc(
        "qtc_bazett",
        "QTc (Bazett)",
        "Bazett's formula QT / √RR(s)",
        lambda v, sex: v["qt"] / _rr_s(v) ** 0.5,
        "Bazett HC. Heart 7:353 (1920)",
    ),
    _qtc(
        "qtc_fridericia",
        "QTc (Fridericia)",
        "Fridericia's formula QT / ∛RR(s)",
        lambda v, sex: v["qt"] / _rr_s(v) ** (1.0 / 3.0),
        "Fridericia LS. Acta Med Scand 53:469 (1920)",
    ),
    _qtc(
        "qtc_framingham",
        "QTc (Framingham)",
        "the Framingham formula QT + 154 × (1 − RR(s))",
        lambda v, sex: v["qt"] + 154.0 * (1.0 - _rr_s(v)),
        "Sagie A et al. Am J Cardiol 70:797 (1992)",
    ),
    _qtc(
        "qtc_hodges",
        "QTc (Hodges)",
        "Hodges' formula QT + 1.75 × (HR − 60)",
        lambda v, sex: v["qt"] + 1.75 * (60000.0 / v["rr"] - 60.0),
        "Hodges M et al. J Am Coll Cardiol 1:694 (1983)",
    ),
    Concept(
        name="jtpeak",
        measure=measures.measure_jtpeak,
        label="J-Tpeak",
        unit="ms",
        kind=ConceptKind.CONTINUOUS,
        description="Early repolarisation: J point (QRS offset) to the peak of the T wave.",
        how_measured="Global QRS offset → T peak on the vector-magnitude median beat.",
        normal_low=170,
        normal_high=260,
        plausible_low=50,
        plausible_high=600,
        references=("Johannesen L et al. Clin Pharmacol Ther 96:549 (2014)",),
    ),
    Concept(
        name="jtpeak_c",
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
        rate_corrected=True,
        references=("Johannesen L et al. Clin Pharmacol Ther 96:549 (2014)",),
    ),
    Concept(
        name="tpeak_tend",
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
        measure=measures.measure_t_amplitude_ii,
        label="T amplitude (II)",
        unit="mV",
        kind=ConceptKind.CONTINUOUS,
        description="T-wave peak amplitude in lead II relative to the isoelectric (PR) level. "
        "hERG block lowers and flattens T.",
        how_measured="T peak minus isoelectric level on the lead II median beat.",
        normal_low=0.1,
        normal_high=0.8,
        thresholds=(
            Threshold(0.1, FlagLevel.BORDERLINE, direction="below", note="flat T wave"),
            Threshold(0.0, FlagLevel.ABNORMAL, direction="below", note="inverted T wave"),
        ),
        plausible_low=-3.0,
        plausible_high=3.0,
        references=("Rautaharju PM et al. Circulation 119:e241 (2009)",),
        decimals=2,
    ),
    Concept(
        name="t_amplitude_v5",
        measure=measures.measure_t_amplitude_v5,
        label="T amplitude (V5)",
        unit="mV",
        kind=ConceptKind.CONTINUOUS,
        description="T-wave peak amplitude in lead V5 relative to the isoelectric level.",
        how_measured="T peak minus isoelectric level on the V5 median beat.",
        normal_low=0.1,
        normal_high=1.0,
        thresholds=(
            Threshold(0.1, FlagLevel.BORDERLINE, direction="below", note="flat T wave"),
            Threshold(0.0, FlagLevel.ABNORMAL, direction="below", note="inverted T wave"),
        ),
        plausible_low=-3.0,
        plausible_high=3.0,
        references=("Rautaharju PM et al. Circulation 119:e241 (2009)",),
        decimals=2,
    ),
    Concept(
        name="t_asymmetry",
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
        references=("Andersen MP et al. Computers in Cardiology 34:341 (2007)",),
        decimals=2,
    ),
    Concept(
        name="t_flatness",
        measure=measures.measure_t_flatness,
        label="T flatness",
        unit="a.u.",
        kind=ConceptKind.CONTINUOUS,
        description="How broad and flat the T wave is, from the kurtosis of its mass "
        "distribution (0 = peaked, towards 1 = flat).",
        how_measured="1.8 / kurtosis of the T-wave mass over time, clipped to [0, 1] "
        "(rectangular = 1, Gaussian = 0.6), on the principal T-wave lead of the median beat "
        "— II, else V5, else the lead with the largest T (T ≥ 0.1 mV) — "
        "(models/ecg/morphology.py).",
        # Measured between tangent T onset and T end, normal T waves are flat-topped: 5th-95th
        # percentile 0.74-0.79 on 120 normal PTB-XL records (QTLens measure, 2025).
        normal_low=0.70,
        normal_high=0.82,
        thresholds=(Threshold(0.85, FlagLevel.BORDERLINE, note="flat, broad T wave"),),
        plausible_low=0.0,
        plausible_high=1.0,
        references=("Andersen MP et al. Computers in Cardiology 34:341 (2007)",),
        decimals=2,
    ),
    Concept(
        name="qtc_variability",
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
        references=("Berger RD et al. Circulation 96:1557 (1997)",),
        decimals=1,
    ),
    Concept(
        name="t_notched",
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
        references=("Rautaharju PM et al. Circulation 119:e241 (2009)",),
    ),
)

_BY_NAME: dict[str, Concept] = {c.name: c for c in REGISTRY}

#: The concept shown as "the QTc" wherever a single QTc is wanted (worklist, clinical rule).
DEFAULT_QTC = "qtc_fridericia"


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


def dependants(name: str) -> tuple[str, ...]:
    """Every derived concept whose value changes when ``name`` changes (transitively)."""
    result: list[str] = []
    frontier = {name}
    for concept in derivation_order():
        if frontier.intersection(concept.derived_from):
            result.append(concept.name)
            frontier.add(concept.name)
    return tuple(result)


def rederive(
    values: Mapping[str, float | None],
    sex: Sex | None,
    keep: Iterable[str] = (),
) -> dict[str, float | None]:
    """Recompute every derived concept from its inputs, in dependency order.

    Args:
        values: concept values (units as in the registry); ``None`` = unavailable.
        sex: the patient's sex, for sex-specific derivations (``qtc_prolonged``).
        keep: concepts whose given value must not be recomputed (e.g. a QTc a clinician
            typed in directly overrides what the formula would give).

    Returns:
        A new dict with derived values filled in; a derived value is ``None`` when any input is.
    """
    out: dict[str, float | None] = dict(values)
    kept = set(keep)
    for concept in derivation_order():
        if concept.name in kept or concept.derive is None:
            continue
        inputs = [out.get(d) for d in concept.derived_from]
        if any(v is None or not math.isfinite(v) for v in inputs):
            out[concept.name] = None
            continue
        out[concept.name] = float(concept.derive(out, sex))  # type: ignore[arg-type]
    return out
