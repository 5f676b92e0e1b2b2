"""``qtlens train-real``: fine-tune a synthetic-pretrained concept bundle on real ECGs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from models.train_real import RealTrainConfig


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
    soup: Annotated[int, typer.Option(
        min=1, help="Fine-tunes from BASE (seeds SEED, SEED+1, ...) averaged weight by weight "
        "into one network (a uniform model soup; 1: one fine-tune).")] = 1,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Folder holding ptbxl/, challenge2021/, ludb/, qtdb/ (QTLENS_DATA_DIR)."),
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda[:N].")] = "auto",
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    cv: Annotated[int | None, typer.Option(
        "--cv", min=2, help="Cross-validate the recipe over the train windows in K folds and "
        "write OUT/cv.json (no bundle; check windows are not read).")] = None,
    against: Annotated[Path | None, typer.Option(
        help="With --cv: a cv.json of another recipe to compare with, paired.")] = None,
) -> None:
    """Fine-tune BASE on the real development ECGs (train role) and write a bundle with the OOD
    statistics and the real-data agreement on the check role in its card; with --cv K, compare
    recipes by K-fold cross-validation over the train windows instead."""
    from dataclasses import replace

    from models.agreement import format_table
    from models.bundle import BundleError
    from models.data.base import DatasetRootError
    from models.train_real import RealTrainConfig, train_real

    config = RealTrainConfig(seed=seed, soup=soup)
    if epochs is not None:
        config = replace(config, epochs=epochs)
    if real_repeats is not None:
        config = replace(config, real_repeats=real_repeats)
    command = " ".join(
        [
            f"qtlens train-real --base {base} --seed {seed}",
            *([f"--epochs {epochs}"] if epochs else []),
            *([f"--real-repeats {real_repeats}"] if real_repeats else []),
            *([f"--soup {soup}"] if soup > 1 else []),
            f"--out {out}",
        ]
    )
    if against is not None and cv is None:
        raise typer.BadParameter("--against compares cross-validations: give --cv too",
                                 param_hint="--against")
    if cv is not None:
        _cross_validate(base, out, config, cv, against, data_dir, device, progress)
        return
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


def _cross_validate(base: Path, out: Path, config: RealTrainConfig, folds: int,
                    against: Path | None, data_dir: Path | None, device: str,
                    progress: bool) -> None:
    """``--cv``: the out-of-fold agreement table, ``OUT/cv.json`` and, with ``--against``, the
    paired comparison."""
    import json

    from models.agreement import format_table
    from models.bundle import BundleError
    from models.data.base import DatasetRootError
    from models.train_real_cv import (
        compare_runs,
        cross_validate,
        format_comparison,
        is_report,
        write_report,
    )

    try:
        reference = json.loads(against.read_text(encoding="utf-8")) if against else None
    except (OSError, ValueError) as error:
        typer.echo(f"error: cannot read {against}: {error}", err=True)
        raise typer.Exit(2) from None
    if reference is not None and not is_report(reference):
        typer.echo(f"error: {against} is not a cv.json of qtlens train-real --cv", err=True)
        raise typer.Exit(2)
    try:
        report = cross_validate(base, config, folds, data_dir=data_dir, device=device,
                                progress=progress, log=typer.echo)
    except (BundleError, DatasetRootError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    comparison, problem = None, None
    if reference is not None:
        try:
            comparison = compare_runs(reference, report)
            report["against"] = {"path": str(against), "comparison": comparison}
        except ValueError as error:  # the finished run is written all the same
            problem = f"cannot compare with {against}: {error}"
    path = write_report(report, out)
    typer.echo(format_table(report))
    if comparison is not None:
        typer.echo(format_comparison(comparison))
    typer.echo(f"wrote {path} in {report['seconds']:.0f} s")
    if problem is not None:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
