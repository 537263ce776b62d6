"""Local worker processes for a sweep: one job per worker at a time, a dead worker loses only its job.

Workers are started by the ``forkserver`` method (TensorFlow is not
fork-safe), ignore Ctrl-C (the coordinator decides what stops) and die with
the sweep, even a SIGKILLed one: ``PR_SET_PDEATHSIG`` on Linux, and a watchdog
thread that checks the sweep's pid every :data:`~.work.WATCHDOG_S` seconds.
"""

from __future__ import annotations

import atexit
import collections
import concurrent.futures as cf
import contextlib
import dataclasses
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .work import START_FAILURES, WATCHDOG_S, ExecutorFault, WorkerDied, set_reporter

_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """Make this worker process die when the sweep (pid ``parent``) does, however it ends."""
    if sys.platform.startswith("linux"):
        try:  # SIGKILL when our parent (the forkserver, which exits with the sweep) dies
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass

    from ..claims import alive

    def watchdog() -> None:
        while True:
            time.sleep(WATCHDOG_S)
            if not alive(platform.node(), parent):
                os._exit(1)

    if not alive(platform.node(), parent):  # the sweep died before the death signal was armed
        os._exit(1)
    threading.Thread(target=watchdog, name="bench-worker-watchdog", daemon=True).start()


