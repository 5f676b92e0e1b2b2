"""Typer command modules of the research CLI (listed in :data:`models.cli.COMMAND_MODULES`).

Each module exposes ``register(cli)`` and imports torch and friends only inside command bodies,
so ``qtlens --help`` stays instant.
"""
