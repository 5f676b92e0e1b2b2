"""An ECG far outside the training data gets a clear input error, never NaN risks."""

from __future__ import annotations

import numpy as np
import pytest

from models.bundle import load_bundle
from models.ecg.errors import MalformedEcg
from models.ecg.record import STANDARD_LEADS, Ecg
from models.ecg.synth import generate, sample_params


def test_volt_scale_signal_is_refused_and_a_normal_one_is_not() -> None:
    bundle = load_bundle("models/weights/demo", device="cpu")
    rng = np.random.default_rng(3)
    ecg = generate(sample_params(rng), rng).ecg
    prediction = bundle.predict([ecg])[0]
    assert all(np.isfinite(r.probability) for r in prediction.tasks.values())
    # The same ECG in µV labelled as mV: a thousand times too large.
    wrong_units = Ecg(signal_mv=ecg.signal_mv * 1000, fs_hz=ecg.fs_hz, lead_names=STANDARD_LEADS)
    with pytest.raises(MalformedEcg, match="outside the ECGs it was trained on") as refused:
        bundle.predict([wrong_units])
    assert refused.value.status_code == 422 and refused.value.field == "signal"
