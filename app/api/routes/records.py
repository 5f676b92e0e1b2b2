"""Upload, list, read, review and delete de-identified ECG records."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile, status
from starlette.concurrency import run_in_threadpool

from app.api.deps import AdminUser, AnyUser, ClinicianUser, ContextDep, CsrfChecked
from app.context import AppContext
from app.services import predictions as prediction_service
from app.services import records as record_service
from app.services import series as series_service
from app.services.schemas import RecordOut, SeriesIn, SignalOut
from app.services.users import User

router = APIRouter(prefix="/records", tags=["records"])

#: Largest worklist offset: beyond 64 bits the database driver overflows (a 500 that
#: schemathesis found), and no worklist holds a billion records.
MAX_LIST_OFFSET = 1_000_000_000

#: Longest window of signal one request returns, in seconds (the record page shows 10 s).
MAX_SIGNAL_WINDOW_S = 30.0


def summary(context: AppContext, session: record_service.Session,
            record: record_service.Record, viewer: User) -> RecordOut:
    """The record with its latest prediction's headline in force (as the worklist shows it)."""
    return prediction_service.record_summaries(session, context.model, [record], viewer,
                                               context.settings.primary_qtc)[0]


def record_or_404(session: record_service.Session, public_id: str,
                  with_signal: bool = False) -> record_service.Record:
    """The live record with this pseudonymous id (``with_signal``: its signal loaded with it),
    or 404."""
    try:
        return record_service.get_record(session, public_id, with_signal)
    except record_service.RecordNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no record {public_id}") from None


def check_upload_rate(user: User, context: AppContext) -> None:
    """429 when this user uploads faster than the configured rate."""
    wait_s = context.upload_limiter.retry_after_s(f"user:{user.id}")
    if wait_s > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many uploads; try again in {int(wait_s) + 1} s",
            headers={"Retry-After": str(int(wait_s) + 1)},
        )


@router.post(
    "",
    response_model=RecordOut,
    status_code=201,
    dependencies=[CsrfChecked],
    responses={413: {"description": "too large"}, 415: {"description": "unknown format"},
               422: {"description": "malformed ECG"}},
)
async def upload_record(
    files: Annotated[list[UploadFile], File(description="One ECG file, or a WFDB .hea + .dat")],
    user: ClinicianUser,
    context: ContextDep,
    series: Annotated[
        str | None,
        Form(max_length=32, description="'new' to start a subject series, or a series id."),
    ] = None,
    baseline: Annotated[bool, Form(description="The series' baseline ECG.")] = False,
) -> RecordOut:
    """Upload an ECG (any supported format); it is de-identified on ingest. Nothing is stored
    unless the whole file reads (and the series, if given, exists)."""
    check_upload_rate(user, context)
    limits = context.settings.ingest_limits
    # Before reading them: 413 like every size limit.
    record_service.check_file_count(len(files), limits)
    uploaded = [record_service.UploadedFile(name=f.filename or "upload", data=await f.read())
                for f in files]
    # In a worker process with capped memory and CPU time: never decoded in the API process.
    result = await context.isolated.run(record_service.read_upload, uploaded, limits)
    # In the thread pool: the write may wait for the SQLite lock; the event loop must not.
    series = series or None
    return await run_in_threadpool(_store_upload, context, user, result, uploaded, series, baseline)


def _store_upload(context: AppContext, user: User, result: record_service.IngestResult,
                  uploaded: list[record_service.UploadedFile], series: str | None,
                  baseline: bool) -> RecordOut:
    try:
        with context.db.write() as session:
            record = record_service.store_record(
                session, user, result, uploaded, context.settings.keep_original_bytes
            )
            if series is not None or baseline:
                series_service.assign_series(session, record, user, series, baseline)
            return summary(context, session, record, user)
    except series_service.SeriesError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None


