"""The FastAPI application factory.

``create_app(settings)`` wires routers, error handlers, security headers and the lifespan that
loads the model bundle once (CUDA when available, else CPU) and opens the database.
"""

from __future__ import annotations

import gc
import json
import logging
import sys
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.routes import router as api_router
from app.api.routes.health import router as health_router
from app.cache import LruCache
from app.context import AppContext, WorkerPool, configure_torch_threads
from app.db.session import Database
from app.isolation import IsolatedPool
from app.pages import router as pages_router
from app.ratelimit import RateLimiter
from app.services.audit import seal_from_settings
from app.services.explanations import CACHE_ENTRIES as EXPLANATION_CACHE_ENTRIES
from app.services.predictions import warm_up
from app.services.records import RecordLocked
from app.settings import PROJECT_ROOT, Settings
from models.ecg.errors import EcgInputError

LOGGER = logging.getLogger("qtlens")
STATIC_DIR = PROJECT_ROOT / "frontend" / "static"
API_PREFIX = "/api/v1"
#: Threads running the synchronous routes (database work). AnyIO's default of 40 only adds
#: contention for the interpreter lock and the connection pool (15 on SQLite) on a small host;
#: the event loop, and with it ``/health``, answers faster with fewer.
REQUEST_THREADS = 12
#: How long a thread may hold the interpreter lock while another waits (CPython's default is
#: 5 ms). The event loop waits for it behind measurement and database threads at every step of
#: a request; at 1 ms, /health's p99 under 50 clients for 60 s fell from ~95 ms to ~45 ms.
GIL_SWITCH_INTERVAL_S = 0.001

