"""Browser check: the record page says how the ECG was measured — which QT the QT row is, the
lead QT of the Long-QT criteria — and a paced rhythm beside the risks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import ARTIFACTS, Server, open_uploaded_record

pytestmark = pytest.mark.e2e


def test_a_paced_record_is_told_beside_the_risks(
    server: Server, browser, data_dir: Path, page_problems: list[str]
) -> None:
    # LUDB 8: "ventricular pacing" in its header (a tuning-part record).
    context, page = open_uploaded_record(browser, server, data_dir, "8", page_problems)
    note = page.wait_for_selector("[data-testid=note-paced]", state="visible")
    assert note.text_content().startswith("Paced rhythm: ")
    assert "not read against Long-QT thresholds" in note.text_content()
    assert page.locator("section[aria-labelledby=risk-heading] [data-testid=note-paced]").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "e2e-paced-note.png"))
    context.close()
    assert page_problems == []


def test_an_unpaced_record_names_its_global_and_lead_qt(
    server: Server, browser, data_dir: Path, page_problems: list[str]
) -> None:
    context, page = open_uploaded_record(browser, server, data_dir, "1", page_problems)
    global_qt = page.wait_for_selector("[data-testid=note-global_qt]")
    assert "is the global QT (CSE)" in global_qt.text_content()
    assert page.locator("[data-testid=note-lead_qt]").text_content().startswith("QT in lead ")
    assert not page.locator("[data-testid=note-paced]").is_visible()
    context.close()
    assert page_problems == []
