"""``qtlens evaluate``: metrics, intervention curves and an HTML report for a bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(cli: typer.Typer) -> None:
    """Add the ``evaluate`` command to ``cli``."""
    cli.command("evaluate")(evaluate_command)


def evaluate_command(
    bundle: Annotated[Path, typer.Argument(help="Model bundle directory.")],
    out: Annotated[
        Path, typer.Option("--out", help="Directory for evaluation.json and report.html.")
    ],
    data: Annotated[
        str | None,
        typer.Option(help="synthetic, ptbxl or challenge (default: the bundle's own data)."),
    ] = None,
    n_records: Annotated[
        int | None, typer.Option(min=10, help="Generate/keep this many records.")
    ] = None,
    data_seed: Annotated[int | None, typer.Option(help="Seed of fresh synthetic data.")] = None,
    split: Annotated[
        str, typer.Option(help="test, or all (fresh data only: another --data-seed or source).")
    ] = "test",
    baseline: Annotated[
        Path | None,
        typer.Option(help="A second bundle (e.g. the black box) scored on the same records."),
    ] = None,
    n_boot: Annotated[
        int, typer.Option("--bootstrap", min=10, help="Bootstrap resamples per CI.")
    ] = 1000,
    max_interventions: Annotated[
        int | None, typer.Option(min=1, help="Longest intervention curve (default: every concept).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and the random policy.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda[:N].")] = "auto",
    real: Annotated[
        bool,
        typer.Option(
            "--real",
            help="Instead: the real-data agreement table (predicted vs measured concepts per "
            "dataset on the real check windows) in OUT/real_agreement.json.",
        ),
    ] = False,
    role: Annotated[
        str, typer.Option(help="With --real: the real windows compared (check, tune, train).")
    ] = "check",
    data_dir: Annotated[
        Path | None, typer.Option(help="With --real: the data folder (QTLENS_DATA_DIR).")
    ] = None,
) -> None:
    """Evaluate BUNDLE on held-out data (JSON + standalone HTML with Plotly figures)."""
    if real:
        _real_agreement(bundle, out, role, data_dir, device)
        return
    from models.bundle import BundleError, load_bundle
    from models.data.dataset import DATA_SOURCES, DataRequest
    from models.evaluate import EVALUATION_FILE, REPORT_FILE, evaluate

    if data is not None and data not in DATA_SOURCES:
        raise typer.BadParameter(f"use one of {', '.join(DATA_SOURCES)}", param_hint="--data")
    try:
        own = DataRequest.from_dict(load_bundle(bundle, device="cpu").card["data"])
        source = data or own.source
        request = DataRequest(
            source=source,
            fs_hz=own.fs_hz,
            duration_s=own.duration_s,
            n_records=n_records or own.n_records,
            seed=own.seed if data_seed is None else data_seed,
            options=own.options if source == own.source else {},
        )
        report = evaluate(
            bundle,
            out,
            request=request,
            baseline_path=baseline,
            device=device,
            n_boot=n_boot,
            max_interventions=max_interventions,
            seed=seed,
            split=split,
        )
    except (BundleError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    for task, entry in report["tasks"].items():
        low, high = entry["auroc"]["ci95"]
        typer.echo(
            f"{task}: AUROC {entry['auroc']['value']:.3f} ({low:.3f}–{high:.3f}), "
            f"ECE {entry['calibration']['ece']:.3f}"
        )
    typer.echo(f"wrote {out / EVALUATION_FILE} and {out / REPORT_FILE}")


def _real_agreement(bundle: Path, out: Path, role: str, data_dir: Path | None, device: str) -> None:
    """``--real``: print the agreement table and write ``OUT/real_agreement.json``."""
    import json

    from models.agreement import REAL_AGREEMENT_FILE, format_table, real_agreement
    from models.bundle import BundleError, load_bundle
    from models.data.base import DatasetRootError
    from models.data.real import load_real_set
    from models.data.splits import ROLES

    if role not in ROLES:
        raise typer.BadParameter(f"use one of {', '.join(ROLES)}", param_hint="--role")
    try:
        loaded = load_bundle(bundle, device=device)
        loaded.concept_model()  # a black box has no concepts to compare: a clear error
        real = load_real_set(data_dir, loaded.spec.fs_hz, loaded.spec.duration_s)
        report = real_agreement(loaded.model, loaded.spec, real, loaded.device, role)
    except (BundleError, DatasetRootError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    report["bundle"] = {"path": str(bundle), "version": loaded.version}
    out.mkdir(parents=True, exist_ok=True)
    (out / REAL_AGREEMENT_FILE).write_text(json.dumps(report, indent=2), encoding="utf-8")
    typer.echo(format_table(report))
    typer.echo(f"wrote {out / REAL_AGREEMENT_FILE}")
