"""Correctable fiducials in the browser (issue 15, deliver 3): a clinician drags T end on the
median beat with the mouse; QT, QTc and the risk change at once; the move is in the CSV export."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.db.models import Intervention
from tests.e2e.conftest import ARTIFACTS, PASSWORD, Server, open_uploaded_record

pytestmark = pytest.mark.e2e

#: Where the first lead's T end mark is on screen, and where it is 100 ms later (CSS px; Plotly
#: takes a move under 8 px for a click, and the fitted median view draws ~130 px/s).
_T_END_ON_SCREEN = """() => {
  const plot = document.getElementById("ecg-plot");
  const layout = plot._fullLayout;
  const index = plot.layout.shapes.findIndex((s) => s.name === "fiducial-t_end_s");
  const shape = plot.layout.shapes[index];
  const box = plot.getBoundingClientRect();
  const x = (t) => box.left + layout.xaxis._offset + layout.xaxis.l2p(t);
  const y = box.top + layout.yaxis._offset + layout.yaxis.l2p((shape.y0 + 2 * shape.y1) / 3);
  return { x: x(shape.x0), later: x(shape.x0 + 0.100), y };
}"""


#: How many leads' median beats the plot draws.
_MEDIAN_TRACES = """() => document.getElementById("ecg-plot").data
  .filter((trace) => / median$/.test(trace.name || "")).length"""


def _text(page: object, selector: str) -> str:
    return page.text_content(selector).strip()


def test_dragging_t_end_moves_qt_qtc_and_risk_and_reaches_the_export(
        server: Server, browser: object, data_dir: Path, page_problems: list[str]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = open_uploaded_record(browser, server, data_dir, "1", page_problems)
    page.select_option("[data-testid=layout-select]", "median")
    page.wait_for_selector("[data-testid=fiducial-panel]:not([hidden])")
    page.wait_for_function("() => (document.getElementById('ecg-plot').layout.shapes || [])"
                           ".some((s) => s.name === 'fiducial-t_end_s' && s.editable)")
    risk_before = _text(page, "[data-testid=risk-lqts_risk]")
    assert not page.is_visible("[data-testid=in-force-qtc_fridericia]")
    median_traces = page.evaluate(_MEDIAN_TRACES)
    assert median_traces > 0
    # Side-by-side beats have no common time line: no seconds under them, but how to read the
    # grid; the legend draws the marks as they are drawn here (solid: draggable).
    x_axis = page.evaluate("""() => { const a = document.getElementById('ecg-plot')._fullLayout.xaxis;
        return { labels: a.showticklabels, title: a.title.text }; }""")
    assert x_axis["labels"] is False and "40 ms" in x_axis["title"]
    assert page.locator("[data-testid=fiducial-legend] .swatch.solid").count() >= 4

    where = page.evaluate(_T_END_ON_SCREEN)
    page.mouse.click(where["x"], where["y"])  # Plotly: a click activates the mark, then drag
    page.mouse.move(where["x"], where["y"])
    page.mouse.down()
    for step in range(1, 6):  # a real drag: several moves, then the release
        page.mouse.move(where["x"] + (where["later"] - where["x"]) * step / 5, where["y"])
    page.mouse.up()

    page.wait_for_selector("[data-concept=qt].overridden")
    page.wait_for_selector("[data-testid=in-force-qtc_fridericia]")
    page.wait_for_function(
        "r => document.querySelector('[data-testid=risk-lqts_risk]').textContent.trim() !== r",
        arg=risk_before)
    status = _text(page, "#edit-status")
    assert status.startswith("Moved T end +")
    # Moved marks stay solid when the record is locked and they can no longer be dragged, and
    # the legend says so: the plot and the legend read one stroke rule.
    strokes = page.evaluate("""() => { const e = window.QTLensEcg;
        const solid = (movable, moved) => e.legend("median", movable, moved).every((s) => s.solid);
        const dotted = (movable, moved) => e.legend("median", movable, moved).every((s) => !s.solid);
        return [solid(true, false), solid(false, true), dotted(false, false),
                e.legend("12x1", false, true).every((s) => !s.solid)]; }""")
    assert strokes == [True, True, True, True]
    # The edit's answer leaves the stored delineation out: the page keeps drawing its own.
    page.wait_for_function(f"() => ({_MEDIAN_TRACES})() === {median_traces}", timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "e2e-fiducial-drag.png"), full_page=True)

    engine = sa.create_engine(server.database_url)
    with engine.connect() as connection:
        event = connection.execute(sa.select(Intervention).where(
            Intervention.source == "fiducial").order_by(Intervention.id.desc())).first()
    moved_ms = event.fiducials["after"]["t_end"] - event.fiducials["before"]["t_end"]
    assert 90 <= moved_ms <= 110  # the drag's 100 ms, give or take the mouse's pixel grid
    qt = float(page.input_value("[data-testid=override-qt]"))
    assert qt == pytest.approx(event.fiducials["concepts"]["qt"], abs=0.5)
    assert event.risks_after["lqts_risk"] > event.risks_before["lqts_risk"]

    # Keyboard: step T peak 5 × 4 ms earlier, save (J-Tpeak and Tpeak-Tend follow), then undo.
    page.select_option("[data-testid=fiducial-select]", "t_peak")
    page.focus("[data-testid=fiducial-earlier]")
    for _ in range(5):
        page.keyboard.press("Enter")
    page.click("[data-testid=fiducial-save]")
    page.wait_for_selector("[data-concept=jtpeak].overridden")
    assert _text(page, "#edit-status").startswith("Moved T peak -20 ms.")
    assert page.is_visible("[data-concept=qt].overridden")  # the T end move stays in force
    page.click("[data-testid=fiducial-revert]")
    page.wait_for_selector("[data-concept=qt]:not(.overridden)")
    assert not page.is_visible("[data-concept=jtpeak].overridden")
    context.close()
    engine = sa.create_engine(server.database_url)
    with engine.connect() as connection:
        later = connection.execute(sa.select(Intervention.action, Intervention.source).where(
            Intervention.id > event.id).order_by(Intervention.id)).all()
    engine.dispose()
    assert [tuple(row) for row in later] == [("override", "fiducial"), ("revert", "revert")]

    # The researcher's CSV export has the move: source fiducial, positions before and after.
    researcher = browser.new_context()
    token = researcher.request.get(f"{server.base_url}/api/v1/auth/csrf").json()["csrf_token"]
    assert researcher.request.post(f"{server.base_url}/api/v1/auth/login",
                                   data={"username": "researcher1", "password": PASSWORD},
                                   headers={"X-CSRF-Token": token}).ok
    export = researcher.request.get(f"{server.base_url}/api/v1/exports/interventions?format=csv")
    rows = [row for row in csv.DictReader(io.StringIO(export.text()))
            if row["intervention_id"] == str(event.id)]
    researcher.close()
    assert rows[0]["source"] == "fiducial" and rows[0]["concept"] == "fiducials"
    assert json.loads(rows[0]["fiducials_after_ms"]) == event.fiducials["after"]
    assert json.loads(rows[0]["fiducials_before_ms"]) == event.fiducials["before"]
    assert page_problems == []
