"""The shortcut spike is present as configured, where the truth says, and label-correlated."""

from __future__ import annotations

import numpy as np
import pytest

from models.data.synthetic import SyntheticDataset, make_dataset
from models.ecg.record import STANDARD_LEADS
from models.ecg.synth import ShortcutConfig


def test_no_shortcut_unless_asked() -> None:
    data = make_dataset(30, seed=2, fs_hz=100.0)
    assert not data.shortcut_present.any()
    assert (data.shortcut_spans == -1).all() and data.shortcut_leads == ()


@pytest.mark.parametrize("agreement", [0.9, 0.5])
def test_shortcut_follows_the_label_as_configured(agreement: float) -> None:
    data = make_dataset(
        1500, seed=3, fs_hz=50.0, noise="clean", shortcut=ShortcutConfig(agreement=agreement)
    )
    label = data.labels[:, 0].astype(bool)  # lqts_risk
    assert data.shortcut_present[label].mean() == pytest.approx(agreement, abs=0.05)
    assert data.shortcut_present[~label].mean() == pytest.approx(1 - agreement, abs=0.05)


def test_spike_is_where_the_truth_says(noisy_set: SyntheticDataset) -> None:
    assert noisy_set.clean_signals is not None
    assert {"V2", "V3"} <= set(noisy_set.shortcut_leads)
    v2 = STANDARD_LEADS.index("V2")
    for index in range(len(noisy_set)):
        spans = noisy_set.shortcut_spans[index]
        spans = spans[spans[:, 0] >= 0]
        clean = noisy_set.clean_signals[index, v2]
        if noisy_set.shortcut_present[index]:
            assert len(spans) >= 5
            for start, stop in spans:
                # 1 sample at 250 Hz: the spike dominates V2 there (≥ 0.3 of its 0.5 mV peak)
                assert stop - start == 1
                assert abs(clean[start]) > 0.3
                assert abs(clean[start - 2]) < 0.15 and abs(clean[stop + 1]) < 0.15
        else:
            assert len(spans) == 0


def test_shortcut_spike_is_outside_the_concepts() -> None:
    config = ShortcutConfig(agreement=1.0)
    with_spike = make_dataset(40, seed=8, fs_hz=100.0, shortcut=config)
    without = make_dataset(40, seed=8, fs_hz=100.0)
    np.testing.assert_array_equal(with_spike.concepts, without.concepts)
    np.testing.assert_array_equal(with_spike.labels, without.labels)
    np.testing.assert_array_equal(with_spike.shortcut_present, with_spike.labels[:, 0] == 1)
