"""Sim-to-real fine-tuning (qtlens train-real) on the tiny network: a complete bundle, OOD fitted,
the real-data agreement in the card, the same weights for the same seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from models.bundle import load_bundle
from models.data.augment import AugmentConfig
from models.data.real import RealSet
from models.train_real import RealTrainConfig, train_real

TINY_REAL = RealTrainConfig(
    epochs=1,
    batch_size=16,
    real_repeats=1,
    synthetic_per_epoch=16,
    synthetic_records=40,
    augment=AugmentConfig(p_long_qt=0.5),
)


@pytest.fixture(scope="module")
def fine_tuned(
    bundle_dirs: dict[str, Path],
    real_set: RealSet,
    data_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    out = tmp_path_factory.mktemp("real") / "joint"
    train_real(
        bundle_dirs["joint"],
        out,
        TINY_REAL,
        data_dir=data_dir,
        device="cpu",
        progress=False,
        log=lambda _: None,
    )
    return out


def test_fine_tuned_bundle_is_complete(fine_tuned: Path, bundle_dirs: dict[str, Path]) -> None:
    bundle = load_bundle(fine_tuned, device="cpu")
    assert bundle.model.ood.is_fitted
    card = bundle.card
    table = card["metrics"]["real_agreement"]["table"]
    assert card["metrics"]["real_agreement"]["role"] == "check"
    assert {"ptbxl", "challenge", "ludb", "qtdb", "all"} <= set(table)
    assert table["all"]["qtc_fridericia"]["n"] > 30
    assert {s["licence"] for s in card["real_data"]["sources"]} == {"CC BY 4.0", "ODC-By 1.0"}
    assert "strat_fold 8 check" in card["real_data"]["split_rule"]
    assert card["pretraining"]["bundle_sha256"] == load_bundle(bundle_dirs["joint"], "cpu").checksum
    assert card["config"] == json.loads((bundle_dirs["joint"] / "card.json").read_text())["config"]
    assert any("Research use only" in item for item in card["limitations"])
    assert set(card["metrics"]["task_auroc"]) == {"lqts_risk", "tdp_risk"}


def test_same_seed_same_weights(
    fine_tuned: Path, bundle_dirs: dict[str, Path], data_dir: Path, tmp_path: Path
) -> None:
    train_real(
        bundle_dirs["joint"],
        tmp_path / "again",
        TINY_REAL,
        data_dir=data_dir,
        device="cpu",
        progress=False,
        log=lambda _: None,
    )
    first, second = (
        load_file(str(fine_tuned / "weights.safetensors")),
        load_file(str(tmp_path / "again" / "weights.safetensors")),
    )
    assert first.keys() == second.keys()
    assert all((first[k] == second[k]).all() for k in first)


def test_a_black_box_base_is_refused(
    bundle_dirs: dict[str, Path], data_dir: Path, tmp_path: Path
) -> None:
    from models.bundle import BundleError

    with pytest.raises(BundleError, match="black box"):
        train_real(
            bundle_dirs["blackbox"],
            tmp_path / "bb",
            TINY_REAL,
            data_dir=data_dir,
            device="cpu",
            progress=False,
        )


def test_predicted_sds_are_rescaled_to_fit_the_tune_windows(
    fine_tuned: Path, real_set: RealSet
) -> None:
    """σ-scaling: after fine-tuning, the standardised errors of every rescaled concept on the
    tune windows have a mean square of one, and the card states the scales and the method."""
    import torch

    from models.nets.batching import run_batched
    from models.train_real import MIN_CALIBRATION_WINDOWS, _real_split

    bundle = load_bundle(fine_tuned, device="cpu")
    scales = bundle.card["training"]["uncertainty_sd_scale"]
    assert "Laves" in scales["method"] and scales["scales"]
    model = bundle.model
    assert float(model.concept_logvar_offset.abs().sum()) > 0.0
    tune = _real_split(real_set.of_role("tune"), bundle.spec, 2)
    output = run_batched(model, tune.inputs, torch.device("cpu"))
    targets = torch.as_tensor(tune.concepts)
    error = model.space.standardise(targets.nan_to_num(0.0)) - output.concept_raw
    z2 = error**2 / output.concept_logvar.exp()
    for name in scales["scales"]:
        index = model.space.names.index(name)
        known = torch.isfinite(targets[:, index])
        assert int(known.sum()) >= MIN_CALIBRATION_WINDOWS
        assert float(z2[known, index].mean()) == pytest.approx(1.0, rel=1e-3), name


def test_a_bundle_saved_before_sd_scales_loads_with_its_variances_as_trained(
    fine_tuned: Path, tmp_path: Path
) -> None:
    import shutil

    from safetensors.torch import save_file

    from models.bundle import recorded_checksums, write_checksums

    old = tmp_path / "old"
    shutil.copytree(fine_tuned, old)
    weights = load_file(str(old / "weights.safetensors"))
    del weights["concept_logvar_offset"]
    save_file(weights, str(old / "weights.safetensors"))
    write_checksums(old, list(recorded_checksums(old)))
    assert float(load_bundle(old, device="cpu").model.concept_logvar_offset.abs().sum()) == 0.0


def test_average_states_means_weights_and_keeps_counters() -> None:
    import torch

    from models.train_real import average_states

    first = {"w": torch.tensor([1.0, 3.0]), "n": torch.tensor(7)}
    second = {"w": torch.tensor([3.0, 5.0]), "n": torch.tensor(9)}
    mean = average_states([first, second])
    assert mean["w"].tolist() == [2.0, 4.0] and int(mean["n"]) == 7


def test_a_soup_is_the_mean_of_its_runs_with_batch_norm_refitted(
    bundle_dirs: dict[str, Path], data_dir: Path
) -> None:
    """``soup=2``: the runs of seeds 0 and 1 from one base, averaged weight by weight (every
    learned weight equals the mean of the two single fine-tunes), then batch-norm statistics
    re-estimated on the averaged network (they are not the mean of the runs' statistics)."""
    import copy
    from dataclasses import replace

    import torch

    from models.train_real import _fine_tune_data, average_states, fine_tune, load_base

    cpu = torch.device("cpu")
    model, card, spec = load_base(bundle_dirs["joint"])
    data = _fine_tune_data(card, spec, TINY_REAL, data_dir)
    train = data.real.of_role("train")
    runs = []
    for seed in (0, 1):
        single = copy.deepcopy(model)
        fine_tune(single, spec, train, data, replace(TINY_REAL, seed=seed), cpu,
                  progress=False, log=lambda _: None)
        runs.append(single.state_dict())
    history, _ = fine_tune(model, spec, train, data, replace(TINY_REAL, soup=2), cpu,
                           progress=False, log=lambda _: None)
    assert [entry["seed"] for entry in history] == [0, 1]
    expected, soup = average_states(runs), model.state_dict()
    learned = [name for name, _ in model.named_parameters()]
    assert learned and all(torch.equal(soup[name], expected[name]) for name in learned)
    assert not torch.equal(runs[0][learned[0]], runs[1][learned[0]])
    statistics = [name for name in soup if name.endswith("running_mean")]
    assert statistics and not all(torch.allclose(soup[name], expected[name])
                                  for name in statistics)
    with pytest.raises(ValueError, match="soup must be at least 1"):
        fine_tune(model, spec, train, data, replace(TINY_REAL, soup=0), cpu, progress=False)
