"""Label-exact augmentations: the measured concepts of the changed signal match the new labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.concepts import concept_names
from models.data.augment import (
    AugmentConfig,
    augment_record,
    max_long_qt_factor,
    stretch_st_t,
    time_scale,
)
from models.data.real import RealSet, _knots
from models.data.registry import default_root, open_dataset
from models.ecg.measure import measure

NAMES = concept_names()


@pytest.mark.parametrize("record_id", ["1", "5", "13", "21"])
def test_st_t_stretch_lengthens_measured_qt_by_the_label(data_dir: Path, record_id: str) -> None:
    """Stretching real beats' ST-T: the pipeline measures the QT the label says (±10 ms), the same
    RR and QRS."""
    ecg = open_dataset("ptbxl", default_root("ptbxl", data_dir)).load(record_id).ecg
    before = measure(ecg)
    qt, qrs = before.value("qt"), before.value("qrs")
    knots = _knots(before, ecg.duration_s)
    factor = min(1.0 + 60.0 / (qt - qrs), max_long_qt_factor(knots, 0.04))
    assert factor > 1.1
    after = measure(ecg.with_signal(stretch_st_t(ecg.signal_mv, ecg.fs_hz, knots, factor)))
    assert after.value("qt") == pytest.approx(qt + (factor - 1.0) * (qt - qrs), abs=10.0)
    assert after.value("rr") == pytest.approx(before.value("rr"), abs=4.0)
    assert after.value("qrs") == pytest.approx(qrs, abs=6.0)


def test_time_scale_moves_every_event_by_the_factor() -> None:
    signal = np.zeros((12, 1000), np.float32)
    signal[:, [100, 300, 500]] = 1.0
    slower = time_scale(signal, 1.2)
    assert list(np.flatnonzero(slower[0] > 0.5)) == [120, 360, 600]
    faster = time_scale(signal, 0.8)
    peaks = np.flatnonzero(faster[0] > 0.5)
    assert list(peaks[:3]) == [80, 240, 400]  # then the record continues from its start


def test_augmented_labels_follow_the_transforms(real_set: RealSet) -> None:
    """With every augmentation forced on, the labels follow the documented transforms and the
    derived concepts are re-derived from them."""
    train = real_set.of_role("train")
    targets = train.targets()
    row = next(
        i
        for i in range(len(train))
        if np.isfinite(targets[i, NAMES.index("qt")])
        and max_long_qt_factor(train.knots[i], 0.04) > 1.3
    )
    config = AugmentConfig(
        p_long_qt=1.0, p_time_scale=0.0, noise_mv=(0.0, 0.0), wander_mv=(0.0, 0.0)
    )
    signal, labels = augment_record(
        train.signals_mv[row],
        targets[row],
        train.knots[row],
        int(train.sex[row]),
        train.fs_hz,
        config,
        np.random.default_rng(0),
    )
    original = targets[row]
    qt, qrs = original[NAMES.index("qt")], original[NAMES.index("qrs")]
    factor = (labels[NAMES.index("qt")] - qt) / (qt - qrs) + 1.0
    assert 1.0 + 20.0 / (qt - qrs) - 1e-4 <= factor <= 1.0 + 120.0 / (qt - qrs) + 1e-4
    for name in ("jtpeak", "tpeak_tend"):
        assert labels[NAMES.index(name)] == pytest.approx(
            factor * original[NAMES.index(name)], rel=1e-4
        )
    assert labels[NAMES.index("rr")] == original[NAMES.index("rr")]
    rr_s = labels[NAMES.index("rr")] / 1000.0
    assert labels[NAMES.index("qtc_fridericia")] == pytest.approx(
        labels[NAMES.index("qt")] / rr_s ** (1 / 3), rel=1e-4
    )
    assert np.isnan(labels[NAMES.index("t_flatness")])  # a stretch may change the T shape
    amplitude = labels[NAMES.index("t_amplitude_ii")] / original[NAMES.index("t_amplitude_ii")]
    assert 0.7 <= amplitude <= 1.4
    assert signal.shape == train.signals_mv[row].shape and np.isfinite(signal).all()
