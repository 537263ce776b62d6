"""The work one sweep job does, what it sends back, and the faults an executor reports."""

from __future__ import annotations

import dataclasses
import os
import platform
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import SweepError
from ..limits import env_number
from ..npzfile import recording
from ..provenance import add_reads
from ..runner import run, run_name
from ..session import build_all, train_first
from .planning import Job

#: Default of ``BENCH_DASK_CONNECT_S``: seconds to connect to a Dask scheduler and hear it answer.
CONNECT_S = 10.0
#: Default of ``BENCH_DASK_NO_WORKERS_S``: seconds a sweep with outstanding jobs waits for a Dask cluster
#: that has no workers (or a scheduler that does not answer) before it stops.
NO_WORKERS_S = 60.0
#: Seconds between two looks of a local worker's watchdog at the sweep's process.
WATCHDOG_S = 1.0
#: A local worker that dies before finishing any job this many times in a row stops the sweep.
START_FAILURES = 3


class ExecutorFault(Exception):
    """The executor cannot go on (no Dask workers, scheduler gone, workers that die at start): the sweep
    stops, keeping its completed runs (exit 1)."""


class WorkerDied(Exception):
    """The worker process running a job died before returning it: that job is lost (not failed)."""


@dataclasses.dataclass
class Outcome:
    """What a worker sends back: the result, or the error of a run that raised."""

    job: Job
    result: Any = None
    error: str | None = None
    traceback: str | None = None
    worker: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def execute(job: Job) -> Outcome:
    """Build and run one job; never raises for a failing run (its error is returned).

    Runs inside a worker process (local pool or Dask); writes nothing but the
    run's own working directory.
    """
    worker = f"{platform.node()}:{os.getpid()}"
    t0 = time.perf_counter()
    workdir = Path(job.workroot) / run_name(job.plant, job.controller, job.task, job.settings_hash, job.seed)
    try:
        resolved = job.resolve()
        plant, controller, task = build_all(resolved)
        train_first(resolved, plant, controller, task, seed=job.seed, train_dir=Path(job.workroot).parent / "train")
        workdir.mkdir(parents=True, exist_ok=True)
        with recording() as reads:
            result = run(plant, controller, task, seed=job.seed, workdir=workdir, suite=job.suite)
        add_reads(result.meta.setdefault("provenance", {}), reads)
        result.meta["worker"] = worker
        return Outcome(job, result=result, worker=worker, seconds=time.perf_counter() - t0)
    except Exception as exc:
        return Outcome(job, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(),
                       worker=worker, seconds=time.perf_counter() - t0)
    finally:
        try:
            workdir.rmdir()  # only when the run wrote nothing there
        except OSError:
            pass


def connect_timeout() -> float:
    """``BENCH_DASK_CONNECT_S`` (default :data:`CONNECT_S`)."""
    return env_number("BENCH_DASK_CONNECT_S", CONNECT_S, unit="seconds", error=SweepError)


def no_workers_timeout() -> float:
    """``BENCH_DASK_NO_WORKERS_S`` (default :data:`NO_WORKERS_S`)."""
    return env_number("BENCH_DASK_NO_WORKERS_S", NO_WORKERS_S, unit="seconds", error=SweepError)


def _bounded(fn: Callable[[], Any], seconds: float) -> Any:
    """``fn()`` in a daemon thread, given up after ``seconds`` (returns None then; re-raises its error)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    t = threading.Thread(target=target, name="bench-bounded", daemon=True)
    t.start()
    t.join(seconds)
    if "error" in box:
        raise box["error"]
    return box.get("value")
