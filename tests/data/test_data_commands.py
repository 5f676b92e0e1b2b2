"""``qtlens data info`` and ``qtlens data build-cache`` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from models.cli import build_cli
from models.data.cache import StoreLayout, load_concepts, open_signal_store
from models.data.challenge2021 import Challenge2021

pytestmark = pytest.mark.data


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_cli(), list(args))
    return result.exit_code, result.output


def plain(output: str) -> str:
    """The words of CLI output without the frame Rich draws around error messages."""
    return " ".join(output.translate({ord(c): " " for c in "│╭╮╰╯─"}).split())


def table_row(output: str, label: str) -> list[str]:
    """The cells of the summary row starting with ``label``."""
    for line in output.splitlines():
        cells = line.split()
        if cells and cells[0] == label:
            return cells[1:]
    raise AssertionError(f"no {label!r} row in:\n{output}")


def test_info_ptbxl(ptbxl_root: Path) -> None:
    code, output = run("data", "info", "--dataset", "ptbxl", "--data-dir", str(ptbxl_root))
    assert code == 0, output
    assert f"ptbxl: 352 records in {ptbxl_root.resolve()}" in output
    assert table_row(output, "records") == ["lqts_risk", "NORM", "MI", "STTC", "CD", "HYP"]
    assert table_row(output, "train") == ["352", "1", "225", "49", "58", "56", "25"]
    assert table_row(output, "test") == ["0"] * 7


def test_info_challenge_and_ecgrdvq_default_to_the_data_dir(
    challenge_root: Path, ecgrdvq_root: Path
) -> None:
    code, output = run("data", "info", "--dataset", "challenge")
    assert code == 0, output
    assert table_row(output, "total") == ["19", "1"]
    assert table_row(output, "val") == ["4", "0"]
    code, output = run("data", "info", "--dataset", "ecgrdvq")
    assert code == 0, output
    assert table_row(output, "total") == ["1392", "495"]


def test_info_incomplete_root_is_a_clear_error(tmp_path: Path) -> None:
    code, output = run("data", "info", "--dataset", "ptbxl", "--data-dir", str(tmp_path))
    assert code == 2
    assert "lacks ptbxl_database.csv, scp_statements.csv, records500/" in plain(output)
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["info", "--dataset", "mitbih"], "unknown dataset 'mitbih'; choose one of ptbxl"),
        (["build-cache", "--dataset", "challenge", "--fs", "360"], "360 Hz is not a store rate"),
        (["build-cache", "--dataset", "ecgrdvq"], "ecgrdvq is a table of measurements"),
    ],
)
def test_bad_arguments_are_refused_plainly(
    args: list[str], message: str, ecgrdvq_root: Path
) -> None:
    code, output = run("data", *args)
    assert code == 2
    assert message in plain(output)


def test_build_cache_measures_once_then_reuses(small_challenge_root: Path, cache_dir: Path) -> None:
    args = [
        "data",
        "build-cache",
        "--dataset",
        "challenge",
        "--data-dir",
        str(small_challenge_root),
    ]
    code, output = run(*args, "--fs", "250", "--workers", "2")
    assert code == 0, output
    assert "signals: 3 records (3 parsed, 0 reused)" in output
    assert "concepts: 3 records (3 measured, 0 reused)" in output
    code, output = run(*args, "--fs", "250", "--workers", "2")
    assert code == 0, output
    assert "signals: 3 records (0 parsed, 3 reused)" in output
    assert "concepts: 3 records (0 measured, 3 reused)" in output

    dataset = Challenge2021(small_challenge_root)
    concepts = load_concepts(dataset)
    # E07504 is the Challenge's prolonged-QT record: measure() finds QTc (Fridericia) > 450 ms.
    assert concepts.at["E07504", "qtc_fridericia"] > 450.0
    assert concepts.at["E07504", "qtc_prolonged"] == 1.0
    assert concepts["rr"].between(300.0, 2000.0).all()
    assert open_signal_store(dataset, StoreLayout(fs_hz=250.0)).signals.shape == (3, 12, 2500)
