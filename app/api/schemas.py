"""API shapes (pydantic). Storage shapes live in :mod:`app.db.models`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.security import Role
from app.services.audit import as_utc

#: A moment shown as RFC 3339 with its UTC offset, whatever the database handed back.
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


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

    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=1, max_length=1024)
    role: Role


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
    status: str
    removed_fields: list[str] = Field(
        description="Names of identifying fields found in the upload and dropped on ingest."
    )
    latest_prediction_id: int | None = None
    qtc_ms: float | None = Field(default=None, description="Headline QTc (Fridericia) in ms.")
    risks: dict[str, float] = Field(default_factory=dict)
    risk_bands: dict[str, str] = Field(default_factory=dict)


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
        "resting on ≤ 2 leads, or QT implausible for the heart rate); null when there is no doubt.",
    )
    value: float | None = Field(description="The value in force: the clinician's, else the model's.")
    overridden: bool
    overridden_by: str | None = None
    normal_range: str
    decimals: int = Field(description="Digits to show.")
    flag: str
    flag_note: str = ""


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


class SuggestionOut(BaseModel):
    """The concept most worth checking next."""

    concept: str
    label: str
    score: float
    expected_risk_change: float
    reason: str


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
    suggestion: SuggestionOut | None
    fiducials: dict = Field(description="Delineation for plotting (seconds, mV).")


class InterventionIn(BaseModel):
    """A clinician's override of one concept."""

    concept: str = Field(min_length=1, max_length=64)
    value: float = Field(allow_inf_nan=False)
    source: Literal["typed", "caliper", "suggestion"] = "typed"
    comment: str | None = Field(default=None, max_length=2000)


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
    prediction: PredictionOut | None = None


class HealthOut(BaseModel):
    """Liveness and model status."""

    status: Literal["ok", "degraded"]
    model_loaded: bool
    model_name: str | None
    model_checksum: str | None
    device: str | None
    database: Literal["ok", "unavailable"] | None = None
