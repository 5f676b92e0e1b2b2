"""One way for the database tests to run the same work on several threads at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable


def errors_in_threads(work: Callable[[int], None], arguments: Iterable[int]) -> list[BaseException]:
    """Run ``work(argument)`` on one thread per argument, wait for all, and return what they
    raised (empty when every thread finished), so the test's assertion shows the errors."""
    errors: list[BaseException] = []

    def run(argument: int) -> None:
        try:
            work(argument)
        except BaseException as error:  # noqa: BLE001 - returned to the caller's assertion
            errors.append(error)

    threads = [threading.Thread(target=run, args=(argument,)) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
