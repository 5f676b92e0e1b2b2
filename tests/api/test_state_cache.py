"""The prediction state kept in memory (issue 17): an edit keeps the state after it, so the next
edit and the next view start from memory, and what memory serves is, to the bit, what the
database reads — after every kind of edit, after a write from another process, after a refused
edit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from app.cache import LruCache
from app.db.models import Record
from app.db.session import STATE_CACHE_ENTRIES, Database
from app.services import audit
from app.services import predictions as service
from app.services import records as record_service
from app.services.users import User
from tests.api.conftest import ludb_files


def test_the_cache_is_bounded_least_recently_used() -> None:
    cache = LruCache(capacity=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (1, None, 3, 2)
    with pytest.raises(ValueError):
        LruCache(capacity=0)


@pytest.fixture
def edited(client_as, data_dir: Path):
    """A clinician's client, a fresh prediction of LUDB record 2, its URL and the app context."""
    clinician = client_as("clinician")
    record = clinician.post("/api/v1/records", files=ludb_files(data_dir, "2")).json()
    prediction = clinician.post(f"/api/v1/records/{record['id']}/predictions")
    assert prediction.status_code == 201, prediction.text
    context = clinician.app.state.context
    return clinician, record, f"/api/v1/predictions/{prediction.json()['id']}", context


def _kept(context, prediction_id: int) -> tuple[tuple[int, str], service.PredictionState] | None:
    return context.db.states.get((context.model.checksum, prediction_id))


def _from_memory_and_from_the_database(clinician, url: str, context) -> tuple[dict, dict]:
    """The prediction as served from memory, then as read afresh from the database."""
    prediction_id = int(url.rsplit("/", 1)[1])
    kept = _kept(context, prediction_id)
    with context.db.read() as session:
        assert kept is not None and kept[0] == audit.version(session), "not served from memory"
    from_memory = clinician.get(url).json()
    context.db.states = LruCache(STATE_CACHE_ENTRIES)  # forget: the next read is a reload
    from_database = clinician.get(url).json()
    return from_memory, from_database


def test_after_every_kind_of_edit_memory_serves_what_a_reload_reads(edited) -> None:
    clinician, _, url, context = edited
    marks = clinician.get(url).json()["fiducials"]["fiducials_in_force"]
    edits = [
        ("post", f"{url}/interventions", {"concept": "qt", "value": 455}),
        ("post", f"{url}/interventions", {"concept": "qtc_bazett", "value": 480}),  # typed QTc
        ("post", f"{url}/interventions", {"concept": "qrs", "value": 104}),
        ("delete", f"{url}/interventions/qt", None),
        ("post", f"{url}/fiducials", {"t_end_ms": marks["t_end_s"] * 1000 + 30}),
        ("post", f"{url}/interventions", {"concept": "tpeak_tend", "value": 95}),
        ("delete", f"{url}/interventions/fiducials", None),
    ]
    for method, path, body in edits:
        answer = (clinician.post(path, json=body) if method == "post"
                  else clinician.delete(path))
        assert answer.status_code in (200, 201), (path, body, answer.text)
        from_memory, from_database = _from_memory_and_from_the_database(clinician, url, context)
        assert from_memory == from_database, (path, body)
        # The edit's own answer is that state too (it leaves out only the stored delineation).
        after = answer.json()["prediction"]
        assert after["concepts"] == from_database["concepts"], (path, body)
        assert after["risks"] == from_database["risks"], (path, body)
        assert after["fiducials"]["fiducials_in_force"] == \
            from_database["fiducials"]["fiducials_in_force"], (path, body)


def test_a_write_by_another_process_is_seen_at_once(edited) -> None:
    clinician, record, url, context = edited
    prediction_id = int(url.rsplit("/", 1)[1])
    clinician.post(f"{url}/interventions", json={"concept": "qt", "value": 440})
    assert _kept(context, prediction_id) is not None
    elsewhere = Database(context.db.url)  # another server process on the same database
    try:
        with elsewhere.write() as session:
            user = session.execute(select(User).where(User.username == "clinician1")).scalar_one()
            service.edit_prediction(session, context.model, prediction_id, user, "qt", "override",
                                    470.0)
        qt = {c["name"]: c for c in clinician.get(url).json()["concepts"]}["qt"]
        assert qt["value"] == pytest.approx(470.0)
        with elsewhere.write() as session:
            user = session.execute(select(User).where(User.username == "clinician1")).scalar_one()
            locked = session.execute(
                select(Record).where(Record.public_id
                                                    == record["id"])).scalar_one()
            record_service.mark_reviewed(session, locked, user)
    finally:
        elsewhere.dispose()
    refused = clinician.post(f"{url}/interventions", json={"concept": "qt", "value": 480})
    assert refused.status_code == 423, refused.text


def test_a_refused_edit_leaves_memory_as_it_was(edited) -> None:
    clinician, _, url, context = edited
    clinician.post(f"{url}/interventions", json={"concept": "qt", "value": 450})
    before = clinician.get(url).json()
    refused = clinician.post(f"{url}/interventions", json={"concept": "rr", "value": 200})
    assert refused.status_code == 422, refused.text
    # The refused edit's transaction rolled back: what memory serves is still readable and is
    # still what the database holds.
    assert clinician.get(url).json() == before
    from_memory, from_database = _from_memory_and_from_the_database(clinician, url, context)
    assert from_memory == from_database == before


def test_an_edit_that_another_write_overtook_is_not_kept(edited, monkeypatch) -> None:
    """On PostgreSQL the audit chain's lock is taken only when the edit appends its event, so
    another write (a review) may be logged between the read of the state and that append; the
    state after the edit, which never saw that write, must not be served as the new head's."""
    clinician, _, url, context = edited
    prediction_id = int(url.rsplit("/", 1)[1])
    read_state = service.prediction_state

    def overtaken(session, bundle, pid):  # type: ignore[no-untyped-def]
        state = read_state(session, bundle, pid)
        audit.record_event(session, "export", None, kind="predictions")  # logged meanwhile
        return state

    monkeypatch.setattr(service, "prediction_state", overtaken)
    edited_answer = clinician.post(f"{url}/interventions", json={"concept": "qt", "value": 466})
    assert edited_answer.status_code == 201, edited_answer.text
    kept = _kept(context, prediction_id)
    with context.db.read() as session:
        head = audit.version(session)
    assert kept is None or kept[0] != head
    monkeypatch.undo()
    qt = {c["name"]: c for c in clinician.get(url).json()["concepts"]}["qt"]
    assert qt["value"] == pytest.approx(466.0)


def test_an_edit_after_an_edit_reads_nothing_back_and_runs_the_head_once(edited,
                                                                            monkeypatch) -> None:
    clinician, _, url, _ = edited
    clinician.post(f"{url}/interventions", json={"concept": "qt", "value": 450})
    calls = {"recompute": 0, "load_state": 0}

    def counted(name: str):  # type: ignore[no-untyped-def]
        original = getattr(service, name)

        def run(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(service, name, run)

    counted("recompute")
    counted("load_state")
    answer = clinician.post(f"{url}/interventions", json={"concept": "qt", "value": 460})
    assert answer.status_code == 201, answer.text
    assert calls == {"recompute": 1, "load_state": 0}  # the state after; the one before is kept
