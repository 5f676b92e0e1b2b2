"""The risk bands a stored prediction is read with, where the model is not at hand row by row.

A live risk is banded by :meth:`models.bundle.LoadedBundle.band`. A stored one (an intervention's
risks before and after, a prediction's risks in force in an export or the dashboard) is banded
with the bands of the bundle that made it: the loaded bundle's for its own predictions; for a
prediction of another model version, whose card is not at hand, the task's default bands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, literal

from app.db.models import Prediction
from models.bundle import LoadedBundle
from models.tasks import TASKS, Bands, get_task


@dataclass(frozen=True)
class BandsInForce:
    """``bands`` for a prediction of the model version ``checksum`` (the loaded bundle), the
    task's defaults for any other (``checksum`` ``None``: no model loaded)."""

    checksum: str | None
    bands: Mapping[str, Bands]

    @classmethod
    def of(cls, bundle: LoadedBundle | None) -> BandsInForce:
        """The loaded bundle's bands in force (task defaults only when no model is loaded)."""
        if bundle is None:
            return cls(None, {t.name: t.bands for t in TASKS})
        return cls(bundle.checksum, bundle.bands)

    def of_model(self, checksum: str, task: str) -> Bands:
        """The bands of ``task`` for a prediction made by the model version ``checksum``."""
        return self.bands[task] if checksum == self.checksum else get_task(task).bands

    def band(self, checksum: str, task: str, probability: float | None) -> str | None:
        """The band (``low``/``intermediate``/``high``) of a stored ``probability`` (0–1) of a
        prediction by ``checksum``, as the record page showed it; ``None`` stays ``None``."""
        if probability is None:
            return None
        return self.of_model(checksum, task).band(probability).value

    def cut(self, task: str, which: str) -> ColumnElement[float]:
        """SQL for the cut-off ``which`` (``intermediate_from`` / ``high_from``) of ``task`` for
        each row's prediction (:meth:`of_model`, evaluated by the database)."""
        default = getattr(get_task(task).bands, which)
        if self.checksum is None:
            return literal(default)
        return case((Prediction.model_checksum == self.checksum,
                     getattr(self.bands[task], which)), else_=default)
