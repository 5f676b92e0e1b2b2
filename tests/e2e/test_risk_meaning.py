"""Browser check of what each risk means: the sentence, the head and where its bands begin beside
each risk, the Schwartz points moving with a QTc override, and the readable About page linked
from the nav."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import ARTIFACTS, Server, open_uploaded_record

pytestmark = pytest.mark.e2e


def test_each_risk_says_what_it_means_and_which_head_made_it(server: Server, browser,
                                                             data_dir: Path,
                                                             page_problems: list[str]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = open_uploaded_record(browser, server, data_dir, "1", page_problems)
    lqts = page.text_content("[data-testid=risk-lqts_risk]")
    assert lqts.endswith("/ 5.5 points")
    assert "Schwartz score (ECG items)" in page.text_content("[data-testid=risk-head-lqts_risk]")
    meaning = page.text_content("[data-testid=risk-source-lqts_risk]")
    assert meaning.startswith(f"Schwartz score (ECG items): {lqts.split()[0]} of 5.5 points")
    assert "probability of congenital long-QT syndrome" in meaning
    tdp = page.text_content("[data-testid=risk-source-tdp_risk]")
    assert tdp.startswith("Probability that the ECG was recorded under a high-TdP-risk hERG "
                          "blocker") and "ECGRDVQ" in tdp
    assert "logistic head" in page.text_content("[data-testid=risk-head-tdp_risk]")
    # Where each head's bands begin, in the unit its risk is shown in: the calibrated TdP head's
    # "low" reaches high probabilities, which the band alone would hide.
    assert page.text_content("[data-testid=risk-bands-lqts_risk]") == (
        "Bands of this head: intermediate from 1.5 points, high from 3.5 points.")
    tdp_bands = page.text_content("[data-testid=risk-bands-tdp_risk]")
    assert tdp_bands.startswith("Bands of this head: intermediate from ")

    # Every disagreement the API reports is written on its concept row, and only those (the QTc
    # formulas other than the primary one are one click away).
    page.click("[data-testid=other-qtc-toggle]")
    record_id = page.get_attribute("#record-app", "data-record-id")
    record = page.request.get(f"{server.base_url}/api/v1/records/{record_id}").json()
    prediction = page.request.get(
        f"{server.base_url}/api/v1/predictions/{record['latest_prediction_id']}").json()
    expected = {c["name"]: c["disagreement"] for c in prediction["concepts"] if c["disagreement"]}
    shown = {node.get_attribute("data-testid").removeprefix("disagreement-"): node.text_content()
             for node in page.query_selector_all("[data-testid^=disagreement-]")}
    assert shown == {name: f"Model and measurement disagree: {text}"
                     for name, text in expected.items()}

    page.fill("[data-testid=override-qtc_bazett]", "490")
    page.click("[data-testid=apply-qtc_bazett]")
    page.wait_for_selector("[data-concept=qt].overridden")  # a typed QTc lands on QT
    after = page.text_content("[data-testid=risk-lqts_risk]")
    assert float(after.split()[0]) >= 3.0
    assert page.get_attribute("[data-testid=risk-lqts_risk]", "class").endswith("band-high")
    page.screenshot(path=str(ARTIFACTS / "e2e-risk-meaning.png"), full_page=True)

    page.click("nav >> text=Worklist")
    page.wait_for_selector(f"text={record_id}")
    row = page.locator("tr", has_text=record_id)
    assert " pts " in row.text_content()  # the worklist shows the Schwartz points, not a percent

    page.click("nav >> text=About this model")
    page.wait_for_url("**/about")
    assert page.text_content("[data-testid=about-meaning-lqts_risk]").startswith(
        "Points of the Schwartz score (ECG items)")
    assert "Notched T wave in 3 leads" in page.text_content("[data-testid=about-lqts_risk]")
    assert "ECGRDVQ" in page.text_content("[data-testid=about-tdp_risk]")
    # The About page gives the very cut-offs the record page shows, and no unrounded number.
    cutoffs = tdp_bands.removeprefix("Bands of this head: ").removesuffix(".")
    assert page.text_content("[data-testid=about-bands-tdp_risk]").strip().startswith(cutoffs)
    assert not re.search(r"\d\.\d{6,}", page.text_content("[data-testid=about-model]"))
    assert "Research use only" in page.text_content("[data-testid=about-model]")
    page.screenshot(path=str(ARTIFACTS / "e2e-about.png"), full_page=True)
    context.close()
    assert page_problems == []


def test_a_risk_nothing_pushes_says_so_instead_of_empty_axes(server: Server, browser,
                                                            data_dir: Path,
                                                            page_problems: list[str]) -> None:
    """LUDB 7 scores no Schwartz item: the contributions box says so in words; once a long QT is
    typed, the chart of what pushes the risk is drawn."""
    context, page = open_uploaded_record(browser, server, data_dir, "7", page_problems)
    assert page.text_content("[data-testid=risk-lqts_risk]").startswith("0 /")
    empty = page.wait_for_selector("[data-testid=contrib-empty]", state="visible")
    assert empty.text_content() == ("No item of the Schwartz score (ECG items) scores on this "
                                    "ECG: 0 of 5.5 points.")
    assert not page.is_visible("#contrib-plot")
    page.fill("[data-testid=override-qt]", "520")
    page.click("[data-testid=apply-qt]")
    page.wait_for_selector("[data-concept=qt].overridden")
    page.wait_for_selector("#contrib-plot .main-svg", state="visible")
    assert not page.is_visible("[data-testid=contrib-empty]")
    context.close()
    assert page_problems == []
