"""``python -m app`` is the ``qtlens`` command."""

from app.cli import main

main()
