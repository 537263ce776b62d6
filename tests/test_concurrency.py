"""One stored run per (experiment, seed), enforced by the store: concurrent sweeps (real processes), concurrent
creation of a store, claims of live and dead processes, and the migration of a schema-1 store."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stores import stored_rows

import bench
from bench.claims import Claims
from bench.store import SCHEMA_VERSION, Store

BIN = Path(sys.executable).parent
CHEAP = ["arm2", "osc", "reach", "--set", "reach.targets=2", "--set", "reach.duration=0.2"]


def _rows(db: Path) -> list[tuple]:
    return stored_rows(db)


@pytest.mark.slow
def test_two_concurrent_sweeps_on_one_new_store_run_each_run_once(tmp_path):
    db = tmp_path / "shared.sqlite"  # created by both at once
    cmd = [str(BIN / "bench"), "sweep", *CHEAP, "--seeds", "12", "-j", "2", "--db", str(db)]
    t0 = time.perf_counter()
    procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    seconds = time.perf_counter() - t0
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    rows = _rows(db)
    assert len(rows) == 12 and {s for _, s, _ in rows} == set(range(12)) and {st for *_, st in rows} == {"ok"}
    assert len({e for e, _, _ in rows}) == 1
    # each run was computed once: what one sweep ran, the other skipped or waited for
    ran = [int(out.split("runs: ")[1].split(" ok")[0]) for out, _ in outs]
    assert sum(ran) == 12, outs
    print(f"two concurrent sweeps of 12 runs: {ran[0]} + {ran[1]} run, {len(rows)} rows, {seconds:.1f} s")


@pytest.mark.slow
def test_concurrent_creation_of_a_new_store_is_safe(tmp_path):
    db = tmp_path / "new" / "r.sqlite"
    start = time.time() + 3  # every process opens the store at this moment
    script = ("import sys, time\n"
              "from bench.store import Store\n"
              f"while time.time() < {start}: pass\n"
              "Store(sys.argv[1])\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(db)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(8)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with sqlite3.connect(db) as con:
        assert dict(con.execute("SELECT key, value FROM meta")) == {"app": "ctrlbench",
                                                                  "schema_version": str(SCHEMA_VERSION)}
    # and runs into it at once
    cmds = [[str(BIN / "bench"), "run", *CHEAP, "--seed", str(s), "--db", str(tmp_path / "b.sqlite"), "-q"]
            for s in range(4)]
    procs = [subprocess.Popen(c, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in cmds]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0 and "already exists" not in err, err
    assert sorted(s for _, s, _ in _rows(tmp_path / "b.sqlite")) == [0, 1, 2, 3]


@pytest.mark.slow
def test_a_killed_sweep_leaves_its_claim_and_the_next_sweep_takes_it_over(tmp_path, cli):
    db = tmp_path / "k.sqlite"
    cmd = [str(BIN / "bench"), "sweep", *CHEAP, "--seeds", "40", "-j", "1", "-q", "--db", str(db)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        rows = _rows(db)
        if sum(st == "ok" for *_, st in rows) >= 2 and any(st == "pending" for *_, st in rows):
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # no chance to release its claim
    proc.wait()
    rows = _rows(db)
    done = sum(st == "ok" for *_, st in rows)
    assert [st for *_, st in rows].count("pending") == 1 and done >= 2
    code, out, err = cli("sweep", *CHEAP, "--seeds", "40", "-j", "1", "-q", "--db", str(db))
    assert code == 0, err
    assert f"sweep of 40 runs: {40 - done} ok, 0 failed, {done} skipped" in out  # the pending one run again
    rows = _rows(db)
    assert len(rows) == 40 and {st for *_, st in rows} == {"ok"}


def _row(seed: int = 0) -> dict:
    return {"experiment": "e" * 64, "seed": seed, "plant": "arm2", "controller": "osc", "task": "reach",
            "settings_hash": "h"}


def test_claims_of_live_dead_and_silent_claimers(tmp_path):
    store = Store(tmp_path / "c.sqlite")
    with Claims(store) as a, Claims(store) as b:
        assert a.claim(_row()).state == "claimed"
        busy = b.claim(_row())
        assert busy.state == "busy" and f"pid {os.getpid()}" in busy.owner  # a live claimer (this process)
        # a claimer whose process is gone: taken over at once
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        with sqlite3.connect(store.path) as con:
            con.execute("UPDATE runs SET claim_pid = ?", (gone.pid,))
        took = b.claim(_row())
        assert took.state == "claimed" and took.previous == "pending"
        # a claimer that stopped refreshing its claim (another host, or hung): taken over after the lease
        assert a.claim(_row()).state == "busy"
        with sqlite3.connect(store.path) as con:
            con.execute("UPDATE runs SET claim_host = 'elsewhere', claimed_at = claimed_at - 10000")
        assert a.claim(_row()).state == "claimed"
        assert store.count() == 0  # pending runs are not stored runs
    with sqlite3.connect(store.path) as con:  # leaving the blocks released everything
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_an_ok_run_is_done_a_failed_one_runs_again_in_its_row_and_rerun_replaces(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    r = bench.run(bench.plant("arm2"), bench.controller("osc"), bench.task("reach", targets=2), seed=0)
    row = {**r.meta, "seed": 0}
    with Claims(store) as claims:
        c = claims.claim(row)
        run_id = claims.complete(c, r, status="failed", error="boom")
        again = claims.claim(row)
        assert (again.state, again.run_id, again.previous) == ("claimed", run_id, "failed")
        assert claims.complete(again, r) == run_id
        assert claims.claim(row).state == "done"
        redo = claims.claim(row, rerun=True)
        assert (redo.state, redo.previous) == ("claimed", "ok")
    # an interrupted re-run keeps the stored result
    assert Store(store.path).run(run_id)["status"] == "ok" and store.count() == 1


# -- schema 1 ---------------------------------------------------------------------------
#: The schema of ctrlbench's first store (git show <first commit>:bench/store.py).
V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, plant TEXT NOT NULL, controller TEXT NOT NULL, task TEXT NOT NULL,
    seed INTEGER NOT NULL, settings TEXT NOT NULL, settings_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')), error TEXT, started_at TEXT NOT NULL, wall_s REAL,
    cpu_s REAL, code_version TEXT, git_commit TEXT, versions TEXT, host TEXT, suite TEXT, log_path TEXT
);
CREATE INDEX runs_key ON runs (plant, controller, task, settings_hash, seed);
CREATE TABLE metrics (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE, name TEXT NOT NULL, value REAL,
    unit TEXT NOT NULL DEFAULT '', better TEXT NOT NULL DEFAULT '', PRIMARY KEY (run_id, name)
);
CREATE TABLE frames (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE, name TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE artifacts (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE, name TEXT NOT NULL, path TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);
INSERT INTO meta VALUES ('app', 'ctrlbench');
INSERT INTO meta VALUES ('schema_version', '1');
"""


