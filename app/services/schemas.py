"""API shapes (pydantic), beside the services that produce them (routes return them; the
services never import :mod:`app.api`). Storage shapes live in :mod:`app.db.models`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.security import Role
from app.services.audit import as_utc

#: A moment shown as RFC 3339 with its UTC offset, whatever the database handed back.
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]

#: Control characters refused in free text: C0 (NUL included) but tab, line feed and carriage
#: return, DEL, and C1. Refused rather than stripped, identically on both engines (PostgreSQL
#: cannot store NUL in text; SQLite would store it silently).
_CONTROL_CHARACTERS = frozenset(chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))) - {
    "\t", "\n", "\r"}


def _no_control_characters(text: str) -> str:
    """``text`` unchanged; ``ValueError`` if it holds a control character."""
    found = next((c for c in text if c in _CONTROL_CHARACTERS), None)
    if found is not None:
        raise ValueError(f"must not contain control character U+{ord(found):04X} "
                         "(tabs and line breaks are fine)")
    return text


#: User-typed free text (comments, token names).
FreeText = Annotated[str, AfterValidator(_no_control_characters)]


class ErrorOut(BaseModel):
    """Every 4xx body: a machine-readable kind, a sentence for people, and the field at fault."""

    error: str
    message: str
    field: str | None = None


class LoginIn(BaseModel):
    """Credentials for ``POST /auth/login``."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserOut(BaseModel):
    """A user as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    username: str
    pseudonym: str
    role: Role
    is_active: bool


class UserIn(BaseModel):
    """An admin's request to create a user."""

    username: str = Field(max_length=256,
                          description="Checked by app.security.username_problem (the CLI too).")
    password: str = Field(min_length=1, max_length=1024)
    role: Role


class DeviceValueOut(BaseModel):
    """One interval or axis as the cart measured it."""

    name: str = Field(description="Quantity; equals a concept name where it means the same.")
    label: str
    unit: str
    value: float


class DeviceReadingOut(BaseModel):
    """The cart's own reading stored in the file (MUSE, Philips Sierra, HL7 aECG)."""

    source: str
    values: list[DeviceValueOut]
    statements: list[str] = Field(description="The cart's interpretation, one line each.")


class RecordOut(BaseModel):
    """A de-identified record (no signal; see ``/records/{id}/signal``)."""

    id: str = Field(description="Pseudonymous record id.")
    uploaded_at: UtcDatetime
    source_format: str
    fs_hz: float
    n_leads: int
    lead_names: list[str]
    duration_s: float
    age_years: int | None
    sex: Literal["female", "male"] | None
    status: str = Field(description="new, predicted or reviewed; a reviewed record is locked.")
    reviewed_by: str | None = Field(default=None, description="Who reviewed it (while reviewed).")
    reviewed_at: UtcDatetime | None = None
    removed_fields: list[str] = Field(
        description="Names of identifying fields found in the upload and dropped on ingest."
    )
    latest_prediction_id: int | None = None
    series_id: str | None = Field(
        default=None, description="Pseudonymous subject series (ours, SER-…), if any."
    )
    is_baseline: bool = Field(default=False, description="The series' baseline ECG.")
    qtc_name: str = Field(description="The primary QTc formula (a setting; Fridericia default).")
    qtc_ms: float | None = Field(
        default=None, description="Headline QTc in ms in force (the primary formula)."
    )
    risks: dict[str, float] = Field(
        default_factory=dict, description="Risks in force (clinician values applied)."
    )
    risk_bands: dict[str, str] = Field(default_factory=dict)
    adjusted: bool = Field(
        default=False, description="A clinician value is in force on the latest prediction."
    )
    risk_points: dict[str, float] = Field(
        default_factory=dict, description="Tasks whose risk is a points score (Schwartz): points.")
    device: DeviceReadingOut | None = Field(
        default=None, description="The cart's intervals and statements, when the file has them.")


class SignalOut(BaseModel):
    """A window of the de-identified signal for plotting, in mV."""

    fs_hz: float
    lead_names: list[str]
    start_s: float
    duration_s: float
    record_duration_s: float
    signal_mv: list[list[float]]


