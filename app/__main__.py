"""``python -m app`` is the ``qtlens`` command."""

if __name__ == "__main__":
    # Imported inside the guard: worker processes import this module again (as ``__mp_main__``)
    # and must not load the whole application for it.
    from app.cli import main

    main()
