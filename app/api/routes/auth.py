"""Login, logout, the current user and the CSRF token."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status

from app.api.deps import AnyUser, ContextDep, CsrfChecked, OptionalUser, csrf_binding
from app.context import AppContext
from app.security import ANON_COOKIE, SESSION_COOKIE, csrf_token_for, new_token
from app.services.schemas import LoginIn, UserOut
from app.services.users import User, authenticate, close_session, open_session

router = APIRouter(tags=["auth"])


def set_cookie(response: Response, context: AppContext, name: str, value: str,
               max_age_s: int | None) -> None:
    """Set an HttpOnly, SameSite=Lax cookie (Secure when configured)."""
    response.set_cookie(
        name, value, max_age=max_age_s, httponly=True, samesite="lax",
        secure=context.settings.cookie_secure, path="/",
    )


def csrf_token_and_cookie(request: Request, context: AppContext) -> tuple[str, str | None]:
    """The CSRF token for this browser and, when it has no cookie to bind it to yet, the value
    of a new anonymous cookie the caller must set (see :func:`set_anon_cookie`)."""
    binding = csrf_binding(request)
    fresh = None
    if binding is None:
        binding = fresh = new_token()
    return csrf_token_for(context.settings.secret_key, binding), fresh


def set_anon_cookie(response: Response, context: AppContext, fresh: str | None) -> None:
    """Set the anonymous CSRF-binding cookie when :func:`csrf_token_and_cookie` made one."""
    if fresh is not None:
        set_cookie(response, context, ANON_COOKIE, fresh, max_age_s=None)


def check_login_rate(request: Request, context: AppContext) -> None:
    """429 when this client address has tried to log in too often."""
    client = request.client.host if request.client else "unknown"
    wait_s = context.login_limiter.retry_after_s(client)
    if wait_s > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many login attempts; try again in {int(wait_s) + 1} s",
            headers={"Retry-After": str(int(wait_s) + 1)},
        )


def login_user(request: Request, context: AppContext, username: str, password: str) -> tuple[
        User, str]:
    """Check the rate limit and credentials and open a session: ``(user, cookie token)``."""
    check_login_rate(request, context)
    with context.db.write() as session:
        user = authenticate(session, username, password)
        token = open_session(session, user, context.settings.session_hours) if user else None
    if user is None or token is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    return user, token


def logout_user(request: Request, context: AppContext, user: User | None) -> None:
    """End the caller's session (if any)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with context.db.write() as session:
            close_session(session, token, user.id if user else None)


@router.get("/auth/csrf")
async def csrf(request: Request, response: Response, context: ContextDep) -> dict[str, str]:
    """The CSRF token to send as ``X-CSRF-Token`` with every state-changing request."""
    token, fresh = csrf_token_and_cookie(request, context)
    set_anon_cookie(response, context, fresh)
    return {"csrf_token": token}


@router.post("/auth/login", response_model=UserOut, dependencies=[CsrfChecked])
def login(credentials: LoginIn, request: Request, response: Response,
          context: ContextDep) -> User:
    """Log in; sets the session cookie. A new CSRF token is then needed (``GET /auth/csrf``)."""
    user, token = login_user(request, context, credentials.username, credentials.password)
    set_cookie(response, context, SESSION_COOKIE, token,
               max_age_s=int(context.settings.session_hours * 3600))
    return user


@router.post("/auth/logout", status_code=204, dependencies=[CsrfChecked])
def logout(request: Request, context: ContextDep, user: OptionalUser) -> Response:
    """Log out: the session is deleted server-side and the cookie cleared."""
    logout_user(request, context, user)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=UserOut)
async def me(user: AnyUser) -> User:
    """The logged-in user."""
    return user
