"""``qtlens train --data challenge`` data: the training interface served from the caches."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from models.concepts import concept_names
from models.data.cache import StoreLayout, build_concept_cache, build_signal_store
from models.data.challenge2021 import Challenge2021
from models.data.dataset import DataRequest, load_dataset
from models.nets.bottleneck import SEX_FEMALE, SEX_MALE
from models.tasks import task_names
from tests.data.measure_stub import calls, counting_measure

pytestmark = pytest.mark.data


@pytest.fixture()
def data_dir(small_challenge_root: Path, tmp_path: Path) -> Path:
    """A data root holding the three-record Challenge copy under its registry folder name."""
    root = tmp_path / "data"
    shutil.copytree(small_challenge_root, root / "challenge2021")
    return root


def request(data_dir: Path, **changes: object) -> DataRequest:
    settings = {"source": "challenge", "fs_hz": 100.0, "duration_s": 10.0, "data_dir": data_dir}
    return DataRequest(**{**settings, **changes})  # type: ignore[arg-type]


def test_training_data_comes_from_both_caches(
    data_dir: Path, cache_dir: Path, call_log: Path
) -> None:
    with pytest.raises(ValueError, match="run `qtlens data build-cache --dataset challenge"):
        load_dataset(request(data_dir))
    dataset = Challenge2021(data_dir / "challenge2021")
    build_signal_store(dataset, StoreLayout(fs_hz=100.0), workers=1)
    with pytest.raises(ValueError, match="3 of 3 challenge records have no cached concepts"):
        load_dataset(request(data_dir))
    build_concept_cache(dataset, workers=1, measure_fn=counting_measure)

    data = load_dataset(request(data_dir))
    assert len(data) == 3 and data.signals_mv.shape == (3, 12, 1000) and data.fs_hz == 100.0
    assert data.lead_mask.all()
    lqts, tdp = task_names().index("lqts_risk"), task_names().index("tdp_risk")
    assert data.labels[:, lqts].tolist() == [1.0, 0.0, 0.0]  # E07504, HR06000, JS20000
    assert np.isnan(data.labels[:, tdp]).all()  # the Challenge does not label TdP risk
    rr = list(concept_names()).index("rr")
    assert data.concepts[:, rr].tolist() == [1000.0] * 3
    assert np.isnan(data.concepts[:, list(concept_names()).index("qt")]).all()
    assert data.age_years.tolist() == [69.0, 59.0, 84.0]
    assert data.sex.tolist() == [SEX_MALE, SEX_FEMALE, SEX_FEMALE]
    assert data.split.tolist() == dataset.index["split"].tolist()
    assert data.provenance["split_rule"] == Challenge2021.split_rule
    assert calls(call_log) == 3  # loading measured nothing


def test_training_data_subset_and_unlabelled_sources(
    data_dir: Path, cache_dir: Path, call_log: Path
) -> None:
    dataset = Challenge2021(data_dir / "challenge2021")
    build_signal_store(dataset, StoreLayout(fs_hz=100.0), workers=1)
    build_concept_cache(dataset, workers=1, measure_fn=counting_measure)
    subset = load_dataset(request(data_dir, n_records=2, seed=3))
    assert len(subset) == 2 and subset.signals_mv.shape == (2, 12, 1000)
    again = load_dataset(request(data_dir, n_records=2, seed=3))
    assert np.array_equal(subset.signals_mv, again.signals_mv)
    with pytest.raises(ValueError, match="unknown data source 'ludb'"):
        load_dataset(request(data_dir, source="ludb"))
