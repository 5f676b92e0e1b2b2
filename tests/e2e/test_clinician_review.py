"""A cardiologist's review in the browser: layouts, calipers, override, revert, suggestion,
keyboard, review status — checked against what the database recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from app.db.models import Intervention, Record
from models.concepts import get_concept
from tests.e2e.conftest import ARTIFACTS, Server, open_uploaded_record

pytestmark = pytest.mark.e2e


def _interventions(server: Server) -> list[Intervention]:
    engine = sa.create_engine(server.database_url)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(Intervention).order_by(Intervention.id)).all()
    engine.dispose()
    return rows


def test_calipers_override_revert_and_suggestion(server: Server, browser, data_dir: Path,
                                                 page_problems: list[str]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = open_uploaded_record(browser, server, data_dir, "7", page_problems)
    record_id = page.text_content("[data-testid=record-id]")
    already = len(_interventions(server))

    # Layouts: 12×1, one enlarged lead, median beats with fiducials, back to the cart layout.
    for layout, expected_labels in (("12x1", 12), ("single", 1), ("median", 12), ("3x4", 13)):
        page.select_option("[data-testid=layout-select]", layout)
        page.wait_for_function(
            "n => document.querySelectorAll('#ecg-plot .annotation-text').length === n",
            arg=expected_labels)
        if layout == "median":
            page.screenshot(path=str(ARTIFACTS / "e2e-median-beats.png"), full_page=True)

    # LUDB 7's beat at 3.56 s is left out of the median beat: its own marks are drawn dashed
    # (its T end at 3.91 s; the cardiologists marked 3.89), and the legend says what dashed means.
    page.wait_for_selector("[data-testid=fiducial-legend-alone]")
    dashed = page.evaluate("""() => document.getElementById('ecg-plot').layout.shapes
        .filter((s) => s.name === 'fiducial-t_end_s' && s.line.dash === 'dash').map((s) => s.x0)""")
    assert len(dashed) == 1 and 3.85 < dashed[0] < 3.95, dashed
    page.screenshot(path=str(ARTIFACTS / "e2e-beat-left-out.png"), full_page=True)

    # Calipers: widen the default 400 ms box by ten 4-ms keyboard steps, use it as QT.
    page.click("[data-testid=caliper-toggle]")
    page.wait_for_selector("[data-testid=caliper-panel]:not([hidden])")
    width_before = float(page.text_content("[data-testid=caliper-ms]"))
    assert 390 <= width_before <= 410  # the default box spans 400 ms
    page.focus("[data-testid=caliper-end-later]")
    for _ in range(10):
        page.keyboard.press("Enter")
    page.wait_for_function(
        "w => Number(document.querySelector('[data-testid=caliper-ms]').textContent) === w",
        arg=round(width_before + 40))
    caliper_ms = float(page.text_content("[data-testid=caliper-ms]"))
    page.select_option("[data-testid=caliper-target]", "qt")
    page.click("[data-testid=caliper-apply]")
    page.wait_for_selector("[data-concept=qt].overridden")
    page.screenshot(path=str(ARTIFACTS / "e2e-caliper-qt.png"), full_page=True)

    # Keyboard: type a Tpeak-Tend and press Enter, then revert it.
    page.focus("[data-testid=override-tpeak_tend]")
    page.keyboard.type("135")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-concept=tpeak_tend].overridden")
    page.click("[data-testid=revert-tpeak_tend]")
    page.wait_for_selector("[data-concept=tpeak_tend]:not(.overridden)")

    # Follow the suggestion: the suggested concept's input gets the focus; set it.
    page.wait_for_selector("[data-testid=follow-suggestion]")
    suggested = page.get_attribute("tr.suggested", "data-concept")
    page.click("[data-testid=follow-suggestion]")
    focused = page.evaluate("document.activeElement.dataset.testid")
    assert focused == f"override-{suggested}"
    concept = get_concept(suggested)  # a plausible value in the concept's own unit
    page.keyboard.type("1" if concept.kind.value == "binary"
                       else f"{concept.normal_high:.{concept.decimals}f}")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"[data-concept={suggested}].overridden")

    page.click("[data-testid=review-button]")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=edit-status]').textContent.includes('reviewed')")
    page.screenshot(path=str(ARTIFACTS / "e2e-review-done.png"), full_page=True)

    events = _interventions(server)[already:]
    assert [(e.action, e.concept, e.source) for e in events] == [
        ("override", "qt", "caliper"),
        ("override", "tpeak_tend", "typed"),
        ("revert", "tpeak_tend", "revert"),
        ("override", suggested, "suggestion"),
    ]
    assert events[0].new_value == round(caliper_ms)
    assert events[1].new_value == 135 and events[2].new_value == events[1].model_value
    engine = sa.create_engine(server.database_url)
    with engine.connect() as connection:
        status = connection.execute(
            sa.select(Record.status).where(Record.public_id == record_id)).scalar_one()
    engine.dispose()
    assert status == "reviewed"
    context.close()
    assert page_problems == []
