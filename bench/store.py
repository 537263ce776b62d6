"""The results store: SQLite through the standard library.

One row per run in ``runs`` and one per metric in ``metrics``, plus tidy
per-step tables (``frames``, JSON) and file ``artifacts``.  Each run is
written in one transaction, so a crash never leaves a half-written run.  The
schema is versioned in ``meta``; a file that is not a ctrlbench store (not
SQLite, or SQLite with foreign tables) or one from a newer schema is refused
and never written to.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import StoreError

if TYPE_CHECKING:
    import pandas as pd

    from .api import Result

SCHEMA_VERSION = 1
APP = "ctrlbench"
DEFAULT_DB = Path(".bench") / "results.sqlite"
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plant TEXT NOT NULL,
    controller TEXT NOT NULL,
    task TEXT NOT NULL,
    seed INTEGER NOT NULL,
    settings TEXT NOT NULL,
    settings_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error TEXT,
    started_at TEXT NOT NULL,
    wall_s REAL,
    cpu_s REAL,
    code_version TEXT,
    git_commit TEXT,
    versions TEXT,
    host TEXT,
    suite TEXT,
    log_path TEXT
);
CREATE INDEX runs_key ON runs (plant, controller, task, settings_hash, seed);
CREATE TABLE metrics (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value REAL,
    unit TEXT NOT NULL DEFAULT '',
    better TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, name)
);
CREATE TABLE frames (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE artifacts (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);
"""

RUN_COLUMNS = ("id", "plant", "controller", "task", "seed", "settings", "settings_hash", "status", "error",
               "started_at", "wall_s", "cpu_s", "code_version", "git_commit", "versions", "host", "suite",
               "log_path")


