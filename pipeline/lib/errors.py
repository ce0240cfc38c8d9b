"""One-line errors and counted warnings, shared by every stage."""

from __future__ import annotations

import errno
import functools
import os
import re
import sys
import time
from typing import Callable


class PipelineError(Exception):
    """A problem with the user's data or params: reported as one line, exit status 2."""


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def shown_path(path: str | os.PathLike) -> str:
    """``path`` relative to the working directory when it lies inside it, else absolute."""
    try:
        cwd = os.getcwd()
    except OSError:  # the working directory was deleted: say the path as given rather than fail while reporting
        return os.fspath(path)
    absolute = os.path.normpath(os.path.join(cwd, path))
    relative = os.path.relpath(absolute, cwd)
    return absolute if relative == os.pardir or relative.startswith(os.pardir + os.sep) else relative


def not_found(path: str | os.PathLike, stage: str | None = None) -> str:
    """'<path>: not found; run `dvc repro <stage>` first', the stage defaulting to the one dvc.yaml says makes it."""
    from .dag import producer

    if stage is None:
        try:
            stage = producer(os.path.abspath(path))  # dvc.yaml paths are from the repository root, not the cwd
        except OSError:  # no working directory to resolve a relative path against
            stage = None
    hint = f"; run `dvc repro {stage}` first" if stage else ""
    return f"{shown_path(path)}: not found{hint}"


def _missing_file(exc: OSError) -> str | None:
    """The path an OSError says is missing, or None when it is about something else.

    open() sets ``filename``; pandas' read_parquet raises FileNotFoundError(path) with the path as its only
    argument, and Arrow puts it in quotes in a sentence.
    """
    if not (isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOENT):
        return None
    if exc.filename is not None:
        return os.fsdecode(exc.filename)
    if len(exc.args) == 1 and isinstance(exc.args[0], str):
        text = exc.args[0]
        if text and not any(c.isspace() for c in text):
            return text
        quoted = re.search(r"'([^']+)'", text)
        if quoted:
            return quoted[1]
    return None


def stage_main(name: str) -> Callable:
    """Run a stage's main: PipelineError becomes one line on stderr, and a summary line ends success.

    A missing input file (FileNotFoundError, whoever raises it) is one line too, naming the stage that makes it:
    running a stage before its inputs exist is the commonest mistake, and a traceback hides the fix.

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
            except OSError as exc:
                path = _missing_file(exc)
                if path is None and not isinstance(exc, FileNotFoundError):
                    raise  # a full disk or a permission problem: the traceback is the useful report
                message = not_found(path) if path is not None else f"not found: {' '.join(str(exc).split())}"
                print(f"error: {name}: {message}", file=sys.stderr, flush=True)
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
