"""``qtlens train-head``, ``qtlens compose-bundle`` and ``qtlens calibrate-bands``: task heads
learned from concept tables, put behind a network, and banded on real ECGs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

HEAD_FILE = "head.json"
EVALUATION_FILE = "evaluation.json"
REPORT_FILE = "report.html"
#: Datasets a head can be learned from: concept tables with a ``tdp_risk`` drug label.
HEAD_DATASETS = ("ecgrdvq",)


def register(cli: typer.Typer) -> None:
    """Add ``train-head``, ``compose-bundle`` and ``calibrate-bands`` to ``cli``."""
    cli.command("train-head")(train_head_command)
    cli.command("compose-bundle")(compose_bundle_command)
    cli.command("calibrate-bands")(calibrate_bands_command)


def train_head_command(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for head.json, evaluation.json, report.html.")
    ],
    data: Annotated[
        str, typer.Option("--data", help=f"Concept table: {', '.join(HEAD_DATASETS)}.")
    ] = "ecgrdvq",
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="The dataset's root folder (default: its folder below $QTLENS_DATA_DIR).",
            show_default=False,
        ),
    ] = None,
    features: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated head inputs: registry concepts in the table, age_years, female "
            "(default: qtc_fridericia,jtpeak_c,tpeak_tend).",
            show_default=False,
        ),
    ] = None,
    n_boot: Annotated[
        int, typer.Option("--bootstrap", min=50, help="Subject-bootstrap resamples per CI.")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
) -> None:
    """Learn the tdp_risk head on a drug-study concept table; evaluate it leave-subject-out.

    Writes the head (composable with `qtlens compose-bundle`), its evaluation against the
    QTcF-only rule as JSON, and a standalone HTML report.
    """
    from models.bundle import code_version
    from models.data.base import DatasetRootError
    from models.data.registry import default_root, open_dataset
    from models.heads.fit import DEFAULT_FEATURES, HeadFitConfig, fit_tdp_head
    from models.heads.report import write_head_report

    if data not in HEAD_DATASETS:
        raise typer.BadParameter(f"use one of {', '.join(HEAD_DATASETS)}", param_hint="--data")
    chosen = (
        DEFAULT_FEATURES
        if features is None
        else tuple(f.strip() for f in features.split(",") if f.strip())
    )
    try:
        table = open_dataset(data, data_dir or default_root(data)).index
    except DatasetRootError as error:
        raise typer.BadParameter(str(error), param_hint="--data-dir") from None
    try:
        result = fit_tdp_head(
            table, HeadFitConfig(features=chosen, n_boot=n_boot, seed=seed), code_version()
        )
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--features") from None
    out.mkdir(parents=True, exist_ok=True)
    result.head.save(out / HEAD_FILE)
    (out / EVALUATION_FILE).write_text(json.dumps(result.report, indent=2, allow_nan=False) + "\n")
    write_head_report(result, out / REPORT_FILE)
    absolute = result.report["variants"]["absolute"]
    for comparison, entry in absolute["auroc_difference"]["head_minus_qtcf"].items():
        head = absolute["scores"]["head"]["auroc"][comparison]["leave_pair_out"]
        qtcf = absolute["scores"]["qtcf"]["auroc"][comparison]["leave_pair_out"]
        low, high = entry["leave_pair_out"]["ci95"]
        typer.echo(
            f"{comparison}: AUROC head {head['value']:.3f}, QTcF {qtcf['value']:.3f}, "
            f"difference 95 % CI {low:+.3f} to {high:+.3f} (leave-pair-out)"
        )
    for feature in absolute["coefficients"]["features"]:
        typer.echo(
            f"  {feature['name']}: {feature['coefficient_per_sd']:+.3f} per SD "
            f"({feature['sd']:.1f} {feature['unit']}), {feature['coefficient_per_unit']:+.4f} "
            f"per {feature['unit'] or 'unit'}"
        )
    typer.echo(f"wrote {out / HEAD_FILE}, {out / EVALUATION_FILE} and {out / REPORT_FILE}")


def compose_bundle_command(
    base: Annotated[Path, typer.Option("--base", help="Concept bundle whose network to use.")],
    head: Annotated[
        list[str],
        typer.Option(
            "--head",
            help="TASK=DIR (a train-head output directory), TASK=network (the network's own "
            "head) or TASK=schwartz (the ECG items of the Schwartz score); repeatable.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Composed bundle (may equal --base).")],
) -> None:
    """Compose a bundle: the network of --base with task heads learned elsewhere."""
    from models.bundle import BundleError
    from models.heads.compose import NETWORK_CHOICE, POINTS_CHOICES, compose_bundle
    from models.heads.logistic import LogisticTaskHead
    from models.heads.points import PointsTaskHead

    heads: dict[str, LogisticTaskHead | PointsTaskHead | str] = {}
    for item in head:
        task, sep, source = item.partition("=")
        if not sep or not task or not source:
            raise typer.BadParameter(f"{item!r} is not TASK=DIR", param_hint="--head")
        if task in heads:
            raise typer.BadParameter(f"{task} is given twice", param_hint="--head")
        if source == NETWORK_CHOICE:
            heads[task] = NETWORK_CHOICE
            continue
        if source in POINTS_CHOICES:
            heads[task] = POINTS_CHOICES[source]()
            continue
        try:
            heads[task] = LogisticTaskHead.load(Path(source) / HEAD_FILE)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--head") from None
    command = " ".join(
        ["qtlens compose-bundle", f"--base {base}", *(f"--head {h}" for h in head), f"--out {out}"]
    )
    try:
        checksum = compose_bundle(base, heads, out, command)
    except (BundleError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {out} (SHA-256 of SHA256SUMS {checksum})")


def calibrate_bands_command(
    bundle: Annotated[Path, typer.Option("--bundle", help="Bundle whose card gets the bands.")],
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Folder of the datasets (default $QTLENS_DATA_DIR)."),
    ] = None,
) -> None:
    """Set each learned head's risk bands on real development ECGs without a long-QT label
    (PTB-XL, Challenge 2021, LUDB): at most 10 % high, 25 % above low; set on one half, checked
    on the other; written into the bundle's card (its checksum changes)."""
    from models.bundle import BundleError, load_bundle
    from models.data.base import DatasetRootError
    from models.heads.calibrate import calibrate_bands, development_ecgs, write_bands

    try:
        loaded = load_bundle(bundle, device="cpu")
        calibration = calibrate_bands(loaded, list(development_ecgs(data_dir)))
    except (BundleError, DatasetRootError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    checksum = write_bands(bundle, calibration)
    for task, found in calibration.items():
        bands = found["bands"] or loaded.bands[task]
        typer.echo(
            f"{task}: intermediate from {bands.intermediate_from:.3f}, high from "
            f"{bands.high_from:.3f}; high on the set half {found['set']['fraction_high']:.1%} "
            f"(n={found['set']['n']}), on the check half {found['check']['fraction_high']:.1%} "
            f"(n={found['check']['n']})"
        )
    typer.echo(f"wrote {bundle / 'card.json'} (SHA-256 of SHA256SUMS {checksum})")
