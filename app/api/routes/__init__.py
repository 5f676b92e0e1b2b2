"""One router per resource, gathered under ``/api/v1``."""

from fastapi import APIRouter

from app.api.routes import (
    admin,
    auth,
    concepts,
    exports,
    health,
    predictions,
    records,
    tokens,
)

router = APIRouter()
for module in (health, auth, tokens, concepts, records, predictions, exports, admin):
    router.include_router(module.router)