#: Scripts only from this origin (no inline script, no eval). Plotly injects <style> rules at run
#: time, so styles allow 'unsafe-inline' (plotly/plotly.js#7543); scripts stay strict.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeaders:
    """Pure ASGI middleware adding the security headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    header for header in SECURITY_HEADERS if header[0] not in present
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimit:
    """Pure ASGI middleware refusing request bodies above ``max_bytes`` with 413.

    Checks ``Content-Length`` before reading anything and counts streamed bytes for chunked
    bodies, so an oversized upload never reaches memory or disk.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                too_large = True
            if too_large:
                await self._refuse(send)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge(self.message)
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLarge:
            await self._refuse(send)

    @property
    def message(self) -> str:
        """What the 413 says."""
        return f"the upload is larger than {self.max_bytes // (1024 * 1024)} MB"

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(_error_body("too_large", self.message)).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(StarletteHTTPException):
    """Raised inside the receive channel to abort an oversized body. An HTTP error, because
    FastAPI turns any other exception raised while it parses a body into a 400."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(API_PREFIX) and "text/html" in request.headers.get(
        "accept", ""
    )


def _error_body(kind: str, message: str, field: str | None = None) -> dict[str, str | None]:
    return {"error": kind, "message": message, "field": field}


_HTTP_ERROR_KINDS = {
    400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_format",
    422: "invalid_request", 429: "rate_limited", 503: "unavailable",
}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(EcgInputError)
    async def ecg_input_error(_request: Request, error: EcgInputError) -> JSONResponse:
        return JSONResponse(error.to_dict(), status_code=error.status_code)

    # Starlette's class, so that its own errors (unknown route, malformed multipart) get the
    # same {error, message, field} body as the application's.
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 401 and _wants_html(request):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        kind = _HTTP_ERROR_KINDS.get(error.status_code, "error")
        return JSONResponse(
            _error_body(kind, str(error.detail)),
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(RecordLocked)
    async def record_locked(_request: Request, error: RecordLocked) -> JSONResponse:
        # A reviewed record refuses every change until a clinician reopens it (README, "Review").
        return JSONResponse(_error_body("record_locked", str(error), "status"), status_code=423)

    @app.exception_handler(DataError)
    async def unstorable_value(_request: Request, error: DataError) -> JSONResponse:
        # The database refused a value the client sent (PostgreSQL: text with a NUL character).
        LOGGER.warning("database refused a request value: %s", type(error.orig).__name__)
        return JSONResponse(_error_body(
            "invalid_request", "the request holds a value the database cannot store or compare "
            "(for example a NUL character)"), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        location = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        message = f"{location}: {first.get('msg', 'invalid value')}" if location else str(
            first.get("msg", "invalid request"))
        return JSONResponse(
            _error_body("invalid_request", message, location or None), status_code=422
        )


def build_context(settings: Settings) -> AppContext:
    """Open the database, load the model bundle, size the worker pool and warm the model up.

    The isolated workers start (a fork server importing the readers and the model, then each
    worker loading and warming up its own copy, several seconds on a CPU) in a thread while
    this process analyses its own warm-up ECG, so that start-up pays for the longer of the two
    rather than their sum."""
    from models.bundle import load_bundle

    bundle = load_bundle(settings.model_bundle, device=settings.device)
    model_in_workers = bundle.device.type == "cpu"  # on a CPU the workers run the network
    configure_torch_threads(settings.inference_workers, model_in_workers)
    LOGGER.info("model %s loaded on %s", bundle.version, bundle.device)
    with ThreadPoolExecutor(1, thread_name_prefix="isolated-start") as starter:
        isolated = starter.submit(
            IsolatedPool, settings.inference_workers,
            max_waiting=8 * settings.inference_workers,
            memory_bytes=settings.worker_memory_mb * 1024 * 1024,
            cpu_seconds=settings.worker_cpu_seconds,
            # on a CPU the workers run the network too; a GPU stays here
            bundle_path=settings.model_bundle if model_in_workers else None)
        try:
            LOGGER.info("warm-up analysis took %.0f ms", warm_up(bundle))
            database = Database(settings.database_url, seal_from_settings(settings))
        except BaseException:
            _shut_down_when_started(isolated)
            raise
        return AppContext(
            settings=settings,
            db=database,
            model=bundle,
            pool=WorkerPool(settings.inference_workers, max_waiting=8 * settings.inference_workers),
            isolated=isolated.result(),
            login_limiter=RateLimiter(settings.login_rate_per_minute),
            upload_limiter=RateLimiter(settings.upload_rate_per_minute),
            explanations=LruCache(EXPLANATION_CACHE_ENTRIES),
        )


def _shut_down_when_started(starting: Future[IsolatedPool]) -> None:
    """Shut the isolated workers down once they have started, when start-up failed meanwhile
    (the warm-up or the database): no fork server or worker outlives a failed start. A start
    that failed itself leaves nothing to shut down."""
    try:
        pool = starting.result()
    except Exception:  # noqa: BLE001 - the start-up error being raised is the one to report
        return
    pool.shutdown()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The QTLens ASGI application for ``settings`` (default: from the environment)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = build_context(settings)
        # Everything alive now (libraries, the model) lives as long as the process: out of the
        # cyclic collector's sight, a full collection no longer stalls every request (~200 ms).
        gc.freeze()
        to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        switch_interval_s = sys.getswitchinterval()
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        app.state.context = context
        try:
            yield
        finally:
            sys.setswitchinterval(switch_interval_s)
            context.pool.shutdown()
            context.isolated.shutdown()
            context.db.dispose()

    app = FastAPI(
        title="QTLens API",
        version="1",
        summary="Long-QT and drug-induced TdP risk from the 12-lead ECG, through expert concepts.",
        description="Research use only — not a medical device. All routes below `/api/v1` "
        "answer JSON; errors are `{error, message, field}`.",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json",
    )
    _install_error_handlers(app)
    app.include_router(api_router, prefix=API_PREFIX)
    # Probes also answer at the root, where load balancers and orchestrators look for them.
    app.include_router(health_router, include_in_schema=False)
    app.include_router(pages_router)

    plotly_js = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    async def plotly_bundle() -> FileResponse:
        """plotly.js served from the installed plotly package: local, no CDN."""
        return FileResponse(plotly_js, media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Multipart framing adds a little to the files themselves.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes + 64 * 1024)
    app.add_middleware(SecurityHeaders)
    return app
