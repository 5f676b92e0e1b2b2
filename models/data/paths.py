"""Where the public ECG data lives: ``$QTLENS_DATA_DIR``, else ``../shared/data`` beside the repo."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming the folder that holds ``ludb/``, ``qtdb/``, ``ptbxl/`` …
DATA_DIR_ENV = "QTLENS_DATA_DIR"


def default_data_dir() -> Path:
    """The data root: ``$QTLENS_DATA_DIR`` when set, else ``<repository>/../shared/data``."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    repository_root = Path(__file__).resolve().parents[2]
    return (repository_root / ".." / "shared" / "data").resolve()
