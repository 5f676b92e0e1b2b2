"""Train any registered model variant and write a bundle.

One loop serves every variant: a variant is a list of :class:`~models.nets.registry.Stage` s
(which losses, which parameters, what the task head reads), run in order, each with AdamW, a
one-cycle learning-rate schedule, validation after every epoch and early stopping on the stage's
validation loss (the best epoch's weights are kept).

Reproducible: the model is initialised from ``seed``; every epoch re-seeds its batch order,
augmentation and dropout from ``(seed, stage, epoch)``, so the same seed gives the same weights
on the CPU, and a run resumed from its checkpoint (``resume=True``) ends with the weights of the
uninterrupted run. On CUDA the backbone runs under bfloat16 autocast (concept heads stay
float32); the CPU runs float32.

Multi-GPU / multi-process: launched by ``torchrun`` (``WORLD_SIZE`` > 1 in the environment), the
run joins the process group (NCCL on CUDA, gloo on the CPU), wraps the model in
``DistributedDataParallel`` and gives each process an equal share of every global batch; every
process validates on the whole validation set, so early stopping agrees everywhere; rank 0
writes checkpoints and the bundle::

    torchrun --nproc_per_node=4 --no-python qtlens train --variant joint --data ptbxl --out runs/j
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from models import bundle as bundles
from models.concepts import REGISTRY
from models.data.dataset import ConceptDataset, DataRequest, load_dataset
from models.nets.backbone import BackboneConfig
from models.nets.batching import InputBatch, resolve_device, run_batched
from models.nets.inputs import InputSpec, fit_lead_scale, standardise
from models.nets.losses import concept_loss, task_loss
from models.nets.model import ConceptModel, ModelConfig, ModelOutput, RiskModel
from models.nets.registry import Stage, create_model, get_variant
from models.tasks import TASKS

CHECKPOINT_FILE = "checkpoint.pt"


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    Attributes:
        epochs: most epochs per stage.
        batch_size: records per optimisation step (over all processes).
        learning_rate: peak AdamW learning rate (one-cycle schedule).
        weight_decay: AdamW weight decay.
        patience: epochs without a better validation loss before a stage stops.
        lead_dropout: chance that a training record loses a random subset of its leads (teaches
            the network the lead mask).
        max_grad_norm: gradient clipping norm.
        seed: seed of initialisation, batch order, augmentation and dropout.
        amp: bfloat16 autocast on CUDA (ignored on the CPU).
    """

    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 1e-2
    patience: int = 4
    lead_dropout: float = 0.1
    max_grad_norm: float = 2.0
    seed: int = 0
    amp: bool = True


@dataclass(frozen=True)
class Preset:
    """A named, documented training setup (model shape, optimisation and data size)."""

    name: str
    model: ModelConfig
    train: TrainConfig
    n_records: int
    description: str


PRESETS: tuple[Preset, ...] = (
    Preset(
        name="demo",
        model=ModelConfig(),
        train=TrainConfig(epochs=16),
        n_records=5000,
        description="the shipped demo bundle: XResNet1d 64-512 (~2.8 M parameters), 100 Hz, "
        "5 000 synthetic records, at most 16 epochs",
    ),
    Preset(
        name="quick",
        model=ModelConfig(
            backbone=BackboneConfig(stem_widths=(16, 16, 16), widths=(16, 32, 64, 64)),
            cem_embedding_dim=4,
        ),
        train=TrainConfig(epochs=12, batch_size=32, learning_rate=5e-3, patience=3),
        n_records=600,
        description="tests: a ~0.1 M-parameter backbone on 600 synthetic records (about a minute)",
    ),
)


