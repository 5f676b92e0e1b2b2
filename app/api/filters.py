"""Query parameters shared by the export and analytics routes (date window, model, user)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import Query
from pydantic import BeforeValidator, StringConstraints

from app.services.exports import ExportFilter

#: An empty form field (``from=``) means "no bound", as HTML forms send blank inputs.
BLANK_IS_NONE = BeforeValidator(lambda value: value or None)


def _optional_text(max_length: int) -> object:
    # The limits sit on the string alone: a blank field has become None before they apply. No NUL
    # character: PostgreSQL cannot compare text with one, and exports fail only mid-stream.
    return Annotated[str, StringConstraints(max_length=max_length, pattern=r"^[^\x00]*$")] | None


FromQuery = Annotated[date | None, BLANK_IS_NONE,
                      Query(alias="from", description="First day (UTC), inclusive.")]
ToQuery = Annotated[date | None, BLANK_IS_NONE,
                    Query(alias="to", description="Last day (UTC), inclusive.")]
ModelQuery = Annotated[_optional_text(128), BLANK_IS_NONE,  # type: ignore[valid-type]
                       Query(description="Model name or checksum.")]
UserQuery = Annotated[_optional_text(32), BLANK_IS_NONE,  # type: ignore[valid-type]
                      Query(alias="user", description="Clinician pseudonym.")]
ConceptQuery = Annotated[_optional_text(64), BLANK_IS_NONE,  # type: ignore[valid-type]
                         Query(description="Concept name from the registry.")]


def time_window(day_from: date | None, day_to: date | None, model: str | None) -> ExportFilter:
    """The UTC half-open creation-time window [from 00:00, to + 1 day 00:00) and model filter."""
    start = datetime.combine(day_from, time.min, tzinfo=UTC) if day_from else None
    end = (datetime.combine(day_to, time.min, tzinfo=UTC) + timedelta(days=1)
           if day_to else None)
    return ExportFilter(created_from=start, created_to=end, model=model or None)
