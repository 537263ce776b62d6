"""``bench sweep PLANTS CONTROLLERS TASKS``: the cartesian product × ``--set`` lists × seeds."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import SweepError
from ..session import db_path, weights_from_runs_items
from ..store import Store
from ..storecheck import check_writable
from ..sweep import EXECUTORS, Plan, SweepReport, plan, run_sweep
from . import Printer

PROG = "bench"
#: Failed runs listed one line each after a sweep (the rest are counted).
FAILED_LINES = 20


@dataclasses.dataclass(frozen=True)
class Execution:
    """Where and how a sweep runs (shared by ``bench sweep`` and ``bench ci``).

    executor : ``"local"`` or ``"dask"``
    jobs : int or None
        Local worker processes (default one per core; 1 runs in this process).
    scheduler : str or None
        The Dask scheduler's address (``tcp://HOST:PORT``).
    rerun : bool
        Run again what is already stored.
    quiet : bool
        No progress display.
    """

    executor: str = "local"
    jobs: int | None = None
    scheduler: str | None = None
    rerun: bool = False
    quiet: bool = False

    def check(self) -> None:
        """Refuse impossible combinations before anything runs."""
        if self.executor not in EXECUTORS:
            raise SweepError(f"unknown executor {self.executor!r}; choose one of {', '.join(EXECUTORS)}")
        most = max_jobs()
        if self.jobs is not None and not 1 <= self.jobs <= most:
            shown = f"{self.jobs}" if abs(self.jobs) < 10**30 else "a number of more than 30 digits"
            raise SweepError(f"--jobs must be at least 1 and at most {most} (local worker processes: 4 per core, "
                             f"at least 8), got {shown}")
        if self.executor == "local" and self.scheduler:
            raise SweepError("--scheduler needs --executor dask")
        if self.scheduler is not None:
            scheduler_address(self.scheduler)


def max_jobs() -> int:
    """The most local worker processes ``--jobs`` may ask for: 4 per core, at least 8."""
    import os

    return max(8, 4 * (os.cpu_count() or 1))


#: Dask's address schemes that ctrlbench does not connect to, and why.
UNSUPPORTED_SCHEMES = {
    "tls": "it needs TLS certificates (a distributed.Security) that ctrlbench does not pass",
    "ucx": "it needs the UCX transport (ucx-py), which ctrlbench does not install",
    "inproc": "it reaches a scheduler in this same process only",
    "ws": "it needs the websocket transport", "wss": "it needs the websocket transport and TLS",
}


def scheduler_address(text: str) -> str:
    """The Dask scheduler address ``tcp://HOST:PORT`` (``HOST:PORT`` means the same); anything else is one
    :class:`~bench.errors.SweepError` line naming what is supported (the one check of ``--scheduler``)."""
    import re

    raw = str(text).strip()
    shown = raw if len(raw) <= 80 and raw.isprintable() else repr(raw[:80])
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest = "tcp", raw
    valid = "give tcp://HOST:PORT (PORT 1-65535; the only scheme supported)"
    if scheme.lower() != "tcp":
        why = UNSUPPORTED_SCHEMES.get(scheme.lower(), "it is no Dask address scheme ctrlbench knows")
        raise SweepError(f"--scheduler {shown}: scheme {scheme}:// is not supported ({why}); {valid}")
    m = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})", rest)
    if not m or not 1 <= int(m.group(2)) <= 65535:
        raise SweepError(f"--scheduler {shown}: not a HOST:PORT address; {valid}")
    return f"tcp://{rest}"


def execute_plan(sweep: Plan, execution: Execution, db: Path, out: Printer, err: Printer, *,
                 log: Printer | None = None, on_outcome: Any = None) -> SweepReport:
    """Print the refused combinations, run the plan into ``db`` and print the outcome (``log``: the lines of
    learners training in this process; ``on_outcome(outcome, run_id)``: after each stored run)."""
    for line in sweep.refused:
        err(f"{PROG}: refused: {line}")
    execution.check()
    store = Store.open_writable(db)  # checked again just before the first run (the plan took a while)
    report = run_sweep(sweep, store, executor=execution.executor, jobs=execution.jobs,
                       scheduler=execution.scheduler, rerun=execution.rerun, quiet=execution.quiet,
                       log_dir=db.parent / "logs", log=log, on_outcome=on_outcome)
    for job, why in report.lost:
        err(f"{PROG}: lost: {job.label}: {why}")
    for run_id in report.failed[:FAILED_LINES]:  # each failure inside a run: one line with its log
        row = store.run(run_id)
        err(f"{PROG}: run {run_id} {row['plant']} {row['controller']} {row['task']} seed {row['seed']} failed: "
            f"{row.get('error')} (traceback in {row.get('log_path')})")
    if len(report.failed) > FAILED_LINES:
        err(f"{PROG}: ... and {len(report.failed) - FAILED_LINES} more failed run(s) (bench show ID)")
    if report.fault:  # the sweep stopped before its end (no Dask workers, a full disk): its cause
        err(f"{PROG}: error: {report.fault}")
    out(f"sweep of {len(sweep.jobs)} runs: {report.line()}; store {db}")
    return report


def sweep(plants: str, controllers: str, tasks: str, *, sets: Sequence[str], seeds: Sequence[int],
          dt: str | None, db: str | Path | None, execution: Execution, out: Printer, err: Printer,
          train: bool = False) -> int:
    """Plan the sweep (every input checked first), then run it; the exit code of the runs.

    With ``train`` each learner is trained before its run (seed = the run's seed).  A task
    ``TASK:train`` makes training runs, as ``bench train`` does (:mod:`bench.commands.train`).
    """
    path = db_path(db)
    check_writable(path)  # before planning: a store that cannot be written is refused at once
    sets = weights_from_runs_items(sets, path, plants=[p.strip() for p in plants.split(",")],
                                   controllers=[c.strip() for c in controllers.split(",")])  # weights=run:ID
    the_plan = plan(plants, controllers, tasks, sets, seeds, dt, workroot=(path.parent / "runs").resolve(),
                    train=train)
    out(f"sweep: {the_plan.combinations} combination(s) x {len(seeds)} seed(s) = {len(the_plan.jobs)} runs"
        + (f", {len(the_plan.refused)} combination(s) refused" if the_plan.refused else ""))
    return execute_plan(the_plan, execution, path, out, err).exit_code
