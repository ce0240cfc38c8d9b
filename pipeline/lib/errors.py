"""One-line errors and counted warnings, shared by every stage."""

from __future__ import annotations

import functools
import sys
import time
from typing import Callable


class PipelineError(Exception):
    """A problem with the user's data or params: reported as one line, exit status 2."""


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def stage_main(name: str) -> Callable:
    """Run a stage's main: PipelineError becomes one line on stderr, and a summary line ends success.

    The wrapped function returns the summary text (counts); seconds are added here.
    """

    def decorate(fn: Callable[..., str | None]) -> Callable[..., int]:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs) -> int:
            start = time.perf_counter()
            try:
                summary = fn(*args, **kwargs)
            except PipelineError as exc:
                print(f"error: {name}: {exc}", file=sys.stderr, flush=True)
                return 2
            except KeyboardInterrupt:
                print(f"error: {name}: interrupted", file=sys.stderr, flush=True)
                return 130
            seconds = time.perf_counter() - start
            tail = f"{summary}; " if summary else ""
            print(f"{name}: done: {tail}{seconds:.2f} s", flush=True)
            return 0

        return wrapper

    return decorate
