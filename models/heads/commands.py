"""``qtlens train-head``, ``qtlens evaluate-head``, ``qtlens compose-bundle`` and ``qtlens
calibrate-bands``: task heads learned from concept tables, evaluated frozen, put behind a
network, and banded on real ECGs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

HEAD_FILE = "head.json"
#: The change-from-baseline head beside the absolute one (read when an ECG has a baseline).
CHANGE_HEAD_FILE = "change_head.json"
EVALUATION_FILE = "evaluation.json"
REPORT_FILE = "report.html"
#: Datasets a head can be learned from: concept tables with a ``tdp_risk`` drug label.
HEAD_DATASETS = ("ecgrdvq",)

#: Options shared by train-head and evaluate-head.
DataOption = Annotated[
    str, typer.Option("--data", help=f"Concept table: {', '.join(HEAD_DATASETS)}.")
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="The dataset's root folder (default: its folder below $QTLENS_DATA_DIR).",
        show_default=False,
    ),
]
BootstrapOption = Annotated[
    int, typer.Option("--bootstrap", min=50, help="Subject-bootstrap resamples per CI.")
]
SeedOption = Annotated[int, typer.Option(help="Seed of the bootstrap.")]


def register(cli: typer.Typer) -> None:
    """Add ``train-head``, ``evaluate-head``, ``compose-bundle`` and ``calibrate-bands`` to
    ``cli``."""
    cli.command("train-head")(train_head_command)
    cli.command("evaluate-head")(evaluate_head_command)
    cli.command("compose-bundle")(compose_bundle_command)
    cli.command("calibrate-bands")(calibrate_bands_command)


def train_head_command(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for head.json, evaluation.json, report.html.")
    ],
    data: DataOption = "ecgrdvq",
    data_dir: DataDirOption = None,
    features: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated inputs of the absolute head: registry concepts in the table, "
            "age_years, female (default: qtc_fridericia,jtpeak_c,tpeak_tend,heart_rate).",
            show_default=False,
        ),
    ] = None,
    change_features: Annotated[
        str | None,
        typer.Option(
            "--change-features",
            help="Comma-separated inputs of the change head: change concepts (delta_…), "
            "age_years, female (default: delta_jtpeak_c,delta_tpeak_tend,delta_t_amplitude_v5).",
            show_default=False,
        ),
    ] = None,
    n_boot: BootstrapOption = 1000,
    seed: SeedOption = 0,
) -> None:
    """Learn the tdp_risk head on a drug-study concept table; evaluate it leave-subject-out.

    Writes the absolute head and the change-from-baseline head (both composable with
    `qtlens compose-bundle`), their evaluation against QTcF and ΔQTcF as JSON, and a
    standalone HTML report. Sex becomes an input of both where the table holds both sexes.
    """
    from models.bundle import code_version
    from models.heads.fit import (
        DEFAULT_CHANGE_FEATURES,
        DEFAULT_FEATURES,
        HeadFitConfig,
        fit_tdp_head,
    )
    from models.heads.report import write_head_report

    config = HeadFitConfig(
        features=_names(features, DEFAULT_FEATURES),
        change_features=_names(change_features, DEFAULT_CHANGE_FEATURES),
        n_boot=n_boot,
        seed=seed,
    )
    table = _open_table(data, data_dir)
    try:
        result = fit_tdp_head(table, config, code_version())
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--features") from None
    out.mkdir(parents=True, exist_ok=True)
    result.head.save(out / HEAD_FILE)
    result.change_head.save(out / CHANGE_HEAD_FILE)
    (out / EVALUATION_FILE).write_text(json.dumps(result.report, indent=2, allow_nan=False) + "\n")
    write_head_report(result, out / REPORT_FILE)
    for name, variant in result.report["variants"].items():
        typer.echo(f"{name} head (compared with {variant['qtcf_rule']}):")
        for comparison, entry in variant["auroc_difference"]["head_minus_qtcf"].items():
            head = variant["scores"]["head"]["auroc"][comparison]["leave_pair_out"]
            qtcf = variant["scores"]["qtcf"]["auroc"][comparison]["leave_pair_out"]
            low, high = entry["leave_pair_out"]["ci95"]
            typer.echo(
                f"  {comparison}: AUROC head {head['value']:.3f}, rule {qtcf['value']:.3f}, "
                f"difference 95 % CI {low:+.3f} to {high:+.3f} (leave-pair-out)"
            )
        for feature in variant["coefficients"]["features"]:
            typer.echo(
                f"    {feature['name']}: {feature['coefficient_per_sd']:+.3f} per SD "
                f"({feature['sd']:.1f} {feature['unit']}), "
                f"{feature['coefficient_per_unit']:+.4f} per {feature['unit'] or 'unit'}"
            )
    typer.echo(
        f"wrote {out / HEAD_FILE}, {out / CHANGE_HEAD_FILE}, {out / EVALUATION_FILE} and "
        f"{out / REPORT_FILE}"
    )


def _names(given: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated option as names (``default`` when not given)."""
    if given is None:
        return default
    return tuple(f.strip() for f in given.split(",") if f.strip())


