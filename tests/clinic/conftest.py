"""Fixtures of the clinical-meaning tests: the shipped demo bundle and real LUDB ECGs.

The app fixtures of ``tests/api`` are re-exported so the API tests here drive the same
in-process app (with the shipped demo bundle) as the API tests do.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from models.bundle import LoadedBundle, load_bundle
from models.data.ludb import Ludb
from models.ecg.record import Ecg
from tests.api.conftest import app_client, app_database, client_as  # noqa: F401 (fixtures)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_BUNDLE = REPO_ROOT / "models" / "weights" / "demo"


@pytest.fixture(scope="session")
def demo_bundle() -> LoadedBundle:
    """The shipped demo bundle on the CPU."""
    return load_bundle(DEMO_BUNDLE, device="cpu")


@pytest.fixture(scope="session")
def ludb_ecg(data_dir: Path) -> Ecg:
    """LUDB record 1 as an uploaded ECG (500 Hz, 12 leads, 51-year-old woman)."""
    ludb = Ludb(data_dir / "ludb")
    return ludb.load(ludb.record_ids()[0]).ecg
