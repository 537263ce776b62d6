"""The progress of a sweep: a rich bar on a terminal, one line per finished run otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any

from .executors import Outcome


class Progress:
    """Completed / failed / remaining and ETA: a rich bar on a terminal, one line per run otherwise."""

    def __init__(self, total: int, *, quiet: bool = False, stream: Any = None) -> None:
        self.total, self.done, self.failed, self.lost = total, 0, 0, 0
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.t0 = time.perf_counter()
        self._bar = None
        if not quiet and getattr(self.stream, "isatty", lambda: False)():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as Bar

            self._bar = Bar(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("[green]{task.fields[ok]} ok [red]{task.fields[failed]} failed "
                                       "[yellow]{task.fields[lost]} lost [/]{task.fields[left]} left"),
                            TextColumn("ETA"), TimeRemainingColumn(), TimeElapsedColumn(),
                            console=Console(file=self.stream), transient=False)
            self._task = self._bar.add_task("sweep", total=total, ok=0, failed=0, lost=0, left=total)
            self._bar.start()

    def update(self, outcome: Outcome | None, status: str) -> None:
        """Count one finished job (``status``: ok, failed, lost, or stored: run by a concurrent sweep)."""
        self.done += 1
        self.failed += status == "failed"
        self.lost += status == "lost"  # its worker died: not stored, run again by the next sweep
        left = self.total - self.done
        if self._bar is not None:
            self._bar.update(self._task, advance=1, ok=self.done - self.failed - self.lost, failed=self.failed,
                             lost=self.lost, left=left)
        elif not self.quiet:
            elapsed = time.perf_counter() - self.t0
            eta = elapsed / self.done * left
            what = outcome.job.label if outcome is not None else "?"
            extra = f": {outcome.error}" if outcome is not None and outcome.error else ""
            lost = f", {self.lost} lost" if self.lost else ""
            print(f"[{self.done}/{self.total}] {status:<6} {what}{extra}   "
                  f"({self.failed} failed{lost}, {left} left, ETA {eta:.0f} s)", file=self.stream, flush=True)

    def note(self, line: str) -> None:
        """One line about the sweep itself (a cluster without workers), above the bar; nothing when quiet."""
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
