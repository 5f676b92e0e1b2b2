"""Browser test of serial ECGs (issue 19): upload a baseline and an on-drug ECG of one series,
see the change concepts, the baseline overlaid on the median beats and the change-based TdP
risk; override an input of ΔQTc (this ECG's RR) and see the change and the risk move."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from models.ecg.synth.pairs import drug_pair
from tests.e2e.conftest import ARTIFACTS, Server, watch
from tests.e2e.test_walking_skeleton import _log_in
from tests.io.builders import wfdb_files

pytestmark = pytest.mark.e2e


def _write_pair(folder: Path) -> dict[str, list[str]]:
    """The two ECGs of a synthetic hERG pair as WFDB files on disk, by role."""
    pair = drug_pair("herg", 0)
    paths = {}
    for which in ("baseline", "on_drug"):
        ecg = getattr(pair, which).ecg
        target = folder / which
        target.mkdir()
        files = wfdb_files(ecg.signal_mv, ecg.fs_hz,
                           comments=[f"Age: {ecg.age_years}", f"Sex: {ecg.sex}"])
        for file in files:
            (target / file.name).write_bytes(file.data)
        paths[which] = [str(target / file.name) for file in files]
    return paths


def test_serial_ecgs_show_changes_overlay_and_change_based_risk(
    server: Server, browser, tmp_path: Path, page_problems: list[str]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    files = _write_pair(tmp_path)
    context = browser.new_context(viewport={"width": 1440, "height": 1100})
    page = watch(context.new_page(), page_problems)
    page.set_default_timeout(90_000)
    _log_in(page, server, "clinician1")
    page.wait_for_url("**/worklist")

    page.fill("[data-testid=upload-series]", "new")
    page.check("[data-testid=upload-baseline]")
    page.set_input_files("[data-testid=file-input]", files["baseline"])
    page.wait_for_url("**/records/ECG-*")
    page.wait_for_selector("[data-testid=risk-tdp_risk]")
    note = page.text_content("[data-testid=series-note]")
    series_id = re.search(r"SER-[A-Z2-7]{8}", note).group(0)
    assert "baseline ECG" in note
    baseline_id = page.text_content("[data-testid=record-id]")

    page.goto(f"{server.base_url}/worklist")
    page.fill("[data-testid=upload-series]", series_id)
    page.set_input_files("[data-testid=file-input]", files["on_drug"])
    page.wait_for_url(re.compile(r".*/records/ECG-(?!" + baseline_id[4:] + r").*"))
    page.wait_for_selector("[data-testid=change-delta_qtc_fridericia]")
    assert baseline_id in page.text_content("[data-testid=series-note]")
    assert "change against baseline" in page.text_content("[data-testid=risk-basis-tdp_risk]")
    changes = page.eval_on_selector_all("[data-testid=change-table] tbody tr",
                                        "rows => rows.map(r => r.dataset.change)")
    assert {"delta_qtc_fridericia", "delta_jtpeak_c", "delta_tpeak_tend", "delta_heart_rate",
            "delta_t_amplitude_ii"} <= set(changes)
    # On a pure hERG pair both repolarisation intervals lengthen.
    assert page.text_content("[data-testid=change-value-delta_jtpeak_c]").startswith("+")

    page.select_option("[data-testid=layout-select]", "median")
    page.wait_for_function(
        "() => document.getElementById('ecg-plot').data.some(t => t.name === 'II baseline')")
    names = page.evaluate("() => document.getElementById('ecg-plot').data.map(t => t.name)")
    assert {"II baseline", "II median", "V5 baseline", "V5 median"} <= set(names)
    page.screenshot(path=str(ARTIFACTS / "e2e-series-before.png"), full_page=True)

    # The probability itself: a saturated risk reads "> 99 %" before and after.
    risk_before = page.get_attribute("[data-testid=risk-tdp_risk]", "data-probability")
    delta_before = page.text_content("[data-testid=change-value-delta_qtc_fridericia]")
    rr_text = page.text_content("[data-testid=model-rr]")
    rr = float(re.match(r"[\d.]+", rr_text.replace(",", "")).group(0))
    page.fill("[data-testid=override-rr]", str(round(rr * 0.8)))
    page.click("[data-testid=apply-rr]")
    page.wait_for_selector("[data-concept=rr].overridden")
    assert page.text_content("[data-testid=change-value-delta_qtc_fridericia]") != delta_before
    risk_after = float(page.get_attribute("[data-testid=risk-tdp_risk]", "data-probability"))
    assert risk_after != float(risk_before)
    shown = ("> 99 %" if risk_after >= 0.995 else "< 1 %" if risk_after < 0.005
             else f"{100 * risk_after:.0f} %")  # never "100 %" or "0 %": a model is never sure
    assert page.text_content("[data-testid=risk-tdp_risk]") == shown
    assert "Saved" in page.text_content("[data-testid=edit-status]")
    page.screenshot(path=str(ARTIFACTS / "e2e-series-after.png"), full_page=True)
    on_drug_id = page.text_content("[data-testid=record-id]")

    # The worklist shows both records in the series, the baseline ticked.
    page.goto(f"{server.base_url}/worklist")
    page.wait_for_selector(f"[data-testid=series-input-{on_drug_id}]")
    for record, is_baseline in ((baseline_id, True), (on_drug_id, False)):
        assert page.input_value(f"[data-testid=series-input-{record}]") == series_id
        assert page.is_checked(f"[data-testid=series-baseline-{record}]") is is_baseline
    context.close()
    assert page_problems == []
