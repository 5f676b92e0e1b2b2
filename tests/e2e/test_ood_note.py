"""Browser check: the record page says how far the ECG lies from the training ECGs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Server, open_uploaded_record

pytestmark = pytest.mark.e2e


def test_record_page_shows_the_ood_note(
    server: Server, browser, data_dir: Path, page_problems: list[str]
) -> None:
    context, page = open_uploaded_record(browser, server, data_dir, "1", page_problems)
    note = page.wait_for_selector("[data-testid=ood-note]", state="visible")
    text = note.text_content()
    high = note.get_attribute("data-high") == "true"
    assert text.startswith("Unlike the training ECGs" if high else "Typical of the training ECGs")
    assert "held-out real ECG" in text
    respect = {"noise": "its noise", "wander": "its baseline wander",
               "limb_reversal": "the polarity of aVR", "features": "the shape of its waveforms",
               "relative_features": "the shape of its waveforms"}
    # The note names the respect where this ECG is least typical (what to check when flagged).
    assert any(words in text for words in respect.values()), text
    context.close()
    assert page_problems == []
