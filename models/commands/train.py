"""``qtlens train``: fit a model variant and write a bundle."""

from __future__ import annotations

import math
from pathlib import Path

import typer

#: Fraction of a dataset in the training split (synthetic: 80/10/10).
_TRAIN_FRACTION = 0.8


def register(cli: typer.Typer) -> None:
    """Add the ``train`` command to ``cli``."""
    cli.command("train")(train_command)


def train_command(
    out: Path = typer.Option(..., "--out", help="Bundle directory to write (holds the checkpoint while training)."),
    variant: str = typer.Option("joint", "--variant", help="independent, sequential, joint, cem or blackbox."),
    data: str = typer.Option("synthetic", "--data", help="synthetic, ptbxl or challenge."),
    preset: str = typer.Option("demo", "--preset", help="demo (the shipped bundle) or quick (tests)."),
    seed: int = typer.Option(0, "--seed", help="Seed of initialisation, batch order and synthetic data."),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="Most epochs per stage (preset default)."),
    n_train: int | None = typer.Option(None, "--n-train", min=8, help="About this many training records (preset default)."),
    concept_weight: float | None = typer.Option(None, "--lambda", min=0.0, help="Concept-loss weight λ (joint, cem)."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu or cuda[:N]."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/checkpoint.pt."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Train a concept model (or the black box) and write a bundle with its model card.

    Multi-GPU: ``torchrun --nproc_per_node=N --no-python qtlens train …`` (one process per GPU,
    DistributedDataParallel; gloo on CPU-only machines).
    """
    from dataclasses import replace

    from models.data.dataset import DATA_SOURCES, DataRequest
    from models.nets.registry import variant_names
    from models.train import get_preset, train

    if variant not in variant_names():
        raise typer.BadParameter(f"use one of {', '.join(variant_names())}", param_hint="--variant")
    if data not in DATA_SOURCES:
        raise typer.BadParameter(f"use one of {', '.join(DATA_SOURCES)}", param_hint="--data")
    try:
        chosen = get_preset(preset)
    except KeyError as error:
        raise typer.BadParameter(str(error.args[0]), param_hint="--preset") from None
    model_config = replace(chosen.model, variant=variant)
    if concept_weight is not None:
        model_config = replace(model_config, concept_loss_weight=concept_weight)
    train_config = replace(chosen.train, seed=seed, epochs=epochs or chosen.train.epochs)
    n_records = chosen.n_records if n_train is None else math.ceil(n_train / _TRAIN_FRACTION)
    request = DataRequest(
        source=data, fs_hz=model_config.fs_hz, duration_s=model_config.duration_s,
        n_records=n_records, seed=seed,
    )
    command = (
        f"qtlens train --variant {variant} --data {data} --preset {preset} --seed {seed}"
        + (f" --epochs {epochs}" if epochs else "")
        + (f" --n-train {n_train}" if n_train else "")
        + (f" --lambda {concept_weight:g}" if concept_weight is not None else "")
        + f" --out {out}"
    )
    try:
        result = train(model_config, train_config, request, out, device=device, resume=resume,
                       progress=progress, command=command, log=typer.echo)
    except (ValueError, FileNotFoundError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    if result.bundle_dir is not None:
        auroc = ", ".join(f"{k} {v:.3f}" for k, v in result.metrics.get("task_auroc", {}).items())
        typer.echo(f"wrote bundle {result.bundle_dir} in {result.seconds:.0f} s (test AUROC: {auroc})")
