"""``qtlens compare``: the CBM against the black box explained post hoc (HTML + JSON report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(cli: typer.Typer) -> None:
    """Add the ``compare`` command to ``cli``."""
    cli.command("compare")(compare_command)


def compare_command(
    cbm: Annotated[Path, typer.Option("--cbm", help="Concept bottleneck model bundle.")],
    blackbox: Annotated[
        Path, typer.Option("--blackbox", help="Black-box bundle, explained post hoc.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Directory for compare.json and compare.html.")
    ] = Path("compare"),
    data: Annotated[str, typer.Option(help="synthetic or ludb.")] = "synthetic",
    n: Annotated[
        int, typer.Option("--n", min=20, help="Records generated (synthetic) or read (LUDB).")
    ] = 200,
    shortcut: Annotated[
        bool, typer.Option(help="Synthetic: add the label-correlated shortcut spike.")
    ] = False,
    label_model: Annotated[
        str | None,
        typer.Option(help="Synthetic: full or qtc_only (default: the CBM's training data's)."),
    ] = None,
    data_seed: Annotated[
        int | None, typer.Option(help="Synthetic seed (default: above the bundles' seeds).")
    ] = None,
    target: Annotated[str, typer.Option(help="Task explained.")] = "lqts_risk",
    methods: Annotated[
        str | None, typer.Option(help="Comma-separated attribution methods (default: all).")
    ] = None,
    n_explain: Annotated[
        int, typer.Option(min=4, help="Records attributed for localisation and faithfulness.")
    ] = 32,
    repeats: Annotated[int, typer.Option(min=2, help="TCAV CAVs per concept (≥ 10).")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of bootstrap, orderings and checks.")] = 0,
    device: Annotated[str, typer.Option(help="cpu, cuda[:N] or auto.")] = "cpu",
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Compare a concept bottleneck model with a black box explained post hoc: task
    performance, concept fidelity (TCAV), localisation, faithfulness, the randomisation sanity
    check, shortcut detection and the value of interventions."""
    from dataclasses import replace

    from models.bundle import BundleError
    from models.explain.attributions import method_names
    from models.explain.compare import (
        COMPARE_SOURCES,
        REPORT_HTML,
        REPORT_JSON,
        CompareConfig,
        compare,
        headline,
    )
    from models.explain.tcav import TcavConfig

    if data not in COMPARE_SOURCES:
        raise typer.BadParameter(f"use one of {', '.join(COMPARE_SOURCES)}", param_hint="--data")
    chosen = tuple(m.strip() for m in methods.split(",")) if methods else method_names()
    unknown = [m for m in chosen if m not in method_names()]
    if unknown:
        raise typer.BadParameter(
            f"unknown {', '.join(unknown)}; use {', '.join(method_names())}", param_hint="--methods"
        )
    config = CompareConfig(
        data=data,
        n_records=n,
        data_seed=data_seed,
        shortcut=shortcut,
        label_model=label_model,
        target=target,
        methods=chosen,
        n_explain=n_explain,
        seed=seed,
        device=device,
    )
    config = replace(config, tcav=TcavConfig(repeats=repeats, seed=seed))
    try:
        report = compare(cbm, blackbox, out, config, progress=progress)
    except (BundleError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    for line in headline(report):
        typer.echo(line)
    typer.echo(f"wrote {out / REPORT_JSON} and {out / REPORT_HTML}")
