"""The global T end is a continuous rule, and the measurement repeats under resampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from models.cli import build_cli
from models.ecg.delineate import DelineationConfig, WaveFiducials, _global_t_end
from models.ecg.repeatability import agreement, records_of_role, resampling_repeatability

CONFIG = DelineationConfig()
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def global_t_end(ends_s: dict[str, float]) -> float:
    """The global T end (s from R) of leads whose T ends are ``ends_s``."""
    leads = {lead: WaveFiducials(t_end_iso_s=end) for lead, end in ends_s.items()}
    t_end, _, _ = _global_t_end(leads, CONFIG)
    assert t_end is not None
    return t_end


def test_a_lead_t_end_that_moves_moves_the_global_t_end_no_more() -> None:
    # T ends spread over less than the U-wave group gap (80 ms), the one rule left that is a step.
    rng = np.random.default_rng(0)
    for _ in range(500):
        n_leads = int(rng.integers(1, 13))
        ends = dict(zip(LEADS[:n_leads], rng.uniform(0.30, 0.37, n_leads)))
        moved_lead = LEADS[int(rng.integers(0, n_leads))]
        shift = float(rng.uniform(-0.005, 0.005))
        moved = {**ends, moved_lead: ends[moved_lead] + shift}
        moved_by = abs(global_t_end(moved) - global_t_end(ends))
        assert moved_by <= abs(shift) + 1e-12, (ends, moved_lead)


def test_one_or_two_late_leads_extend_the_global_t_end_by_at_most_30_ms() -> None:
    agreeing = {lead: 0.350 for lead in LEADS[:6]}
    assert global_t_end(agreeing) == pytest.approx(0.350)
    assert global_t_end({**agreeing, "V1": 0.372}) == pytest.approx(0.372)  # within 30 ms: followed
    assert global_t_end({**agreeing, "V1": 0.420}) == pytest.approx(0.380)
    assert global_t_end({**agreeing, "V1": 0.420, "V2": 0.400}) == pytest.approx(0.380)
    # Three late leads that agree are the T wave's end, not outliers.
    assert global_t_end({**agreeing, "V1": 0.400, "V2": 0.405, "V3": 0.410}) == pytest.approx(0.410)


def test_the_gap_that_made_the_old_rule_jump_moves_the_global_t_end_by_the_leads_shift() -> None:
    # PTB-XL 294 (a train record) at 500 Hz and resampled to 250 Hz: V1 ends 36 ms, then 29 ms,
    # after II. The old rule dropped V1 in the first and kept it in the second (QT 434 → 469 ms).
    common = {"I": 0.348, "III": 0.308, "aVR": 0.375, "aVL": 0.324, "V2": 0.324, "V3": 0.335,
              "V4": 0.343, "V5": 0.345, "V6": 0.349}
    at_500 = global_t_end({**common, "II": 0.390, "V1": 0.426})
    at_250 = global_t_end({**common, "II": 0.394, "V1": 0.423})
    assert abs(at_500 - at_250) <= 0.004
    assert at_500 == pytest.approx(0.375 + 0.030)  # capped 30 ms after the third-latest (aVR)


def test_support_counts_the_leads_within_30_ms_on_either_side() -> None:
    leads = {lead: WaveFiducials(t_end_iso_s=end) for lead, end in
             {"I": 0.300, "II": 0.345, "V1": 0.350, "V2": 0.360, "V3": 0.420}.items()}
    t_end, lead, support = _global_t_end(leads, CONFIG)
    assert t_end == pytest.approx(0.380) and lead == "V2"
    assert support == 2  # V1 (the capping lead, 30 ms before) and V2; not II (35 ms), V3 (40 ms)


def test_agreement_summarises_paired_values_and_skips_declines() -> None:
    pairs = np.array([[400.0, 402.0], [380.0, 370.0], [np.nan, 390.0], [420.0, 421.0]])
    summary = agreement(pairs)
    assert (summary.n, summary.n_records) == (3, 4)
    assert summary.mae == pytest.approx(13.0 / 3) and summary.largest == pytest.approx(10.0)
    assert summary.p50 == pytest.approx(2.0) and summary.r > 0.9
    assert agreement(np.full((2, 2), np.nan)).n == 0


@pytest.mark.data
def test_ludb_train_records_measure_the_same_at_250_hz(data_dir: Path) -> None:
    root = data_dir / "ludb"
    record_ids = records_of_role("ludb", root, "train")
    assert len(record_ids) == 30
    table = resampling_repeatability("ludb", root, record_ids, 250.0, workers=1)
    qt = table["qt"]
    assert qt.n >= 25
    assert qt.p90 <= 12.0 and qt.r >= 0.95, qt
    assert table["tpeak_tend"].p50 <= 5.0, table["tpeak_tend"]


@pytest.mark.data
def test_measure_repeatability_command_prints_one_line_per_concept(data_dir: Path) -> None:
    arguments = ["measure-repeatability", "--dataset", "ludb", "--role", "tune",
                 "--data-dir", str(data_dir), "--workers", "1"]
    result = CliRunner().invoke(build_cli(), arguments)
    assert result.exit_code == 0, result.output
    assert "ludb tune records, as recorded vs resampled to 250 Hz:" in result.output
    for concept in ("qt", "qtc_fridericia", "tpeak_tend", "jtpeak_c"):
        assert f"  {concept}: " in result.output
    assert "of 7 records" in result.output


def test_measure_repeatability_refuses_an_empty_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["measure-repeatability", "--dataset", "ludb",
                                              "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
