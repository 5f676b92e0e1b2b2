"""Starred notes for the text output of the commands: a value of low confidence ends with one
star per distinct reason (``*``, ``**``, …) and the reasons follow the table."""

from __future__ import annotations


class Doubts:
    """The distinct reasons met so far, in order."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def star(self, reason: str | None) -> str:
        """``""`` when ``reason`` is ``None``, else a space and its stars (a new reason gets the
        next number)."""
        if reason is None:
            return ""
        if reason not in self.reasons:
            self.reasons.append(reason)
        return " " + "*" * (self.reasons.index(reason) + 1)

    def lines(self, what: str) -> list[str]:
        """One line per reason: ``  <stars> <what>: <reason>``."""
        return [f"  {'*' * number} {what}: {reason}"
                for number, reason in enumerate(self.reasons, start=1)]
