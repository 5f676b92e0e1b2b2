"""One router per resource, gathered under ``/api/v1``."""

from fastapi import APIRouter

from app.api.routes import (
    admin,
    analytics,
    auth,
    concepts,
    explanations,
    exports,
    health,
    predictions,
    records,
    tokens,
)
from app.services.schemas import ErrorOut

#: Every client error of every route has the one error shape (validation errors included).
router = APIRouter(responses={"4XX": {"model": ErrorOut,
                                      "description": "Client error: `{error, message, field}`."}})
for module in (health, auth, tokens, concepts, records, predictions, explanations, exports,
               analytics, admin):
    router.include_router(module.router)
