"""The record page as a cardiologist uses it: review and its lock, a phone's width, the keyboard
path, the fiducial legend, the whole record at true scale, no way to send data to Plotly's cloud.

Screenshots go to ``test-artifacts/`` (looked at when the page changes)."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
import sqlalchemy as sa

from app.db.models import AuditEvent
from models.ecg.io import read_paths
from tests.e2e.conftest import ARTIFACTS, Server, open_upload, open_uploaded_record
from tests.io import builders

pytestmark = pytest.mark.e2e

SIERRA_11_S = "sierra/129DYPRG.XML"


def _plot_seconds(page) -> tuple[float, float]:
    """(first, last) second of the ECG plot's x axis, and its drawn millimetres per second."""
    return page.evaluate("""() => {
        const axis = document.getElementById('ecg-plot')._fullLayout.xaxis;
        return [axis.range[0], axis.range[1]];
    }""")


def _mm_per_s(page) -> float:
    return page.evaluate("() => QTLensEcg.mmPerSecond(document.getElementById('ecg-plot'))")


def test_review_locks_the_page_until_reopened(server: Server, browser, data_dir: Path,
                                              page_problems: list[str]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = open_uploaded_record(browser, server, data_dir, "11", page_problems)
    record_id = page.text_content("[data-testid=record-id]")
    assert "Not reviewed yet" in page.text_content("[data-testid=review-state]")
    page.fill("[data-testid=override-qt]", "452")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-concept=qt].overridden")

    # The QTc that moved with QT shows its value in force on the page (what the worklist shows).
    page_qtc = page.text_content("[data-testid=in-force-qtc_fridericia]")
    assert "from QT interval" in page_qtc

    page.click("[data-testid=review-button]")
    page.wait_for_selector("#record-app.locked")
    banner = page.text_content("[data-testid=review-state]")
    assert "Reviewed by clinician1" in banner and "locked" in banner
    for selector in ("[data-testid=override-qt]", "[data-testid=apply-qt]",
                     "[data-testid=revert-qt]", "[data-testid=override-tpeak_tend]"):
        assert page.is_disabled(selector), selector
    assert page.is_hidden("[data-testid=follow-suggestion]")
    page.screenshot(path=str(ARTIFACTS / "e2e-reviewed-locked.png"), full_page=True)

    # The API refuses too (the disabled inputs are not the lock, only its face).
    csrf = page.get_attribute("meta[name=csrf-token]", "content")
    prediction = page.evaluate("() => fetch(location.pathname.replace('/records/', "
                               "'/api/v1/records/')).then(r => r.json())")["latest_prediction_id"]
    refused = page.evaluate(
        """([id, csrf]) => fetch(`/api/v1/predictions/${id}/interventions`, {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
            body: JSON.stringify({concept: 'qt', value: 470, source: 'caliper'})})
            .then(async r => [r.status, (await r.json()).message])""", [prediction, csrf])
    assert refused[0] == 423 and "reviewed by clinician1" in refused[1]
    locked_errors = [p for p in page_problems if "423" in p]
    assert len(locked_errors) == 1  # the browser logs the refused request; nothing else
    page_problems.remove(locked_errors[0])

    # The shared worklist shows it reviewed, by whom, with the values in force marked adjusted:
    # the record page's QTc and risks, not the model's.
    view = page.evaluate("id => fetch(`/api/v1/predictions/${id}`).then(r => r.json())", prediction)
    in_force = {c["name"]: c["value"] for c in view["concepts"]}
    page.goto(f"{server.base_url}/worklist")
    row = page.wait_for_selector(f"tr[data-record-id={record_id}]")
    assert "reviewed" in row.text_content() and "clinician1" in row.text_content()
    qtc_cell = row.query_selector("[data-testid=qtc]").text_content()
    assert qtc_cell == f"{in_force['qtc_fridericia']:.0f}adjusted"
    assert f"in force {in_force['qtc_fridericia']:.0f} ms" in page_qtc
    tdp = next(risk for risk in view["risks"] if risk["task"] == "tdp_risk")
    assert f"{100 * tdp['probability']:.0f} %" in row.text_content()
    page.screenshot(path=str(ARTIFACTS / "e2e-worklist-reviewed.png"), full_page=True)

    page.goto(f"{server.base_url}/records/{record_id}")
    page.wait_for_selector("#record-app.locked")
    page.click("[data-testid=reopen-button]")
    page.wait_for_selector("#record-app:not(.locked)")
    assert "Not reviewed yet" in page.text_content("[data-testid=review-state]")
    assert page.is_enabled("[data-testid=override-qt]")
    page.fill("[data-testid=override-tpeak_tend]", "118")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-concept=tpeak_tend].overridden")

    engine = sa.create_engine(server.database_url)
    with engine.connect() as connection:
        reopened = connection.execute(sa.select(AuditEvent).where(
            AuditEvent.event_type == "record_reopened")).all()
    engine.dispose()
    assert [event.detail["record"] for event in reopened] == [record_id]
    context.close()
    assert page_problems == []