def _finite_or_none(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


class Store:
    """A ctrlbench results file.  ``Store(path)`` creates it when absent."""

    def __init__(self, path: str | os.PathLike = DEFAULT_DB) -> None:
        self.path = Path(path)
        self._check_and_init()

    # -- opening -----------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30)
        con.execute("PRAGMA foreign_keys = ON")
        return con

    @contextmanager
    def _open(self) -> Iterator[sqlite3.Connection]:
        """A connection that commits (or rolls back) and is closed when the block ends."""
        con = self._connect()
        try:
            with con:
                yield con
        finally:
            con.close()

    def _check_and_init(self) -> None:
        p = self.path
        if p.is_dir():
            raise StoreError(f"--db {p}: is a directory, not a results file")
        if p.exists() and p.stat().st_size > 0:
            try:
                with open(p, "rb") as fh:
                    head = fh.read(16)
            except OSError as exc:
                raise StoreError(f"--db {p}: cannot read: {exc.strerror}") from None
            if head != _SQLITE_MAGIC:
                raise StoreError(f"--db {p}: not a ctrlbench results store (not an SQLite file); refusing to touch it")
            try:
                with self._open() as con:
                    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                    if not tables:
                        con.executescript(self._init_script())
                        return
                    if "meta" not in tables:
                        raise StoreError(f"--db {p}: an SQLite file of another application (tables: {', '.join(sorted(tables))}); refusing to touch it")
                    meta = dict(con.execute("SELECT key, value FROM meta"))
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"--db {p}: unreadable SQLite file ({exc}); refusing to touch it") from None
            if meta.get("app") != APP:
                raise StoreError(f"--db {p}: an SQLite file of another application; refusing to touch it")
            version = int(meta.get("schema_version", "0"))
            if version > SCHEMA_VERSION:
                raise StoreError(f"--db {p}: written by a newer ctrlbench (schema {version}, this one reads up to {SCHEMA_VERSION}); upgrade ctrlbench")
            if version < SCHEMA_VERSION:
                raise StoreError(f"--db {p}: schema {version} is older than {SCHEMA_VERSION} and has no migration")
            return
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            with self._open() as con:
                con.executescript(self._init_script())
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"--db {p}: cannot create results store: {exc}") from None

    @staticmethod
    def _init_script() -> str:
        return ("BEGIN;" + _SCHEMA +
                f"INSERT INTO meta VALUES ('app', '{APP}');"
                f"INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');COMMIT;")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic transaction: committed on success, rolled back on any error."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            yield con
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    # -- writing -----------------------------------------------------------
    def save(self, result: Result, *, status: str = "ok", error: str | None = None) -> int:
        """Write one run (its meta, metrics, frames, artifacts) atomically; returns its id."""
        m = result.meta
        row = {
            "plant": m["plant"], "controller": m["controller"], "task": m["task"], "seed": int(m["seed"]),
            "settings": json.dumps(m.get("settings", {}), sort_keys=True), "settings_hash": m["settings_hash"],
            "status": status, "error": error, "started_at": m.get("started_at", ""),
            "wall_s": m.get("wall_s"), "cpu_s": m.get("cpu_s"), "code_version": m.get("code_version"),
            "git_commit": m.get("git_commit"), "versions": json.dumps(m.get("versions", {}), sort_keys=True),
            "host": m.get("host"), "suite": m.get("suite"), "log_path": m.get("log_path"),
        }
        with self.transaction() as con:
            cur = con.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                              tuple(row.values()))
            run_id = int(cur.lastrowid)
            for name, value in result.metrics.items():
                info = result.info.get(name)
                con.execute("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)",
                            (run_id, name, _finite_or_none(value), info.unit if info else "",
                             info.better if info else ""))
            for name, frame in result.frames.items():
                con.execute("INSERT INTO frames VALUES (?, ?, ?)",
                            (run_id, name, frame.to_json(orient="split", index=False, double_precision=10)))
            for name, path in result.artifacts.items():
                con.execute("INSERT INTO artifacts VALUES (?, ?, ?)", (run_id, name, str(path)))
        result.run_id = run_id
        return run_id

    # -- reading -----------------------------------------------------------
    def run(self, run_id: int) -> dict[str, Any]:
        """One run's row, metrics (with unit and direction) and artifacts."""
        with self._open() as con:
            row = con.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                last = con.execute("SELECT max(id) FROM runs").fetchone()[0]
                raise StoreError(f"no run {run_id} in {self.path} (runs go up to {last})" if last
                                 else f"no run {run_id} in {self.path}: it holds no runs")
            out = dict(zip(RUN_COLUMNS, row))
            out["settings"] = json.loads(out["settings"])
            out["versions"] = json.loads(out["versions"] or "{}")
            out["metrics"] = {n: {"value": math.nan if v is None else v, "unit": u, "better": b}
                              for n, v, u, b in con.execute(
                                  "SELECT name, value, unit, better FROM metrics WHERE run_id = ? ORDER BY rowid", (run_id,))}
            out["artifacts"] = dict(con.execute("SELECT name, path FROM artifacts WHERE run_id = ?", (run_id,)))
            out["frames"] = [r[0] for r in con.execute("SELECT name FROM frames WHERE run_id = ?", (run_id,))]
        return out

    def frame(self, run_id: int, name: str) -> pd.DataFrame:
        """A stored per-step table."""
        import io

        import pandas as pd

        with self._open() as con:
            row = con.execute("SELECT data FROM frames WHERE run_id = ? AND name = ?", (run_id, name)).fetchone()
        if row is None:
            raise StoreError(f"run {run_id} has no frame {name!r}")
        return pd.read_json(io.StringIO(row[0]), orient="split")

    def runs(self, where: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run rows (without metrics), optionally filtered by column equality."""
        clause, args = _where(where)
        with self._open() as con:
            rows = con.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs {clause} ORDER BY id", args).fetchall()
        return [dict(zip(RUN_COLUMNS, r)) for r in rows]

    def count(self) -> int:
        with self._open() as con:
            return int(con.execute("SELECT count(*) FROM runs").fetchone()[0])

    def find(self, plant: str, controller: str, task: str, settings_hash: str, seed: int,
             code_version: str | None = None, status: str = "ok") -> int | None:
        """The id of a stored run with these keys, or None (sweeps skip those)."""
        sql = ("SELECT id FROM runs WHERE plant=? AND controller=? AND task=? AND settings_hash=? AND seed=? "
               "AND status=?")
        args: list[Any] = [plant, controller, task, settings_hash, seed, status]
        if code_version is not None:
            sql += " AND code_version=?"
            args.append(code_version)
        with self._open() as con:
            row = con.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return int(row[0]) if row else None

    def dataframe(self, where: Mapping[str, Any] | None = None, include_failed: bool = False) -> pd.DataFrame:
        """Tidy table: one row per run × metric (see :func:`bench.reports.load`)."""
        import pandas as pd

        clause, args = _where(where, prefix="r.")
        if not include_failed:
            clause = (clause + " AND " if clause else "WHERE ") + "r.status = 'ok'"
        sql = ("SELECT r.id AS run_id, r.plant, r.controller, r.task, r.seed, r.settings_hash, r.settings, "
               "r.git_commit AS 'commit', r.code_version, r.suite, r.started_at, r.wall_s, r.cpu_s, r.status, "
               "m.name AS metric, m.value, m.unit, m.better "
               f"FROM runs r JOIN metrics m ON m.run_id = r.id {clause} ORDER BY r.id, m.rowid")
        with self._open() as con:
            df = pd.read_sql_query(sql, con, params=args)
        df["value"] = df["value"].astype(float)
        return df


def _where(where: Mapping[str, Any] | None, prefix: str = "") -> tuple[str, list[Any]]:
    if not where:
        return "", []
    parts, args = [], []
    for key, value in where.items():
        if key not in RUN_COLUMNS:
            raise StoreError(f"cannot filter on {key!r}; columns: {', '.join(RUN_COLUMNS)}")
        if isinstance(value, (list, tuple, set)):
            parts.append(f"{prefix}{key} IN ({', '.join('?' * len(value))})")
            args.extend(value)
        else:
            parts.append(f"{prefix}{key} = ?")
            args.append(value)
    return "WHERE " + " AND ".join(parts), args