class ConceptOut(BaseModel):
    """One concept on a prediction: what the model says, what was measured, what is in force."""

    name: str
    label: str
    unit: str
    kind: Literal["continuous", "binary"]
    model_value: float | None
    uncertainty: float | None
    probability: float | None = Field(default=None, description="Binary concepts: P(present).")
    measured_value: float | None
    measured_reason: str | None = Field(
        default=None, description="Why the signal pipeline could not measure it."
    )
    measured_low_confidence: str | None = Field(
        default=None,
        description="Why the measured value should be checked by eye (QT and what derives from it: T end "
        "resting on ≤ 2 leads, QT implausible for the heart rate, or ≥ 3 leads ending their T "
        "wave far earlier than the leads the T end follows); null when there is no doubt.",
    )
    value: float | None = Field(description="The value in force: the clinician's, else the model's.")
    overridden: bool
    overridden_by: str | None = None
    normal_range: str
    decimals: int = Field(description="Digits to show.")
    flag: str = Field(description="Flag of the value in force.")
    flag_note: str = ""
    derived_from: list[str] = Field(
        default_factory=list, description="Concepts it is computed from (empty: primary)."
    )
    sets: str | None = Field(
        default=None, description="A typed value of this derived concept sets this primary one."
    )
    can_be_typed: bool = Field(default=True, description="A clinician may give its value.")
    checkable: bool = Field(default=True, description="Calipers or eye can check it on a strip.")
    disagreement: str | None = Field(
        default=None,
        description="Set when the model's and the measured value differ beyond their combined "
        "uncertainty, in words: 'model 455 ms, measured 364 ms'.",
    )


class TaskRiskOut(BaseModel):
    """The risk of one task with each concept's contribution to its logit."""

    task: str
    label: str
    probability: float
    band: Literal["low", "intermediate", "high"]
    contributions: dict[str, float]
    learned_from: str | None = Field(
        default=None, description="The data the head behind this risk was learned from (model card)."
    )
    head: str | None = Field(
        default=None, description="Which head produced the risk, e.g. 'Schwartz score (ECG items)'.")
    head_kind: Literal["network", "logistic", "points"] | None = None
    meaning: str | None = Field(
        default=None, description="One plain sentence: what the probability is and what it was "
        "learned from (from the model card).")
    points: float | None = Field(
        default=None, description="A points head's score (e.g. Schwartz points); else null.")
    max_points: float | None = Field(
        default=None, description="The most a points head's items can give; else null.")
    band_cutoffs: str | None = Field(
        default=None, description="Where this head's bands begin, as the risk is shown, e.g. "
        "'intermediate from 96.5 %, high from 99.89 %' (a calibrated head's 'low' may sit at a "
        "high probability); null for a prediction of another bundle.")
    basis: Literal["single", "change"] = Field(
        default="single",
        description="single: read from this ECG alone; change: from its change against the "
        "series' baseline ECG (contributions then name change concepts).",
    )


class ChangeOut(BaseModel):
    """One change concept of this ECG against its series' baseline ECG (values in force)."""

    name: str
    label: str
    unit: str
    source: str = Field(description="The concept it is the change of (override it to move it).")
    value: float | None = Field(description="This ECG minus the baseline (T amplitude: %).")
    current_value: float | None
    baseline_value: float | None
    decimals: int
    flag: Literal["normal", "borderline", "abnormal", "critical"]
    flag_note: str = ""


class SeriesViewOut(BaseModel):
    """The series context of a prediction: its baseline ECG and that ECG's median beats."""

    series_id: str
    baseline_record_id: str | None
    baseline_prediction_id: int | None
    note: str | None = Field(default=None, description="Why no change is shown, if none is.")
    baseline_median_beats: dict | None = Field(
        default=None, description="The baseline's median beats per lead (seconds, mV)."
    )


class SeriesIn(BaseModel):
    """Put a record in a series: 'new', an existing series id, or null for none."""

    series: str | None = Field(default=None, max_length=32)
    baseline: bool = False


class SuggestionOut(BaseModel):
    """A concept worth checking next."""

    concept: str
    label: str
    score: float
    expected_risk_change: float
    reason: str
    task: str = Field(description="The risk it would move.")
    task_label: str


class OodOut(BaseModel):
    """How far the ECG lies from the real ECGs the model was trained on."""

    distance: float = Field(
        description="Mahalanobis distance of the network's penultimate features."
    )
    percentile: float = Field(
        description="Where the ECG falls (0-100) among real ECGs held out of the fit, in the "
        "respect where it lies furthest out."
    )
    high: bool = Field(
        description="Above the 99th percentile: the concepts and risks rest on a signal unlike "
        "the training ECGs."
    )
    respect: str | None = Field(
        description="That respect: noise, wander, limb_reversal (swapped arm electrodes), "
        "features or relative_features (the waveforms as the network sees them); null for "
        "predictions stored before respects were named."
    )
    message: str = Field(description="What the score means, in words, with what to check.")


