"""``qtlens inspect``: what QTLens reads from ECG files, through the upload code path."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

#: Exit status for a file QTLens refuses (the CLI's equivalent of HTTP 4xx).
EXIT_BAD_INPUT = 2


def register(cli: typer.Typer) -> None:
    """Add the ``inspect`` command to the ``qtlens`` CLI."""

    @cli.command("inspect")
    def inspect(
        files: Annotated[
            list[Path],
            typer.Argument(
                help="The ECG file, or a WFDB record as its .hea (data files are found beside "
                "it) or as header and data files.",
                show_default=False,
            ),
        ],
        max_duration_s: Annotated[
            float | None,
            typer.Option(
                help="Accept records up to this many seconds (default: the upload limit)."
            ),
        ] = None,
    ) -> None:
        """Show what QTLens reads from ECG files, as an upload of them would be read.

        Prints format, leads, sampling rate, duration, age/sex and the identifying fields that
        de-identification removes. A refused file prints one line and exits with status 2.
        """
        from dataclasses import replace

        from models.ecg.errors import EcgInputError
        from models.ecg.io import UPLOAD_LIMITS, read_paths

        limits = (
            UPLOAD_LIMITS
            if max_duration_s is None
            else replace(UPLOAD_LIMITS, max_duration_s=max_duration_s)
        )
        try:
            result = read_paths(files, limits)
        except EcgInputError as error:
            where = f" [{error.field}]" if error.field else ""
            typer.echo(
                f"error ({error.status_code} {error.kind}){where}: {error.message}", err=True
            )
            raise typer.Exit(EXIT_BAD_INPUT) from None
        ecg = result.ecg
        age = "unknown" if ecg.age_years is None else f"{ecg.age_years} years"
        lines = [
            f"format:    {result.format}",
            f"leads:     {', '.join(ecg.lead_names)} ({ecg.n_leads})",
            f"fs:        {ecg.fs_hz:g} Hz",
            f"duration:  {ecg.duration_s:.2f} s ({ecg.n_samples} samples)",
            f"age/sex:   {age} / {ecg.sex or 'unknown'}",
            f"removed:   {', '.join(result.removed_fields) or 'nothing identifying found'}",
            *(f"warning:   {warning}" for warning in result.warnings),
        ]
        typer.echo("\n".join(lines))
