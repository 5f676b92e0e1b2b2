"""The research half of the ``qtlens`` command: everything that needs no web server.

Each area of ``models`` keeps its commands in its own module, which exposes
``register(cli: typer.Typer) -> None``; :data:`COMMAND_MODULES` lists them. Command bodies import
heavy libraries (torch, neurokit2) lazily so that ``qtlens --help`` stays instant.
"""

from __future__ import annotations

import importlib

import typer

#: Modules that add commands to the CLI, in the order they appear in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "models.data.synthetic_command",
    "models.data.commands",
    "models.commands.train",
    "models.commands.train_real",
    "models.commands.evaluate",
    "models.commands.predict",
    "models.explain.commands",
    "models.heads.commands",
    "models.ecg.io.cli",
    "models.ecg.commands",
)


def build_cli() -> typer.Typer:
    """A Typer application holding every research command."""
    cli = typer.Typer(
        name="qtlens",
        help="QTLens: Long-QT / drug-induced TdP risk from the 12-lead ECG, explained through "
        "expert concepts. Research use only — not a medical device.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @cli.callback()
    def research_commands() -> None:
        """Keeps ``qtlens`` a command group even while only one command is registered."""

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(cli)
    return cli
