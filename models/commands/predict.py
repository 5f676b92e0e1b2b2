"""``qtlens predict``: score ECG files from the command line as the web app scores an upload."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from models.commands.doubts import Doubts

DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / "weights" / "demo"


def register(cli: typer.Typer) -> None:
    """Add the ``predict`` command to ``cli``."""
    cli.command("predict")(predict_command)


def _value(number: float | None, decimals: int, unit: str) -> str:
    if number is None:
        return "n/a"
    return f"{number:.{decimals}f}{' ' + unit if unit else ''}"


def _print_reading(name: str, report: dict[str, Any]) -> None:
    """The human-readable form of one file's reading."""
    from models.concepts import get_concept

    typer.echo(f"{name}  (model {report['model']}; sex {report['sex'] or 'unknown'}, age "
               f"{report['age_years'] if report['age_years'] is not None else 'unknown'})")
    for risk in report["risks"].values():
        shown = (f"{risk['points']:g} / {risk['max_points']:g} points" if risk["points"] is not None
                 else f"{100 * risk['probability']:.0f} %")
        typer.echo(f"  {risk['label']}: {shown} ({risk['band']}) — {risk['head']}")
        typer.echo(f"    {risk['sentence']}")
    if report["ood"] is not None:
        warning = "UNLIKE THE TRAINING ECGs: " if report["ood"]["high"] else ""
        typer.echo(f"  {warning}{report['ood']['message']}")
    doubts = Doubts()
    for concept_name, entry in report["concepts"].items():
        concept = get_concept(concept_name)
        if concept.is_binary:
            model = "n/a" if entry["probability"] is None else f"{100 * entry['probability']:.0f} %"
            measured = "n/a" if entry["measured"] is None else (
                "present" if entry["measured"] >= 0.5 else "absent")
        else:
            model = _value(entry["model"], concept.decimals, "")
            if entry["sd"] is not None:
                model += f" ± {entry['sd']:.{concept.decimals}f}"
            measured = _value(entry["measured"], concept.decimals, "")
        measured += doubts.star(entry["measured_low_confidence"])
        notes = [entry["flag"]] if entry["flag"] != "normal" else []
        if entry["disagreement"]:
            notes.append(f"DISAGREE: {entry['disagreement']}")
        typer.echo(f"  {concept.label:<20} model {model:<16} measured {measured:<9} "
                   f"{concept.unit:<4} {'; '.join(notes)}".rstrip())
    for line in doubts.lines("measured value of low confidence"):
        typer.echo(line)
    for note in report["measurement_notes"]:
        typer.echo(f"  {note['text']}")


def predict_command(
    files: Annotated[
        list[Path],
        typer.Argument(help="ECG files, one per record (a WFDB record by its .hea; any format "
                       "the web app reads)."),
    ],
    bundle: Annotated[
        Path, typer.Option("--bundle", help="Model bundle directory (default: the shipped demo).")
    ] = DEFAULT_BUNDLE,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per file and line (JSON Lines).")
    ] = False,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda[:N].")] = "cpu",
) -> None:
    """Score ECG files: concepts with uncertainty, measured values, disagreements, and each risk
    with its band, its head and what it means — the numbers the record page shows.

    A progress bar goes to stderr; a file that cannot be read or analysed gets a one-line error
    there and the others are still scored (exit status 1 when any failed).
    """
    from tqdm.auto import tqdm

    from models.bundle import BundleError, load_bundle
    from models.ecg.commands import record_paths
    from models.ecg.errors import EcgInputError
    from models.ecg.io import DATASET_LIMITS, read_paths
    from models.scoring import analyse_ecg, reading

    try:
        loaded = load_bundle(bundle, device=device)
    except (BundleError, ValueError, RuntimeError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    failed = 0
    for path in tqdm(record_paths(files), desc="predict", unit="ECG", leave=False):
        try:
            ecg = read_paths([path], DATASET_LIMITS).ecg
            report = reading(loaded, analyse_ecg(loaded, ecg))
        except EcgInputError as error:
            failed += 1
            tqdm.write(f"error: {path}: {error.message}", file=sys.stderr)
            continue
        if as_json:
            typer.echo(json.dumps({"file": str(path), **report}, ensure_ascii=False))
        else:
            _print_reading(str(path), report)
    if failed:
        raise typer.Exit(1)
