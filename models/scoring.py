"""Score one ECG as the web app does: measure it, run the bundle, and read the result.

:func:`analyse_ecg` is the analysis the web app stores for every prediction
(:func:`app.services.predictions.analyse`) and ``qtlens predict`` prints; :func:`reading` turns
its output into the numbers a clinician reads — per concept the model's value ± SD, the measured
value (or why it is missing), the flag and any disagreement between the two
(:mod:`models.disagreement`); per risk the probability, band, the head that produced it and what
it means (:mod:`models.heads.describe`). The record page reads the same functions through the
service, so the command line and the app cannot drift apart.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from models.bundle import LoadedBundle
from models.concepts import REGISTRY
from models.disagreement import disagreements
from models.ecg.measure import Measurements, measure
from models.ecg.notes import found_paced, measurement_notes
from models.ecg.record import Ecg
from models.heads.describe import read_risk
from models.intervene import Suggestion, check_next
from models.nets.ood import describe_score
from models.nets.prediction import ModelPrediction
from models.tasks import get_task


@dataclass(frozen=True)
class Analysis:
    """One ECG measured and predicted.

    Attributes:
        prediction: the bundle's output.
        measurements: the signal pipeline's measurements.
        latency_ms: wall time of both, in ms.
    """

    prediction: ModelPrediction
    measurements: Measurements
    latency_ms: float


def analyse_ecg(bundle: LoadedBundle, ecg: Ecg) -> Analysis:
    """Measure the concepts on the signal and run the model (blocking).

    Raises:
        MalformedEcg: the model cannot analyse the signal (see :meth:`LoadedBundle.predict`).
    """
    started = time.perf_counter()
    measurements = measure(ecg)
    prediction = bundle.predict([ecg])[0]
    return Analysis(prediction, measurements, (time.perf_counter() - started) * 1000.0)


def measured_values(measurements: Measurements) -> dict[str, float | None]:
    """Concept name → the measured value (registry units; ``None`` where not measured)."""
    return {name: value if value is not None and math.isfinite(value) else None
            for name, value in measurements.values().items()}


def first_checks(bundle: LoadedBundle, ecg: Ecg, prediction: ModelPrediction,
                 measured: Mapping[str, float | None], limit: int = 1
                 ) -> dict[str, list[Suggestion]]:
    """What to check next on a new prediction, before any override: the best ``limit`` concepts
    per task (:func:`models.intervene.check_next` with the record's sex, age and leads); empty
    for a black box, which has no concepts to check. Ranked where the ECG was analysed (a
    worker process on a CPU server), so that the API process does not rank them again."""
    if not prediction.concepts:
        return {}
    return check_next(bundle, prediction, sex=ecg.sex, age=ecg.age_years, leads=ecg.lead_names,
                      measured=measured, limit=limit)


def reading(bundle: LoadedBundle, analysis: Analysis) -> dict[str, Any]:
    """What a clinician reads about one analysed ECG, JSON-ready::

        {"model": "joint@…", "sex": "female", "age_years": 51, "leads_used": [...],
         "concepts": {"qt": {"label": "QT interval", "unit": "ms", "model": 472.0,
                             "sd": 18.0, "probability": null, "measured": 478.0,
                             "measured_reason": null, "measured_low_confidence": null,
                             "flag": "normal", "flag_note": "",
                             "disagreement": null}, …},
         "risks": {"lqts_risk": {"label": "Long-QT risk", "probability": 0.12, "band": "low",
                                 "head": "…",
                                 "kind": "points", "sentence": "…", "points": 0.5,
                                 "max_points": 5.5, "bands_set_by": "…"}, …},
         "ood": {"distance": 31.2, "percentile": 64.0, "high": false, "message": "…"} | null,
         "paced": false,
         "measurement_notes": [{"kind": "global_qt", "text": "QT 478 ms is the global QT …"}, …]}

    ``model``/``sd``/``probability`` are null for a black box (no concepts); the flag follows
    the model's value, else the measured one.
    """
    prediction = analysis.prediction
    stored = analysis.measurements.summary_dict()  # what the notes read of a stored measurement
    measured = measured_values(analysis.measurements)
    discordant = disagreements(prediction.concepts, measured)
    concepts = {}
    shown: dict[str, float | None] = {}  # the value each flag follows: the model's, else measured
    for concept in REGISTRY:
        estimate = prediction.concepts.get(concept.name)
        value = shown[concept.name] = estimate.value if estimate else measured.get(concept.name)
        flag = concept.flag(value, prediction.sex)
        found = discordant.get(concept.name)
        concepts[concept.name] = {
            "label": concept.label,
            "unit": concept.unit,
            "model": estimate.value if estimate else None,
            "sd": estimate.uncertainty if estimate else None,
            "probability": estimate.probability if estimate else None,
            "measured": measured.get(concept.name),
            "measured_reason": analysis.measurements.concepts[concept.name].reason,
            "measured_low_confidence": analysis.measurements.concepts[concept.name].low_confidence,
            "flag": flag.level.value,
            "flag_note": flag.note,
            "disagreement": found.text if found else None,
        }
    risks = {
        task: {"label": get_task(task).label, "probability": risk.probability,
               "band": risk.band.value,
               **read_risk(bundle.card, task, risk, shown["heart_rate"]).to_dict()}
        for task, risk in prediction.tasks.items()
    }
    return {
        "model": bundle.version,
        "sex": prediction.sex,
        "age_years": prediction.age_years,
        "leads_used": list(prediction.leads_used),
        "concepts": concepts,
        "risks": risks,
        "ood": None if prediction.ood is None else {
            **asdict(prediction.ood),
            "message": describe_score(prediction.ood.percentile, prediction.ood.high,
                                      prediction.ood.respect),
        },
        "paced": found_paced(stored),
        "measurement_notes": [asdict(note) for note in measurement_notes(stored)],
    }
