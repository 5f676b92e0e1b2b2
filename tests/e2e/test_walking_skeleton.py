"""Browser test of the whole path: log in, upload a real LUDB record, see 12 leads and the
concepts, change QTc, see the risk change, log in as a researcher and find the edit in the CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.e2e.conftest import ARTIFACTS, PASSWORD, Server, watch

pytestmark = pytest.mark.e2e


def _log_in(page, server: Server, username: str) -> None:
    page.goto(f"{server.base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_clinician_edits_qtc_and_researcher_exports_it(server: Server, browser, data_dir: Path,
                                                       page_problems: list[str]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    page = watch(context.new_page(), page_problems)
    page.set_default_timeout(60_000)

    _log_in(page, server, "clinician1")
    page.wait_for_url("**/worklist")
    folder = data_dir / "ludb" / "data"
    page.set_input_files("[data-testid=file-input]", [str(folder / "1.hea"), str(folder / "1.dat")])
    page.wait_for_url("**/records/ECG-*")
    page.wait_for_selector("[data-testid=risk-lqts_risk]")
    page.wait_for_selector("#ecg-plot .main-svg")
    leads = page.eval_on_selector_all(
        "#ecg-plot .annotation-text", "nodes => nodes.map(n => n.textContent)")
    assert {"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"} <= set(leads)
    rows = page.eval_on_selector_all("[data-testid=concept-table] tbody tr",
                                     "rows => rows.map(r => r.dataset.concept)")
    assert "qtc_fridericia" in rows and "tpeak_tend" in rows and "t_amplitude_ii" in rows
    page.screenshot(path=str(ARTIFACTS / "e2e-record-before.png"), full_page=True)

    risk_before = page.text_content("[data-testid=risk-lqts_risk]")
    # The Long-QT risk is the Schwartz score's ECG items, which read QTc (Bazett), in points.
    page.click("[data-testid=other-qtc-toggle]")  # one primary QTc; the others a click away
    page.fill("[data-testid=override-qtc_bazett]", "560")
    page.click("[data-testid=apply-qtc_bazett]")
    page.wait_for_selector("[data-concept=qt].overridden")  # a typed QTc lands on QT
    risk_after = page.text_content("[data-testid=risk-lqts_risk]")
    assert risk_after != risk_before
    assert float(risk_after.split()[0]) > float(risk_before.split()[0])
    assert "Saved" in page.text_content("[data-testid=edit-status]")
    page.screenshot(path=str(ARTIFACTS / "e2e-record-after-edit.png"), full_page=True)
    record_id = page.text_content("[data-testid=record-id]")

    page.click(".logout button")
    page.wait_for_url("**/login")
    _log_in(page, server, "researcher1")
    page.wait_for_url("**/research")
    with page.expect_download() as download_info:
        page.click("[data-testid=export-interventions]")
    exported = download_info.value.path().read_text()
    rows = list(csv.DictReader(io.StringIO(exported)))
    # The typed QTc (Bazett) was stored as the QT it implies at the record's RR.
    edits = [r for r in rows if r["record_id"] == record_id and r["concept"] == "qt"]
    assert len(edits) == 1 and float(edits[0]["new_value"]) > float(edits[0]["previous_value"])
    assert float(edits[0]["after_lqts_risk"]) > float(edits[0]["before_lqts_risk"])
    page.screenshot(path=str(ARTIFACTS / "e2e-research.png"), full_page=True)
    context.close()
    assert page_problems == []
