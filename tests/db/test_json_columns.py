"""JSON columns go through orjson (:func:`app.db.session.json_text`) and still read what
:func:`json.dumps` wrote before."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from app.db.session import json_text, json_value


def test_json_text_round_trips_what_a_prediction_stores() -> None:
    value = {"samples_mv": [0.12345, -1.5e-05], "lead_qt": None, 3: "int key",
             "fs_hz": np.float64(500.0), "flag": True}
    assert json_value(json_text(value)) == {"samples_mv": [0.12345, -1.5e-05], "lead_qt": None,
                                            "3": "int key", "fs_hz": 500.0, "flag": True}


def test_rows_written_by_json_dumps_with_nan_still_read() -> None:
    assert math.isnan(json_value(json.dumps({"qt_ms": float("nan")}))["qt_ms"])


def test_a_value_json_cannot_hold_is_refused_as_json_dumps_refuses_it() -> None:
    with pytest.raises(TypeError):
        json_text({"when": object()})
