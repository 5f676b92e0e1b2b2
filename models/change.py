"""Change concepts: how an on-drug ECG differs from the same person's baseline ECG.

Drug-induced Torsade de Pointes is judged on change, not on one ECG: an on-treatment QTc more
than 60 ms above the person's own drug-free baseline, or above 500 ms, is what clinicians act on
(Drew BJ et al., AHA/ACCF scientific statement on the prevention of TdP in hospital settings.
Circulation 121:1047-1060, 2010; ICH E14: ΔQTc > 30 ms "potential", > 60 ms "clear" concern).
And the *kind* of change tells drugs apart: pure hERG block lengthens both J-Tpeak_c and
Tpeak-Tend, while added late-sodium or calcium block (ranolazine, verapamil) leaves J-Tpeak_c
unchanged or shorter (Johannesen L et al. Clin Pharmacol Ther 96:549-558, 2014), and hERG block
flattens the T wave.

Each :class:`ChangeConcept` is derived from one registry concept (:mod:`models.concepts`) of two
ECGs of one subject: ``current − baseline`` in the concept's unit, or for T amplitudes the
relative change in % (amplitudes differ between leads and people far more than their relative
change does). They are derived concepts in the registry's sense — no network predicts them, a
clinician changes them by overriding their inputs on either ECG — but they are not part of the
bottleneck order (:data:`models.concepts.REGISTRY`), since one ECG alone has none of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from models.concepts import Concept, ConceptKind, FlagLevel, Threshold, get_concept

#: Prefix of every change concept's name: ``delta_`` + the registry concept it is derived from.
PREFIX = "delta_"
#: Below this baseline T amplitude (mV, absolute) the relative change is not defined: a flat
#: baseline T makes any percentage meaningless.
MIN_BASELINE_T_MV = 0.05

_REF_CHANGE = (
    "Drew BJ et al. Circulation 121:1047-1060 (2010)",
    "ICH E14: clinical evaluation of QT/QTc interval prolongation (2005)",
)
_REF_JOHANNESEN = ("Johannesen L et al. Clin Pharmacol Ther 96:549 (2014)",)
_DELTA_QTC_THRESHOLDS = (
    Threshold(30, FlagLevel.BORDERLINE, note="ΔQTc > 30 ms: potential drug effect"),
    Threshold(60, FlagLevel.CRITICAL, note="ΔQTc > 60 ms: high risk of Torsade de Pointes"),
)


@dataclass(frozen=True)
class ChangeConcept:
    """A concept of an ECG pair: the change of ``source`` from the baseline ECG to this one.

    Attributes:
        concept: name (``delta_<source>``), label, unit, thresholds, bounds and references, as
            for any concept; ``derived_from`` is ``(source,)``.
        source: the registry concept it is the change of.
        relative: the change in % of the baseline value instead of a difference in its unit.
    """

    concept: Concept
    source: str
    relative: bool = False

    @property
    def name(self) -> str:
        """``delta_<source>``."""
        return self.concept.name

    def change(self, current: float | None, baseline: float | None) -> float | None:
        """The change from ``baseline`` to ``current`` (unit of :attr:`concept`); ``None`` when
        either is unknown or, for a relative change, the baseline T is flatter than
        :data:`MIN_BASELINE_T_MV`."""
        if current is None or baseline is None:
            return None
        if not (math.isfinite(current) and math.isfinite(baseline)):
            return None
        if not self.relative:
            return float(current - baseline)
        if abs(baseline) < MIN_BASELINE_T_MV:
            return None
        return float(100.0 * (current - baseline) / abs(baseline))


def _difference(
    source: str, label: str, thresholds: tuple[Threshold, ...] = (), **extra: object
) -> ChangeConcept:
    """A change concept that is ``current − baseline`` of ``source`` in its unit."""
    base = get_concept(source)
    return ChangeConcept(
        Concept(
            name=PREFIX + source,
            label=label,
            unit=base.unit,
            kind=ConceptKind.CONTINUOUS,
            description=f"Change of {base.label} from the subject's baseline ECG.",
            how_measured=f"{base.label} of this ECG − {base.label} of the baseline ECG.",
            thresholds=thresholds,
            plausible_low=base.plausible_low - base.plausible_high,
            plausible_high=base.plausible_high - base.plausible_low,
            derived_from=(source,),
            decimals=base.decimals,
            **extra,
        ),
        source,
    )


def _relative(source: str, label: str) -> ChangeConcept:
    """A change concept that is the relative change of ``source`` in % of its baseline."""
    base = get_concept(source)
    return ChangeConcept(
        Concept(
            name=PREFIX + source,
            label=label,
            unit="%",
            kind=ConceptKind.CONTINUOUS,
            description=f"Relative change of {base.label} from the subject's baseline ECG; hERG "
            "block flattens the T wave.",
            how_measured=f"100 × ({base.label} − baseline) / |baseline|; unavailable when the "
            f"baseline T is below {MIN_BASELINE_T_MV} mV.",
            thresholds=(
                Threshold(-30, FlagLevel.BORDERLINE, direction="below", note="T wave flattened"),
            ),
            derived_from=(source,),
            references=_REF_JOHANNESEN,
        ),
        source,
        relative=True,
    )


CHANGE_REGISTRY: tuple[ChangeConcept, ...] = (
    *(
        _difference(
            qtc,
            f"Δ{get_concept(qtc).label}",
            _DELTA_QTC_THRESHOLDS,
            references=_REF_CHANGE,
        )
        for qtc in ("qtc_bazett", "qtc_fridericia", "qtc_framingham", "qtc_hodges")
    ),
    _difference(
        "jtpeak_c",
        "ΔJ-Tpeak corrected",
        (Threshold(20, FlagLevel.BORDERLINE, note="early repolarisation lengthened: hERG-like"),),
        references=_REF_JOHANNESEN,
    ),
    _difference(
        "tpeak_tend",
        "ΔTpeak-Tend",
        (Threshold(20, FlagLevel.BORDERLINE, note="late repolarisation lengthened"),),
        references=_REF_JOHANNESEN,
    ),
    _difference("heart_rate", "ΔHeart rate"),
    _relative("t_amplitude_ii", "ΔT amplitude (II)"),
    _relative("t_amplitude_v5", "ΔT amplitude (V5)"),
)

_BY_NAME: dict[str, ChangeConcept] = {c.name: c for c in CHANGE_REGISTRY}


def change_names() -> tuple[str, ...]:
    """Every change concept's name, in display order."""
    return tuple(_BY_NAME)


def is_change_concept(name: str) -> bool:
    """Whether ``name`` is a change concept."""
    return name in _BY_NAME


def get_change_concept(name: str) -> ChangeConcept:
    """The change concept ``name``; ``KeyError`` listing the valid names otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown change concept {name!r}; known: {', '.join(_BY_NAME)}") from None


def change_values(
    current: Mapping[str, float | None], baseline: Mapping[str, float | None]
) -> dict[str, float | None]:
    """Every change concept of an ECG and its baseline.

    Args:
        current, baseline: registry concept values (registry units; ``None`` = unavailable) of
            the ECG and of the same subject's baseline ECG, derived ones included (re-derived
            after any override, so overriding an input moves the change).

    Returns:
        Change concept name → value in its unit, ``None`` where an input is unavailable.
    """
    return {
        c.name: c.change(current.get(c.source), baseline.get(c.source)) for c in CHANGE_REGISTRY
    }
