"""Concept cache and memory-mapped signal store: built once, reused, invalidated by changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.concepts import concept_names
from models.data.base import read_record
from models.data.cache import (
    REASON_SUFFIX,
    StoreLayout,
    build_concept_cache,
    build_signal_store,
    cache_root,
    load_concepts,
    measurement_code_version,
    open_signal_store,
    signal_code_version,
    source_digest,
    to_store_layout,
)
from models.data.challenge2021 import Challenge2021
from models.ecg.record import STANDARD_LEADS, Ecg
from tests.data.measure_stub import calls, counting_measure

pytestmark = pytest.mark.data

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


def test_cache_root_follows_the_environment(cache_dir: Path) -> None:
    assert cache_root() == cache_dir
    assert cache_root("/elsewhere") == Path("/elsewhere")


def test_concept_cache_measures_once_and_reuses(
    small_challenge_root: Path, cache_dir: Path, call_log: Path
) -> None:
    dataset = Challenge2021(small_challenge_root)
    first = build_concept_cache(dataset, workers=2, measure_fn=counting_measure)
    assert (first.records, first.computed, first.reused) == (3, 3, 0)
    assert calls(call_log) == 3
    assert first.location == cache_dir / "concepts" / measurement_code_version()

    second = build_concept_cache(dataset, workers=1, measure_fn=counting_measure)
    assert (second.computed, second.reused) == (0, 3)
    assert calls(call_log) == 3  # nothing re-measured

    concepts = load_concepts(dataset)
    assert concepts.index.tolist() == ["E07504", "HR06000", "JS20000"]
    assert (concepts["rr"] == 1000.0).all()
    assert concepts["qt"].isna().all()
    assert (concepts[f"qt{REASON_SUFFIX}"] == "T end not found").all()
    assert (concepts[f"qtc_bazett{REASON_SUFFIX}"] == "not measured").all()
    assert concepts[f"rr{REASON_SUFFIX}"].isna().all()
    lead_ii_max = float(read_record(dataset.spec("E07504")).lead("II").max())
    assert concepts.at["E07504", "t_amplitude_ii"] == pytest.approx(lead_ii_max)
    assert set(concept_names()) <= set(concepts.columns)


def test_concept_cache_remeasures_changed_files_only(
    small_challenge_root: Path, cache_dir: Path, call_log: Path
) -> None:
    dataset = Challenge2021(small_challenge_root)
    build_concept_cache(dataset, workers=1, measure_fn=counting_measure)
    header = small_challenge_root / "HR06000.hea"
    header.write_text(header.read_text() + "# Note: edited\n")
    report = build_concept_cache(dataset, workers=1, measure_fn=counting_measure)
    assert (report.computed, report.reused) == (1, 2)
    assert calls(call_log) == 4
    assert len(load_concepts(dataset)) == 3


def test_concept_cache_code_version_invalidates(
    small_challenge_root: Path, cache_dir: Path, call_log: Path
) -> None:
    dataset = Challenge2021(small_challenge_root)
    build_concept_cache(dataset, workers=1, measure_fn=counting_measure, code_version="a")
    again = build_concept_cache(dataset, workers=1, measure_fn=counting_measure, code_version="b")
    assert (again.computed, again.reused) == (3, 0)
    assert calls(call_log) == 6
    assert len(load_concepts(dataset, code_version="a")) == 3
    with pytest.raises(LookupError, match="3 of 3 challenge records have no cached concepts"):
        load_concepts(dataset, code_version="c")


def test_code_versions_are_source_digests() -> None:
    version = measurement_code_version()
    assert len(version) == 16 and version == measurement_code_version()
    assert signal_code_version() != version
    assert source_digest(["concepts.py"]) != source_digest(["tasks.py"])
    # The synthetic generator is not part of measurement: editing it keeps the cache.
    assert source_digest(["ecg"], ["ecg/synth"]) != source_digest(["ecg"])
    assert source_digest(["ecg"], ["ecg/synth"]) == source_digest(
        [
            f"ecg/{p.name}"
            for p in sorted(MODELS_DIR.joinpath("ecg").iterdir())
            if p.name not in ("synth", "__pycache__")
        ]
    )
    with pytest.raises(FileNotFoundError, match="models/nowhere.py"):
        source_digest(["nowhere.py"])


def test_signal_store_holds_exactly_the_read_signals(
    small_challenge_root: Path, cache_dir: Path
) -> None:
    dataset = Challenge2021(small_challenge_root)
    layout = StoreLayout(fs_hz=250.0)
    store, report = build_signal_store(dataset, layout, workers=2)
    assert (report.computed, report.reused) == (3, 0)
    assert store.signals.shape == (3, 12, 2500) and store.signals.dtype == np.float32
    assert store.index["n_valid_samples"].tolist() == [2500] * 3
    assert store.index["source_fs_hz"].tolist() == [500.0] * 3
    for record_id in dataset.record_ids():
        expected, _, _ = to_store_layout(read_record(dataset.spec(record_id)), layout)
        assert np.array_equal(store.signal(record_id), expected)
    opened = open_signal_store(dataset, layout)
    assert np.array_equal(opened.signals, store.signals)


def test_signal_store_reuses_and_rebuilds_only_changed_records(
    small_challenge_root: Path, cache_dir: Path
) -> None:
    dataset = Challenge2021(small_challenge_root)
    layout = StoreLayout(fs_hz=100.0)
    first, _ = build_signal_store(dataset, layout, workers=1)
    before = np.array(first.signals)
    _, warm = build_signal_store(dataset, layout, workers=1)
    assert (warm.computed, warm.reused) == (0, 3)
    header = small_challenge_root / "JS20000.hea"
    header.write_text(header.read_text() + "# Note: edited\n")
    store, changed = build_signal_store(Challenge2021(small_challenge_root), layout, workers=1)
    assert (changed.computed, changed.reused) == (1, 2)
    assert np.array_equal(np.array(store.signals), before)  # same samples, new hash
    assert not list(store.folder.parent.glob(".*"))  # no building/retired folders left


def test_open_signal_store_refuses_missing_or_stale_stores(
    small_challenge_root: Path, challenge_root: Path, cache_dir: Path
) -> None:
    small = Challenge2021(small_challenge_root)
    with pytest.raises(LookupError, match="run `qtlens data build-cache --dataset challenge"):
        open_signal_store(small, StoreLayout(fs_hz=500.0))
    build_signal_store(small, StoreLayout(fs_hz=500.0), workers=1)
    (small_challenge_root / "E07504.hea").unlink()
    (small_challenge_root / "E07504.mat").unlink()
    with pytest.raises(LookupError, match="out of date"):
        open_signal_store(Challenge2021(small_challenge_root), StoreLayout(fs_hz=500.0))


def test_store_layout_orders_leads_resamples_and_pads() -> None:
    fs_hz, seconds = 500.0, 4.0
    t = np.arange(int(fs_hz * seconds)) / fs_hz
    wave = np.sin(2 * np.pi * 1.0 * t)  # 1 Hz: survives any of the store rates
    ecg = Ecg(np.stack([2 * wave, wave]), fs_hz, ("V5", "II"))
    stored, n_valid, present = to_store_layout(ecg, StoreLayout(fs_hz=100.0, duration_s=5.0))
    assert stored.shape == (12, 500) and stored.dtype == np.float32
    assert n_valid == 400
    assert present.tolist() == [lead in ("II", "V5") for lead in STANDARD_LEADS]
    ii, v5 = STANDARD_LEADS.index("II"), STANDARD_LEADS.index("V5")
    reference = np.sin(2 * np.pi * np.arange(400) / 100.0)
    assert np.abs(stored[ii, 20:380] - reference[20:380]).max() < 1e-3
    assert np.allclose(stored[v5], 2 * stored[ii])
    assert not stored[:, 400:].any() and not stored[0].any()


def test_store_layout_crops_long_records_and_zeroes_gaps() -> None:
    signal = np.ones((12, 6000), dtype=np.float32)
    signal[3, 10] = np.nan
    ecg = Ecg(signal, 500.0, STANDARD_LEADS)
    stored, n_valid, present = to_store_layout(ecg, StoreLayout(fs_hz=500.0, duration_s=10.0))
    assert stored.shape == (12, 5000) and n_valid == 5000 and present.all()
    assert stored[3, 10] == 0.0 and stored.sum() == 12 * 5000 - 1


def test_unreadable_records_are_cached_with_the_reason(
    small_challenge_root: Path, cache_dir: Path, call_log: Path
) -> None:
    signal_file = small_challenge_root / "HR06000.mat"
    signal_file.write_bytes(signal_file.read_bytes()[:1000])  # a truncated download
    dataset = Challenge2021(small_challenge_root)
    store, stored = build_signal_store(dataset, StoreLayout(fs_hz=500.0), workers=1)
    assert (stored.computed, stored.unreadable) == (3, 1)
    entry = store.index.loc["HR06000"]
    assert entry["n_valid_samples"] == 0 and not store.signal("HR06000").any()
    assert "HR06000.mat" in entry["unreadable"]
    assert store.index.loc[["E07504", "JS20000"], "unreadable"].isna().all()

    measured = build_concept_cache(dataset, workers=1, measure_fn=counting_measure)
    assert (measured.computed, measured.unreadable) == (3, 1)
    assert calls(call_log) == 2  # the unreadable record never reaches measure
    concepts = load_concepts(dataset)
    assert concepts.at["HR06000", "unreadable"] == entry["unreadable"]
    assert np.isnan(concepts.at["HR06000", "rr"])
    assert concepts.at["HR06000", f"rr{REASON_SUFFIX}"] == "unreadable record"
    assert build_concept_cache(dataset, workers=1, measure_fn=counting_measure).computed == 0
