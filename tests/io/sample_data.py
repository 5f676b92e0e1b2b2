"""Where the public development data lives, for the ECG input tests (and others that need it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """``QTLENS_DATA_DIR``, defaulting to ``../shared/data`` beside the repository root."""
    return Path(os.environ.get("QTLENS_DATA_DIR", REPOSITORY_ROOT.parent / "shared" / "data"))


def data_path(*parts: str) -> Path:
    """A path inside the development data, skipping the test when it is not there."""
    path = data_dir().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"public ECG data not found at {path} (set QTLENS_DATA_DIR)")
    return path