def _v1_store(path: Path) -> None:
    """Two runs of one experiment stored twice (schema 1 allowed it), and their metrics and a frame."""
    r = bench.run(bench.plant("arm2"), bench.controller("osc"), bench.task("reach", targets=2), seed=0)
    m = r.meta
    con = sqlite3.connect(path)
    con.executescript(V1_SCHEMA)
    for _ in range(2):
        cur = con.execute(
            "INSERT INTO runs (plant, controller, task, seed, settings, settings_hash, status, started_at, wall_s, "
            "cpu_s, code_version, git_commit, versions, host) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (m["plant"], m["controller"], m["task"], 0, json.dumps(m["settings"]), m["settings_hash"], "ok",
             m["started_at"], m["wall_s"], m["cpu_s"], m["code_version"], "abc1234", "{}", "h"))
        for name, value in r.metrics.items():
            con.execute("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", (cur.lastrowid, name, value, "", "lower"))
        con.execute("INSERT INTO frames VALUES (?, 'trajectory', ?)",
                    (cur.lastrowid, r.frames["trajectory"].to_json(orient="split", index=False)))
    con.commit()
    con.close()


def test_a_schema_1_store_stays_readable_and_is_migrated_on_its_first_write(cli, tmp_path):
    db = tmp_path / "old.sqlite"
    _v1_store(db)
    before = db.read_bytes()
    assert Store(db).version == 1
    assert [r["id"] for r in Store(db).runs({"experiment": "v1:2"})] == [2]
    code, out, err = cli("show", "2", "--db", str(db))
    assert code == 0 and "experiment v1:2" in out and "provenance: not recorded" in out, err
    assert cli("report", "--db", str(db))[0] == 0
    code, out, err = cli("compare", str(db), str(db))
    assert code == 0 and "same" in out, err
    assert cli("verify", "1", "--db", str(db), "--timing-tolerance", "off")[0] == 0
    assert db.read_bytes() == before  # reading never writes
    # the first write migrates in place, in one transaction
    code, out, err = cli("run", "arm2", "osc", "reach", "--set", "reach.targets=2", "-q", "--db", str(db))
    assert code == 0, err
    store = Store(db)
    assert store.version == SCHEMA_VERSION
    runs = store.runs()
    assert [r["id"] for r in runs] == [1, 2, 3] and [r["experiment"] for r in runs[:2]] == ["v1:1", "v1:2"]
    assert len(store.run(1)["metrics"]) == len(store.run(3)["metrics"]) > 0
    assert store.frame(2, "trajectory").shape[0] > 0
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
