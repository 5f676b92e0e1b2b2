"""Fixtures for the dataset tests: the development set, skipped with a reason when absent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from models.data.challenge2021 import Challenge2021
from models.data.ecgrdvq import Ecgrdvq
from models.data.ptbxl import PtbXl
from models.data.registry import default_root
from tests.data.measure_stub import CALL_LOG_ENV

#: Challenge records copied for tests that change files: the long-QT one and two others.
SMALL_CHALLENGE_RECORDS = ("E07504", "HR06000", "JS20000")


def development_root(name: str) -> Path:
    """The dataset's folder in the development set, or skip the test saying why."""
    root = default_root(name)
    if not root.is_dir():
        pytest.skip(
            f"{name} development data not found at {root}: set QTLENS_DATA_DIR to the public "
            "ECG development set (see its MANIFEST.md)"
        )
    return root


@pytest.fixture(scope="session")
def ptbxl_root() -> Path:
    return development_root("ptbxl")


@pytest.fixture(scope="session")
def challenge_root() -> Path:
    return development_root("challenge")


@pytest.fixture(scope="session")
def ecgrdvq_root() -> Path:
    return development_root("ecgrdvq")


@pytest.fixture(scope="session")
def ludb_root() -> Path:
    return development_root("ludb")


@pytest.fixture(scope="session")
def qtdb_root() -> Path:
    return development_root("qtdb")


@pytest.fixture(scope="session")
def ptbxl(ptbxl_root: Path) -> PtbXl:
    return PtbXl(ptbxl_root)


@pytest.fixture(scope="session")
def challenge(challenge_root: Path) -> Challenge2021:
    return Challenge2021(challenge_root)


@pytest.fixture(scope="session")
def ecgrdvq(ecgrdvq_root: Path) -> Ecgrdvq:
    return Ecgrdvq(ecgrdvq_root)


@pytest.fixture()
def small_challenge_root(challenge_root: Path, tmp_path: Path) -> Path:
    """A writable copy of three Challenge records (tests may change their files)."""
    root = tmp_path / "challenge"
    root.mkdir()
    for name in SMALL_CHALLENGE_RECORDS:
        for suffix in (".hea", ".mat"):
            shutil.copy(challenge_root / f"{name}{suffix}", root / f"{name}{suffix}")
    return root


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache root, also set as QTLENS_CACHE_DIR so nothing touches ~/.cache."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("QTLENS_CACHE_DIR", str(folder))
    return folder


@pytest.fixture()
def call_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder counting the calls of the stand-in measure function."""
    folder = tmp_path / "calls"
    folder.mkdir()
    monkeypatch.setenv(CALL_LOG_ENV, str(folder))
    return folder
