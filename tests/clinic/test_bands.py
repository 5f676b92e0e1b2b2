"""Risk bands set per head on real development ECGs: at most 10 % "high"."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from models.bundle import LoadedBundle, load_bundle, read_json
from models.cli import build_cli
from models.heads.calibrate import (
    HIGH_FRACTION,
    _cut,
    allowed_count,
    calibrate_bands,
    development_ecgs,
    upper_bound,
    write_bands,
)
from models.tasks import Bands, RiskBand
from tests.clinic.conftest import DEMO_BUNDLE


@pytest.mark.parametrize("n", [1, 9, 10, 11, 57, 200])
def test_a_cut_lets_at_most_the_fraction_through_and_respects_its_floor(n: int) -> None:
    values = np.random.default_rng(n).random(n)
    values[: n // 3] = values[0]  # ties
    cut = _cut(values, 0.10, 0.0)
    assert (values >= cut).sum() <= int(0.10 * n)
    assert _cut(values, 0.10, 2.0) == 2.0


@pytest.mark.parametrize("n", [7, 52, 73, 356, 1000])
def test_a_cut_keeps_the_upper_bound_of_the_share_within_the_goal(n: int) -> None:
    """The margin: the count a band may hold is the largest whose one-sided 95 % upper bound
    stays ≤ 10 % — fewer than a plain 10 % of the records whenever n is finite."""
    allowed = allowed_count(n, HIGH_FRACTION)
    assert allowed < int(HIGH_FRACTION * n) or allowed == 0
    if allowed:
        assert upper_bound(allowed, n) <= HIGH_FRACTION
    assert upper_bound(allowed + 1, n) > HIGH_FRACTION
    values = np.random.default_rng(n).random(n)
    assert (values >= _cut(values, HIGH_FRACTION, 0.0)).sum() == allowed


def test_the_upper_bound_is_clopper_pearson() -> None:
    # 0 of n: 1 − 0.05^(1/n); 1 of 52 and 5 of 52 from the exact binomial tail.
    assert upper_bound(0, 52) == pytest.approx(1 - 0.05 ** (1 / 52))
    for count in (1, 5):
        bound = upper_bound(count, 52)
        tail = sum(math.comb(52, k) * bound**k * (1 - bound) ** (52 - k) for k in range(count + 1))
        assert tail == pytest.approx(0.05)
    assert upper_bound(52, 52) == 1.0


def test_one_rule_bands_every_probability() -> None:
    bands = Bands(0.3, 0.8, "test")
    assert [bands.band(p) for p in (0.1, 0.3, 0.79, 0.8)] == [
        RiskBand.LOW, RiskBand.INTERMEDIATE, RiskBand.INTERMEDIATE, RiskBand.HIGH]
    with pytest.raises(ValueError, match="0 < intermediate ≤ high ≤ 1"):
        Bands(0.9, 0.5)


def test_the_shipped_bundle_states_its_bands_and_their_check(demo_bundle: LoadedBundle) -> None:
    for task, entry in demo_bundle.task_heads.items():
        check = entry["development_check"]
        assert check["set"]["n"] > 50 and check["check"]["n"] > 50
        assert check["set"]["fraction_high"] <= HIGH_FRACTION, task
        assert "tune role" in check["rule"]
        assert check["check"]["n"] > 50 and 0 <= check["check"]["fraction_high"] <= 1
        assert "ptbxl" in " ".join(check["set"]["datasets"])
        assert "models.data.splits" in check["rule"]
    tdp = demo_bundle.bands["tdp_risk"]
    assert tdp.set_by.startswith("calibrated on") and "at most 10% in high" in tdp.set_by
    assert "95% confidence" in tdp.set_by
    # The stated margin holds on the records the cut was set on.
    assert demo_bundle.task_heads["tdp_risk"]["development_check"]["set"][
        "fraction_high_upper_bound"] <= HIGH_FRACTION
    assert demo_bundle.bands["lqts_risk"].set_by.startswith("Schwartz score (ECG items) categories")


def test_calibrating_a_bundle_on_ludb_holds_and_is_what_predict_then_gives(
        tmp_path: Path, data_dir: Path) -> None:
    bundle_dir = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE, bundle_dir)
    ludb = list(development_ecgs(data_dir, ["ludb"]))
    assert len(ludb) == 60
    calibration = calibrate_bands(load_bundle(bundle_dir, device="cpu"), ludb)
    set_half = [e for e in ludb if e.half == "set"]
    assert calibration["tdp_risk"]["set"]["n"] == len(set_half)
    write_bands(bundle_dir, calibration)
    calibrated = load_bundle(bundle_dir, device="cpu")  # checksums rewritten: loads
    bands = calibrated.bands["tdp_risk"]
    assert bands == calibration["tdp_risk"]["bands"]
    predicted = [p.tasks["tdp_risk"] for p in calibrated.predict([e.ecg for e in set_half])]
    high = sum(r.band is RiskBand.HIGH for r in predicted)
    assert high <= HIGH_FRACTION * len(set_half)
    assert high / len(set_half) == pytest.approx(calibration["tdp_risk"]["set"]["fraction_high"])
    assert all(r.band == bands.band(r.probability) for r in predicted)
    card = read_json(bundle_dir / "card.json")
    assert card["band_calibration"]["command"].startswith("qtlens calibrate-bands")


def test_the_command_refuses_a_bad_bundle_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["calibrate-bands", "--bundle", str(tmp_path)])
    assert result.exit_code == 2 and result.stderr.startswith("error: ")
