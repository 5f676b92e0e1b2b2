"""``qtlens train-real``: fine-tune a synthetic-pretrained concept bundle on real ECGs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(cli: typer.Typer) -> None:
    """Add the ``train-real`` command to ``cli``."""
    cli.command("train-real")(train_real_command)


def train_real_command(
    base: Annotated[
        Path, typer.Option("--base", help="Concept bundle pretrained on synthetic ECGs.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Bundle directory to write.")],
    seed: Annotated[int, typer.Option(help="Seed of batch order, augmentation, dropout.")] = 0,
    epochs: Annotated[int | None, typer.Option(
        min=1, help="Epochs of the one-cycle schedule (default 12; the best is kept).")] = None,
    real_repeats: Annotated[int | None, typer.Option(
        min=1, help="Times each real training window is seen per epoch (default 4).")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Folder holding ptbxl/, challenge2021/, ludb/, qtdb/ (QTLENS_DATA_DIR)."),
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda[:N].")] = "auto",
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Fine-tune BASE on the real development ECGs (train role) and write a bundle with the OOD
    statistics and the real-data agreement on the check role in its card."""
    from dataclasses import replace

    from models.agreement import format_table
    from models.bundle import BundleError
    from models.data.base import DatasetRootError
    from models.train_real import RealTrainConfig, train_real

    config = RealTrainConfig(seed=seed)
    if epochs is not None:
        config = replace(config, epochs=epochs)
    if real_repeats is not None:
        config = replace(config, real_repeats=real_repeats)
    command = " ".join(
        [
            f"qtlens train-real --base {base} --seed {seed}",
            *([f"--epochs {epochs}"] if epochs else []),
            *([f"--real-repeats {real_repeats}"] if real_repeats else []),
            f"--out {out}",
        ]
    )
    try:
        result = train_real(
            base,
            out,
            config,
            data_dir=data_dir,
            device=device,
            progress=progress,
            command=command,
            log=typer.echo,
        )
    except (BundleError, DatasetRootError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(format_table(result.metrics["real_agreement"]))
    typer.echo(f"wrote bundle {result.bundle_dir} in {result.seconds:.0f} s")