class MeasurementNoteOut(BaseModel):
    """How the record was measured, in one sentence (:mod:`models.ecg.notes`)."""

    kind: Literal["global_qt", "lead_qt", "paced", "rhythm", "record"] = Field(
        description="What it is about: global_qt (which QT the QT row is, and which leads its T "
        "end rests on), lead_qt (QT in lead II or V5, the Long-QT criteria's lead), paced "
        "(pacemaker stimuli found), rhythm (rate corrections off), record (not measurable).")
    text: str


class PredictionOut(BaseModel):
    """A prediction in its current state (model output with every override applied)."""

    id: int
    record_id: str
    created_at: UtcDatetime
    model_name: str
    model_checksum: str
    device: str
    latency_ms: float
    concepts: list[ConceptOut]
    risks: list[TaskRiskOut]
    suggestion: SuggestionOut | None = Field(description="The best of ``suggestions``.")
    suggestions: list[SuggestionOut] = Field(
        default_factory=list, description="The best concept to check next for each risk."
    )
    primary_qtc: str = Field(description="The QTc formula shown as the QTc (a setting).")
    adjusted: bool = Field(description="A clinician value is in force.")
    editable: bool = Field(description="Made by the loaded model: concepts can be overridden.")
    fiducials: dict = Field(description="Delineation for plotting (seconds, mV); "
                            "``fiducials_in_force``: the median-beat marks in force (s from R) "
                            "and ``moved``, whether a clinician moved them. The answers of a "
                            "new prediction and of an intervention carry only "
                            "``fiducials_in_force`` (GET the prediction for the delineation; "
                            "no edit changes it).")
    series: SeriesViewOut | None = None
    changes: list[ChangeOut] = Field(default_factory=list)
    ood: OodOut | None = Field(
        default=None,
        description="Out-of-distribution score; null for a model without real-ECG statistics.",
    )
    paced: bool | None = Field(
        default=None, description="Pacemaker stimuli were found in the record (null: measured "
        "before QTLens looked for them).")
    measurement_notes: list[MeasurementNoteOut] = Field(
        default_factory=list, description="How the record was measured, in plain sentences.")


class InterventionIn(BaseModel):
    """A clinician's override of one concept."""

    concept: str = Field(min_length=1, max_length=64)
    value: float = Field(strict=True, allow_inf_nan=False,
                         description="A JSON number in the concept's unit (not a string).")
    source: Literal["typed", "caliper", "suggestion"] = "typed"
    comment: FreeText | None = Field(default=None, max_length=2000)


#: A median-beat position: ms from the R peak (negative before it), a JSON number.
FiducialMs = Annotated[float | None, Field(default=None, strict=True, allow_inf_nan=False,
                                           ge=-2000, le=2000)]


class FiducialMoveIn(BaseModel):
    """A clinician's move of median-beat fiducials (only the ones moved need be given)."""

    model_config = ConfigDict(extra="forbid")

    p_onset_ms: FiducialMs = None
    qrs_onset_ms: FiducialMs = None
    qrs_offset_ms: FiducialMs = None
    t_peak_ms: FiducialMs = None
    t_end_ms: FiducialMs = None
    comment: FreeText | None = Field(default=None, max_length=2000)

    def moves_ms(self) -> dict[str, float]:
        """The given positions by fiducial name (``t_end`` …), ms from R."""
        return {name.removesuffix("_ms"): value for name, value in self
                if name.endswith("_ms") and value is not None}


class InterventionOut(BaseModel):
    """One stored intervention event and the prediction state after it."""

    id: int
    created_at: UtcDatetime
    action: Literal["override", "revert"]
    concept: str
    unit: str
    model_value: float | None
    previous_value: float | None
    new_value: float | None
    risks_before: dict[str, float]
    risks_after: dict[str, float]
    user: str
    source: str
    comment: str | None
    fiducials: dict | None = Field(
        default=None, description="A fiducial move: positions before/after (ms from R) and the "
        "interval concepts they set (ms).")
    typed_concept: str | None = Field(
        default=None, description="A typed derived value (a QTc, J-Tpeak_c, heart rate) is "
        "stored as the primary concept it set: the concept the clinician typed; else null.")
    typed_value: float | None = Field(default=None, description="The value typed (its unit).")
    prediction: PredictionOut | None = None


class HealthOut(BaseModel):
    """Liveness and model status."""

    status: Literal["ok", "degraded"]
    model_loaded: bool
    model_name: str | None
    model_checksum: str | None
    device: str | None
    database: Literal["ok", "unavailable"] | None = None
