"""The work one sweep job does, what it sends back, and the faults an executor reports.

A training job (``TASK:train``) also sends partial results as it trains (its
curve so far, :func:`bench.session.train_run`): to the ``progress`` callable
:func:`execute` is given (the coordinator's own process), or to the
reporter a local worker process installs (:func:`set_reporter`: they go back
over its pipe).  A Dask worker has none: its training run is stored when it
ends.
"""

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
from ..session import build_all, train_first, train_run
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


#: Where this worker process sends a training job's partial results (:func:`set_reporter`); None: nowhere.
_reporter: Callable[[Any], None] | None = None


def set_reporter(reporter: Callable[[Any], None] | None) -> None:
    """Make ``reporter(result)`` receive the partial results of the training jobs this process runs."""
    global _reporter
    _reporter = reporter


def execute(job: Job, progress: Callable[[Any], None] | None = None,
            log: Callable[[str], None] | None = None) -> Outcome:
    """Build and run one job; never raises for a failing run (its error is returned).

    Runs inside a worker process (local pool or Dask); writes nothing but the
    run's own working directory (a training job: its checkpoints and weights
    in ``<workroot>/../train``).  A training job hands its partial results to
    ``progress`` (default: this process's reporter, :func:`set_reporter`) and
    its learner's lines to ``log``.
    """
    worker = f"{platform.node()}:{os.getpid()}"
    t0 = time.perf_counter()
    if job.training:
        try:
            result = train_run(job.resolve(), job.seed, train_dir=Path(job.workroot).parent / "train", fresh=job.fresh,
                               progress=progress or _reporter, log=log, suite=job.suite)
            result.meta["worker"] = worker
            return Outcome(job, result=result, worker=worker, seconds=time.perf_counter() - t0)
        except Exception as exc:
            return Outcome(job, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(),
                           worker=worker, seconds=time.perf_counter() - t0)
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
