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

router = APIRouter()
for module in (health, auth, tokens, concepts, records, predictions, explanations, exports,
               analytics, admin):
    router.include_router(module.router)
