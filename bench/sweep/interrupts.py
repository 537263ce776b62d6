"""Ctrl-C and SIGTERM while a sweep runs: the first stops it in order, the second quits at once (exit 130)."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from ..claims import Claims, release
from .progress import Progress


class Interrupts:
    """Ctrl-C and SIGTERM while a sweep runs (main thread only).

    The first raises :class:`KeyboardInterrupt` in the main thread: the sweep
    stops in order (completed runs kept, workers stopped, claims released).
    Any later one is seen at once by a thread watching the signal wakeup fd,
    whatever the main thread is doing (waiting on a locked store, joining a
    worker): it kills the workers, releases the claims if the store answers
    within half a second, and exits 130 without a traceback.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, pool: Any, progress: Progress) -> None:
        self.pool, self.progress = pool, progress
        self.claims: Claims | None = None
        self.active = threading.current_thread() is threading.main_thread()
        self._raised = False
        #: a Ctrl-C or SIGTERM came (the sweep loop also checks this, in case code swallowed the interrupt)
        self.requested = False

    def __enter__(self) -> Interrupts:
        if not self.active:
            return self
        self._r, self._w = os.pipe()
        os.set_blocking(self._w, False)
        self._old_fd = signal.set_wakeup_fd(self._w, warn_on_full_buffer=False)
        self._old = {sig: signal.signal(sig, self._handler) for sig in self.SIGNALS}
        threading.Thread(target=self._watch, name="bench-interrupts", daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self.active:
            return
        for sig, old in self._old.items():
            signal.signal(sig, old)
        signal.set_wakeup_fd(self._old_fd)
        try:
            os.write(self._w, b"\0")  # ends the watcher
        except OSError:
            pass
        os.close(self._w)

    def _handler(self, signum: int, frame: Any) -> None:
        self.requested = True
        if not self._raised:
            self._raised = True
            raise KeyboardInterrupt

    def _watch(self) -> None:
        seen = 0
        try:
            while True:
                data = os.read(self._r, 64)
                if not data or 0 in data:
                    return
                seen += sum(b in self.SIGNALS for b in data)
                if seen == 1:
                    self.progress.note("bench: stopping the sweep: completed runs are kept "
                                       "(Ctrl-C again to quit at once)")
                if seen >= 2:
                    self._now()
        finally:
            os.close(self._r)

    def _now(self) -> None:
        """The second Ctrl-C: no waiting for anything."""
        try:
            os.write(2, b"bench: interrupted again: quitting now; completed runs are kept, rerun the same "
                        b"command to complete the rest\n")
            self.pool.kill()
            if self.claims is not None:
                release(self.claims.store, self.claims.token, timeout=0.5)
        except BaseException:  # the store is busy: the next sweep takes the claims over (this pid is gone)
            pass
        finally:
            os._exit(130)
