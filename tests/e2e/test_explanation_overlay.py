"""The record page's explanation overlay: toggled on, switched between methods, targets and
layouts, toggled off — a heat band per drawn lead, and no console errors (CSP included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import ARTIFACTS, Server, open_uploaded_record

pytestmark = pytest.mark.e2e

BANDS = ("() => (document.getElementById('ecg-plot').data || [])"
         ".filter(t => (t.name || '').startsWith('explanation-')).length")


def _bands(page: object) -> int:
    return page.evaluate(BANDS)


def test_explanation_overlay(server: Server, browser, data_dir: Path,
                             page_problems: list[str]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = open_uploaded_record(browser, server, data_dir, "9", page_problems,
                                         timeout_ms=90_000)
    assert _bands(page) == 0

    page.click("[data-testid=explain-toggle]")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=explain-status]').textContent"
        ".includes('Integrated Gradients')")
    page.wait_for_function(f"() => ({BANDS})() === 13")  # 12 cart panels + the rhythm strip
    assert page.get_attribute("[data-testid=explain-toggle]", "aria-pressed") == "true"
    page.screenshot(path=str(ARTIFACTS / "e2e-explanation-ig.png"), full_page=True)

    page.select_option("[data-testid=explain-method]", "saliency")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=explain-status]').textContent"
        ".startsWith('Saliency')")
    page.select_option("[data-testid=explain-target]", "qt")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=explain-status]').textContent"
        ".includes('QT interval')")

    for layout, bands in (("12x1", 12), ("single", 1), ("median", None), ("3x4", 13)):
        page.select_option("[data-testid=layout-select]", layout)
        if bands is None:  # one per lead with a median beat
            page.wait_for_function(f"() => ({BANDS})() >= 8")
            page.screenshot(path=str(ARTIFACTS / "e2e-explanation-median.png"), full_page=True)
        else:
            page.wait_for_function(f"() => ({BANDS})() === {bands}")

    page.click("[data-testid=explain-toggle]")
    page.wait_for_function(f"() => ({BANDS})() === 0")
    assert page.is_hidden("#explain-controls")
    context.close()
    assert page_problems == []