def get_preset(name: str) -> Preset:
    """The preset called ``name``; ``KeyError`` listing the valid names otherwise."""
    for preset in PRESETS:
        if preset.name == name:
            return preset
    raise KeyError(f"unknown preset {name!r}; known: {', '.join(p.name for p in PRESETS)}")


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    Attributes:
        model: the trained model (best validation epoch of the last stage), in eval mode.
        bundle_dir: where the bundle was written (``None`` on ranks other than 0).
        history: one entry per epoch: stage, epoch, losses, validation AUROC, seconds.
        metrics: held-out test metrics written to the card.
        seconds: wall time of the run.
    """

    model: RiskModel
    bundle_dir: Path | None
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    seconds: float


@dataclass(frozen=True)
class _Process:
    """This process's place in a (possibly single-process) distributed run."""

    rank: int = 0
    world_size: int = 1
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


@dataclass(frozen=True)
class _Split:
    """One split, model-ready: standardised inputs, concept targets and labels."""

    inputs: InputBatch
    concepts: np.ndarray
    labels: np.ndarray


@dataclass
class _Progress:
    """Training state saved in the checkpoint (everything :func:`train` needs to resume)."""

    stage: int = 0
    epoch: int = 0
    best_loss: float = math.inf
    bad_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Run:
    """What every stage of one training run shares."""

    splits: dict[str, _Split]
    config: TrainConfig
    device: torch.device
    process: _Process
    checkpoint_path: Path
    identity: dict[str, Any]
    progress: bool
    log: Callable[[str], None]


