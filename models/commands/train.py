"""``qtlens train``: fit a model variant and write a bundle."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

#: Fraction of a dataset in the training split (synthetic: 80/10/10).
TRAIN_FRACTION = 0.8


def register(cli: typer.Typer) -> None:
    """Add the ``train`` command to ``cli``."""
    cli.command("train")(train_command)


def train_command(
    out: Annotated[
        Path, typer.Option("--out", help="Bundle directory (holds the checkpoint while training).")
    ],
    variant: Annotated[
        str, typer.Option(help="independent, sequential, joint, cem or blackbox.")
    ] = "joint",
    data: Annotated[str, typer.Option(help="synthetic, ptbxl or challenge.")] = "synthetic",
    preset: Annotated[
        str, typer.Option(help="demo (the shipped bundle) or quick (tests).")
    ] = "demo",
    seed: Annotated[
        int, typer.Option(help="Seed of initialisation, batch order and synthetic data.")
    ] = 0,
    epochs: Annotated[
        int | None, typer.Option(min=1, help="Most epochs per stage (preset default).")
    ] = None,
    n_train: Annotated[
        int | None, typer.Option(min=8, help="About this many training records (preset default).")
    ] = None,
    concept_weight: Annotated[
        float | None, typer.Option("--lambda", min=0.0, help="Concept-loss weight λ (joint, cem).")
    ] = None,
    device: Annotated[
        str, typer.Option(help="auto (CUDA when available), cpu or cuda[:N].")
    ] = "auto",
    resume: Annotated[bool, typer.Option(help="Continue from OUT/checkpoint.pt.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
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
    n_records = chosen.n_records if n_train is None else math.ceil(n_train / TRAIN_FRACTION)
    request = DataRequest(
        source=data,
        fs_hz=model_config.fs_hz,
        duration_s=model_config.duration_s,
        n_records=n_records,
        seed=seed,
    )
    command = " ".join(
        [
            f"qtlens train --variant {variant} --data {data} --preset {preset} --seed {seed}",
            *([f"--epochs {epochs}"] if epochs else []),
            *([f"--n-train {n_train}"] if n_train else []),
            *([f"--lambda {concept_weight:g}"] if concept_weight is not None else []),
            f"--out {out}",
        ]
    )
    try:
        result = train(
            model_config,
            train_config,
            request,
            out,
            device=device,
            resume=resume,
            progress=progress,
            command=command,
            log=typer.echo,
        )
    except (ValueError, FileNotFoundError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    if result.bundle_dir is not None:
        auroc = ", ".join(f"{k} {v:.3f}" for k, v in result.metrics.get("task_auroc", {}).items())
        typer.echo(
            f"wrote bundle {result.bundle_dir} in {result.seconds:.0f} s (test AUROC: {auroc})"
        )
