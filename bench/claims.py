"""Claiming runs in a store, so that concurrent sweeps never run one (experiment, seed) twice.

A claimer (one sweep's coordinator, one ``bench run``) holds a token.
:meth:`Claims.claim` atomically (``BEGIN IMMEDIATE``) inserts a ``pending``
row for the run, or takes over an existing row: a failed one, an ok one when
re-running, a pending one whose claimer is gone.  It answers ``claimed``,
``done`` (a stored run: skip it) or ``busy`` (another live claimer runs it:
wait for it).  :meth:`Claims.complete` stores the result in the claimed row
(:meth:`bench.store.Store.complete`); leaving the ``with`` block releases
every claim not completed (a never completed pending row is removed), so an
interrupted sweep leaves nothing pending.  A training run writes its curve so
far into its claimed row as it goes (:meth:`Claims.progress`, status
``partial``); such a row is kept when the claim ends, and the next claimer
of the same experiment and seed takes it over (``previous == "partial"``)
and completes it in place.

A claim records the claimer's host, pid and time, refreshed by a heartbeat
thread every :data:`HEARTBEAT_S` seconds.  A claim is stale, and is taken
over, when its process is gone (same host: no such pid, or a zombie) or when
it was not refreshed for :data:`LEASE_S` seconds (a claimer on another host,
or a hung one).  A killed sweep's pending rows are therefore taken over by
the next sweep at once on the same host, after the lease elsewhere.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sqlite3
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .store import Store

#: A claim not refreshed for this long (seconds) is stale.
LEASE_S = 300.0
#: How often a live claimer refreshes its claims (seconds).
HEARTBEAT_S = 30.0


def alive(host: str | None, pid: int | None) -> bool:
    """False only when the claimer surely is gone: on this host, and no such process (or a zombie)."""
    if host != platform.node() or not pid or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child not yet reaped is a zombie
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclasses.dataclass(frozen=True)
class Claim:
    """The answer of :meth:`Claims.claim`.

    state : ``"claimed"`` (this claimer holds the run now), ``"done"`` (a
        stored run to keep: skip it) or ``"busy"`` (another live claimer holds it).
    previous : the row's status before (None: there was no row).
    """

    state: str
    experiment: str
    seed: int
    run_id: int | None = None
    previous: str | None = None
    owner: str = ""


def _claim(store: Store, row: Mapping[str, Any], token: str, rerun: bool, retry_failed: bool,
           lease: float) -> Claim:
    exp, seed = str(row["experiment"]), int(row["seed"])
    now, host, pid = time.time(), platform.node(), os.getpid()
    with store.transaction() as con:
        found = con.execute("SELECT id, status, claim, claim_host, claim_pid, claimed_at FROM runs "
                            "WHERE experiment = ? AND seed = ?", (exp, seed)).fetchone()
        if found is None:
            values = {"experiment": exp, "seed": seed, "plant": row["plant"], "controller": row["controller"],
                      "task": row["task"], "settings": json.dumps(row.get("settings") or {}, sort_keys=True),
                      "settings_hash": row["settings_hash"], "status": "pending", "started_at": "",
                      "code_version": row.get("code_version"), "suite": row.get("suite"), "host": host,
                      "provenance": json.dumps(row["provenance"], sort_keys=True) if row.get("provenance") else None,
                      "fingerprint": row.get("fingerprint"),
                      "claim": token, "claim_host": host, "claim_pid": pid, "claimed_at": now}
            cur = con.execute(f"INSERT INTO runs ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                              tuple(values.values()))
            return Claim("claimed", exp, seed, int(cur.lastrowid))
        run_id, status, holder, c_host, c_pid, c_at = found
        held = holder is not None and holder != token and alive(c_host, c_pid) and now - (c_at or 0) < lease
        if (status == "ok" and not rerun) or (status == "failed" and not retry_failed and not held):
            return Claim("done", exp, seed, run_id, status)
        if held:
            return Claim("busy", exp, seed, run_id, status, owner=f"{c_host} pid {c_pid}")
        con.execute("UPDATE runs SET claim = ?, claim_host = ?, claim_pid = ?, claimed_at = ? WHERE id = ?",
                    (token, host, pid, now, run_id))
        return Claim("claimed", exp, seed, run_id, status)


def release(store: Store, token: str, experiment: str | None = None, seed: int | None = None, *,
            timeout: float | None = None) -> None:
    """End ``token``'s claim on one run (or on all it holds): a never completed (pending) row is removed.

    ``timeout``: seconds to wait for the store's write lock (default the store's own).
    """
    where, args = "claim = ?", [token]
    if experiment is not None:
        where += " AND experiment = ? AND seed = ?"
        args += [experiment, seed]
    with store.transaction("the release of claims", timeout=timeout) as con:
        con.execute(f"DELETE FROM runs WHERE {where} AND status = 'pending'", args)
        con.execute(f"UPDATE runs SET claim = NULL, claim_host = NULL, claim_pid = NULL, claimed_at = NULL "
                    f"WHERE {where}", args)


def touch(store: Store, token: str) -> None:
    """Refresh the time of every claim ``token`` holds (a live claimer's heartbeat)."""
    with store.transaction() as con:
        con.execute("UPDATE runs SET claimed_at = ? WHERE claim = ?", (time.time(), token))


class Claims:
    """One claimer's claims on ``store``; use as a context manager (leaving it releases what is left)."""

    def __init__(self, store: Store, *, lease: float = LEASE_S, heartbeat: float = HEARTBEAT_S) -> None:
        self.store, self.lease, self.heartbeat = store, lease, heartbeat
        self.token = f"{platform.node()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.held: set[tuple[str, int]] = set()
        #: Why the last release failed (None: every release went through).
        self.release_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Claims:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def claim(self, row: Mapping[str, Any], *, rerun: bool = False, retry_failed: bool = True) -> Claim:
        """Claim the run of ``row`` (its experiment, seed, plant, controller, task, settings hash ...).

        An ``ok`` row is ``done`` unless ``rerun``; a ``failed`` one is claimed
        again (``done`` when not ``retry_failed``); one another live claimer
        holds is ``busy``; a stale claim is taken over.  A claimed existing
        row keeps its id and its old results until :meth:`complete`.
        """
        c = _claim(self.store, row, self.token, rerun, retry_failed, self.lease)
        if c.state == "claimed":
            self.held.add((c.experiment, c.seed))
            self._beat()
        return c

    def wait_claim(self, row: Mapping[str, Any], *, rerun: bool = False, poll: float = 0.5) -> Claim:
        """:meth:`claim`, waiting while another live claimer holds the run."""
        while True:
            c = self.claim(row, rerun=rerun)
            if c.state != "busy":
                return c
            time.sleep(poll)

    def complete(self, claim: Claim | None, result: Any, *, status: str = "ok", error: str | None = None) -> int:
        """Store ``result`` in the row of its experiment and seed (the claimed one) and end the claim."""
        run_id = self.store.complete(result, status=status, error=error, token=self.token)
        stored = (result.meta.get("experiment"), int(result.meta.get("seed", -1)))
        self.held.discard(stored)
        if claim is not None and (claim.experiment, claim.seed) != stored:
            self.release(claim)  # the run turned out to be another experiment (its code changed meanwhile)
        return run_id

    def progress(self, claim: Claim | None, result: Any) -> int | None:
        """Store ``result``, a training run's curve so far, in its claimed row (status ``partial``; the claim
        stays held); the row's id, or None when this claimer no longer holds it (see
        :meth:`bench.store.Store.partial`)."""
        if claim is None or (claim.experiment, claim.seed) not in self.held:
            return None
        return self.store.partial(result, self.token)

    def release(self, claim: Claim) -> None:
        """Give one claim up (its run was lost): a pending row is removed, an existing row keeps its results.

        Never raises for a store that cannot be written now (disk full, locked): the claim stays held and
        :meth:`close` tries again.
        """
        try:
            release(self.store, self.token, claim.experiment, claim.seed)
        except (OSError, sqlite3.Error) as exc:  # StoreError is an OSError
            self.release_error = str(exc)
            return
        self.held.discard((claim.experiment, claim.seed))

    def close(self, timeout: float | None = None) -> None:
        """Stop the heartbeat and release every claim not completed (waiting at most ``timeout`` s for the
        store's lock).

        Never raises: when the store cannot be written (disk full, locked),
        the claims stay pending under this process and are taken over at once
        by the next claimer on this host once this process is gone (after
        :data:`LEASE_S` from another host); :attr:`release_error` says why.
        """
        self._stop.set()
        if self.held:
            try:
                release(self.store, self.token, timeout=timeout)
            except (OSError, sqlite3.Error) as exc:
                self.release_error = str(exc)
                return
            self.held.clear()

    def _beat(self) -> None:
        if self._thread is not None or self.heartbeat <= 0:
            return

        def beat() -> None:
            while not self._stop.wait(self.heartbeat):
                if self.held:
                    try:
                        touch(self.store, self.token)
                    except Exception:  # a busy or vanished store: the next beat tries again
                        pass

        self._thread = threading.Thread(target=beat, name="bench-claims-heartbeat", daemon=True)
        self._thread.start()
