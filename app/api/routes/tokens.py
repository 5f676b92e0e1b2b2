"""Personal API tokens, for scripts and notebooks (``Authorization: Bearer qtl_…``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import AnyUser, ContextDep, CsrfChecked, RowId
from app.services.schemas import FreeText, UtcDatetime
from app.services.users import ApiToken, create_api_token, list_api_tokens, revoke_api_token

router = APIRouter(prefix="/me/tokens", tags=["auth"])


class TokenIn(BaseModel):
    """A new token's label and lifetime."""

    name: FreeText = Field(min_length=1, max_length=64)
    expires_days: Annotated[int | None, Field(ge=1, le=3650)] = 90


class TokenOut(BaseModel):
    """A token as listed (never the secret itself)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: UtcDatetime
    expires_at: UtcDatetime | None
    revoked_at: UtcDatetime | None


class NewTokenOut(TokenOut):
    """A freshly created token: ``token`` is shown this once and never again."""

    token: str


@router.get("", response_model=list[TokenOut])
def list_tokens(user: AnyUser, context: ContextDep) -> list[ApiToken]:
    """The caller's tokens."""
    with context.db.read() as session:
        return list_api_tokens(session, user)


@router.post("", response_model=NewTokenOut, status_code=201, dependencies=[CsrfChecked])
def new_token(body: TokenIn, user: AnyUser, context: ContextDep) -> NewTokenOut:
    """Create a token; copy it now, it cannot be shown again."""
    with context.db.write() as session:
        row, token = create_api_token(session, user, body.name, body.expires_days)
        return NewTokenOut(**TokenOut.model_validate(row).model_dump(), token=token)


@router.delete("/{token_id}", status_code=204, dependencies=[CsrfChecked])
def revoke_token(token_id: RowId, user: AnyUser, context: ContextDep) -> None:
    """Revoke one of the caller's tokens."""
    with context.db.write() as session:
        if revoke_api_token(session, user, token_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no token {token_id}")
