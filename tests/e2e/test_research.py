"""Browser test of the researcher dashboard against the real server.

A clinician uploads a LUDB record and edits three concepts in the record page (reverting one);
a researcher opens the dashboard, sees every chart drawn with one bar per edited concept and
the table's counts, narrows the filters, and downloads interventions and predictions in CSV,
JSONL and Parquet. Each file is parsed and compared with the database read with SQLAlchemy.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.db.models import Intervention, Prediction
from app.db.session import Database
from models.concepts import get_concept, is_concept
from models.tasks import TASKS
from tests.e2e.conftest import ARTIFACTS, PASSWORD, Server, watch

pytestmark = pytest.mark.e2e

FORMATS = ("csv", "jsonl", "parquet")
CHARTS = ("overrides", "difference", "risk", "flips", "users", "models", "time")
EDITS = (("qt", "470"), ("tpeak_tend", "128"), ("t_amplitude_ii", "0.12"))
REVERTED = "tpeak_tend"
RISK_COLUMNS = tuple(f"{when}_{t.name}" for t in TASKS for when in ("before", "after"))
INTERVENTION_NUMBERS = ("model_value", "previous_value", "new_value", *RISK_COLUMNS)
PREDICTION_NUMBERS = tuple(t.name for t in TASKS)


def _api_login(context: Any, server: Server, username: str) -> None:
    """Log the browser context in through the JSON API (its cookies then serve the pages)."""
    token = context.request.get(f"{server.base_url}/api/v1/auth/csrf").json()["csrf_token"]
    response = context.request.post(f"{server.base_url}/api/v1/auth/login",
                                    data={"username": username, "password": PASSWORD},
                                    headers={"X-CSRF-Token": token})
    assert response.ok, response.text()


def _clinician_edits(browser: Any, server: Server, data_dir: Path, problems: list[str]) -> str:
    """Upload LUDB record 3 in the worklist, make :data:`EDITS` and revert one; the record id."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    _api_login(context, server, "clinician1")
    page = watch(context.new_page(), problems)
    page.set_default_timeout(60_000)
    page.goto(f"{server.base_url}/worklist")
    folder = data_dir / "ludb" / "data"
    page.set_input_files("[data-testid=file-input]", [str(folder / "3.hea"), str(folder / "3.dat")])
    page.wait_for_url("**/records/ECG-*")
    page.wait_for_selector("[data-testid=risk-lqts_risk]")
    for concept, value in EDITS:
        page.fill(f"[data-testid=override-{concept}]", value)
        page.press(f"[data-testid=override-{concept}]", "Enter")  # the keyboard path
        page.wait_for_selector(f"[data-concept={concept}].overridden")
    page.click(f"[data-testid=revert-{REVERTED}]")
    page.wait_for_selector(f"[data-concept={REVERTED}]:not(.overridden)")
    record_id = page.text_content("[data-testid=record-id]")
    context.close()
    return record_id


def _database(server: Server) -> tuple[list[Intervention], list[Prediction]]:
    db = Database(server.database_url)
    with db.read() as session:
        interventions = list(session.execute(
            sa.select(Intervention).order_by(Intervention.id)).scalars())
        predictions = list(session.execute(
            sa.select(Prediction).order_by(Prediction.id)).scalars())
    db.dispose()
    return interventions, predictions


def _read(path: Path, export_format: str) -> list[dict[str, Any]]:
    """An export file as rows: CSV cells stay text, JSONL and Parquet keep their types."""
    if export_format == "csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    if export_format == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return pq.read_table(path).to_pylist()


