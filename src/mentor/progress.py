"""Progress of long stages, shown where the run's output goes.

On a terminal (or in a notebook) a stage with a known size gets a Rich bar; anywhere else (a file under
``nohup``, a batch scheduler's log, CI) it gets plain lines on stderr instead: one when it starts, then at most one
every :data:`MIN_INTERVAL_S` seconds *and* every ``total / LINES_PER_STAGE`` items (whichever is rarer), and one
when it ends, each flushed and free of escape codes. :func:`stage` says, off a terminal only, that a stage without
a bar (training, writing) begins. Rich's own switches decide which is which: ``TTY_INTERACTIVE=0`` asks for lines
on a terminal, ``TTY_INTERACTIVE=1`` (or ``FORCE_COLOR``) for bars elsewhere.
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

#: Off a terminal, a stage's lines come at least this many seconds apart (its first and last line aside) ...
MIN_INTERVAL_S = 15.0
#: ... and at least ``total / LINES_PER_STAGE`` items apart.
LINES_PER_STAGE = 20

#: Control characters (escape included) never reach a log: a label may carry a model's or a data set's name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def bars() -> bool:
    """Whether stderr shows Rich bars (a terminal that can redraw, or a notebook) rather than plain lines."""
    console = Console(stderr=True)
    return console.is_jupyter or console.is_interactive


def line(message: str) -> None:
    """Write ``message`` to stderr as one plain, flushed line."""
    sys.stderr.write(_CONTROL.sub("", message) + "\n")
    sys.stderr.flush()


def stage(message: str, *, enabled: bool = True) -> None:
    """Off a terminal, say that a stage begins (on a terminal the bars and the run's summaries show it)."""
    if enabled and not bars():
        line(message)


def duration(seconds: float) -> str:
    """``seconds`` as ``42s``, ``3m05s`` or ``1h02m``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Tracker(Protocol):
    def advance(self, count: int = 1) -> None: ...

    def update(self, completed: int) -> None: ...


class _Silent:
    def advance(self, count: int = 1) -> None:
        pass

    def update(self, completed: int) -> None:
        pass


class _Bar:
    """A transient Rich bar."""

    def __init__(self, progress: Progress, label: str, total: int) -> None:
        self._progress = progress
        self._task = progress.add_task(escape(_CONTROL.sub("", label)), total=total)

    def advance(self, count: int = 1) -> None:
        self._progress.advance(self._task, count)

    def update(self, completed: int) -> None:
        self._progress.update(self._task, completed=completed)


class Lines:
    """Plain, throttled progress lines: ``label: done/total unit, elapsed E, ETA T (note)``."""

    def __init__(self, label: str, total: int, unit: str = "", note: Callable[[], str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.label, self.total, self.unit, self.note, self.clock = label, total, unit, note, clock
        self.done = self._first = self._shown = 0  # _first: done before start (a resumed run's steps)
        self.started = self._shown_at = clock()
        self._step = max(1, math.ceil(total / LINES_PER_STAGE))

    def start(self) -> None:
        self.started, self._first = self.clock(), self.done
        self._show()

    def advance(self, count: int = 1) -> None:
        self.update(self.done + count)

    def update(self, completed: int) -> None:
        self.done = completed
        due = completed - self._shown >= self._step and self.clock() - self._shown_at >= MIN_INTERVAL_S
        if due and completed < self.total:
            self._show()

    def finish(self) -> None:
        if self.done != self._shown:
            self._show()

    def _show(self) -> None:
        now = self.clock()
        elapsed = now - self.started
        text = f"{self.label}: {self.done}/{self.total}{f' {self.unit}' if self.unit else ''}"
        if self.done > self._first:
            text += f", elapsed {duration(elapsed)}"
            if self.done < self.total:
                text += f", ETA {duration(elapsed / (self.done - self._first) * (self.total - self.done))}"
        note = self.note() if self.note else ""
        line(f"{text} ({note})" if note else text)
        self._shown, self._shown_at = self.done, now


@contextmanager
def track(label: str, total: int, *, unit: str = "", note: Callable[[], str] | None = None,
          enabled: bool = True) -> Iterator[Tracker]:  # fmt: skip
    """Progress over ``total`` items: a transient Rich bar on a terminal, :class:`Lines` elsewhere, nothing when
    not ``enabled``. ``note`` adds what has been spent so far to each plain line."""
    if not enabled or total <= 0:
        yield _Silent()
        return
    if bars():
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            yield _Bar(progress, label, total)
        return
    lines = Lines(label, total, unit, note)
    lines.start()
    try:
        yield lines
    finally:
        lines.finish()


@contextmanager
def quiet_library_bars() -> Iterator[None]:
    """Off a terminal, turn off the tqdm bars of ``transformers`` and ``huggingface_hub`` (``Loading weights``,
    downloads) while the block runs: in a log they are carriage-return noise. On a terminal they stay."""
    if bars():
        yield
        return
    try:
        from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    was_on, hub_was_off = hf_logging.is_progress_bar_enabled(), are_progress_bars_disabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()
            if hub_was_off:
                disable_progress_bars()


__all__ = ["LINES_PER_STAGE", "MIN_INTERVAL_S", "Lines", "Tracker", "bars", "duration", "line",
           "quiet_library_bars", "stage", "track"]  # fmt: skip
