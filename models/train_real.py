"""Sim-to-real: fine-tune a synthetic-pretrained concept network on real ECGs (``qtlens train-real``).

Starting from a bundle trained on synthetic ECGs (``qtlens train --data synthetic``), every epoch
mixes

* each real ``train`` window of :mod:`models.data.real` (PTB-XL, Challenge 2021, LUDB, QTDB) seen
  :attr:`RealTrainConfig.real_repeats` times, each time with fresh label-exact augmentations
  (:mod:`models.data.augment`: counterfactual long QT, time scaling, amplitude, baseline wander,
  noise) and lead dropout; targets are the measured concepts with the cardiologists' QT where
  they marked it, unknown (masked) where the pipeline declines;
* :attr:`RealTrainConfig.synthetic_per_epoch` records of a fresh synthetic set made like the base
  bundle's data (another seed; unaugmented; the task labels exist only there, so the task head
  keeps learning the synthetic tasks and the synthetic concepts are not forgotten).

The loss is the base variant's (``λ · concept loss + task loss``, :func:`models.train._stage_loss`);
concept standardisation and the input rule stay those of the base, so the task head reads the
same scale. Validation after every epoch on the real ``tune`` windows (concept loss) plus the
synthetic validation split; the best epoch is kept (the one-cycle schedule runs to its end
unless ``patience`` is set below ``epochs``). The predicted SDs are then
rescaled per concept so that they fit the ``tune`` windows (:func:`calibrate_uncertainty`,
σ-scaling). With :attr:`RealTrainConfig.soup` above 1 the recipe is run that many times from the
same base with seeds ``seed, seed + 1, …`` and the networks are averaged weight by weight (a
uniform model soup, Wortsman et al. 2022: fine-tunes of one pretrained network lie in one basin,
so their average can predict like their ensemble at one network's size and cost; for this recipe
it did not beat one fine-tune out of fold, README), the batch-norm statistics re-estimated on the
averaged network (as for stochastic weight averaging, Izmailov et al. 2018:
:func:`torch.optim.swa_utils.update_bn`) before the SDs are rescaled. Then the out-of-distribution
statistics (:mod:`models.nets.ood`) are fitted on the real ``train`` windows' features with the
``tune`` windows as reference (their features and input descriptors), and the card records
the real-data agreement on the ``check`` windows (:mod:`models.agreement`) and the synthetic test
metrics.

Deterministic on the CPU for a given seed and base bundle (every epoch re-seeds from
``(seed, epoch)``).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from models import bundle as bundles
from models.agreement import real_agreement, real_inputs
from models.data.augment import AugmentConfig, augment_batch
from models.data.dataset import DataRequest, load_dataset
from models.data.real import RealSet, load_real_set
from models.data.splits import SPLIT_RULE
from models.nets.batching import InputBatch, resolve_device, run_batched
from models.nets.inputs import InputSpec, standardise
from models.nets.model import ConceptModel, ModelConfig, ModelOutput
from models.nets.ood import input_descriptors
from models.nets.registry import create_model, get_variant
from models.train import _drop_leads, _Split, _stage_loss, _test_metrics, split_of

#: What the card says about the real data (dataset, licence, citation).
REAL_DATA_SOURCES: tuple[dict[str, str], ...] = (
    {
        "dataset": "PTB-XL",
        "licence": "CC BY 4.0",
        "citation": "Wagner P et al. Sci Data 7:154 (2020)",
    },
    {
        "dataset": "PhysioNet/CinC Challenge 2021 (sample records)",
        "licence": "CC BY 4.0",
        "citation": "Reyna MA et al. Computing in Cardiology 48 (2021)",
    },
    {
        "dataset": "LUDB",
        "licence": "ODC-By 1.0",
        "citation": "Kalyakulina AI et al. IEEE Access 8:186181 (2020)",
    },
    {
        "dataset": "QT Database (QTDB)",
        "licence": "ODC-By 1.0",
        "citation": "Laguna P et al. Computers in Cardiology 24:673 (1997)",
    },
)


#: How the bundle's OOD score is computed, for the card.
OOD_METHOD = (
    "Mahalanobis distance of the backbone embedding from the real training windows' features "
    "(Lee et al. 2018) and relative Mahalanobis distance against a background of them plus "
    "synthetic training records (Ren et al. 2021), Ledoit-Wolf shrinkage, and three "
    "descriptors of the model input, which augmentation cannot train away (noise: median "
    "absolute sample-to-sample difference; wander: 5-95 % range of the 1-s moving average; "
    "both the median over leads; limb reversal: polarity of aVR minus polarity of lead I, "
    "Batchvarov et al. 2007); the percentile is the largest of the five among the real tune "
    "windows; flagged above the 99th percentile (models.nets.ood)"
)


@dataclass(frozen=True)
class RealTrainConfig:
    """Fine-tuning settings.

    Attributes:
        epochs: epochs of the one-cycle learning-rate schedule (the best epoch is kept).
        batch_size: records per step (real and synthetic mixed).
        learning_rate: peak AdamW learning rate (one-cycle schedule).
        weight_decay: AdamW weight decay.
        patience: epochs without a better validation loss before stopping early (the default
            runs the whole schedule: stopping before the learning rate anneals kept a worse
            network, README).
        real_repeats: times each real training window is seen per epoch (augmented anew).
        synthetic_per_epoch: synthetic training records mixed into each epoch.
        synthetic_records: size of the fresh synthetic set drawn from (80/10/10 split; seed
            of the base's data + 1, so none was seen in pretraining).
        lead_dropout: chance that a record loses about half its leads.
        max_grad_norm: gradient clipping norm.
        seed: seed of batch order, augmentation, dropout and synthetic draws (of the soup's
            first fine-tune; the others take ``seed + 1``, ``seed + 2``, …).
        soup: fine-tunes from the base averaged weight by weight (1: one fine-tune).
        augment: the augmentation settings.
    """

    epochs: int = 12
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    patience: int = 12
    real_repeats: int = 4
    synthetic_per_epoch: int = 512
    synthetic_records: int = 2000
    lead_dropout: float = 0.1
    max_grad_norm: float = 2.0
    seed: int = 0
    soup: int = 1
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class RealTrainResult:
    """Outcome of :func:`train_real`: the model, where it was written, history, metrics, time."""

    model: ConceptModel
    bundle_dir: Path
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    seconds: float


def load_base(base: Path) -> tuple[ConceptModel, dict[str, Any], InputSpec]:
    """The network, card and input rule of a concept bundle (composed heads are not loaded).

    Raises:
        BundleError: an unreadable bundle, or a black box (nothing to fine-tune concepts on).
    """
    bundles.verify_bundle(base)
    card = bundles.read_json(base / bundles.CARD_FILE)
    model = create_model(ModelConfig.from_dict(card["config"]))
    if not isinstance(model, ConceptModel):
        raise bundles.BundleError(f"{base} is a black box; train-real needs a concept bundle")
    bundles.load_weights(model, base)
    spec = InputSpec.from_dict(bundles.read_json(base / bundles.PREPROCESSING_FILE))
    return model, card, spec


def _real_split(real: RealSet, spec: InputSpec, n_tasks: int) -> _Split:
    labels = np.full((len(real), n_tasks), np.nan, dtype=np.float32)
    return _Split(real_inputs(real, spec), real.targets(), labels)


@dataclass(frozen=True)
class _EpochData:
    """One epoch's records: augmented real windows followed by drawn synthetic records."""

    inputs: InputBatch
    concepts: np.ndarray
    labels: np.ndarray


def _epoch_data(
    real: RealSet,
    targets: np.ndarray,
    synthetic: _Split,
    spec: InputSpec,
    config: RealTrainConfig,
    n_tasks: int,
    rng: np.random.Generator,
) -> _EpochData:
    """Augment the real windows ``real_repeats`` times and draw the synthetic share."""
    rows = np.tile(np.arange(len(real)), config.real_repeats)
    signals, concepts = augment_batch(
        real.signals_mv[rows],
        targets[rows],
        real.knots[rows],
        real.sex[rows],
        real.fs_hz,
        config.augment,
        rng,
    )
    drawn = rng.choice(
        len(synthetic.inputs), min(config.synthetic_per_epoch, len(synthetic.inputs)), False
    )
    chosen = synthetic.inputs.select(np.sort(drawn))
    inputs = InputBatch(
        signal=np.concatenate([standardise(signals, real.lead_mask[rows], spec), chosen.signal]),
        lead_mask=np.concatenate([real.lead_mask[rows].astype(bool), chosen.lead_mask]),
        sex=np.concatenate([real.sex[rows].astype(np.int64), chosen.sex]),
        age_years=np.concatenate([real.age_years[rows].astype(np.float32), chosen.age_years]),
    )
    labels = np.concatenate(
        [np.full((rows.size, n_tasks), np.nan, np.float32), synthetic.labels[np.sort(drawn)]]
    )
    return _EpochData(
        inputs, np.concatenate([concepts, synthetic.concepts[np.sort(drawn)]]), labels
    )


def _loss_on(
    model: ConceptModel, stage: Any, split: _Split, device: torch.device, batch_size: int
) -> float:
    """The stage loss of ``split`` in eval mode."""
    output = run_batched(model, split.inputs, device, 4 * batch_size)
    with torch.no_grad():
        return float(
            _stage_loss(
                model,
                stage,
                ModelOutput(*(t.to(device) for t in output)),
                torch.as_tensor(split.concepts, device=device),
                torch.as_tensor(split.labels, device=device),
            )
        )


def _train_epoch(
    model: ConceptModel,
    stage: Any,
    epoch: _EpochData,
    config: RealTrainConfig,
    device: torch.device,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    rng: np.random.Generator,
    progress: bool,
    description: str,
) -> float:
    """One pass over the epoch's records; returns the mean training loss."""
    model.train()
    order = rng.permutation(len(epoch.inputs))
    steps = len(order) // config.batch_size
    losses = []
    with tqdm(total=steps, desc=description, disable=not progress, leave=False) as bar:
        for step in range(steps):
            batch = order[step * config.batch_size : (step + 1) * config.batch_size]
            inputs = epoch.inputs.select(batch)
            signal, _, sex, age = inputs.tensors(device)
            mask = torch.as_tensor(
                _drop_leads(inputs.lead_mask, config.lead_dropout, rng),
                dtype=torch.float32,
                device=device,
            )
            output = model(signal, mask, sex, age)
            loss = _stage_loss(
                model,
                stage,
                output,
                torch.as_tensor(epoch.concepts[batch], device=device),
                torch.as_tensor(epoch.labels[batch], device=device),
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
            bar.update(1)
    return float(np.mean(losses)) if losses else math.nan


#: Fewest tune windows with a measured value for a concept's SD scale to be fitted.
MIN_CALIBRATION_WINDOWS = 20
UNCERTAINTY_METHOD = (
    "sigma scaling (Laves MH et al., MIDL 2020): each measured continuous concept's predicted SD "
    "is multiplied by the root mean square of its standardised errors (error / predicted SD) on "
    f"the real tune windows (at least {MIN_CALIBRATION_WINDOWS} measured values; else 1)"
)


def calibrate_uncertainty(
    model: ConceptModel, tune: _Split, device: torch.device, batch_size: int
) -> dict[str, float]:
    """Rescale each measured continuous concept's predicted SD to fit held-out windows.

    σ-scaling (Laves MH et al., Well-calibrated regression uncertainty in medical imaging with
    deep learning, MIDL 2020): the scale ``s = √mean(z²)`` of the standardised errors
    ``z = (target − mean) / SD`` on the ``tune`` windows is the maximum-likelihood rescaling of
    the Gaussian; ``2·log s`` goes into the model's ``concept_logvar_offset``. Fine-tuning on a
    few hundred real windows makes the variance head overconfident; derived concepts' spreads
    follow through their formulas. Concepts with fewer than :data:`MIN_CALIBRATION_WINDOWS`
    measured tune values keep their variances.

    Returns:
        The SD scale applied, per concept that got one.
    """
    output = run_batched(model, tune.inputs, device, 4 * batch_size)
    space = model.space
    home = model.concept_logvar_offset.device
    targets = torch.as_tensor(tune.concepts, device=home)
    known = torch.isfinite(targets)
    standardised = space.standardise(targets.nan_to_num(0.0))
    raw, logvar = output.concept_raw.to(home), output.concept_logvar.to(home)
    variance = (standardised - raw) ** 2 / logvar.exp()
    eligible = space.is_measured & ~space.is_binary
    scales: dict[str, float] = {}
    offset = torch.zeros_like(model.concept_logvar_offset)
    for index, concept in enumerate(space.names):
        count = int(known[:, index].sum())
        if not bool(eligible[index]) or count < MIN_CALIBRATION_WINDOWS:
            continue
        mean_square = float(variance[known[:, index], index].mean())
        offset[index] = math.log(mean_square)
        scales[concept] = math.sqrt(mean_square)
    model.concept_logvar_offset.copy_(offset)
    return scales


def fit_ood(
    model: ConceptModel,
    spec: InputSpec,
    real: RealSet,
    synthetic: _Split,
    n_synthetic: int,
    device: torch.device,
) -> None:
    """Fit the OOD statistics: real ``train`` windows against a background of them plus the
    first ``n_synthetic`` synthetic training records; referenced (features and input
    descriptors) on the real ``tune`` windows."""
    inputs = {
        "train": real_inputs(real.of_role("train"), spec),
        "synthetic": synthetic.inputs.select(slice(0, n_synthetic)),
        "tune": real_inputs(real.of_role("tune"), spec),
    }
    features = {name: run_batched(model, batch, device, 128).features.numpy()
                for name, batch in inputs.items()}
    model.ood.fit(features["train"], features["synthetic"], features["tune"],
                  input_descriptors(inputs["tune"].signal, inputs["tune"].lead_mask, spec.fs_hz))


@dataclass
class _FineTuneData:
    """What every fine-tuning run of one base reads: the real set, the synthetic splits drawn
    like the base's data (another seed), the real ``tune`` split and the number of tasks."""

    real: RealSet
    synthetic: dict[str, _Split]
    synthetic_request: DataRequest
    tune: _Split
    n_tasks: int


def _fine_tune_data(
    base_card: dict[str, Any], spec: InputSpec, config: RealTrainConfig, data_dir: Path | None
) -> _FineTuneData:
    real = load_real_set(data_dir, spec.fs_hz, spec.duration_s)
    base_request = DataRequest.from_dict(base_card["data"])
    synthetic_request = replace(
        base_request, n_records=config.synthetic_records, seed=base_request.seed + 1
    )
    synthetic_data = load_dataset(synthetic_request)
    n_tasks = synthetic_data.labels.shape[1]
    synthetic = {name: split_of(synthetic_data, name, spec) for name in ("train", "val", "test")}
    tune = _real_split(real.of_role("tune"), spec, n_tasks)
    return _FineTuneData(real, synthetic, synthetic_request, tune, n_tasks)


def fine_tune(
    model: ConceptModel,
    spec: InputSpec,
    train_set: RealSet,
    data: _FineTuneData,
    config: RealTrainConfig,
    device: torch.device,
    *,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Fine-tune ``model`` in place on ``train_set`` (see the module text): ``config.soup`` runs
    of :func:`_fine_tune_once` from the same start averaged into one network
    (:func:`average_states`, then :func:`_refit_batch_norm`), then σ-scaling of the predicted SDs
    on ``tune``. Returns the epoch history (each entry with its run's ``seed``) and the SD
    scales."""
    if config.soup < 1:
        raise ValueError(f"soup must be at least 1, got {config.soup}")
    start = copy.deepcopy(model.state_dict())
    states, history = [], []
    for run in range(config.soup):
        model.load_state_dict(start)
        run_config = replace(config, seed=config.seed + run)
        history += [{"seed": run_config.seed, **entry} for entry in _fine_tune_once(
            model, spec, train_set, data, run_config, device, progress, log)]
        states.append(copy.deepcopy(model.state_dict()))
    if config.soup > 1:
        model.load_state_dict(average_states(states))
        _refit_batch_norm(model, spec, train_set, data, config, device)
    model.eval()
    return history, calibrate_uncertainty(model, data.tune, device, config.batch_size)


def average_states(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The weight-by-weight mean of networks of one architecture (floating-point tensors; counters
    such as batch norm's ``num_batches_tracked`` are taken from the first)."""
    return {
        name: torch.stack([state[name] for state in states]).mean(0)
        if tensor.is_floating_point() else tensor.clone()
        for name, tensor in states[0].items()
    }


class _InputsForward(torch.nn.Module):
    """``model`` called on one dict of input tensors, as :func:`torch.optim.swa_utils.update_bn`
    calls a module on each item of its loader."""

    def __init__(self, model: ConceptModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: dict[str, torch.Tensor]) -> ModelOutput:
        return self.model(inputs["signal"], inputs["lead_mask"], inputs["sex"],
                          inputs["age_years"])


def _refit_batch_norm(model: ConceptModel, spec: InputSpec, train_set: RealSet,
                      data: _FineTuneData, config: RealTrainConfig, device: torch.device) -> None:
    """Re-estimate the batch-norm statistics of an averaged network on one epoch of training
    records, augmented as in training (the soup's first seed, epoch ``config.epochs``)."""
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, config.epochs]))
    epoch = _epoch_data(train_set, train_set.targets(), data.synthetic["train"], spec, config,
                        data.n_tasks, rng)
    names = ("signal", "lead_mask", "sex", "age_years")
    batches = (  # one batch in memory at a time: update_bn reads its loader once
        dict(zip(names, epoch.inputs.select(np.arange(first, min(
            first + config.batch_size, len(epoch.inputs)))).tensors(device), strict=True))
        for first in range(0, len(epoch.inputs), config.batch_size)
    )
    torch.optim.swa_utils.update_bn(batches, _InputsForward(model))


def _fine_tune_once(model: ConceptModel, spec: InputSpec, train_set: RealSet, data: _FineTuneData,
                    config: RealTrainConfig, device: torch.device, progress: bool,
                    log: Callable[[str], None]) -> list[dict[str, Any]]:
    """One fine-tune of ``model`` in place on ``train_set`` with ``config.seed``: the one-cycle
    schedule, then the best epoch on the real ``tune`` windows plus the synthetic validation
    split. Returns the epoch history."""
    stage = get_variant(model.config.variant).stages[-1]
    targets = train_set.targets()
    torch.manual_seed(config.seed)
    model.concept_logvar_offset.zero_()  # the variances are trained, then rescaled on tune
    model.to(device)
    steps = (len(train_set) * config.real_repeats + config.synthetic_per_epoch) // config.batch_size
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=config.learning_rate,
        total_steps=config.epochs * max(1, steps),
        pct_start=0.2,
    )
    best_state = copy.deepcopy(model.state_dict())
    best_loss, bad_epochs, history = math.inf, 0, []
    for epoch in range(config.epochs):
        if bad_epochs >= config.patience:
            break
        seeds = np.random.SeedSequence([config.seed, epoch])
        torch.manual_seed(int(seeds.generate_state(1)[0]))
        rng = np.random.default_rng(seeds)
        epoch_started = time.perf_counter()
        epoch_data = _epoch_data(
            train_set, targets, data.synthetic["train"], spec, config, data.n_tasks, rng
        )
        train_loss = _train_epoch(
            model,
            stage,
            epoch_data,
            config,
            device,
            optimizer,
            scheduler,
            rng,
            progress,
            f"train-real seed {config.seed} epoch {epoch + 1}/{config.epochs}",
        )
        real_loss = _loss_on(model, stage, data.tune, device, config.batch_size)
        synthetic_loss = _loss_on(model, stage, data.synthetic["val"], device, config.batch_size)
        val_loss = real_loss + synthetic_loss
        improved = val_loss < best_loss - 1e-4
        if improved:
            best_loss, bad_epochs = val_loss, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad_epochs += 1
        entry = {
            "epoch": epoch + 1,
            "train_loss": round(train_loss, 5),
            "val_loss_real_tune": round(real_loss, 5),
            "val_loss_synthetic": round(synthetic_loss, 5),
            "seconds": round(time.perf_counter() - epoch_started, 1),
        }
        history.append(entry)
        log(" ".join(f"{k}={v}" for k, v in entry.items()) + (" *" if improved else ""))
    model.load_state_dict(best_state)
    return history