def test_phone_width_legend_reasons_and_no_share_button(server: Server, browser, data_dir: Path,
                                                        page_problems: list[str]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = open_upload(browser, server, [data_dir / "formats" / SIERRA_11_S],
                               page_problems, {"width": 390, "height": 844})

    # Demographics the file lacks read as words, not question marks.
    meta = page.text_content("#record-meta")
    assert "?" not in meta and ("unknown" in meta or " y · " in meta), meta
    # No page-level sideways scroll at 390 px; the ECG scrolls inside its own box, at true scale.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.evaluate("""() => { const b = document.getElementById('ecg-scroll');
        return [b.scrollWidth, b.clientWidth]; }""")
    assert box[0] > box[1]
    assert "Scroll sideways within the box" in page.text_content("[data-testid=scale-line]")
    assert _mm_per_s(page) == pytest.approx(25.0, rel=0.02)
    # The whole 11 s record is drawn (the rhythm strip runs to its end).
    first, last = _plot_seconds(page)
    assert last == pytest.approx(11.0, abs=0.01) and first < 0
    page.screenshot(path=str(ARTIFACTS / "e2e-phone-390.png"), full_page=True)
    page.evaluate("document.getElementById('ecg-scroll').scrollLeft = 600")
    page.screenshot(path=str(ARTIFACTS / "e2e-phone-390-scrolled.png"))

    # The concept table fits the phone's width: every Set button can be tapped without scrolling.
    page.wait_for_selector("[data-testid=apply-qt]")
    overflow = page.evaluate("""() => { const t = document.querySelector('[data-testid=concept-table]');
        return t.scrollWidth - t.parentElement.clientWidth; }""")
    assert overflow <= 0
    # The fiducial legend names every colour drawn.
    legend = page.text_content("[data-testid=fiducial-legend]")
    for label in ("QRS onset", "T peak", "T end"):
        assert label in legend
    assert page.is_visible("[data-testid=fiducial-legend]")

    # "n/a" comes with its reason as text, not only a tooltip.
    reasons = page.eval_on_selector_all(".concepts td.na .reason",
                                        "ns => ns.map(n => n.textContent)")
    nas = page.eval_on_selector_all(".concepts td.na", "ns => ns.length")
    assert len(reasons) == nas

    # No Plotly "Share"/cloud button, no logo; and the CSP would block an upload anyway.
    page.hover("#ecg-plot")
    titles = page.eval_on_selector_all("#ecg-plot .modebar-btn",
                                       "ns => ns.map(n => n.getAttribute('data-title'))")
    assert titles and not [t for t in titles if "Share" in t or "Cloud" in t or "Plotly" in t]
    assert page.query_selector("#ecg-plot .modebar-btn--logo") is None
    csp = httpx.get(f"{server.base_url}/login").headers["content-security-policy"]
    assert "connect-src 'self'" in csp and "form-action 'self'" in csp

    # On the phone's worklist what a cardiologist triages by — QTc and both risks — is in view
    # without scrolling sideways; age, sex and upload time come after.
    page.goto(f"{server.base_url}/worklist")
    page.wait_for_selector("[data-testid=worklist] tbody tr[data-record-id] [data-testid=qtc]")
    row = page.locator("[data-testid=worklist] tbody tr[data-record-id]").first
    for cell in (row.locator("td").nth(1), row.locator("td").nth(2), row.locator("td").nth(3)):
        box = cell.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390
    assert row.locator("td").nth(1).get_attribute("data-testid") == "qtc"
    page.screenshot(path=str(ARTIFACTS / "e2e-phone-390-worklist.png"), full_page=True)

    # The About page reads on a phone too: no sideways scroll, and no server file path.
    page.goto(f"{server.base_url}/about")
    page.wait_for_selector("[data-testid=about-model]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert str(Path.cwd()) not in page.text_content("main")
    page.screenshot(path=str(ARTIFACTS / "e2e-phone-390-about.png"), full_page=True)
    context.close()
    assert page_problems == []


def test_keyboard_path_one_lead_and_wide_screen(server: Server, browser, data_dir: Path,
                                                page_problems: list[str]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = open_upload(browser, server, [data_dir / "formats" / SIERRA_11_S],
                               page_problems, {"width": 1366, "height": 900})
    page.wait_for_selector("[data-testid=override-qt]")
    page.screenshot(path=str(ARTIFACTS / "e2e-record-1366.png"))
    # A laptop shows the whole 11 s record, all 12 leads, without scrolling the tracing.
    assert _plot_seconds(page)[1] == pytest.approx(11.0, abs=0.01)
    box = page.evaluate("""() => { const b = document.getElementById('ecg-scroll');
        return [b.scrollWidth, b.clientWidth]; }""")
    assert box[0] <= box[1]
    scale_line = page.text_content("[data-testid=scale-line]")
    assert "Drawn at" in scale_line and "Scroll sideways" not in scale_line  # nothing to scroll

    # The concept table stays inside its card; the page does not scroll sideways.
    fits = page.evaluate("""() => { const t = document.querySelector('[data-testid=concept-table]');
        const card = document.getElementById('concepts');
        return t.getBoundingClientRect().right <= card.getBoundingClientRect().right + 0.5; }""")
    assert fits
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # The ECG stays in view while the concept table scrolls.
    page.evaluate("document.querySelector('[data-concept=t_alternans]').scrollIntoView()")
    top = page.evaluate("document.getElementById('ecg-plot').getBoundingClientRect().top")
    assert 0 <= top < 300
    page.screenshot(path=str(ARTIFACTS / "e2e-record-1366-scrolled.png"))

    # Keyboard: from the top, the skip link is within 5 Tab stops and lands on the table.
    page.evaluate("window.scrollTo(0, 0)")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for stops in range(1, 6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.testid") == "skip-to-concepts":
            break
    else:
        pytest.fail("no skip link to the concept table within 5 Tab stops")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    first_field = page.evaluate("document.activeElement.dataset.testid")
    assert first_field.startswith("override-")
    # One Tab stop per concept (Enter sets a value; the Set buttons are for the mouse): the
    # QTc (Fridericia) field is a few stops further, not 29 (issue 17).
    for more in range(1, 10):
        if page.evaluate("document.activeElement.dataset.testid") == "override-qtc_fridericia":
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail("QTc (Fridericia) not reached within 10 Tab stops after the skip link")
    assert stops + 1 + more <= 15

    # Enter keeps the focus in the field that was typed in; the value shows at the unit's
    # precision from the registry (two decimals for mV).
    page.focus("[data-testid=override-t_amplitude_ii]")
    page.keyboard.type("0.2")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-concept=t_amplitude_ii].overridden")
    assert page.evaluate("document.activeElement.dataset.testid") == "override-t_amplitude_ii"
    assert page.input_value("[data-testid=override-t_amplitude_ii]") == "0.20"
    # What the browser cannot read as a number is said, not silently ignored.
    page.focus("[data-testid=override-qt]")
    page.keyboard.type("e")
    page.keyboard.press("Enter")
    assert page.text_content("[data-testid=edit-status]") == "QT interval: type a number."

    # One primary QTc (Fridericia by default); the other formulas are one click away.
    assert page.query_selector("[data-concept=qtc_bazett]") is None
    page.click("[data-testid=other-qtc-toggle]")
    page.wait_for_selector("[data-concept=qtc_bazett]")
    assert page.get_attribute("[data-testid=other-qtc-toggle]", "aria-expanded") == "true"

    # One lead at twice the scale of the 12-lead layouts.
    normal = _mm_per_s(page)
    page.select_option("[data-testid=layout-select]", "single")
    page.wait_for_function(
        "n => document.querySelectorAll('#ecg-plot .annotation-text').length === n", arg=1)
    assert _mm_per_s(page) == pytest.approx(2 * normal, rel=0.02)
    page.screenshot(path=str(ARTIFACTS / "e2e-one-lead-2x.png"))
    context.close()
    assert page_problems == []


def test_muse_upload_shows_the_carts_reading_beside_qtlens(server: Server, browser,
                                                           data_dir: Path,
                                                           page_problems: list[str]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = open_upload(browser, server,
                                [data_dir / "formats" / "muse" / "synthetic_muse.xml"],
                                page_problems)
    page.wait_for_selector("[data-testid=device-card]:not([hidden])")
    assert page.text_content("[data-testid=cart-qt]") == "402 ms"
    assert page.text_content("[data-testid=cart-qtc]") == "440 ms"
    # QTLens' value in force sits beside the cart's, and follows an override.
    page.fill("[data-testid=override-qt]", "455")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-concept=qt].overridden")
    page.wait_for_function(
        "() => document.querySelector('[data-quantity=qt] td:last-child').textContent === '455 ms'")
    assert "Sinus rhythm (synthetic example)" in page.text_content(
        "[data-testid=device-statements]")
    page.locator("[data-testid=device-card]").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "e2e-muse-cart-reading.png"))
    context.close()
    assert page_problems == []


def test_a_record_longer_than_one_window_is_pannable_to_its_end(server: Server, browser,
                                                                 data_dir: Path, tmp_path: Path,
                                                                 page_problems: list[str]) -> None:
    ludb = read_paths([data_dir / "ludb" / "data" / "1.hea", data_dir / "ludb" / "data" / "1.dat"])
    signal = np.tile(ludb.ecg.signal_mv, 4)  # 40 s: one 30 s window and the last 10 s
    paths = []
    for file in builders.wfdb_files(signal, ludb.ecg.fs_hz, ludb.ecg.lead_names):
        (tmp_path / file.name).write_bytes(file.data)
        paths.append(tmp_path / file.name)
    context, page = open_upload(browser, server, paths, page_problems)
    assert page.is_visible("[data-testid=window-select]")
    assert _plot_seconds(page)[1] == pytest.approx(30.0, abs=0.01)
    options = page.eval_on_selector_all("[data-testid=window-select] option",
                                        "ns => ns.map(n => n.value)")
    assert options == ["0", "30"]
    page.select_option("[data-testid=window-select]", "30")
    page.wait_for_function(
        "() => document.getElementById('ecg-plot')._fullLayout.xaxis.range[1] > 39.9")
    first, last = _plot_seconds(page)
    assert first < 30 and last == pytest.approx(40.0, abs=0.01)
    page.screenshot(path=str(ARTIFACTS / "e2e-second-window.png"))
    context.close()
    assert page_problems == []
