"""Concurrent clinicians editing one prediction log a consistent history, on SQLite and PostgreSQL.

Each event's ``previous_value`` must be its concept's predecessor's ``new_value`` and its
``risks_before`` the predecessor event's ``risks_after``: the state in force is read inside the
chain lock, never before it (issue 18, finding 7).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import sqlalchemy as sa

from app.db.models import Intervention, Record
from app.db.session import Database
from app.security import Role
from app.services import audit
from app.services import predictions as service
from app.services.users import create_user
from app.settings import PROJECT_ROOT
from models.bundle import load_bundle
from models.ecg.stored import encode_signal
from models.ecg.synth import SynthParams, generate
from tests.db.concurrency import errors_in_threads

CLIENTS = 8
EDITS_PER_CLIENT = 5
#: Leaf concepts: no other concept is derived from them, nor they from another.
CONCEPTS = ("pr", "tpeak_tend")


@pytest.fixture(scope="module")
def bundle():
    """The shipped demo bundle on the CPU."""
    return load_bundle(PROJECT_ROOT / "models" / "weights" / "demo", device="cpu")


def _seed(db: Database, bundle) -> tuple[list[int], int]:
    """``CLIENTS`` clinicians and one analysed synthetic ECG: (user ids, prediction id)."""
    ecg = generate(SynthParams(), np.random.default_rng(3)).ecg
    run = service.analyse(bundle, ecg)
    with db.write() as session:
        users = [create_user(session, f"dr_{n}", "correct horse battery", Role.CLINICIAN)
                 for n in range(CLIENTS)]
        record = Record(
            public_id="ECG-CONCURRENT", uploaded_by=users[0].id, uploaded_at=audit.utc_now(),
            source_format="synthetic", fs_hz=float(ecg.fs_hz), n_samples=ecg.n_samples,
            lead_names=list(ecg.lead_names), duration_s=float(ecg.duration_s), age_years=60,
            sex="female", content_sha256="0" * 64, removed_fields=[],
            signal_npy=encode_signal(ecg.signal_mv), status="new",
        )
        session.add(record)
        session.flush()
        prediction = service.store_prediction(session, bundle, record, users[0], run)
        return [u.id for u in users], prediction.id


def _edit(db: Database, bundle, user_id: int, prediction_id: int, concept: str,
          value: float) -> None:
    with db.write() as session:
        user = session.get(service.User, user_id)
        service.edit_prediction(session, bundle, prediction_id, user, concept, "override", value)


def test_concurrent_edits_log_each_predecessor(migrated_url: str, bundle) -> None:
    db = Database(migrated_url)
    user_ids, prediction_id = _seed(db, bundle)
    start = threading.Barrier(CLIENTS)

    def client(n: int) -> None:
        start.wait()
        for k in range(EDITS_PER_CLIENT):
            concept = CONCEPTS[(n + k) % len(CONCEPTS)]
            value = {"pr": 130.0, "tpeak_tend": 70.0}[concept] + n * 5 + k
            _edit(db, bundle, user_ids[n], prediction_id, concept, value)

    assert errors_in_threads(client, range(CLIENTS)) == []
    with db.read() as session:
        events = session.execute(
            sa.select(Intervention).where(Intervention.prediction_id == prediction_id)
            .order_by(Intervention.id)).scalars().all()
    db.dispose()
    assert len(events) == CLIENTS * EDITS_PER_CLIENT
    last_value: dict[str, float | None] = {c: None for c in CONCEPTS}
    wrong_previous = wrong_risks = 0
    for before, event in zip([None, *events], events, strict=False):
        if before is not None and event.risks_before != before.risks_after:
            wrong_risks += 1
        expected = last_value[event.concept]
        if expected is not None and event.previous_value != expected:
            wrong_previous += 1
        last_value[event.concept] = event.new_value
    assert (wrong_previous, wrong_risks) == (0, 0)
