"""Fixtures of the model tests: a tiny network config, a small synthetic data set, tiny bundles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from models.data.dataset import ConceptDataset, DataRequest, load_dataset
from models.nets.backbone import BackboneConfig
from models.nets.model import ModelConfig
from models.nets.prediction import TaskRisk
from models.train import TrainConfig, TrainResult, train
from tests.threads import torch_threads

#: A few-thousand-parameter network: enough to exercise every code path in milliseconds.
TINY = ModelConfig(
    backbone=BackboneConfig(stem_widths=(8, 8, 8), widths=(8, 16), blocks=(1, 1)),
    cem_embedding_dim=2,
)
TINY_TRAIN = TrainConfig(epochs=2, batch_size=8, patience=5, lead_dropout=0.2)
TINY_DATA = DataRequest(source="synthetic", fs_hz=100.0, duration_s=10.0, n_records=40, seed=3)


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Run the model tests single-threaded: these small networks are faster so, the results do
    not depend on the thread count, and a loaded 2-core machine is not oversubscribed."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def tiny_data() -> ConceptDataset:
    """40 synthetic records at 100 Hz (32 train / 4 val / 4 test)."""
    return load_dataset(TINY_DATA)


def train_tiny(
    variant: str,
    out: Path,
    data: ConceptDataset,
    seed: int = 0,
    resume: bool = False,
    log: Callable[[str], None] = lambda _: None,
) -> TrainResult:
    """Train the tiny network for two epochs (per stage) and write its bundle to ``out``."""
    return train(
        replace(TINY, variant=variant),
        replace(TINY_TRAIN, seed=seed),
        TINY_DATA,
        out,
        device="cpu",
        resume=resume,
        progress=False,
        dataset=data,
        log=log,
    )


@pytest.fixture(scope="session")
def bundle_dirs(
    tmp_path_factory: pytest.TempPathFactory, tiny_data: ConceptDataset
) -> dict[str, Path]:
    """Tiny trained bundles of the joint CBM, the CEM and the black box."""
    root = tmp_path_factory.mktemp("bundles")
    dirs = {v: train_tiny(v, root / v, tiny_data).bundle_dir for v in ("joint", "cem", "blackbox")}
    return {v: d for v, d in dirs.items() if d is not None}


def logit_from_parts(risk: TaskRisk) -> float:
    """The logit rebuilt from its stated decomposition (must equal ``risk.logit``)."""
    return (
        risk.intercept
        + sum(risk.contributions.values())
        + risk.age_contribution
        + risk.sex_contribution
    )