def _number(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def _intervention_facts(row: dict[str, Any]) -> tuple[Any, ...]:
    return (int(row["intervention_id"]), row["action"], row["concept"],
            *(_number(row[name]) for name in INTERVENTION_NUMBERS))


def _database_intervention_facts(event: Intervention) -> tuple[Any, ...]:
    risks = {f"{when}_{t.name}": getattr(event, f"risks_{when}")[t.name]
             for t in TASKS for when in ("before", "after")}
    values = {"model_value": event.model_value, "previous_value": event.previous_value,
              "new_value": event.new_value, **risks}
    return (event.id, event.action, event.concept, *(values[n] for n in INTERVENTION_NUMBERS))


def _prediction_facts(row: dict[str, Any]) -> tuple[Any, ...]:
    return (int(row["prediction_id"]), row["model_checksum"],
            *(_number(row[name]) for name in PREDICTION_NUMBERS))


def _database_prediction_facts(prediction: Prediction) -> tuple[Any, ...]:
    return (prediction.id, prediction.model_checksum,
            *(prediction.risks[name] for name in PREDICTION_NUMBERS))


def _download(page: Any, kind: str, export_format: str, folder: Path) -> list[dict[str, Any]]:
    page.select_option(f"[data-testid=export-{kind}-format]", export_format)
    with page.expect_download() as download_info:
        page.click(f"[data-testid=export-{kind}]")
    download = download_info.value
    assert download.suggested_filename.endswith(f".{export_format}")
    target = folder / f"{kind}.{export_format}"
    download.save_as(target)
    return _read(target, export_format)


def _wait_for_dashboard(page: Any) -> None:
    expect(page.locator("[data-testid=research-status]")).not_to_have_text("Loading…")


def test_dashboard_draws_the_edits_and_every_export_matches_the_database(
        server: Server, browser: Any, data_dir: Path, page_problems: list[str],
        tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    record_id = _clinician_edits(browser, server, data_dir, page_problems)
    interventions, predictions = _database(server)
    ours = [e for e in interventions if e.concept in dict(EDITS)][-len(EDITS) - 1:]
    assert [(e.action, e.concept) for e in ours] == [
        *(("override", concept) for concept, _ in EDITS), ("revert", REVERTED)]
    assert ours[0].new_value == 470.0

    context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    _api_login(context, server, "researcher1")
    page = watch(context.new_page(), page_problems)
    page.set_default_timeout(60_000)
    page.goto(f"{server.base_url}/research")
    _wait_for_dashboard(page)
    for chart in CHARTS:
        page.wait_for_selector(f"#chart-{chart} .main-svg")

    # One bar per concept with events in the overrides chart, each concept's label on the axis.
    concepts = list(dict.fromkeys(e.concept for e in interventions))
    bars = page.eval_on_selector_all("#chart-overrides .trace.bars:first-of-type .point",
                                     "nodes => nodes.length")
    assert bars == len(concepts)
    ticks = set(page.eval_on_selector_all("#chart-overrides .xtick text",
                                          "nodes => nodes.map(n => n.textContent)"))
    # A fiducial move (pseudo-concept ``fiducials``, another test's) is labelled by its name.
    assert {get_concept(c).label if is_concept(c) else c for c in concepts} == ticks
    for concept in concepts:
        counts = {action: sum(e.concept == concept and e.action == action for e in interventions)
                  for action in ("override", "revert")}
        assert page.text_content(f"[data-testid=overrides-{concept}]") == str(counts["override"])
    total_text = page.text_content("[data-testid=totals]")
    assert total_text.startswith(f"{len(interventions)} events")
    page.screenshot(path=str(ARTIFACTS / "e2e-research-dashboard.png"), full_page=True)
    # The disagreement chart draws ms and mV concepts on their own panels (y, y2, … titles).
    panels = page.eval_on_selector_all("#chart-difference text[class^=y][class$=title]",
                                       "nodes => nodes.map(n => n.textContent)")
    assert {"ms", "mV"} <= set(panels)

    # Every export in every format carries exactly the database's rows.
    expected_interventions = [_database_intervention_facts(e) for e in interventions]
    expected_predictions = [_database_prediction_facts(p) for p in predictions]
    for export_format in FORMATS:
        rows = _download(page, "interventions", export_format, tmp_path)
        assert [_intervention_facts(r) for r in rows] == expected_interventions, export_format
        assert {r["record_id"] for r in rows} >= {record_id}
        rows = _download(page, "predictions", export_format, tmp_path)
        assert [_prediction_facts(r) for r in rows] == expected_predictions, export_format

    # Filters: one concept narrows the table; a model version and a future start day reach the
    # exports too (nothing is that new).
    page.select_option("[data-testid=filter-concept]", "qt")
    page.click("[data-testid=filter-apply]")
    expect(page.locator("#concept-stats-body tr")).to_have_count(1)
    assert "concept=qt" in page.url
    page.select_option("[data-testid=filter-model]", predictions[-1].model_checksum)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    page.fill("[data-testid=filter-from]", tomorrow)
    page.press("[data-testid=filter-from]", "Enter")
    expect(page.locator("[data-testid=research-status]")).to_have_text(
        "No interventions match these filters.")
    assert page.is_hidden("#charts")
    assert _download(page, "interventions", "csv", tmp_path) == []
    assert _download(page, "predictions", "jsonl", tmp_path) == []
    page.screenshot(path=str(ARTIFACTS / "e2e-research-filtered.png"), full_page=True)
    page.click("[data-testid=filter-clear]")
    page.wait_for_selector("#charts", state="visible")
    assert len(_download(page, "interventions", "parquet", tmp_path)) == len(interventions)
    context.close()
    assert page_problems == []
