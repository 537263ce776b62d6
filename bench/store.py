"""The results store: SQLite through the standard library.

One row per run in ``runs`` and one per metric in ``metrics``, plus tidy
per-step tables (``frames``, compressed: see :func:`encode_frame`) and file
``artifacts``.  The store itself
keeps exactly one row per (experiment, seed): ``UNIQUE (experiment, seed)``,
``experiment`` being :func:`bench.provenance.experiment_key`.  A run is
written in one transaction that replaces the row of its experiment and seed,
so a crash never leaves a half-written run.  Rows of status ``pending`` are
runs claimed but not yet completed (:mod:`bench.claims`); rows of status
``partial`` are training runs (``bench train``) that hold their learning
curve so far: written as the training goes (:meth:`Store.partial`), kept when
it is stopped, completed in place (same id) when the same command resumes
it.  Reports, ``compare`` and ``history`` read ``ok`` runs only.

Creating a store is safe under concurrency (the tables are made under the
write lock).  The schema is versioned in ``meta``: a store of schema 1 or 2 is
read as it is (a schema-1 run gets the experiment ``v1:<id>``, matching no new
run; frames of schemas 1 and 2 are JSON) and migrated in place, in one
transaction, on its first write (schema 3 adds the ``encoding`` of each frame;
the frames stored before keep theirs, ``json``, and stay readable; schema 4
allows the status ``partial``).  A file that is
not a ctrlbench store, or one from a newer schema, is refused and never
written to.

Writing can fail for reasons outside ctrlbench; each is named, never shown as
a bare SQLite message.  :func:`check_writable` (``Store.open_writable``), which
``bench run``, ``sweep``, ``ci`` and ``train`` call before anything runs, refuses
(:class:`~bench.errors.StoreError`, exit 2) a store in a folder that does not
exist (only the default ``.bench/`` is created), a folder or file that cannot
be written (permissions, a read-only file system), a file system with less
than ``BENCH_STORE_MIN_FREE_MB`` (default :data:`MIN_FREE_MB`) free, and a
store that another process keeps locked for ``BENCH_STORE_LOCK_WAIT_S``
(default :data:`LOCK_WAIT_S`) seconds (naming its pid).  A write that fails
later (the disk fills in the middle of a sweep) raises a ``StoreError`` that
says so ("disk full (no space left on device) writing ..."); the transaction
is rolled back, so every run stored before stays whole.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import StoreError
from .frames import decode_frame, encode_frame
from .storecheck import (
    _OUTSIDE,
    DEFAULT_DB,
    SQLITE_MAGIC,
    _code,
    _write_error,
    check_writable,
)

if TYPE_CHECKING:
    import pandas as pd

    from .api import Result

APP = "ctrlbench"
SCHEMA_VERSION = 4
#: Seconds a write waits for another process's write to end (concurrent sweeps share a store).
BUSY_TIMEOUT_S = 60.0

_RUNS = """CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    experiment TEXT NOT NULL,
    plant TEXT NOT NULL, controller TEXT NOT NULL, task TEXT NOT NULL, seed INTEGER NOT NULL,
    settings TEXT NOT NULL, settings_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'ok', 'failed', 'partial')),
    error TEXT, started_at TEXT NOT NULL, wall_s REAL, cpu_s REAL, code_version TEXT, git_commit TEXT,
    versions TEXT, host TEXT, suite TEXT, log_path TEXT, provenance TEXT, fingerprint TEXT,
    claim TEXT, claim_host TEXT, claim_pid INTEGER, claimed_at REAL,
    UNIQUE (experiment, seed))"""
_INDEX = "CREATE INDEX IF NOT EXISTS runs_key ON runs (plant, controller, task, settings_hash, seed)"
_INIT = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    _RUNS.format(name="runs"), _INDEX,
    """CREATE TABLE IF NOT EXISTS metrics (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE, name TEXT NOT NULL, value REAL,
    unit TEXT NOT NULL DEFAULT '', better TEXT NOT NULL DEFAULT '', PRIMARY KEY (run_id, name))""",
    """CREATE TABLE IF NOT EXISTS frames (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE, name TEXT NOT NULL, data BLOB NOT NULL,
    encoding TEXT NOT NULL DEFAULT 'json', PRIMARY KEY (run_id, name))""",
    """CREATE TABLE IF NOT EXISTS artifacts (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE, name TEXT NOT NULL, path TEXT NOT NULL,
    PRIMARY KEY (run_id, name))""",
]
_V1_COLUMNS = ("id", "plant", "controller", "task", "seed", "settings", "settings_hash", "status", "error",
               "started_at", "wall_s", "cpu_s", "code_version", "git_commit", "versions", "host", "suite", "log_path")
#: Every column of runs from schema 2 on (3 → 4 rebuilds the table: its status may then be 'partial').
_V4_COLUMNS = ("id", "experiment", *_V1_COLUMNS[1:], "provenance", "fingerprint", "claim", "claim_host", "claim_pid",
               "claimed_at")
#: Statements that take schema N to N + 1 (one transaction, foreign keys off).  1 → 2: runs is rebuilt with the
#: experiment key and its unique constraint; a schema-1 run's experiment is 'v1:<id>' (it matches no new run).
#: 2 → 3: each frame names its encoding; those stored before are 'json' (no frame is rewritten).  3 → 4: runs is
#: rebuilt, the same rows, so that its status may be 'partial' (a training run's curve so far).
_MIGRATIONS = {1: [
    _RUNS.format(name="runs_v2"),
    f"INSERT INTO runs_v2 (experiment, {', '.join(_V1_COLUMNS)}) "
    f"SELECT 'v1:' || id, {', '.join(_V1_COLUMNS)} FROM runs",
    "DROP TABLE runs",
    "ALTER TABLE runs_v2 RENAME TO runs",
    _INDEX,
], 2: [
    "ALTER TABLE frames ADD COLUMN encoding TEXT NOT NULL DEFAULT 'json'",
], 3: [
    _RUNS.format(name="runs_v4"),
    f"INSERT INTO runs_v4 ({', '.join(_V4_COLUMNS)}) SELECT {', '.join(_V4_COLUMNS)} FROM runs",
    "DROP TABLE runs",
    "ALTER TABLE runs_v4 RENAME TO runs",
    _INDEX,
]}
RUN_COLUMNS = ("id", "experiment", *_V1_COLUMNS[1:], "provenance", "fingerprint")


def _read_columns(version: int, prefix: str = "") -> list[str]:
    """SELECT expressions of :data:`RUN_COLUMNS` for a store of schema ``version`` (schema 1: stand-ins)."""
    if version >= 2:
        return [prefix + c for c in RUN_COLUMNS]
    stand_in = {"experiment": f"'v1:' || {prefix}id AS experiment", "provenance": "NULL AS provenance",
                "fingerprint": "NULL AS fingerprint"}
    return [stand_in.get(c, prefix + c) for c in RUN_COLUMNS]


def _finite_or_none(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


#: Run ids per ``IN (...)`` query (SQLite allows 32766 parameters).
_ID_CHUNK = 10_000


class Store:
    """A ctrlbench results file.  ``Store(path)`` creates it when absent (safely, even concurrently)."""

    def __init__(self, path: str | os.PathLike = DEFAULT_DB) -> None:
        self.path = Path(path)
        self.timeout = BUSY_TIMEOUT_S
        self.version = self._open_store()

    @classmethod
    def open_writable(cls, path: str | os.PathLike = DEFAULT_DB) -> Store:
        """The store at ``path`` after :func:`check_writable` (what a command that writes opens first)."""
        check_writable(path)
        return cls(path)

    # -- opening -----------------------------------------------------------
    def _connect(self, timeout: float | None = None) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=self.timeout if timeout is None else timeout,
                              isolation_level=None)
        con.execute("PRAGMA foreign_keys = ON")
        return con

    @contextmanager
    def _tx(self, mode: str = "", what: str = "", timeout: float | None = None) -> Iterator[sqlite3.Connection]:
        """One transaction; a write one (``mode`` IMMEDIATE) that fails for an outside reason (disk full,
        read-only, locked) raises a :class:`StoreError` naming it, after the rollback."""
        try:
            con = self._connect(timeout)
        except sqlite3.Error as exc:
            raise _write_error(exc, self.path, what or "opening the store", timeout or self.timeout) from None
        try:
            con.execute(f"BEGIN {mode}")
            yield con
            con.execute("COMMIT")
        except BaseException as exc:
            if con.in_transaction:
                try:
                    con.execute("ROLLBACK")
                except sqlite3.Error:  # SQLite may have rolled back already (a full disk): the cause matters
                    pass
            if mode and isinstance(exc, sqlite3.OperationalError):
                raise _write_error(exc, self.path, what, self.timeout if timeout is None else timeout) from None
            raise
        finally:
            con.close()

    def _open(self) -> Any:
        """A read transaction (one consistent snapshot)."""
        return self._tx()

    def _meta(self, con: sqlite3.Connection) -> int:
        p = self.path
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables:
            raise StoreError(f"--db {p}: an SQLite file of another application "
                             f"(tables: {', '.join(sorted(tables))}); refusing to touch it")
        meta = dict(con.execute("SELECT key, value FROM meta"))
        if meta.get("app") != APP:
            raise StoreError(f"--db {p}: an SQLite file of another application; refusing to touch it")
        version = int(meta.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            raise StoreError(f"--db {p}: written by a newer ctrlbench (schema {version}, "
                             f"this one reads up to {SCHEMA_VERSION}); upgrade ctrlbench")
        if version not in (*_MIGRATIONS, SCHEMA_VERSION):
            raise StoreError(f"--db {p}: schema {version} is older than {SCHEMA_VERSION} and has no migration")
        return version

    def _open_store(self) -> int:
        p = self.path
        if p.is_dir():
            raise StoreError(f"--db {p}: is a directory, not a results file")
        try:
            if p.exists() and p.stat().st_size > 0:
                with open(p, "rb") as fh:
                    if fh.read(16) != SQLITE_MAGIC:
                        raise StoreError(f"--db {p}: not a ctrlbench results store (not an SQLite file); "
                                         "refusing to touch it")
                with self._open() as con:
                    empty = con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
                    if not empty:
                        return self._meta(con)
            else:
                p.parent.mkdir(parents=True, exist_ok=True)
            # new (or empty): create under the write lock; a concurrent creator's tables are found, not re-made
            with self._tx("IMMEDIATE") as con:
                if con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                    for statement in _INIT:
                        con.execute(statement)
                    con.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)",
                                    [("app", APP), ("schema_version", str(SCHEMA_VERSION))])
                return self._meta(con)
        except OSError as exc:
            raise StoreError(f"--db {p}: cannot open results store: {exc.strerror or exc}") from None
        except sqlite3.OperationalError as exc:  # locked, read-only, disk full: not the file's fault
            if _code(exc) in _OUTSIDE:
                raise _write_error(exc, p, "opening the store", self.timeout) from None
            raise StoreError(f"--db {p}: unreadable SQLite file ({exc}); refusing to touch it") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"--db {p}: unreadable SQLite file ({exc}); refusing to touch it") from None

    def _upgrade(self) -> None:
        """Migrate an older schema in place, in one transaction (the first write does it)."""
        if self.version == SCHEMA_VERSION:
            return
        con = self._connect()
        try:
            con.execute("PRAGMA foreign_keys = OFF")  # rebuilding runs must not cascade into metrics
            con.execute("BEGIN IMMEDIATE")
            version = self._meta(con)
            while version < SCHEMA_VERSION:
                for statement in _MIGRATIONS[version]:
                    con.execute(statement)
                version += 1
            if con.execute("PRAGMA foreign_key_check").fetchall():
                raise StoreError(f"--db {self.path}: migration would break references; left unchanged")
            con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            con.execute("COMMIT")
        except BaseException as exc:
            if con.in_transaction:
                try:
                    con.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            if isinstance(exc, sqlite3.OperationalError):
                raise _write_error(exc, self.path, "the schema migration", self.timeout) from None
            raise
        finally:
            con.close()
        self.version = SCHEMA_VERSION

    @contextmanager
    def transaction(self, what: str = "", timeout: float | None = None) -> Iterator[sqlite3.Connection]:
        """One atomic write transaction: committed on success, rolled back on any error.

        ``what`` names the write in the error of a failure from outside (disk
        full, read-only, locked for more than ``timeout`` seconds: a
        :class:`StoreError`).
        """
        self._upgrade()
        with self._tx("IMMEDIATE", what, timeout) as con:
            yield con

    # -- writing -----------------------------------------------------------
    @staticmethod
    def _row(result: Result, status: str, error: str | None) -> dict[str, Any]:
        m = result.meta
        prov = m.get("provenance") or {}
        experiment = m.get("experiment")
        if not experiment:
            from .provenance import experiment_key

            experiment = experiment_key(m["plant"], m["controller"], m["task"], m["settings_hash"],
                                        m.get("code_version"), prov)
        return {
            "experiment": experiment, "plant": m["plant"], "controller": m["controller"], "task": m["task"],
            "seed": int(m["seed"]), "settings": json.dumps(m.get("settings", {}), sort_keys=True),
            "settings_hash": m["settings_hash"], "status": status, "error": error,
            "started_at": m.get("started_at", ""), "wall_s": m.get("wall_s"), "cpu_s": m.get("cpu_s"),
            "code_version": m.get("code_version"), "git_commit": m.get("git_commit"),
            "versions": json.dumps(m.get("versions", {}), sort_keys=True), "host": m.get("host"),
            "suite": m.get("suite"), "log_path": m.get("log_path"),
            "provenance": json.dumps(prov, sort_keys=True, default=str) if prov else None,
            "fingerprint": m.get("fingerprint"),
        }

    def save(self, result: Result, *, status: str = "ok", error: str | None = None) -> int:
        """Write one run atomically (replacing the stored row of its experiment and seed); returns its id."""
        return self.complete(result, status=status, error=error)

    def complete(self, result: Result, *, status: str = "ok", error: str | None = None,
                 token: str | None = None) -> int:
        """Store ``result`` as the one row of its (experiment, seed), with its metrics, frames and
        artifacts, in one transaction; the claim ``token`` held on that row (:mod:`bench.claims`) ends.

        A completed training run (status ``ok``) also removes the unclaimed ``partial`` rows of the same
        plant, controller, task, settings and seed: a stopped training resumed after the code changed (so
        under another experiment key) leaves one row, the completed one (its curve holds the resumed one's).
        """
        row = self._row(result, status, error)
        with self.transaction(f"run {row['plant']} {row['controller']} {row['task']} seed {row['seed']}") as con:
            found = con.execute("SELECT id FROM runs WHERE experiment = ? AND seed = ?",
                                (row["experiment"], row["seed"])).fetchone()
            if found is None:
                cur = con.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                                  tuple(row.values()))
                run_id = int(cur.lastrowid)
            else:
                run_id = int(found[0])
                con.execute(f"UPDATE runs SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?",
                            (*row.values(), run_id))
                for table in ("metrics", "frames", "artifacts"):
                    con.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            if token is not None:
                con.execute("UPDATE runs SET claim = NULL, claim_host = NULL, claim_pid = NULL, claimed_at = NULL "
                            "WHERE id = ? AND claim = ?", (run_id, token))
            if status == "ok" and self.version >= 4:
                con.execute("DELETE FROM runs WHERE status = 'partial' AND claim IS NULL AND id != ? AND plant = ? "
                            "AND controller = ? AND task = ? AND settings_hash = ? AND seed = ?",
                            (run_id, row["plant"], row["controller"], row["task"], row["settings_hash"], row["seed"]))
            _write_parts(con, run_id, result)
        result.run_id = run_id
        return run_id

    def partial(self, result: Result, token: str) -> int | None:
        """Store ``result``, a training run's curve so far, as status ``partial`` in the row of its experiment
        and seed, only while the claim ``token`` holds that row (the claim stays); its id, or None when the
        row is not held by ``token`` (completed meanwhile, taken over, or another experiment)."""
        row = self._row(result, "partial", None)
        with self.transaction(f"the progress of run {row['plant']} {row['controller']} {row['task']} "
                              f"seed {row['seed']}") as con:
            found = con.execute("SELECT id FROM runs WHERE experiment = ? AND seed = ? AND claim = ?",
                                (row["experiment"], row["seed"], token)).fetchone()
            if found is None:
                return None
            run_id = int(found[0])
            con.execute(f"UPDATE runs SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?", (*row.values(), run_id))
            for table in ("metrics", "frames", "artifacts"):
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            _write_parts(con, run_id, result)
        return run_id

    # -- reading -----------------------------------------------------------
    def _columns(self, prefix: str = "") -> str:
        return ", ".join(_read_columns(self.version, prefix))

    def lookup(self, experiment: str, seed: int) -> dict[str, Any] | None:
        """``{"id", "status", "claimed"}`` of the stored run of ``experiment`` and ``seed``, or None."""
        if self.version < 2:
            return None  # a schema-1 run has an experiment of its own ('v1:<id>')
        with self._open() as con:
            row = con.execute("SELECT id, status, claim FROM runs WHERE experiment = ? AND seed = ?",
                              (experiment, int(seed))).fetchone()
        return None if row is None else {"id": row[0], "status": row[1], "claimed": row[2] is not None}

    def run(self, run_id: int) -> dict[str, Any]:
        """One run's row (provenance parsed), metrics (with unit and direction), artifacts and frame names."""
        with self._open() as con:
            row = con.execute(f"SELECT {self._columns()} FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                last = con.execute("SELECT max(id) FROM runs").fetchone()[0]
                raise StoreError(f"no run {run_id} in {self.path} (runs go up to {last})" if last
                                 else f"no run {run_id} in {self.path}: it holds no runs")
            out = dict(zip(RUN_COLUMNS, row))
            out["settings"] = json.loads(out["settings"])
            out["versions"] = json.loads(out["versions"] or "{}")
            out["provenance"] = json.loads(out["provenance"] or "{}")
            out["metrics"] = {n: {"value": math.nan if v is None else v, "unit": u, "better": b}
                              for n, v, u, b in con.execute(
                                  "SELECT name, value, unit, better FROM metrics WHERE run_id = ? ORDER BY rowid",
                                  (run_id,))}
            out["artifacts"] = dict(con.execute("SELECT name, path FROM artifacts WHERE run_id = ?", (run_id,)))
            out["frames"] = [r[0] for r in con.execute("SELECT name FROM frames WHERE run_id = ?", (run_id,))]
            out["claim"] = None
            if self.version >= 2:
                c = con.execute("SELECT claim_host, claim_pid, claimed_at FROM runs WHERE id = ? AND claim IS NOT "
                                "NULL", (run_id,)).fetchone()
                out["claim"] = dict(zip(("host", "pid", "at"), c)) if c else None
        return out

    def frame(self, run_id: int, name: str) -> pd.DataFrame:
        """A stored per-step table."""
        encoding = "encoding" if self.version >= 3 else "'json'"
        with self._open() as con:
            row = con.execute(f"SELECT data, {encoding} FROM frames WHERE run_id = ? AND name = ?",
                              (run_id, name)).fetchone()
        if row is None:
            raise StoreError(f"run {run_id} has no frame {name!r}")
        return decode_frame(row[0], row[1])

    def frame_names(self, run_ids: Iterable[int] | None = None) -> dict[int, list[str]]:
        """run id → the names of the frames it stored (every run, or those of ``run_ids``), in one query per
        :data:`_ID_CHUNK` ids, without reading a frame."""
        out: dict[int, list[str]] = {}
        with self._open() as con:
            if run_ids is None:
                rows: Iterable[tuple[int, str]] = con.execute("SELECT run_id, name FROM frames ORDER BY run_id, rowid")
                for run_id, name in rows:
                    out.setdefault(int(run_id), []).append(name)
                return out
            ids = sorted({int(i) for i in run_ids})
            for start in range(0, len(ids), _ID_CHUNK):
                chunk = ids[start:start + _ID_CHUNK]
                for run_id, name in con.execute(f"SELECT run_id, name FROM frames WHERE run_id IN "
                                                f"({', '.join('?' * len(chunk))}) ORDER BY run_id, rowid", chunk):
                    out.setdefault(int(run_id), []).append(name)
        return out

    def runs(self, where: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run rows (without metrics; provenance as JSON text), optionally filtered by column equality."""
        clause, args = _where(where, version=self.version)
        with self._open() as con:
            rows = con.execute(f"SELECT {self._columns()} FROM runs {clause} ORDER BY id", args).fetchall()
        return [dict(zip(RUN_COLUMNS, r)) for r in rows]

    def count(self) -> int:
        """Stored runs (ok or failed; not the pending ones, still running, nor partial trainings)."""
        with self._open() as con:
            return int(con.execute("SELECT count(*) FROM runs WHERE status IN ('ok', 'failed')").fetchone()[0])

    def dataframe(self, where: Mapping[str, Any] | None = None, include_failed: bool = False) -> pd.DataFrame:
        """Tidy table: one row per run × metric (see :func:`bench.reports.load`); pending runs never appear."""
        import numpy as np
        import pandas as pd

        clause, args = _where(where, prefix="r.", version=self.version)
        states = "('ok', 'failed')" if include_failed else "('ok')"
        clause = (clause + " AND " if clause else "WHERE ") + f"r.status IN {states}"
        exp, fp = _read_columns(self.version, "r.")[1], _read_columns(self.version, "r.")[-1]
        run_sql = ("SELECT r.id, r.plant, r.controller, r.task, r.seed, r.settings_hash, r.settings, r.git_commit, "
                   f"r.code_version, r.suite, r.started_at, r.wall_s, r.cpu_s, r.status, {exp}, {fp} "
                   f"FROM runs r {clause} ORDER BY r.id")
        metric_sql = (f"SELECT m.run_id, m.name, m.value, m.unit, m.better FROM runs r JOIN metrics m "
                      f"ON m.run_id = r.id {clause} ORDER BY r.id, m.rowid")
        # Each run's columns are read once (not once per metric) and every repeated text is one Python object
        # (the settings JSON of 10 000 runs × 10 metrics would otherwise be 100 000 copies)
        shared: dict[Any, Any] = {}
        one = shared.setdefault
        with self._open() as con:
            runs = [tuple(one(v, v) if isinstance(v, str) else v for v in row) for row in con.execute(run_sql, args)]
            ids: list[int] = []
            metric: list[str] = []
            value: list[float] = []
            unit: list[str] = []
            better: list[str] = []
            cur = con.execute(metric_sql, args)
            while chunk := cur.fetchmany(65536):
                for run_id, name, v, u, b in chunk:
                    ids.append(run_id)
                    metric.append(one(name, name))
                    value.append(math.nan if v is None else v)
                    unit.append(one(u, u))
                    better.append(one(b, b))
        columns = ["run_id", "plant", "controller", "task", "seed", "settings_hash", "settings", "commit",
                   "code_version", "suite", "started_at", "wall_s", "cpu_s", "status", "experiment", "fingerprint"]
        per_run = np.empty((len(runs), len(columns)), dtype=object)
        per_run[:] = runs if runs else per_run
        pos = np.searchsorted(np.asarray([r[0] for r in runs], dtype=np.int64), np.asarray(ids, dtype=np.int64))
        data: dict[str, Any] = {c: per_run[pos, i] for i, c in enumerate(columns)}
        data.update(metric=np.asarray(metric, dtype=object), value=np.asarray(value, dtype=float),
                    unit=np.asarray(unit, dtype=object), better=np.asarray(better, dtype=object))
        df = pd.DataFrame(data)
        for c in ("run_id", "seed"):
            df[c] = df[c].astype(np.int64)
        for c in ("wall_s", "cpu_s"):
            df[c] = df[c].astype(float)
        return df


def _write_parts(con: sqlite3.Connection, run_id: int, result: Result) -> None:
    """Insert ``result``'s metrics, frames and artifacts for run ``run_id`` (inside a write transaction)."""
    for name, value in result.metrics.items():
        info = result.info.get(name)
        con.execute("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)",
                    (run_id, name, _finite_or_none(value), info.unit if info else "", info.better if info else ""))
    for name, frame in result.frames.items():
        con.execute("INSERT INTO frames (run_id, name, data, encoding) VALUES (?, ?, ?, ?)",
                    (run_id, name, *encode_frame(frame)))
    for name, path in result.artifacts.items():
        con.execute("INSERT INTO artifacts VALUES (?, ?, ?)", (run_id, name, str(path)))


#: Values one ``--where`` column may list (SQLite binds each as a parameter; it allows 32766 in all).
_WHERE_VALUES = 10_000


def parse_where(items: list[str]) -> dict[str, Any]:
    """``["plant=arm2", "seed=0,1"]`` → ``{"plant": "arm2", "seed": [0, 1]}`` (``--where`` of report and compare).

    Every item must be ``COLUMN=VALUE`` (``v1,v2`` for several) with a known
    column; ``id`` and ``seed`` take integers from 0 to 2**63 - 1 (what the
    store keeps).  Anything else is one :class:`~bench.errors.UsageError` line.
    """
    from .errors import UsageError, suggestion
    from .limits import parse_int

    shown = ", ".join(c for c in RUN_COLUMNS if c not in ("settings", "versions", "provenance"))
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--where expects COLUMN=VALUE (plant=arm2, seed=0,1), got {item[:60]!r}; "
                             f"columns: {shown}")
        if key not in RUN_COLUMNS:
            raise StoreError(f"--where: unknown column {key!r}{suggestion(key, RUN_COLUMNS)}; columns: {shown}")
        vals = [v.strip() for v in value.split(",") if v.strip()]
        if not vals:
            raise UsageError(f"--where {key}= expects a value (or v1,v2), got nothing")
        if len(vals) > _WHERE_VALUES:
            raise UsageError(f"--where {key}: {len(vals):,} values; at most {_WHERE_VALUES:,} per column")
        conv = [parse_int(v, f"--where {key}") for v in vals] if key in ("id", "seed") else vals
        out[key] = conv if len(conv) != 1 else conv[0]
    return out


def _where(where: Mapping[str, Any] | None, prefix: str = "", version: int = SCHEMA_VERSION
           ) -> tuple[str, list[Any]]:
    if not where:
        return "", []
    columns = dict(zip(RUN_COLUMNS, (c.split(" AS ")[0] for c in _read_columns(version, prefix))))
    parts, args = [], []
    for key, value in where.items():
        if key not in RUN_COLUMNS:
            raise StoreError(f"cannot filter on {key!r}; columns: {', '.join(RUN_COLUMNS)}")
        column = columns[key]
        if isinstance(value, (list, tuple, set)):
            parts.append(f"{column} IN ({', '.join('?' * len(value))})")
            args.extend(value)
        else:
            parts.append(f"{column} = ?")
            args.append(value)
    return "WHERE " + " AND ".join(parts), args
