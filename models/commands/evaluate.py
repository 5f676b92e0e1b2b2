"""``qtlens evaluate``: metrics, intervention curves and an HTML report for a bundle."""

from __future__ import annotations

from pathlib import Path

import typer


def register(cli: typer.Typer) -> None:
    """Add the ``evaluate`` command to ``cli``."""
    cli.command("evaluate")(evaluate_command)


def evaluate_command(
    bundle: Path = typer.Argument(..., help="Model bundle directory."),
    out: Path = typer.Option(..., "--out", help="Directory for evaluation.json and report.html."),
    data: str | None = typer.Option(None, "--data", help="synthetic, ptbxl or challenge (default: the bundle's own data and held-out split)."),
    n_records: int | None = typer.Option(None, "--n-records", min=10, help="Generate/keep this many records (test split is scored)."),
    data_seed: int | None = typer.Option(None, "--data-seed", help="Seed of fresh synthetic data."),
    baseline: Path | None = typer.Option(None, "--baseline", help="A second bundle (e.g. the black box) scored on the same records."),
    split: str = typer.Option("test", "--split", help="test, or all (only for fresh data: another --data-seed or source)."),
    n_boot: int = typer.Option(1000, "--bootstrap", min=10, help="Bootstrap resamples per confidence interval."),
    max_interventions: int | None = typer.Option(None, "--max-interventions", min=1, help="Longest intervention curve (default: every concept)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and the random policy."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda[:N]."),
) -> None:
    """Evaluate BUNDLE on held-out data (JSON + standalone HTML with Plotly figures)."""
    from models.bundle import BundleError, load_bundle
    from models.data.dataset import DATA_SOURCES, DataRequest
    from models.evaluate import EVALUATION_FILE, REPORT_FILE, evaluate

    if data is not None and data not in DATA_SOURCES:
        raise typer.BadParameter(f"use one of {', '.join(DATA_SOURCES)}", param_hint="--data")
    try:
        card = load_bundle(bundle, device="cpu").card
        own = DataRequest.from_dict(card["data"])
        request = DataRequest(
            source=data or own.source,
            fs_hz=own.fs_hz,
            duration_s=own.duration_s,
            n_records=n_records or own.n_records,
            seed=own.seed if data_seed is None else data_seed,
            options=own.options if (data or own.source) == own.source else {},
        )
        report = evaluate(bundle, out, request=request, baseline_path=baseline, device=device,
                          n_boot=n_boot, max_interventions=max_interventions, seed=seed,
                          split=split)
    except (BundleError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    for task, entry in report["tasks"].items():
        low, high = entry["auroc"]["ci95"]
        typer.echo(f"{task}: AUROC {entry['auroc']['value']:.3f} ({low:.3f}–{high:.3f}), "
                   f"ECE {entry['calibration']['ece']:.3f}")
    typer.echo(f"wrote {out / EVALUATION_FILE} and {out / REPORT_FILE}")
