"""HTML pages (Jinja2). They render shells; the data comes from the JSON API via static JS."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.api.deps import (
    AdminUser,
    AnyUser,
    ClinicianUser,
    ContextDep,
    CsrfChecked,
    OptionalUser,
    ResearcherUser,
)
from app.api.routes.auth import (
    csrf_token_and_cookie,
    login_user,
    logout_user,
    set_anon_cookie,
    set_cookie,
)
from app.context import AppContext
from app.security import SESSION_COOKIE
from app.services.users import User
from app.settings import PROJECT_ROOT
from models.change import get_change_concept, is_change_concept
from models.concepts import REGISTRY, get_concept, is_concept
from models.heads.describe import describe_head
from models.tasks import TASKS

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=PROJECT_ROOT / "frontend" / "templates")
templates.env.filters["concept_label"] = lambda name: (
    get_concept(name).label if is_concept(name)
    else get_change_concept(name).concept.label if is_change_concept(name) else name)


def render(request: Request, context: AppContext, name: str, user: User | None,
           status_code: int = 200, **values: object) -> HTMLResponse:
    """Render ``name`` with the user, the CSRF token and the registries every page may need."""
    csrf, fresh_cookie = csrf_token_and_cookie(request, context)
    page = templates.TemplateResponse(
        request,
        name,
        {"user": user, "csrf_token": csrf, "concepts": REGISTRY, "tasks": TASKS, **values},
        status_code=status_code,
    )
    set_anon_cookie(page, context, fresh_cookie)
    return page


def _home_for(user: User) -> str:
    return "/research" if user.role == "researcher" else "/worklist"


@router.get("/")
def home(user: OptionalUser) -> RedirectResponse:
    """Send people to their start page."""
    return RedirectResponse(_home_for(user) if user else "/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, context: ContextDep, user: OptionalUser) -> Response:
    """The login form."""
    if user is not None:
        return RedirectResponse(_home_for(user), status_code=303)
    return render(request, context, "login.html", None)


def _safe_next(next_path: str | None) -> str | None:
    """Only same-site absolute paths are followed after login (no open redirect)."""
    if next_path and next_path.startswith("/") and not next_path.startswith("//"):
        return next_path
    return None


@router.post("/login", dependencies=[CsrfChecked])
def login_submit(
    request: Request,
    context: ContextDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next_path: Annotated[str | None, Form(alias="next", max_length=512)] = None,
) -> Response:
    """Check the credentials, set the session cookie and go to the start page."""
    try:
        user, token = login_user(request, context, username, password)
    except HTTPException as error:
        if error.status_code not in (401, 429):
            raise
        return render(request, context, "login.html", None, status_code=error.status_code,
                      error=str(error.detail), username=username)
    response = RedirectResponse(_safe_next(next_path) or _home_for(user), status_code=303)
    set_cookie(response, context, SESSION_COOKIE, token,
               max_age_s=int(context.settings.session_hours * 3600))
    return response


@router.post("/logout", dependencies=[CsrfChecked])
def logout_submit(request: Request, context: ContextDep, user: OptionalUser) -> Response:
    """End the session and return to the login page."""
    logout_user(request, context, user)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/worklist", response_class=HTMLResponse)
def worklist_page(request: Request, context: ContextDep, user: ClinicianUser) -> HTMLResponse:
    """Records to review, and the upload box."""
    limits = context.settings.ingest_limits
    return render(request, context, "worklist.html", user,
                  max_upload_mb=limits.max_upload_bytes // (1024 * 1024))


@router.get("/records/{public_id}", response_class=HTMLResponse)
def record_page(public_id: str, request: Request, context: ContextDep,
                user: AnyUser) -> HTMLResponse:
    """The ECG on paper, the concept panel and the risk."""
    from app.services.records import RecordNotFound, get_record

    with context.db.read() as session:
        try:
            get_record(session, public_id)
        except RecordNotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no record {public_id}") from None
    return render(request, context, "record.html", user, record_id=public_id,
                  can_edit=user.role in ("clinician", "admin"))


@router.get("/research", response_class=HTMLResponse)
def research_page(request: Request, context: ContextDep, user: ResearcherUser) -> HTMLResponse:
    """Intervention analytics and exports."""
    return render(request, context, "research.html", user)


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, context: ContextDep, user: AdminUser) -> HTMLResponse:
    """Users, roles and the model card."""
    return render(request, context, "admin.html", user, model=context.model)


@router.get("/about", response_class=HTMLResponse)
def about_page(request: Request, context: ContextDep, user: AnyUser) -> HTMLResponse:
    """The model card as a readable page: per risk, the head in force, what its number means,
    what it was learned from, its bands and limitations; then the concept network's data and
    figures."""
    model = context.model
    heads = {t.name: describe_head(model.card, t.name) for t in TASKS}
    return render(request, context, "about.html", user, model=model, card=model.card, heads=heads)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, context: ContextDep, user: AnyUser) -> HTMLResponse:
    """Personal API tokens."""
    return render(request, context, "account.html", user)
