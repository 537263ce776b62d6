"""Sweep jobs on a Dask cluster: a bounded handshake first, then a watch for a cluster without workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import SchedulerFault, SweepError
from .work import ExecutorFault, _bounded


def _listening(address: str, timeout: float) -> None:
    """Refuse at once (exit 2, bad input) an address where nothing accepts connections; Dask's own
    ``connect`` retries a refused connection until its timeout, which would read as a silent peer."""
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(address if "://" in address else f"tcp://{address}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return  # the address check of the command reports malformed addresses
    if not host or port is None:
        return
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except TimeoutError:
        return  # the handshake below reports a peer that does not answer
    except OSError as exc:
        raise SweepError(f"cannot reach the Dask scheduler at {address}: nothing accepts connections there "
                         f"({exc.strerror or exc})") from None


def handshake(address: str, timeout: float) -> dict[str, Any]:
    """The identity of the Dask scheduler at ``address``, within ``timeout`` seconds; a :class:`SweepError`
    when nothing listens there, the peer never answers, or it answers but is not a Dask scheduler."""
    try:
        from distributed.comm import connect
    except ImportError:
        raise SweepError("--executor dask needs dask.distributed; install ctrlbench[dist]") from None

    _listening(address, timeout)

    async def ask() -> Any:
        from distributed.security import Security

        comm = await connect(address, timeout=timeout, **Security().get_connection_args("client"))
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    def run() -> Any:
        return asyncio.run(asyncio.wait_for(ask(), timeout))

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["identity"] = run()
        except BaseException as exc:  # reported below
            box["error"] = exc

    t = threading.Thread(target=target, name="bench-dask-handshake", daemon=True)
    t.start()
    t.join(timeout + 2.0)
    where = f"the Dask scheduler at {address}"
    if "identity" not in box:
        exc = box.get("error")
        if exc is None or isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
            raise SchedulerFault(f"cannot reach {where}: no Dask handshake within {timeout:g} s (is it a Dask "
                             f"scheduler? BENCH_DASK_CONNECT_S sets the wait)")
        if isinstance(exc, (OSError, ValueError)) and not isinstance(exc, MemoryError):
            raise SweepError(f"cannot reach {where}: {exc}")
        raise SchedulerFault(f"cannot reach {where}: the peer does not speak the Dask protocol "
                         f"({type(exc).__name__})")
    identity = box["identity"]
    if not isinstance(identity, dict) or identity.get("type") != "Scheduler":
        raise SchedulerFault(f"cannot reach {where}: the peer answers, but not as a Dask scheduler")
    return identity


class DaskPool:
    """Jobs on a Dask cluster; :meth:`check` stops a sweep whose cluster has no workers or whose scheduler
    does not answer for ``no_workers_s`` seconds."""

    def __init__(self, client: Any, own: bool, address: str, jobs: int, no_workers_s: float) -> None:
        self.client, self.own, self.address = client, own, address
        self.ex = client.get_executor(pure=False)
        self.no_workers_s = no_workers_s
        self._since: float | None = None  # since when the cluster has no workers (or no answer)
        self._last = 0.0
        self._said = False
        self._log_level: int | None = None
        try:
            self.slots = max(1, sum(_bounded(lambda: client.nthreads(), 10.0).values()))
        except Exception:  # a scheduler that cannot say: as many as asked for
            self.slots = max(1, jobs)

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        return self.ex.submit(fn, arg)

    def check(self, say: Callable[[str], None] | None = None) -> None:
        """Raise :class:`ExecutorFault` after ``no_workers_s`` seconds without a worker or an answer."""
        now = time.monotonic()
        if now - self._last < 1.0:
            return
        self._last = now
        status = getattr(self.client, "status", "running")
        try:
            workers = _bounded(lambda: len(self.client.nthreads()), 5.0) if status == "running" else None
        except Exception:
            workers = None
        if workers:
            if self._said and say is not None:
                say(f"bench: the Dask cluster has {workers} worker(s) again")
            self._since, self._said = None, False
            return
        if self._since is None:
            self._since = now
        waited = now - self._since
        why = (f"the Dask cluster at {self.address} has no workers" if workers == 0
               else f"the Dask scheduler at {self.address} does not answer ({status})")
        if workers is None and self.own and self._log_level is None:
            # this line says it; the client's own reconnection tracebacks would only bury it
            log = logging.getLogger("distributed.client")
            self._log_level = log.level
            log.setLevel(logging.CRITICAL)
        if not self._said and say is not None:
            say(f"bench: {why}: waiting up to {self.no_workers_s:g} s for one (BENCH_DASK_NO_WORKERS_S)")
            self._said = True
        if waited >= self.no_workers_s:
            raise ExecutorFault(f"{why} for {self.no_workers_s:g} s (BENCH_DASK_NO_WORKERS_S sets the wait)")

    def kill(self) -> None:
        """Nothing to kill here: the scheduler drops this client's jobs when it disconnects."""

    def close(self, now: bool = False) -> None:
        """Cancel what is outstanding and close the client (each step bounded: a lost scheduler never hangs it)."""
        with contextlib.suppress(Exception):
            _bounded(lambda: self.ex.shutdown(wait=False), 5.0)
        if self.own:
            with contextlib.suppress(Exception):
                _bounded(lambda: self.client.close(timeout=5), 10.0)
        if self._log_level is not None:
            logging.getLogger("distributed.client").setLevel(self._log_level)
