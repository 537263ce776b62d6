"""A small real store for tests that need one stored run (built through the CLI, no fakes)."""

from __future__ import annotations

import os
from pathlib import Path


def store_with_one_run(folder: Path, name: str = "s.sqlite") -> Path:
    """``folder/name`` holding one arm2 osc reach run (2 targets); the working directory is restored."""
    from bench.cli import main

    cwd = os.getcwd()
    os.chdir(folder)
    try:
        assert main(["run", "arm2", "osc", "reach", "--set", "reach.targets=2", "-q", "--db", name]) == 0
    finally:
        os.chdir(cwd)
    return Path(folder) / name


def stored_rows(db: Path, columns: str = "experiment, seed, status") -> list[tuple]:
    """``columns`` of every row of a store that another process may still be creating: a missing file, or a file
    whose schema is not written yet, has no rows. Opened read-write so that a killed writer's journal rolls back."""
    import sqlite3

    if not Path(db).exists():
        return []
    con = sqlite3.connect(db, timeout=30)
    try:
        if con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetchone() is None:
            return []
        return con.execute(f"SELECT {columns} FROM runs ORDER BY id").fetchall()
    finally:
        con.close()
