"""Fixtures of the task-head tests: one train-head run on ECGRDVQ, composed bundles, the app.

The app fixtures of ``tests/api`` are re-exported so the API test here drives the same in-process
app (with the shipped demo bundle) as the API tests do.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from models.bundle import CARD_FILE, read_json, write_checksums
from models.cli import build_cli
from models.data.ecgrdvq import Ecgrdvq
from models.heads.commands import EVALUATION_FILE, HEAD_FILE
from models.heads.logistic import HeadFeature, LogisticTaskHead
from tests.api.conftest import app_client, app_database, client_as  # noqa: F401 (fixtures)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_BUNDLE = REPO_ROOT / "models" / "weights" / "demo"
SHIPPED_HEAD = REPO_ROOT / "models" / "weights" / "heads" / "tdp-ecgrdvq"


@pytest.fixture(scope="session")
def ecgrdvq_root(data_dir: Path) -> Path:
    """The ECGRDVQ folder of the public data (skips when absent)."""
    root = data_dir / "ecgrdvq"
    if not root.is_dir():
        pytest.skip(f"ECGRDVQ not found at {root}")
    return root


@pytest.fixture(scope="session")
def ecgrdvq_table(ecgrdvq_root: Path) -> Any:
    """The ECGRDVQ clinical table as the loader returns it."""
    return Ecgrdvq(ecgrdvq_root).index


@pytest.fixture(scope="session")
def head_run(tmp_path_factory: pytest.TempPathFactory, ecgrdvq_root: Path) -> Path:
    """The output folder of ``qtlens train-head --data ecgrdvq`` (the documented command)."""
    out = tmp_path_factory.mktemp("tdp-head")
    result = CliRunner().invoke(
        build_cli(),
        ["train-head", "--data", "ecgrdvq", "--data-dir", str(ecgrdvq_root), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def evaluation(head_run: Path) -> dict[str, Any]:
    """The report JSON of that run."""
    return json.loads((head_run / EVALUATION_FILE).read_text())


@pytest.fixture(scope="session")
def fresh_head(head_run: Path) -> LogisticTaskHead:
    """The head that run wrote."""
    return LogisticTaskHead.load(head_run / HEAD_FILE)


def known_head(coefficients: dict[str, float], intercept: float = -1.0) -> LogisticTaskHead:
    """A tdp_risk head with given logit changes per SD (mean 400 ms, SD 20 ms for every concept,
    except age: mean 50, SD 10 years)."""
    return LogisticTaskHead(
        task="tdp_risk",
        intercept=intercept,
        features=tuple(
            HeadFeature(
                name,
                50.0 if name == "age_years" else 400.0,
                10.0 if name == "age_years" else 20.0,
                value,
            )
            for name, value in coefficients.items()
        ),
        learned_from="a test head with known coefficients",
    )


def network_only_demo(tmp_path: Path) -> Path:
    """A copy of the demo bundle's network with no composed head (its card as trained)."""
    target = tmp_path / "network"
    target.mkdir()
    for name in ("weights.safetensors", "preprocessing.json"):
        shutil.copy2(DEMO_BUNDLE / name, target / name)
    card = read_json(DEMO_BUNDLE / CARD_FILE)
    card.pop("task_heads", None)
    card.pop("composition", None)
    (target / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    write_checksums(target, ("weights.safetensors", CARD_FILE, "preprocessing.json"))
    return target
