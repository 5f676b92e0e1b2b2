"""When the network and the signal pipeline disagree about a concept — said in words.

A concept bottleneck is only as good as its concepts: when the network's value of a concept and
the value the measurement pipeline (:mod:`models.ecg.measure`) finds on the same ECG lie further
apart than both their uncertainties allow, a clinician should look at that concept first rather
than trust either number. Two values disagree when

    |model − measured| > 1.96 · sqrt(SD_model² + SD_measurement²)

with ``SD_model`` the network's predicted SD and ``SD_measurement`` the concept's stated
measurement SD (:attr:`models.concepts.Concept.measurement_sd`) — a two-sided 95 % check of
"same value" under Gaussian errors. A binary finding compares the network's probability with the
measured 0/1 call, its SD the Bernoulli SD ``sqrt(p (1 − p))``: with a measurement SD of 0.35 only
a model more than 90 % sure of the opposite of the measurement is flagged. Concepts without a
stated measurement SD are never flagged.

The web app's concept panel and "Check next" (:func:`models.intervene.suggest`) and
``qtlens predict`` all read :func:`disagreement`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from models.concepts import get_concept
from models.nets.prediction import ConceptEstimate

#: Two-sided 95 % normal quantile: how many combined SDs two values may differ by.
AGREEMENT_Z = 1.96


@dataclass(frozen=True)
class Disagreement:
    """The network's and the measurement's values of one concept, further apart than allowed.

    Attributes:
        concept: concept name.
        model_value, measured_value: the two values (registry units; a finding: the network's
            probability and the measured 0/1).
        combined_sd: ``sqrt(SD_model² + SD_measurement²)`` in the concept's unit.
        z: ``|model − measured| / combined_sd`` (> :data:`AGREEMENT_Z`).
    """

    concept: str
    model_value: float
    measured_value: float
    combined_sd: float
    z: float

    @property
    def text(self) -> str:
        """``"model 455 ms, measured 364 ms"``; a finding: ``"model 95 % likely, measured
        absent"``."""
        concept = get_concept(self.concept)
        if concept.is_binary:
            call = "present" if self.measured_value >= 0.5 else "absent"
            return f"model {self.model_value:.0%} likely, measured {call}"
        unit = f" {concept.unit}" if concept.unit else ""
        return (
            f"model {self.model_value:.{concept.decimals}f}{unit}, "
            f"measured {self.measured_value:.{concept.decimals}f}{unit}"
        )


def disagreement(
    name: str, model_value: float | None, model_sd: float | None, measured_value: float | None
) -> Disagreement | None:
    """The disagreement of concept ``name``, or ``None`` when the values agree or cannot be
    compared (either value missing, no stated measurement SD).

    Args:
        name: registry concept name.
        model_value: the network's value (registry units; a binary finding: its probability).
        model_sd: the network's predicted SD (same unit; ``None`` counts as 0).
        measured_value: the measurement pipeline's value (same unit; a finding: 0 or 1).
    """
    concept = get_concept(name)
    if concept.measurement_sd is None:
        return None
    if model_value is None or measured_value is None:
        return None
    if not (math.isfinite(model_value) and math.isfinite(measured_value)):
        return None
    sd = model_sd if model_sd is not None and math.isfinite(model_sd) else 0.0
    combined = math.hypot(sd, concept.measurement_sd)
    z = abs(model_value - measured_value) / combined
    if z <= AGREEMENT_Z:
        return None
    return Disagreement(name, float(model_value), float(measured_value), combined, z)


def disagreements(
    model: Mapping[str, ConceptEstimate], measured: Mapping[str, float | None]
) -> dict[str, Disagreement]:
    """Every disagreeing concept, largest ``z`` first.

    Args:
        model: the network's concepts (:attr:`ModelPrediction.concepts`; empty for a black box).
        measured: concept name → measured value (``None`` = not measured).
    """
    found = [
        d
        for name, estimate in model.items()
        if (d := disagreement(name, _compared(estimate), estimate.uncertainty, measured.get(name)))
        is not None
    ]
    return {d.concept: d for d in sorted(found, key=lambda d: d.z, reverse=True)}


def _compared(estimate: ConceptEstimate) -> float:
    """What of the network's estimate is compared: its probability for a finding, else its value."""
    return estimate.probability if estimate.probability is not None else estimate.value
