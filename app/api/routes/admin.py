"""Administration: users and roles, and the loaded model's card."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from app.api.deps import AdminUser, ContextDep, CsrfChecked
from app.security import Role
from app.services import users as user_service
from app.services.schemas import UserIn, UserOut
from app.services.users import User, UserError, change_user_account, create_user

router = APIRouter(prefix="/admin", tags=["admin"])


class UserChange(BaseModel):
    """Fields an admin may change on a user."""

    role: Role | None = None
    is_active: bool | None = None


@router.get("/users", response_model=list[UserOut])
def list_users(admin: AdminUser, context: ContextDep) -> list[User]:
    """All users."""
    with context.db.read() as session:
        return user_service.list_users(session)


@router.post("/users", response_model=UserOut, status_code=201, dependencies=[CsrfChecked])
def add_user(new_user: UserIn, admin: AdminUser, context: ContextDep) -> User:
    """Create a user with a role."""
    try:
        with context.db.write() as session:
            return create_user(session, new_user.username, new_user.password, new_user.role,
                               created_by=admin.id)
    except UserError as error:
        raise HTTPException(status.HTTP_409_CONFLICT if "exists" in str(error)
                            else status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None


@router.patch("/users/{username}", response_model=UserOut, dependencies=[CsrfChecked])
def change_user(username: str, change: UserChange, admin: AdminUser,
                context: ContextDep) -> User:
    """Change a user's role or deactivate/reactivate them (deactivation ends their sessions
    and revokes their API tokens; reactivation revives neither)."""
    with context.db.write() as session:
        user = user_service.find_user(session, username)
        if user is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {username}")
        if user.id == admin.id and (change.is_active is False or
                                    (change.role and change.role is not Role.ADMIN)):
            raise HTTPException(status.HTTP_409_CONFLICT,
                                "you cannot demote or deactivate yourself")
        return change_user_account(session, user, admin, change.role, change.is_active)


@router.get("/model")
def model_card(admin: AdminUser, context: ContextDep) -> dict[str, Any]:
    """The loaded bundle's card, checksum and device."""
    model = context.model
    return {"name": model.version, "checksum": model.checksum, "device": str(model.device),
            "card": model.card}
