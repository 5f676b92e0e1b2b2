"""Sizing of the reliability tests: CI mode by default, the long mode with QTLENS_LONG_TESTS=1."""

from __future__ import annotations

import os

import pytest

LONG_TESTS_ENV = "QTLENS_LONG_TESTS"


def long_mode() -> bool:
    """Whether the long mode was asked for (``QTLENS_LONG_TESTS=1``)."""
    return os.environ.get(LONG_TESTS_ENV, "") not in ("", "0")


@pytest.fixture
def scale() -> int:
    """How many times the CI-mode amount of work to do: 1 in CI mode, 4 in the long mode."""
    return 4 if long_mode() else 1
