"""Liveness (``/health``) and readiness (``/ready``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import ContextDep
from app.services.schemas import HealthOut

router = APIRouter(tags=["health"])


def _model_status(context: ContextDep) -> dict[str, object]:
    model = context.model
    return {
        "model_loaded": model is not None,
        "model_name": model.version if model else None,
        "model_checksum": model.checksum if model else None,
        "device": str(model.device) if model else None,
    }


@router.get("/health", response_model=HealthOut)
async def health(context: ContextDep) -> HealthOut:
    """Liveness: the process answers and the model is loaded (no database round trip)."""
    status = _model_status(context)
    return HealthOut(status="ok" if status["model_loaded"] else "degraded", **status)


@router.get("/ready", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def ready(context: ContextDep) -> JSONResponse:
    """Readiness: the database is reachable and the model is loaded; 503 otherwise."""
    status = _model_status(context)
    database_ok = context.db.ping()
    ok = database_ok and bool(status["model_loaded"])
    body = HealthOut(
        status="ok" if ok else "degraded",
        database="ok" if database_ok else "unavailable",
        **status,
    )
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
