"""Same seed → identical arrays; different seeds differ; batching changes nothing."""

from __future__ import annotations

import numpy as np

from models.data.synthetic import make_dataset, record_rngs, split_indices
from models.ecg.synth import generate, sample_params

ARRAYS = (
    "signals",
    "concepts",
    "probabilities",
    "labels",
    "age_years",
    "female",
    "median_fiducials_ms",
    "shortcut_present",
)


def test_same_seed_same_arrays_and_batching_is_invisible() -> None:
    first = make_dataset(20, seed=4, fs_hz=100.0, shortcut=True, batch_size=7)
    second = make_dataset(20, seed=4, fs_hz=100.0, shortcut=True, batch_size=20)
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name), err_msg=name)
    np.testing.assert_array_equal(first.beat_fiducials_s, second.beat_fiducials_s)
    np.testing.assert_array_equal(first.shortcut_spans, second.shortcut_spans)
    prefix = make_dataset(5, seed=4, fs_hz=100.0, shortcut=True)
    np.testing.assert_array_equal(prefix.signals, first.signals[:5])


def test_different_seeds_differ() -> None:
    one = make_dataset(8, seed=1, fs_hz=100.0)
    two = make_dataset(8, seed=2, fs_hz=100.0)
    assert not np.array_equal(one.concepts, two.concepts)
    assert np.abs(one.signals - two.signals).mean() > 0.05


def test_a_data_set_record_is_the_single_record_generator() -> None:
    data = make_dataset(3, seed=9, fs_hz=250.0)
    for index, rng in enumerate(record_rngs(3, seed=9)):
        record = generate(sample_params(rng), rng, fs_hz=250.0)
        np.testing.assert_array_equal(record.ecg.signal_mv, data.signals[index])
        np.testing.assert_array_equal(record.truth.concept_vector(), data.concepts[index])


def test_noise_settings_do_not_change_concepts_or_labels() -> None:
    noisy = make_dataset(10, seed=3, fs_hz=100.0)
    clean = make_dataset(10, seed=3, fs_hz=100.0, noise="clean")
    np.testing.assert_array_equal(noisy.concepts, clean.concepts)
    np.testing.assert_array_equal(noisy.labels, clean.labels)
    assert not np.array_equal(noisy.signals, clean.signals)


def test_split_is_a_seeded_partition() -> None:
    parts = split_indices(1000, seed=5)
    joined = np.concatenate([parts["train"], parts["val"], parts["test"]])
    np.testing.assert_array_equal(np.sort(joined), np.arange(1000))
    assert (len(parts["train"]), len(parts["val"]), len(parts["test"])) == (800, 100, 100)
    again = split_indices(1000, seed=5)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)
    assert not np.array_equal(parts["test"], split_indices(1000, seed=6)["test"])
