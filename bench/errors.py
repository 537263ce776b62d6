"""Every error ctrlbench raises on purpose.

One base class, :class:`BenchError`; each subclass also derives from the
builtin exception that fits, so callers can catch either.  The CLI turns a
``BenchError`` into one line on stderr and exit code 2 (usage) or 1 (a run
failed); it never shows a traceback for one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BenchError(Exception):
    """Base class of every ctrlbench error.

    ``exit_code`` is what the CLI exits with when this error reaches it.
    """

    exit_code = 2

    def __str__(self) -> str:  # KeyError quotes its message; we never want that
        return str(self.args[0]) if self.args else self.__class__.__name__


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like ``name`` (difflib), or None if none is close."""
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.5)
    return found[0] if found else None


def suggestion(name: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` or ``""`` when nothing is close."""
    best = closest(name, candidates)
    return f"; did you mean {best!r}?" if best else ""


class UnknownName(BenchError, KeyError):
    """A plant, controller, task, dataset or setting that is not registered."""

    def __init__(self, kind: str, name: str, candidates: Iterable[str]):
        candidates = sorted(candidates)
        self.kind, self.name, self.candidates = kind, name, candidates
        msg = f"unknown {kind} {name!r}{suggestion(name, candidates)}"
        if not closest(name, candidates) and candidates:
            msg += f" (known: {', '.join(candidates)})"
        super().__init__(msg)


class DuplicateName(BenchError, ValueError):
    """Two plugins registered the same name."""


class PluginError(BenchError, RuntimeError):
    """A plugin is broken (failed import, hook raised, bad spec)."""


class Unavailable(BenchError, ImportError):
    """A plugin whose optional dependencies are not installed."""


class Incompatible(BenchError, ValueError):
    """A plant / controller / task combination that cannot work."""


class SettingError(BenchError, ValueError):
    """An unknown, ambiguous or ill-typed setting, or a value out of range."""


class InvalidArgument(BenchError, ValueError):
    """A bad array or value passed to an API call (shape, dtype, range, NaN)."""


class OutOfReach(InvalidArgument):
    """An inverse-kinematics target outside the arm's workspace."""


class Diverged(BenchError, FloatingPointError):
    """A simulation or training run whose state stopped being finite."""

    exit_code = 1


class StoreError(BenchError, OSError):
    """A results store that cannot be used (foreign file, newer schema, ...)."""


class CheckpointError(BenchError, ValueError):
    """A weights or checkpoint file that does not fit (shape, format, plant)."""


class ConformanceError(BenchError, AssertionError):
    """A plugin that breaks the plant / controller contract (bench.testing)."""


class CompareError(BenchError, ValueError):
    """A comparison that cannot be made (nothing selected, nothing in common)."""


class SuiteError(BenchError, ValueError):
    """A suite that does not exist or a suite file that does not parse or check."""


class SweepError(BenchError, ValueError):
    """A sweep that cannot start: empty product, bad executor, unreachable scheduler."""


class SchedulerFault(SweepError):
    """A scheduler address that accepts connections but never completes a Dask handshake, or answers in
    another protocol: the sweep ends with exit 1 (nothing was run, nothing stored is lost)."""

    exit_code = 1


class UsageError(BenchError, ValueError):
    """Bad command-line arguments."""