def train_real(
    base: Path,
    out: Path,
    config: RealTrainConfig,
    *,
    data_dir: Path | None = None,
    device: str = "auto",
    progress: bool = True,
    command: str | None = None,
    log: Callable[[str], None] = print,
) -> RealTrainResult:
    """Fine-tune ``base`` on real ECGs (see the module text) and write a bundle to ``out``.

    Raises:
        BundleError: ``base`` is not a readable concept bundle.
        ValueError: no real data, or the synthetic data of ``base`` cannot be rebuilt.
    """
    started = time.perf_counter()
    version = bundles.code_version()
    torch_device = resolve_device(device)
    model, base_card, spec = load_base(base)
    data = _fine_tune_data(base_card, spec, config, data_dir)
    real = data.real
    history, sd_scales = fine_tune(
        model, spec, real.of_role("train"), data, config, torch_device, progress=progress, log=log
    )
    fit_ood(model, spec, real, data.synthetic["train"], config.synthetic_per_epoch, torch_device)
    metrics = _test_metrics(model, data.synthetic["test"], torch_device, config.batch_size)
    metrics["real_agreement"] = real_agreement(model, spec, real, torch_device, "check")
    seconds = time.perf_counter() - started
    facts = {
        "command": command,
        "seconds": round(seconds, 1),
        "epochs_run": len(history),
        "history": history,
        "uncertainty_sd_scale": {
            "method": UNCERTAINTY_METHOD,
            "scales": {name: round(scale, 4) for name, scale in sd_scales.items()},
        },
        "synthetic_data": data.synthetic_request.to_dict(),
    }
    card = _card(base_card, base, config, real, facts, metrics, version)
    bundles.save_bundle(out, model, card, spec)
    return RealTrainResult(model, out, history, metrics, seconds)