def _open_table(data: str, data_dir: Path | None):
    """The concept table of a head dataset, or a clear CLI error."""
    from models.data.base import DatasetRootError
    from models.data.registry import default_root, open_dataset

    if data not in HEAD_DATASETS:
        raise typer.BadParameter(f"use one of {', '.join(HEAD_DATASETS)}", param_hint="--data")
    try:
        return open_dataset(data, data_dir or default_root(data)).index
    except DatasetRootError as error:
        raise typer.BadParameter(str(error), param_hint="--data-dir") from None


def evaluate_head_command(
    head: Annotated[
        Path,
        typer.Argument(help="A head file (head.json, change_head.json) or a train-head folder."),
    ],
    json_out: Annotated[Path, typer.Option("--json", help="Where to write the AUROCs (JSON).")],
    data: DataOption = "ecgrdvq",
    data_dir: DataDirOption = None,
    n_boot: BootstrapOption = 1000,
    seed: SeedOption = 0,
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", help="Also report, per drug, the share of ECGs in each risk "
                     "band of this bundle's tdp_risk bands (qtlens calibrate-bands).",
                     show_default=False),
    ] = None,
) -> None:
    """Apply a frozen tdp_risk head (absolute or change) to a concept table's post-dose ECGs.

    Writes {"comparisons": {"high_vs_low" | "high_vs_placebo" | "low_vs_placebo": {"head" |
    "qtcf" | "delta_qtcf": {"value": AUROC, "ci95": [low, high]}}}, "subjects": N, "rows": N}
    — AUROCs pooled over the comparison's ECGs, 95 % CIs from resampling subjects — and, with
    --bundle, "bands": the share of each drug's ECGs in the intermediate and high bands.
    """
    from models.heads.evaluate_head import FROZEN_SCORES, evaluate_frozen_head
    from models.heads.logistic import LogisticTaskHead

    path = head / HEAD_FILE if head.is_dir() else head
    try:
        frozen = LogisticTaskHead.load(path)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="HEAD") from None
    table = _open_table(data, data_dir)
    bands = None
    if bundle is not None:
        from models.bundle import BundleError, load_bundle

        try:
            bands = load_bundle(bundle, device="cpu").bands["tdp_risk"]
        except BundleError as error:
            raise typer.BadParameter(str(error), param_hint="--bundle") from None
    try:
        result = evaluate_frozen_head(frozen, table, n_boot, seed, bands)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="HEAD") from None
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(result, indent=2) + "\n")
    kind = "change" if frozen.reads_change else "absolute"
    typer.echo(f"{kind} head on {result['rows']} post-dose ECGs of {result['subjects']} subjects:")
    for comparison, scores in result["comparisons"].items():
        cells = []
        for name in FROZEN_SCORES:
            entry = scores[name]
            value = "n/a" if entry["value"] is None else f"{entry['value']:.3f}"
            cells.append(f"{name} {value}")
        typer.echo(f"  {comparison}: AUROC " + ", ".join(cells))
    if "bands" in result:
        shares = result["bands"]
        typer.echo(f"  bands (intermediate from {shares['intermediate_from']:.4g}, high from "
                   f"{shares['high_from']:.4g}), share of each drug's ECGs:")
        for drug, share in shares["by_drug"].items():
            typer.echo(f"    {drug} (n {share['n']}): intermediate {share['intermediate']:.1%}, "
                       f"high {share['high']:.1%}")
    typer.echo(f"wrote {json_out}")


def compose_bundle_command(
    base: Annotated[Path, typer.Option("--base", help="Concept bundle whose network to use.")],
    head: Annotated[
        list[str],
        typer.Option(
            "--head",
            help="TASK=DIR (a train-head output directory: its head.json, and its "
            "change_head.json when present), TASK=network (the network's own head) or "
            "TASK=schwartz (the ECG items of the Schwartz score); repeatable.",
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
    change_heads: dict[str, LogisticTaskHead] = {}
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
            if (Path(source) / CHANGE_HEAD_FILE).is_file():
                change_heads[task] = LogisticTaskHead.load(Path(source) / CHANGE_HEAD_FILE)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--head") from None
    command = " ".join(
        ["qtlens compose-bundle", f"--base {base}", *(f"--head {h}" for h in head), f"--out {out}"]
    )
    try:
        checksum = compose_bundle(base, heads, out, command, change_heads)
    except (BundleError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {out} (SHA-256 of SHA256SUMS {checksum})")


def _share(half: dict[str, Any]) -> str:
    """A half's share in "high" for the command's output: the share, n and 95 % upper bound."""
    return (f"{half['fraction_high']:.1%} (n={half['n']}, one-sided 95 % upper bound "
            f"{half['fraction_high_upper_bound']:.1%})")


def calibrate_bands_command(
    bundle: Annotated[Path, typer.Option("--bundle", help="Bundle whose card gets the bands.")],
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Folder of the datasets (default $QTLENS_DATA_DIR)."),
    ] = None,
) -> None:
    """Set each learned head's risk bands on real development ECGs without a long-QT label
    (PTB-XL, Challenge 2021, LUDB): at most 10 % high and 25 % above low at 95 % confidence
    (one-sided upper bound); set on the tune records, checked on the check records; written
    into the bundle's card (its checksum changes)."""
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
            f"{bands.high_from:.3f}; high on the tune records {_share(found['set'])}, on the "
            f"check records {_share(found['check'])}"
        )
    typer.echo(f"wrote {bundle / 'card.json'} (SHA-256 of SHA256SUMS {checksum})")
