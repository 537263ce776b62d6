"""What the speed benchmarks share: the ``speed`` fixture (timing on or off, interleaved minima, ratio checks).

Two ways to run ``tests/benchmarks``:

* ``make test`` (``--benchmark-disable``, the default in pyproject.toml): every
  benchmark is a one-iteration smoke run.  The ``benchmark`` fixture calls its
  function once, each ratio test calls each of its sides once, and every test
  checks the *results* (the batched path gives the loop path's numbers, shapes,
  finite values); no speed is asserted and nothing is printed.
* ``make bench`` (``--benchmark-enable``): pytest-benchmark times every variant
  (saved and compared under ``.benchmarks/``); each ratio test times both of
  its sides itself, called in turn in the same test (a shared machine's load
  changes between two tests run one after the other), asserts its targets and
  adds its figures and any profile to the ``speed ratios and profiles`` section
  at the end of the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

REPORT = pytest.StashKey[list[str]]()


def timing_enabled(config: pytest.Config) -> bool:
    """True under ``--benchmark-enable`` (``make bench``), False under ``--benchmark-disable``."""
    try:
        return bool(config.getoption("benchmark_enable") or not config.getoption("benchmark_disable"))
    except ValueError:  # pytest-benchmark not installed: nothing is timed
        return False


def fmt(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


class Speed:
    """The ``speed`` fixture: ``enabled`` says whether this run times anything (see the module docstring)."""

    def __init__(self, enabled: bool, report: list[str], test: str) -> None:
        self.enabled, self._report, self._test = enabled, report, test
        self._noted = False

    def size(self, full: Any, smoke: Any) -> Any:
        """``full`` when timing, ``smoke`` (a smaller problem for the one-iteration run) otherwise."""
        return full if self.enabled else smoke

    def minima(self, sides: dict[str, Callable[..., Any]], rounds: int, seconds: float = 0.0,
               setup: Callable[[str], tuple] | None = None,
               burst: int = 1) -> tuple[dict[str, float], dict[str, Any]]:
        """Minimum seconds of one call of each side, and each side's first result.

        The sides take turns, round after round, so that both sides of a ratio
        see the same load: ``rounds`` rounds, and more until ``seconds`` have
        passed.  In each round each side is called ``burst`` times in a row
        (warm caches, as in a benchmark's loop; for calls of microseconds).
        ``setup(name)`` (untimed) returns the arguments of the next call of
        side ``name``.  Without timing every side is called once.
        """
        best = dict.fromkeys(sides, float("inf"))
        out: dict[str, Any] = {}
        stop = time.perf_counter() + (seconds if self.enabled else 0.0)
        done = 0
        while done < (rounds if self.enabled else 1) or time.perf_counter() < stop:
            for name, fn in sides.items():
                for _ in range(burst if self.enabled else 1):
                    args = setup(name) if setup is not None else ()
                    t0 = time.perf_counter()
                    result = fn(*args)
                    best[name] = min(best[name], time.perf_counter() - t0)
                    out.setdefault(name, result)
            done += 1
        return best, out

    def note(self, *lines: str) -> None:
        """Add lines to the end-of-run section (only when timing: ``make test`` prints nothing)."""
        if self.enabled:
            if not self._noted:
                self._report.append(f"{self._test}:")
                self._noted = True
            self._report.extend(f"  {line}" for line in lines)

    def check_ratios(self, group: str, times: dict[str, float],
                     targets: dict[tuple[str, str], float | None], work: float = 1.0) -> None:
        """Report ``times[slow] / times[fast]`` for each ``(fast, slow)`` pair and, when timing,
        assert each target that is not None (``work``: units per call, for the per-unit figures)."""
        if not self.enabled:
            return
        lines, failures = [], []
        for (fast, slow), target in targets.items():
            ratio = times[slow] / times[fast]
            lines.append(f"{group}: {fast} {fmt(times[fast] / work)} vs {slow} {fmt(times[slow] / work)}"
                         f" -> {ratio:.1f}x" + (f" (target >= {target:g}x)" if target is not None else ""))
            if target is not None and ratio < target:
                failures.append(lines[-1])
        self.note(*lines)
        assert not failures, "speed target missed:\n" + "\n".join(failures)


@pytest.fixture
def speed(request: pytest.FixtureRequest) -> Speed:
    config = request.config
    if REPORT not in config.stash:
        config.stash[REPORT] = []
    return Speed(timing_enabled(config), config.stash[REPORT], request.node.nodeid.split("::", 1)[-1])


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    lines = config.stash.get(REPORT, [])
    if lines:
        terminalreporter.write_sep("-", "speed ratios and profiles")
        for line in lines:
            terminalreporter.write_line(line)