def _join_process_group(device: torch.device) -> _Process:
    """Join the ``torchrun`` process group when ``WORLD_SIZE`` > 1."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return _Process()
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return _Process(rank=dist.get_rank(), world_size=dist.get_world_size(), owns_group=owns)


def _process_device(device: str) -> torch.device:
    """The device of this process (``cuda:LOCAL_RANK`` under torchrun on GPUs)."""
    resolved = resolve_device(device)
    if resolved.type == "cuda" and resolved.index is None:
        # ``set_device`` and DDP's ``device_ids`` need an index: the torchrun rank's GPU, else
        # the current one.
        rank_gpu = os.environ.get("LOCAL_RANK")
        resolved = torch.device(
            "cuda", int(rank_gpu) if rank_gpu is not None else torch.cuda.current_device()
        )
    if resolved.type == "cuda":
        torch.cuda.set_device(resolved)
    return resolved


def _epoch_seed(seed: int, stage: int, epoch: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, stage, epoch])


def _concept_statistics(concepts: np.ndarray) -> tuple[list[float], list[float]]:
    """Training-set mean and SD per concept (1 where a concept is constant or never measured)."""
    means, sds = [], []
    for k in range(concepts.shape[1]):
        column = concepts[:, k][np.isfinite(concepts[:, k])]
        means.append(float(column.mean()) if column.size else 0.0)
        sd = float(column.std()) if column.size > 1 else 1.0
        sds.append(sd if sd > 1e-6 else 1.0)
    return means, sds


def _prepare(
    data: ConceptDataset, model: RiskModel, config: ModelConfig
) -> tuple[dict[str, _Split], InputSpec]:
    """Fit the input scale and the concept/age statistics on the training split; standardise."""
    train_index = data.indices("train")
    if train_index.size < 2 or data.indices("val").size < 1:
        raise ValueError(f"need training and validation records, got {data.split_sizes()}")
    spec = InputSpec(
        fs_hz=config.fs_hz,
        duration_s=config.duration_s,
        lead_scale_mv=fit_lead_scale(data.signals_mv[train_index], data.lead_mask[train_index]),
    )
    if isinstance(model, ConceptModel):
        model.space.set_statistics(*_concept_statistics(data.concepts[train_index]))
    ages = data.age_years[train_index]
    ages = ages[np.isfinite(ages)]
    if ages.size > 1 and ages.std() > 0:
        model.demographics.set_statistics(float(ages.mean()), float(ages.std()))
    return {name: split_of(data, name, spec) for name in ("train", "val", "test")}, spec


def split_of(data: ConceptDataset, name: str, spec: InputSpec) -> _Split:
    """One split of ``data``, standardised under ``spec``, with its concepts and labels."""
    index = data.indices(name)
    inputs = InputBatch(
        signal=standardise(data.signals_mv[index], data.lead_mask[index], spec),
        lead_mask=data.lead_mask[index].astype(bool),
        sex=data.sex[index].astype(np.int64),
        age_years=data.age_years[index].astype(np.float32),
    )
    return _Split(inputs, data.concepts[index].astype(np.float32), data.labels[index])


def _overrides(
    stage: Stage,
    concepts: np.ndarray,
    measured: np.ndarray,
    probability: float,
    rng: np.random.Generator,
) -> np.ndarray | None:
    """What the task head reads instead of the predictions during this stage (NaN = prediction).

    Only measured concepts are replaced; derived ones then follow from them inside the model.
    """
    if stage.overrides == "none":
        return None
    chosen = np.broadcast_to(measured, concepts.shape)
    if stage.overrides == "randint":
        chosen = chosen & (rng.random(concepts.shape) < probability)
    return np.where(chosen, concepts, np.nan).astype(np.float32)


def _drop_leads(lead_mask: np.ndarray, probability: float, rng: np.random.Generator) -> np.ndarray:
    """Lead-dropout augmentation: some records lose about half their leads (never all)."""
    hit = rng.random(lead_mask.shape[0]) < probability
    drop = rng.random(lead_mask.shape) < 0.5
    masked = lead_mask & ~(hit[:, None] & drop)
    empty = ~masked.any(axis=1)
    masked[empty] = lead_mask[empty]
    return masked


def _set_trainable(model: RiskModel, stage: Stage) -> list[torch.nn.Parameter]:
    """Freeze what the stage does not train; returns the trainable parameters."""
    for name, parameter in model.named_parameters():
        parameter.requires_grad = stage.trainable == "all" or name.startswith("task_head.")
    return [p for p in model.parameters() if p.requires_grad]


def _train_mode(model: RiskModel, stage: Stage) -> None:
    """Training mode, except frozen parts stay in eval mode (batch-norm statistics fixed)."""
    model.train(stage.trainable == "all")
    model.task_head.train()


def _stage_loss(
    model: RiskModel,
    stage: Stage,
    output: ModelOutput,
    concepts: torch.Tensor,
    labels: torch.Tensor,
) -> torch.Tensor:
    """``task_weight · L_task + concept_weight · L_concept`` for one batch."""
    loss = stage.task_weight * task_loss(output.task_logits, labels)
    concept_weight = stage.concept_weight_for(model.config)
    if concept_weight > 0 and isinstance(model, ConceptModel):
        loss = loss + concept_weight * concept_loss(
            output, concepts, model.space, model.config.variance_loss_weight
        )
    return loss


def _validate(
    model: RiskModel, stage: Stage, split: _Split, device: torch.device, batch_size: int
) -> tuple[float, dict[str, float]]:
    """Validation loss of the stage (task head on true concepts for the independent recipe)."""
    from models.evaluate import auroc

    overrides = None
    if stage.overrides == "true" and isinstance(model, ConceptModel):
        measured = model.space.is_measured.cpu().numpy()
        overrides = np.where(measured, split.concepts, np.nan).astype(np.float32)
    output = run_batched(model, split.inputs, device, 4 * batch_size, overrides)
    with torch.no_grad():
        loss = _stage_loss(
            model,
            stage,
            ModelOutput(*(t.to(device) for t in output)),
            torch.as_tensor(split.concepts, device=device),
            torch.as_tensor(split.labels, device=device),
        )
    probabilities = torch.sigmoid(output.task_logits).numpy()
    scores = {
        f"val_auroc_{t.name}": auroc(split.labels[:, j], probabilities[:, j])
        for j, t in enumerate(TASKS)
    }
    return float(loss), scores


def _save_checkpoint(
    run: _Run,
    model: RiskModel,
    best: dict[str, torch.Tensor],
    progress: _Progress,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> None:
    """Atomically write everything needed to resume."""
    payload = {
        "identity": run.identity,
        "model": model.state_dict(),
        "best": best,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "progress": asdict(progress),
    }
    tmp = run.checkpoint_path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, run.checkpoint_path)


def _train_epoch(
    wrapped: torch.nn.Module,
    model: RiskModel,
    stage: Stage,
    run: _Run,
    rng: np.random.Generator,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    bar: Any,
) -> float:
    """One pass over the training split; returns the mean training loss of this process."""
    _train_mode(model, stage)
    split, config, device, process = run.splits["train"], run.config, run.device, run.process
    n = len(split.inputs)
    order = rng.permutation(n)
    measured = model.space.is_measured.cpu().numpy() if isinstance(model, ConceptModel) else None
    use_amp = config.amp and device.type == "cuda"
    losses = []
    for step in range(n // config.batch_size):
        batch = order[step * config.batch_size : (step + 1) * config.batch_size]
        # Draw every random number for the whole global batch, then take this process's share,
        # so all processes consume the generator identically.
        lead_mask = _drop_leads(split.inputs.lead_mask[batch], config.lead_dropout, rng)
        overrides = None
        if measured is not None:
            overrides = _overrides(
                stage, split.concepts[batch], measured, model.config.randint_probability, rng
            )
        mine = slice(process.rank, None, process.world_size)
        inputs = split.inputs.select(batch[mine])
        signal, _, sex, age = inputs.tensors(device)
        mask = torch.as_tensor(lead_mask[mine], dtype=torch.float32, device=device)
        extra = () if overrides is None else (torch.as_tensor(overrides[mine], device=device),)
        concepts = torch.as_tensor(split.concepts[batch[mine]], device=device)
        labels = torch.as_tensor(split.labels[batch[mine]], device=device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            output = wrapped(signal, mask, sex, age, *extra)
        loss = _stage_loss(model, stage, output, concepts, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(
            [p for p in model.parameters() if p.requires_grad], config.max_grad_norm
        )
        optimizer.step()
        scheduler.step()
        losses.append(float(loss.detach()))
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    return float(np.mean(losses)) if losses else math.nan


def train(
    model_config: ModelConfig,
    train_config: TrainConfig,
    request: DataRequest,
    out_dir: Path,
    *,
    device: str = "auto",
    resume: bool = False,
    progress: bool = True,
    dataset: ConceptDataset | None = None,
    command: str | None = None,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train ``model_config.variant`` on ``request``'s data and write a bundle to ``out_dir``.

    Args:
        model_config: model shape and objective (``variant``, λ…).
        train_config: optimisation settings and seed.
        request: which data (recorded in the card; loaded unless ``dataset`` is given).
        out_dir: bundle directory; also holds ``checkpoint.pt`` while training (removed at the end).
        device: ``auto``, ``cpu``, ``cuda``….
        resume: continue from ``out_dir/checkpoint.pt`` (same configs and data required).
        progress: show tqdm progress bars (rank 0 only).
        dataset: the data itself, when the caller already holds it.
        command: the command line that started the run (recorded in the card).
        log: where one-line status messages go.

    Raises:
        ValueError: inconsistent data, or a checkpoint from another configuration.
        FileNotFoundError: ``resume`` without a checkpoint.
    """
    started = time.perf_counter()
    version = bundles.code_version()  # the code that trains, even if the tree changes meanwhile
    variant = get_variant(model_config.variant)
    torch_device = _process_device(device)
    process = _join_process_group(torch_device)
    try:
        data = dataset if dataset is not None else load_dataset(request)
        torch.manual_seed(train_config.seed)
        model = create_model(model_config)
        splits, spec = _prepare(data, model, model_config)
        model.to(torch_device)
        identity = json.loads(
            json.dumps(
                {
                    "model": model_config.to_dict(),
                    "train": asdict(train_config),
                    "data": request.to_dict(),
                }
            )
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        run = _Run(
            splits,
            train_config,
            torch_device,
            process,
            out_dir / CHECKPOINT_FILE,
            identity,
            progress,
            log,
        )
        state = _Progress()
        checkpoint = None
        if resume:
            if not run.checkpoint_path.is_file():
                raise FileNotFoundError(f"--resume: no checkpoint at {run.checkpoint_path}")
            checkpoint = torch.load(
                run.checkpoint_path, map_location=torch_device, weights_only=False
            )
            if checkpoint["identity"] != identity:
                raise ValueError(
                    f"{run.checkpoint_path} belongs to a run with other settings; resume with "
                    "the same variant, preset, seed and data, or start a new --out directory"
                )
            state = _Progress(**checkpoint["progress"])
            model.load_state_dict(checkpoint["model"])
            log(f"resuming at stage {state.stage + 1}, epoch {state.epoch + 1}")
        for stage_index, stage in enumerate(variant.stages):
            if stage_index < state.stage:
                continue
            resumed = checkpoint if stage_index == state.stage else None
            _run_stage(model, variant.stages, stage_index, run, state, resumed)
            checkpoint = None
            state = _Progress(stage=stage_index + 1, history=state.history)
        model.eval()
        metrics = _test_metrics(model, splits["test"], torch_device, train_config.batch_size)
        seconds = time.perf_counter() - started
        bundle_dir = None
        if process.is_main:
            facts = {
                "command": command,
                "device": str(torch_device),
                "processes": process.world_size,
                "seconds": round(seconds, 1),
                "epochs_run": len(state.history),
                "history": state.history,
            }
            card = _card(model_config, train_config, request, data, facts, metrics, version)
            bundles.save_bundle(out_dir, model, card, spec)
            run.checkpoint_path.unlink(missing_ok=True)
            bundle_dir = out_dir
        return TrainResult(model, bundle_dir, state.history, metrics, seconds)
    finally:
        if process.owns_group:
            dist.destroy_process_group()


def _run_stage(
    model: RiskModel,
    stages: tuple[Stage, ...],
    stage_index: int,
    run: _Run,
    state: _Progress,
    checkpoint: dict[str, Any] | None,
) -> None:
    """Train one stage with early stopping; leaves the best epoch's weights in ``model``."""
    stage, config, device, process = stages[stage_index], run.config, run.device, run.process
    parameters = _set_trainable(model, stage)
    optimizer = torch.optim.AdamW(
        parameters, lr=config.learning_rate, weight_decay=config.weight_decay
    )
    steps_per_epoch = max(1, len(run.splits["train"].inputs) // config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=config.learning_rate,
        total_steps=config.epochs * steps_per_epoch,
        pct_start=0.2,
    )
    best = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if checkpoint is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        best = checkpoint["best"]
    wrapped: torch.nn.Module = model
    if process.world_size > 1:
        wrapped = DistributedDataParallel(
            model,
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=stage.trainable == "all"
            and (stage.task_weight == 0 or stage.concept_weight_for(model.config) == 0)
            and isinstance(model, ConceptModel),
        )
    label = f"{model.config.variant} · {stage.name}"
    if len(stages) > 1:
        label += f" ({stage_index + 1}/{len(stages)})"
    while state.epoch < config.epochs and state.bad_epochs < config.patience:
        epoch = state.epoch
        seeds = _epoch_seed(config.seed, stage_index, epoch)
        torch.manual_seed(int(seeds.generate_state(1)[0]))
        rng = np.random.default_rng(seeds)
        epoch_started = time.perf_counter()
        with tqdm(
            total=steps_per_epoch,
            desc=f"{label} epoch {epoch + 1}/{config.epochs}",
            disable=not (run.progress and process.is_main),
            leave=False,
        ) as bar:
            train_loss = _train_epoch(wrapped, model, stage, run, rng, optimizer, scheduler, bar)
        val_loss, scores = _validate(model, stage, run.splits["val"], device, config.batch_size)
        improved = val_loss < state.best_loss - 1e-4
        if improved:
            state.best_loss = val_loss
            state.bad_epochs = 0
            best = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            state.bad_epochs += 1
        entry = {
            "stage": stage.name,
            "epoch": epoch + 1,
            "train_loss": round(train_loss, 5),
            "val_loss": round(val_loss, 5),
            **{k: round(v, 4) for k, v in scores.items()},
            "seconds": round(time.perf_counter() - epoch_started, 1),
        }
        state.history.append(entry)
        state.epoch = epoch + 1
        if process.is_main:
            run.log(" ".join(f"{k}={v}" for k, v in entry.items()) + (" *" if improved else ""))
            _save_checkpoint(run, model, best, state, optimizer, scheduler)
    model.load_state_dict(best)


def _test_metrics(
    model: RiskModel, split: _Split, device: torch.device, batch_size: int
) -> dict[str, Any]:
    """Held-out test metrics for the card: task AUROC; concept MAE / AUROC."""
    from models.evaluate import auroc, concept_metrics

    if len(split.inputs) == 0:
        return {}
    output = run_batched(model, split.inputs, device, 4 * batch_size)
    probabilities = torch.sigmoid(output.task_logits).numpy()
    metrics: dict[str, Any] = {
        "split": "test",
        "n_records": len(split.inputs),
        "task_auroc": {
            t.name: auroc(split.labels[:, j], probabilities[:, j]) for j, t in enumerate(TASKS)
        },
    }
    if isinstance(model, ConceptModel):
        metrics["concepts"] = concept_metrics(output.concept_values.numpy(), split.concepts)
    return metrics


def _card(
    model_config: ModelConfig,
    train_config: TrainConfig,
    request: DataRequest,
    data: ConceptDataset,
    facts: dict[str, Any],
    metrics: dict[str, Any],
    version: str,
) -> dict[str, Any]:
    """The model card written to ``card.json``."""
    variant = get_variant(model_config.variant)
    stats = _concept_statistics(data.concepts[data.indices("train")])
    synthetic = request.source == "synthetic"
    return {
        "name": f"qtlens-{model_config.variant}",
        "variant": variant.name,
        "variant_description": variant.description,
        "reference": variant.reference,
        "config": model_config.to_dict(),
        "training": {**asdict(train_config), **facts},
        "data": {
            **request.to_dict(),
            "provenance": dict(data.provenance),
            "split": data.split_sizes(),
            "split_rule": data.provenance.get("split_rule", "given by the loader"),
        },
        "concepts": [
            {
                "name": c.name,
                "label": c.label,
                "unit": c.unit,
                "kind": c.kind.value,
                "derived_from": list(c.derived_from),
                "predicted": not c.is_derived,
                "train_mean": None if c.is_binary else stats[0][k],
                "train_sd": None if c.is_binary else stats[1][k],
            }
            for k, c in enumerate(REGISTRY)
        ]
        if variant.architecture != "blackbox"
        else [],
        "derived_concepts": "re-derived from the predicted concepts with the registry formulas "
        "(models.concepts), never predicted; interventions re-derive them the same way",
        "uncertainty": "measured continuous concepts: predicted log-variance (Gaussian NLL, "
        "heteroscedastic); derived concepts: Monte Carlo through the formula; binary: Bernoulli SD",
        "tasks": [{"name": t.name, "label": t.label, "description": t.description} for t in TASKS],
        "task_head": "linear on the concept vector (standardised) plus age z-score and sex",
        "metrics": metrics,
        "intended_use": bundles.INTENDED_USE,
        "limitations": _limitations(synthetic, variant.architecture != "blackbox"),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": version,
        "torch_version": torch.__version__,
    }


def _limitations(synthetic: bool, has_concepts: bool) -> list[str]:
    """Known limitations stated on every card."""
    items = ["Research use only; not validated for clinical decisions and not a medical device."]
    if synthetic:
        items.append(
            "Trained on SYNTHETIC ECGs with a synthetic causal risk label: its risk numbers say "
            "nothing about real patients."
        )
    if has_concepts:
        items.append(
            "Risk is a function of the predicted concepts (and age/sex): a concept the model gets "
            "wrong moves the risk until a clinician corrects it."
        )
    else:
        items.append("A black box: no concepts, no interventions; the comparison baseline.")
    items += [
        "Inputs are not filtered; strong baseline wander or noise degrades the predictions.",
        "Missing leads are masked; accuracy with fewer than 12 leads was not evaluated.",
    ]
    return items
