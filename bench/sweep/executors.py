"""Where sweep jobs run: :func:`make_executor` picks one.

* ``local`` - one process per core (:class:`LocalPool`, started by the
  ``forkserver`` method: TensorFlow is not fork-safe), or in the coordinator's
  own process when ``jobs == 1`` (:class:`InProcess`);
* ``dask`` - a ``dask.distributed`` cluster (:class:`DaskPool`).

:func:`~.work.execute` (in :mod:`.work`) is what a worker runs: build and run one
:class:`~.planning.Job`, returning an :class:`~.work.Outcome` (never raising for a
failing run).  The local pool lives in :mod:`.localpool`, the Dask one in
:mod:`.daskpool`.

Faults, and what each executor does about them:

* A local worker that dies (killed, out of memory, a crash in native code)
  loses only the job it was running: its future fails with
  :class:`WorkerDied`, a new worker takes its place and every other job goes
  on.  Workers ignore Ctrl-C (the coordinator decides what stops) and die
  with the sweep, even a SIGKILLed one: ``PR_SET_PDEATHSIG`` on Linux, and a
  watchdog thread that checks the sweep's pid every
  :data:`WATCHDOG_S` seconds everywhere.
* Dask: before the client connects, :func:`handshake` checks, within
  ``BENCH_DASK_CONNECT_S`` seconds (default :data:`CONNECT_S`), that the
  address answers as a Dask scheduler, so an HTTP server or a socket that
  never answers is refused in one line instead of hanging.  While jobs are
  outstanding the coordinator calls :meth:`DaskPool.check` every second: a
  cluster without workers, or a scheduler that does not answer, for
  ``BENCH_DASK_NO_WORKERS_S`` seconds (default :data:`NO_WORKERS_S`) stops the
  sweep with an :class:`ExecutorFault` (exit 1, completed runs kept).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..errors import SweepError
from .daskpool import DaskPool, handshake
from .localpool import LocalPool
from .work import (
    CONNECT_S,
    NO_WORKERS_S,
    ExecutorFault,
    Outcome,
    WorkerDied,
    _bounded,
    connect_timeout,
    execute,
    no_workers_timeout,
)

EXECUTORS = ("local", "dask")

__all__ = [
    "CONNECT_S",
    "EXECUTORS",
    "NO_WORKERS_S",
    "DaskPool",
    "ExecutorFault",
    "InProcess",
    "LocalPool",
    "Outcome",
    "WorkerDied",
    "default_jobs",
    "execute",
    "make_executor",
]


def default_jobs() -> int:
    """Worker processes by default: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# -- the in-process "executor" ------------------------------------------------------
class InProcess:
    """No executor: the coordinator runs each job itself, one after the other (``jobs == 1``)."""

    slots = 1

    def check(self, say: Callable[[str], None] | None = None) -> None:
        """Nothing can go wrong outside the coordinator."""

    def close(self, now: bool = False) -> None:
        """Nothing to shut down."""

    def kill(self) -> None:
        """Nothing to kill."""


def make_executor(kind: str, jobs: int, scheduler: str | None, client: Any):
    """The executor for ``local`` (:class:`LocalPool` of ``jobs`` processes, :class:`InProcess` for one) or
    ``dask`` (:class:`DaskPool`); its ``slots`` say how many jobs it runs at once."""
    if kind == "local":
        if jobs <= 1:
            return InProcess()
        return LocalPool(jobs)
    if kind == "dask":
        try:
            from dask.distributed import Client
        except ImportError:
            raise SweepError("--executor dask needs dask.distributed; install ctrlbench[dist]") from None
        no_workers = no_workers_timeout()
        own = client is None
        if own:
            if not scheduler:
                raise SweepError("--executor dask needs --scheduler tcp://HOST:PORT")
            timeout = connect_timeout()
            handshake(scheduler, timeout)
            try:
                client = _bounded(lambda: Client(scheduler, timeout=timeout), timeout + 5.0)
            except (OSError, TimeoutError, ValueError) as exc:
                raise SweepError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
            if client is None:
                raise SweepError(f"cannot reach the Dask scheduler at {scheduler}: no answer within {timeout:g} s")
        address = scheduler or getattr(getattr(client, "scheduler", None), "address", None) or "?"
        return DaskPool(client, own, address, jobs, no_workers)
    raise SweepError(f"unknown executor {kind!r}; choose one of {', '.join(EXECUTORS)}")
