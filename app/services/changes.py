"""Change concepts of a record against its series' baseline ECG, and the change-based TdP risk.

Pure functions of two sets of concept values in force (each ECG's model values with its own
overrides, derived concepts re-derived), so overriding an input on either ECG — the QT or RR
behind a ΔQTc, the J-Tpeak behind ΔJ-Tpeak_c — moves the change and the risk that reads it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from app.services.schemas import ChangeOut, SuggestionOut, TaskRiskOut
from models.bundle import LoadedBundle
from models.change import CHANGE_REGISTRY, change_values, get_change_concept
from models.concepts import Sex, get_concept
from models.heads.describe import cutoffs_text
from models.tasks import get_task

#: The task whose risk a change head gives when a baseline exists.
CHANGE_TASK = "tdp_risk"
_FEMALE = {"female": 1.0, "male": 0.0}

Values = Mapping[str, float | None]


def changes_out(current: Values, baseline: Values) -> list[ChangeOut]:
    """Every change concept with both ECGs' values and its flag."""
    delta = change_values(current, baseline)
    out = []
    for change in CHANGE_REGISTRY:
        concept = change.concept
        flag = concept.flag(delta[change.name])
        out.append(ChangeOut(
            name=change.name, label=concept.label, unit=concept.unit, source=change.source,
            value=delta[change.name], current_value=current.get(change.source),
            baseline_value=baseline.get(change.source), decimals=concept.decimals,
            flag=flag.level.value, flag_note=flag.note,
        ))
    return out


def _logit_parts(
    bundle: LoadedBundle, current: Values, baseline: Values, sex: Sex | None, age: int | None
) -> tuple[float, dict[str, float]] | None:
    """The change head's intercept and per-feature pushes, or ``None`` without a change head
    or with an input unavailable on either ECG."""
    head = bundle.change_heads.get(CHANGE_TASK)
    if head is None:
        return None
    delta = change_values(current, baseline)
    try:
        pushes = head.logit_contributions(delta, _FEMALE.get(sex or ""), age)
    except ValueError:
        return None
    return head.intercept, pushes


def _sigmoid(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-logit))


def change_risk(
    bundle: LoadedBundle, current: Values, baseline: Values, sex: Sex | None, age: int | None
) -> TaskRiskOut | None:
    """The TdP risk read from the change against the baseline (``None`` when it cannot be),
    banded with the bundle's TdP bands in force: the change head gives the same probability as
    the single-ECG head (an ECG recorded under a high-TdP-risk hERG blocker, at the study's
    mix), and no real serial-ECG pairs exist to calibrate it on its own."""
    parts = _logit_parts(bundle, current, baseline, sex, age)
    if parts is None:
        return None
    intercept, pushes = parts
    probability = _sigmoid(intercept + sum(pushes.values()))
    return TaskRiskOut(
        task=CHANGE_TASK, label=get_task(CHANGE_TASK).label, probability=probability,
        band=bundle.band(CHANGE_TASK, probability).value, contributions=pushes,
        learned_from=bundle.change_heads[CHANGE_TASK].learned_from, basis="change",
        band_cutoffs=cutoffs_text(bundle.bands[CHANGE_TASK]),
    )


def _input_to_check(source: str) -> str:
    """The concept a clinician checks to move a change of ``source``: the concept itself when
    measured, else its first input other than RR (J-Tpeak for J-Tpeak_c)."""
    concept = get_concept(source)
    inputs = [name for name in concept.derived_from if name != "rr"]
    return inputs[0] if inputs else source


def change_suggestion(
    bundle: LoadedBundle,
    current: Values,
    baseline: Values,
    sex: Sex | None,
    age: int | None,
    overridden: set[str],
) -> SuggestionOut | None:
    """"Check next" on the change head: the change concept pushing the risk most whose input on
    this ECG the clinician has not set yet; its expected risk change is the risk's move if that
    change were at the head's training mean."""
    parts = _logit_parts(bundle, current, baseline, sex, age)
    if parts is None:
        return None
    intercept, pushes = parts
    probability = _sigmoid(intercept + sum(pushes.values()))
    for name, push in sorted(pushes.items(), key=lambda item: -abs(item[1])):
        if name not in {c.name for c in CHANGE_REGISTRY}:
            continue
        target = _input_to_check(get_change_concept(name).source)
        if target in overridden or push == 0:
            continue
        without = _sigmoid(intercept + sum(pushes.values()) - push)
        label = get_change_concept(name).concept.label
        return SuggestionOut(
            concept=target, label=get_concept(target).label, score=abs(push),
            expected_risk_change=without - probability,
            reason=f"{label} moves the change-based TdP risk most ({push:+.2f} log-odds); "
            f"check {get_concept(target).label} on this ECG against its baseline.",
            task=CHANGE_TASK, task_label=get_task(CHANGE_TASK).label,
        )
    return None
