"""The bracketed WFDB marks of LUDB and QTDB as waves (the loaders are tested in tests/data)."""

from __future__ import annotations

from models.data.wfdb_annotated import waves_from_annotation


def test_bracketed_marks_become_waves_with_optional_bounds() -> None:
    samples = [10, 20, 30, 50, 60, 70, 90]
    symbols = ["(", "N", ")", "t", ")", "u", "p"]
    waves = waves_from_annotation(samples, symbols, fs_hz=10.0)
    assert [(w.wave, w.onset_s, w.peak_s, w.offset_s) for w in waves] == [
        ("QRS", 1.0, 2.0, 3.0),
        ("T", None, 5.0, 6.0),
        ("P", None, 9.0, None),
    ]
