"""Users and login sessions. Functions take a session and never commit (the caller's scope does)."""

from __future__ import annotations

import functools
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.db.models import ApiToken, LoginSession, User

__all__ = ["ApiToken", "User"]  # the entities routes annotate with (they never import app.db)
from app.security import (
    Role,
    hash_password,
    new_token,
    password_problem,
    token_digest,
    username_problem,
    verify_password,
)
from app.services.audit import as_utc, record_event, utc_now


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown users, so timing does not reveal usernames."""
    return hash_password(secrets.token_urlsafe(16))


def shown_name(viewer: User, username: str, pseudonym: str) -> str:
    """How a user is named to ``viewer``: the username for clinicians and admins, the pseudonym
    for researchers, who see no identity on any route (API, pages, exports, analytics)."""
    return pseudonym if viewer.role == Role.RESEARCHER.value else username


def shown_comment(viewer: User, comment: str | None) -> str | None:
    """A free-text comment as ``viewer`` may see it: withheld from researchers (a clinician may
    type an identifier into one)."""
    return None if viewer.role == Role.RESEARCHER.value else comment


class UserError(ValueError):
    """A user could not be created or changed; the message says why."""


def create_user(session: Session, username: str, password: str, role: Role,
                created_by: int | None = None) -> User:
    """Create a user with an argon2id-hashed password and a random pseudonym for exports."""
    problem = username_problem(username) or password_problem(password, username)
    if problem:
        raise UserError(problem)
    if session.execute(select(User.id).where(User.username == username)).first():
        raise UserError(f"user {username!r} already exists")
    user = User(
        username=username,
        pseudonym=f"U-{secrets.token_hex(4).upper()}",
        password_hash=hash_password(password),
        role=role.value,
        is_active=True,
    )
    session.add(user)
    session.flush()
    record_event(session, "user_created", created_by, target_user=user.pseudonym, role=role.value)
    return user


def change_user_account(session: Session, user: User, admin: User, role: Role | None,
                        is_active: bool | None) -> User:
    """Change ``user``'s role and/or activity (audited). Deactivation ends their login sessions
    and revokes their API tokens for good, so a later reactivation revives neither: they log
    in again and create new tokens."""
    if role is not None:
        user.role = role.value
    if is_active is False and user.is_active:
        now = utc_now()
        session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
        session.execute(update(ApiToken)
                        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                        .values(revoked_at=now))
    if is_active is not None:
        user.is_active = is_active
    record_event(session, "user_changed", admin.id, target_user=user.pseudonym,
                 role=user.role, is_active=user.is_active)
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, else ``None`` (failed attempts are audited)."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        verify_password(_dummy_hash(), password)
        record_event(session, "login_failed", None, reason="unknown user")
        return None
    if not verify_password(user.password_hash, password) or not user.is_active:
        record_event(session, "login_failed", user.id, reason="wrong password or inactive")
        return None
    record_event(session, "login", user.id)
    return user


def open_session(session: Session, user: User, lifetime_hours: float) -> str:
    """Create a login session for ``user``; returns the cookie token (stored only hashed)."""
    token = new_token()
    now = utc_now()
    session.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    session.add(
        LoginSession(
            token_sha256=token_digest(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(hours=lifetime_hours),
        )
    )
    return token


def close_session(session: Session, token: str, user_id: int | None) -> None:
    """End the login session behind ``token`` (logout)."""
    session.execute(delete(LoginSession).where(LoginSession.token_sha256 == token_digest(token)))
    record_event(session, "logout", user_id)


API_TOKEN_PREFIX = "qtl_"


def create_api_token(session: Session, user: User, name: str,
                     expires_days: int | None) -> tuple[ApiToken, str]:
    """A personal API token for ``user``: ``(row, token)``; the token is shown only once."""
    token = API_TOKEN_PREFIX + new_token()
    now = utc_now()
    row = ApiToken(
        user_id=user.id, name=name, token_sha256=token_digest(token), created_at=now,
        expires_at=now + timedelta(days=expires_days) if expires_days else None,
    )
    session.add(row)
    session.flush()
    record_event(session, "api_token_created", user.id, token_id=row.id, name=name)
    return row, token


def revoke_api_token(session: Session, user: User, token_id: int) -> ApiToken | None:
    """Revoke one of ``user``'s tokens; ``None`` when it is not theirs or does not exist."""
    row = session.execute(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    ).scalar_one_or_none()
    if row is not None and row.revoked_at is None:
        row.revoked_at = utc_now()
        record_event(session, "api_token_revoked", user.id, token_id=row.id)
    return row


def user_for_credentials(session: Session, api_token: str | None,
                         session_token: str | None, now: datetime) -> User | None:
    """The active user a personal API token (when given: never falling back to the cookie) or
    else a login-session token stands for at ``now`` (UTC); ``None`` for unknown, expired or
    revoked credentials and inactive users."""
    if api_token is not None:
        row: ApiToken | LoginSession | None = session.execute(
            select(ApiToken).where(ApiToken.token_sha256 == token_digest(api_token))
        ).scalar_one_or_none()
        valid = row is not None and row.revoked_at is None and (  # type: ignore[union-attr]
            row.expires_at is None or as_utc(row.expires_at) > now)
    elif session_token:
        row = session.execute(
            select(LoginSession).where(LoginSession.token_sha256 == token_digest(session_token))
        ).scalar_one_or_none()
        valid = row is not None and as_utc(row.expires_at) > now
    else:
        return None
    user = row.user if valid and row is not None else None
    return user if user is not None and user.is_active else None


def list_users(session: Session) -> list[User]:
    """Every user, oldest first."""
    return list(session.execute(select(User).order_by(User.id)).scalars())


def find_user(session: Session, username: str) -> User | None:
    """The user called ``username``, if any."""
    return session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def list_api_tokens(session: Session, user: User) -> list[ApiToken]:
    """``user``'s personal API tokens, oldest first."""
    return list(session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)).scalars())
