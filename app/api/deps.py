"""Dependencies that make route signatures read like sentences.

``ContextDep`` gives the application context; ``AnyUser``, ``ClinicianUser``,
``ResearcherUser`` and ``AdminUser`` authenticate the caller and check the role; ``CsrfChecked``
guards every state-changing route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status

from app.context import AppContext
from app.security import (
    ANON_COOKIE,
    CSRF_FORM_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    Role,
    csrf_token_valid,
)
from app.services.users import User, user_for_credentials

#: A row id in a URL: a positive integer that an INTEGER column holds on every engine
#: (PostgreSQL's is 32-bit), so an id out of range is a 422 rather than a driver overflow.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


async def get_context(request: Request) -> AppContext:
    """The application context built at start-up (async: a sync dependency would queue for the
    thread pool, so ``/health`` would wait behind busy database requests)."""
    return request.app.state.context


ContextDep = Annotated[AppContext, Depends(get_context)]


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if the request carries one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def optional_user(request: Request, context: ContextDep) -> User | None:
    """The caller: by personal API token when the request carries one (never falling back to
    the cookie then), else by login session; ``None`` for anonymous, expired or revoked."""
    api_token = bearer_token(request)
    session_token = request.cookies.get(SESSION_COOKIE)
    if api_token is None and not session_token:
        return None
    with context.db.read() as session:
        return user_for_credentials(session, api_token, session_token, datetime.now(UTC))


OptionalUser = Annotated[User | None, Depends(optional_user)]


class NotAuthenticated(HTTPException):
    """401 for the API; the page routes turn it into a redirect to the login page."""

    def __init__(self) -> None:
        super().__init__(status.HTTP_401_UNAUTHORIZED, "log in first")


def require_role(*roles: Role) -> Callable[[User | None], Awaitable[User]]:
    """A dependency admitting logged-in users with one of ``roles`` (admins always pass)."""
    allowed = {role.value for role in roles} | {Role.ADMIN.value}

    async def check(user: OptionalUser) -> User:  # async: no thread hop for a comparison
        if user is None:
            raise NotAuthenticated()
        if user.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the role {' or '.join(sorted(allowed))}; you are {user.role}",
            )
        return user

    return check


AnyUser = Annotated[User, Depends(require_role(Role.CLINICIAN, Role.RESEARCHER))]
ClinicianUser = Annotated[User, Depends(require_role(Role.CLINICIAN))]
ResearcherUser = Annotated[User, Depends(require_role(Role.RESEARCHER))]
AdminUser = Annotated[User, Depends(require_role(Role.ADMIN))]


def csrf_binding(request: Request) -> str | None:
    """The cookie value a CSRF token is bound to: the session, else the anonymous cookie."""
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE)


async def check_csrf(request: Request, context: ContextDep) -> None:
    """Refuse a state-changing request whose CSRF token is missing or wrong (403)."""
    if request.method in {"GET", "HEAD", "OPTIONS"} or bearer_token(request) is not None:
        # Bearer-token requests carry no ambient credential a third-party page could reuse.
        return
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        field = form.get(CSRF_FORM_FIELD)
        presented = field if isinstance(field, str) else None
    if not csrf_token_valid(context.settings.secret_key, csrf_binding(request), presented):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "missing or invalid CSRF token: reload the page and try again",
        )


CsrfChecked = Depends(check_csrf)