def _card(
    base_card: dict[str, Any],
    base: Path,
    config: RealTrainConfig,
    real: RealSet,
    facts: dict[str, Any],
    metrics: dict[str, Any],
    version: str,
) -> dict[str, Any]:
    """The base card with the real-data fine-tuning, its data, metrics and limitations."""
    card = {
        k: v for k, v in copy.deepcopy(base_card).items() if k not in ("task_heads", "composition")
    }
    card["pretraining"] = {
        "bundle_sha256": bundles.verify_bundle(base),
        "data": "synthetic ECGs (see data)",
        "training": card.pop("training"),
    }
    card["training"] = {
        **asdict(config),
        **facts,
        "recipe": "sim-to-real fine-tuning (models.train_real)",
    }
    card["real_data"] = {
        "sources": list(REAL_DATA_SOURCES),
        "windows": real.summary(),
        "split_rule": SPLIT_RULE,
        "targets": "concepts measured by the QTLens pipeline on each window (unknown where it "
        "declines); QT from the cardiologists' marks where they exist (LUDB: CSE global QT; "
        "QTDB: multi-lead marks), derived concepts re-derived",
        "augmentations": "counterfactual long QT (ST-T stretch), time scaling, amplitude, "
        "baseline wander, noise, lead dropout (models.data.augment)",
    }
    card["metrics"] = metrics
    card["out_of_distribution"] = {"method": OOD_METHOD}
    card["limitations"] = [item for item in card["limitations"] if "SYNTHETIC ECGs" not in item] + [
        (
            "Concepts were fine-tuned on a few hundred real development ECGs (PTB-XL, Challenge "
            "2021, LUDB, QTDB); the task heads of the network itself were learned on SYNTHETIC ECGs "
            "with a synthetic causal label: its own risk numbers say nothing about real patients."
        ),
        (
            "Concept targets on real ECGs are the measurement pipeline's values: the network "
            "inherits its definitions and its errors."
        ),
    ]
    card["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    card["code_version"] = version
    card["torch_version"] = torch.__version__
    return card