@router.get("", response_model=list[RecordOut])
def list_records(
    user: AnyUser,
    context: ContextDep,
    record_status: Annotated[
        Literal["new", "predicted", "reviewed"] | None, Query(alias="status")
    ] = None,
    sort: Literal["newest", "oldest"] = "newest",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_LIST_OFFSET)] = 0,
) -> list[RecordOut]:
    """The worklist: live records, newest first, optionally filtered by status."""
    with context.db.read() as session:
        rows = record_service.list_records(session, record_status, sort == "newest", limit, offset)
        return prediction_service.record_summaries(session, context.model, rows, user,
                                                   context.settings.primary_qtc)


@router.get("/{public_id}", response_model=RecordOut)
def get_record(public_id: str, user: AnyUser, context: ContextDep) -> RecordOut:
    """One record's metadata and latest prediction id."""
    with context.db.read() as session:
        return summary(context, session, record_or_404(session, public_id), user)


@router.get("/{public_id}/signal", response_model=SignalOut)
def get_signal(
    public_id: str,
    user: AnyUser,
    context: ContextDep,
    start_s: Annotated[float, Query(ge=0, le=86_400)] = 0.0,
    duration_s: Annotated[float, Query(gt=0, le=MAX_SIGNAL_WINDOW_S)] = 10.0,
) -> SignalOut:
    """A window of the signal in mV for plotting (rounded to 1 µV)."""
    with context.db.read() as session:
        ecg = record_service.record_ecg(record_or_404(session, public_id, with_signal=True))
    first = round(start_s * ecg.fs_hz)
    if first >= ecg.n_samples:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"start_s={start_s} is beyond the end of the record ({ecg.duration_s:.1f} s)",
        )
    last = min(ecg.n_samples, first + round(duration_s * ecg.fs_hz))
    window = ecg.signal_mv[:, first:last].round(3)
    return SignalOut(
        fs_hz=ecg.fs_hz,
        lead_names=list(ecg.lead_names),
        start_s=first / ecg.fs_hz,
        duration_s=(last - first) / ecg.fs_hz,
        record_duration_s=ecg.duration_s,
        signal_mv=window.tolist(),
    )


@router.put("/{public_id}/series", response_model=RecordOut, dependencies=[CsrfChecked],
            responses={422: {"description": "unknown series, or a baseline outside a series"}})
def set_series(
    public_id: str, body: SeriesIn, user: ClinicianUser, context: ContextDep
) -> RecordOut:
    """Put the record in a subject series ('new' or an existing id; null takes it out),
    optionally as the series' baseline ECG (the previous baseline loses the mark). Audited."""
    try:
        with context.db.write() as session:
            record = record_or_404(session, public_id)
            series_service.assign_series(session, record, user, body.series, body.baseline)
            return summary(context, session, record, user)
    except series_service.SeriesError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None


@router.post("/{public_id}/review", response_model=RecordOut, dependencies=[CsrfChecked],
             responses={423: {"description": "already reviewed (locked)"}})
def review_record(public_id: str, user: ClinicianUser, context: ContextDep) -> RecordOut:
    """Mark the record reviewed by the caller. This locks it for everyone: overrides, reverts,
    calipers and new predictions answer 423 until a clinician reopens it."""
    with context.db.write() as session:
        record = record_or_404(session, public_id)
        record_service.mark_reviewed(session, record, user)
        return summary(context, session, record, user)


@router.post("/{public_id}/reopen", response_model=RecordOut, dependencies=[CsrfChecked],
             responses={409: {"description": "not reviewed"}})
def reopen_record(public_id: str, user: ClinicianUser, context: ContextDep) -> RecordOut:
    """Unlock a reviewed record for edits; the audit log keeps who reopened it, when, and
    whose review it undid."""
    with context.db.write() as session:
        record = record_or_404(session, public_id)
        try:
            record_service.reopen(session, record, user)
        except record_service.NotReviewed as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
        return summary(context, session, record, user)


@router.delete("/{public_id}", status_code=204, dependencies=[CsrfChecked])
def delete_record(public_id: str, admin: AdminUser, context: ContextDep) -> None:
    """Purge the record's signal (admin). Predictions and the intervention log are kept."""
    with context.db.write() as session:
        record = record_or_404(session, public_id)
        record_service.delete_record(session, record, admin)