def _worker_main(conn: Any, parent: int) -> None:
    """A local worker: run each ``(fn, arg)`` received, send back ``("ok", value)`` or ``("error", text)``;
    before that, any number of ``("progress", value)`` (a training job's partial results,
    :func:`~.work.set_reporter`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C reaches us too: the coordinator decides
    _die_with(parent)

    def report(value: Any) -> None:
        try:
            conn.send(("progress", value))
        except Exception:  # the sweep is gone, or the value cannot be sent: the run goes on
            pass

    set_reporter(report)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        except Exception as exc:  # a job this process cannot unpickle (a plugin missing here)
            try:
                conn.send(("error", f"cannot read the job: {type(exc).__name__}: {exc}"))
            except OSError:
                return
            continue
        if message is None:
            return
        fn, arg = message
        try:
            reply = ("ok", fn(arg))
        except BaseException as exc:  # execute() never raises for a run; anything else is the worker's
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except OSError:  # the sweep is gone
            return
        except Exception as exc:  # an unpicklable result
            try:
                conn.send(("error", f"cannot send the result back: {type(exc).__name__}: {exc}"))
            except OSError:
                return


@dataclasses.dataclass
class _Worker:
    process: Any
    conn: Any
    future: cf.Future | None = None
    started: float = 0.0


def _exit_status(code: int | None) -> str:
    if code is None:
        return "unknown exit"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class LocalPool:
    """``jobs`` worker processes, each running one job at a time; a dead worker loses only its own job.

    :meth:`submit` returns a :class:`concurrent.futures.Future`.  A manager
    thread hands queued jobs to idle workers and collects results; a worker
    that dies fails its job's future with :class:`WorkerDied` and is replaced.
    A job's progress messages go to :attr:`on_progress` ``(future, value)``
    (called in the manager thread), if set.
    """

    #: Receives ``(future, value)`` for each progress message of a running job (None: they are dropped).
    on_progress: Callable[[cf.Future, Any], None] | None = None

    def __init__(self, jobs: int) -> None:
        import multiprocessing

        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        self._ctx = multiprocessing.get_context(method)
        self.slots = jobs
        atexit.register(self.kill)  # before multiprocessing's own exit handler joins the workers
        self._parent = os.getpid()
        self._queue: collections.deque[tuple[cf.Future, Callable[[Any], Any], Any]] = collections.deque()
        self._workers: dict[int, _Worker] = {}
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._closing = False
        self._start_failures = 0
        self.fault: str | None = None
        for _ in range(jobs):
            self._spawn()
        self._thread = threading.Thread(target=self._manage, name="bench-local-pool", daemon=True)
        self._thread.start()

    # -- the coordinator's side ------------------------------------------------
    def submit(self, fn: Callable[[Any], Any], arg: Any) -> cf.Future:
        fut: cf.Future = cf.Future()
        with self._lock:
            if self._closing:
                raise RuntimeError("the pool is closed")
            self._queue.append((fut, fn, arg))
        self._wake()
        return fut

    def check(self, say: Callable[[str], None] | None = None) -> None:
        """Raise :class:`ExecutorFault` when workers keep dying before they finish any job."""
        if self.fault:
            raise ExecutorFault(self.fault)

    @property
    def pids(self) -> list[int]:
        """The worker processes' pids."""
        with self._lock:
            return list(self._workers)

    def kill(self) -> None:
        """SIGKILL every worker now (a second Ctrl-C, an exit without :meth:`close`); safe from any thread."""
        for pid in list(self._workers):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def close(self, now: bool = False) -> None:
        """Stop: queued jobs are cancelled; with ``now`` running ones too (their workers are terminated),
        else the workers finish their job and exit.  Returns when every worker is gone."""
        atexit.unregister(self.kill)
        with self._lock:
            self._closing = True
            queued = list(self._queue)
            self._queue.clear()
            workers = list(self._workers.values())
        for fut, _, _ in queued:
            fut.cancel()
        for w in workers:
            if now:
                with contextlib.suppress(OSError):
                    w.process.terminate()
            else:
                with contextlib.suppress(OSError, ValueError):
                    w.conn.send(None)
        self._wake()
        deadline = time.monotonic() + (2.0 if now else 30.0)
        for w in workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                with contextlib.suppress(OSError):
                    w.process.kill()
                w.process.join(2.0)
        self._thread.join(5.0)
        for w in workers:
            if w.future is not None and not w.future.done():
                w.future.cancel() or _settle(w.future, WorkerDied("stopped"))
            with contextlib.suppress(OSError):
                w.conn.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- the manager thread ----------------------------------------------------------
    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _spawn(self) -> None:
        parent_end, child_end = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(child_end, self._parent), name="bench-worker")
        process.start()
        child_end.close()
        self._workers[process.pid] = _Worker(process, parent_end)

    def _manage(self) -> None:
        from multiprocessing.connection import wait

        while True:
            with self._lock:
                if self._closing:
                    return
                idle = [w for w in self._workers.values() if w.future is None]
                while idle and self._queue:
                    fut, fn, arg = self._queue.popleft()
                    if not fut.set_running_or_notify_cancel():
                        continue
                    w = idle.pop()
                    w.future, w.started = fut, time.monotonic()
                    try:
                        w.conn.send((fn, arg))
                    except (OSError, ValueError):  # died meanwhile: found by its sentinel below
                        pass
                    except Exception as exc:  # the job cannot be pickled
                        w.future = None
                        fut.set_exception(exc)
                watched = {w.conn: w for w in self._workers.values()}
                sentinels = {w.process.sentinel: w for w in self._workers.values()}
            try:
                ready = wait([*watched, *sentinels, self._wake_r], timeout=1.0)
            except OSError:
                return  # closed under us
            for r in ready:
                if r == self._wake_r:
                    with contextlib.suppress(OSError):
                        os.read(self._wake_r, 4096)
                elif r in watched:
                    self._receive(watched[r])
            for r in ready:
                if r in sentinels:
                    self._buried(sentinels[r])

    def _receive(self, w: _Worker) -> None:
        try:
            kind, value = w.conn.recv()
        except (EOFError, OSError):
            return  # it died: its sentinel says so
        except Exception as exc:  # a result that cannot be unpickled here
            kind, value = "error", f"cannot read the result: {type(exc).__name__}: {exc}"
        if kind == "progress":  # the job goes on
            if w.future is not None and self.on_progress is not None:
                with contextlib.suppress(Exception):
                    self.on_progress(w.future, value)
            return
        fut, w.future = w.future, None
        self._start_failures = 0
        if fut is None:
            return
        if kind == "ok":
            _settle(fut, result=value)
        else:
            _settle(fut, RuntimeError(f"worker pid {w.process.pid}: {value}"))

    def _buried(self, w: _Worker) -> None:
        """A worker process ended: fail its job (if any) and start another in its place."""
        if w.conn.poll(0):  # it sent its result just before dying
            self._receive(w)
        w.process.join(1.0)
        status = _exit_status(w.process.exitcode)
        with self._lock:
            self._workers.pop(w.process.pid, None)
            closing = self._closing  # workers that close() stops are not failures
        with contextlib.suppress(OSError):
            w.conn.close()
        if w.future is not None:
            _settle(w.future, WorkerDied(f"worker pid {w.process.pid} died ({status}) while running this job"))
            w.future = None
        elif not closing:
            self._start_failures += 1
        if self._start_failures >= START_FAILURES:
            self.fault = (f"local worker processes die before finishing any job ({self._start_failures} in a row, "
                          f"last {status}); see the system log (out of memory?)")
            return
        with self._lock:
            if self._closing:
                return
            try:
                self._spawn()
            except Exception as exc:  # no more processes, no memory
                self.fault = f"cannot start a local worker process: {type(exc).__name__}: {exc}"


def _settle(fut: cf.Future, exc: BaseException | None = None, result: Any = None) -> None:
    with contextlib.suppress(cf.InvalidStateError):
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)
