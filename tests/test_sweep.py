"""Sweeps: expansion, refusals, bad input, local processes, resuming, failures, Ctrl-C, a killed worker."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.store import Store
from bench.sweep import Progress, plan, run_sweep

BIN = Path(sys.executable).parent
TIMING = ("latency_us_per_call", "latency_us_per_arm")  # wall-clock metrics differ run to run


@pytest.fixture(autouse=True)
def _fresh_commit():
    """Read the checkout's commit afresh: worker processes do, and the tree may move between tests."""
    import bench.runner

    bench.runner.git_commit.cache_clear()


def rows(db: Path) -> set[tuple]:
    """Every stored (plant, controller, task, settings hash, seed, metric, value), timings left out."""
    df = Store(db).dataframe()
    df = df[~df["metric"].isin(TIMING)]
    return set(df[["plant", "controller", "task", "settings_hash", "seed", "metric", "value"]]
               .itertuples(index=False, name=None))


def consistent(db: Path) -> None:
    """The store is sound: integrity ok, every ok run has all its metrics and its frames."""
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    counts = con.execute("SELECT r.id, count(m.name) FROM runs r LEFT JOIN metrics m ON m.run_id = r.id "
                         "WHERE r.status = 'ok' GROUP BY r.id").fetchall()
    assert counts and counts[0][1] > 0 and all(n == counts[0][1] for _, n in counts)
    frames = con.execute("SELECT count(DISTINCT r.id) FROM runs r JOIN frames f ON f.run_id = r.id "
                         "WHERE r.status='ok'").fetchone()
    assert frames[0] == len(counts)
    con.close()


def test_plan_is_the_cartesian_product():
    p = plan("arm2", "osc", "reach", ["osc.kp=100,200", "reach.targets=2,4"], seeds=[0, 1])
    assert p.combinations == 4 and len(p.jobs) == 8 and not p.refused
    assert len({j.settings_hash for j in p.jobs}) == 4
    assert {dict(j.sets)["osc.kp"] for j in p.jobs} == {"100", "200"}


def test_qualified_settings_apply_only_to_their_component():
    p = plan("arm2", "osc,pd", "reach", ["osc.kp=100,200"], seeds=[0])
    by_ctrl = {c: [j for j in p.jobs if j.controller == c] for c in ("osc", "pd")}
    assert len(by_ctrl["osc"]) == 2 and len(by_ctrl["pd"]) == 1
    assert by_ctrl["pd"][0].sets == ()


def test_incompatible_combinations_are_refused_one_line_each_and_the_rest_run():
    p = plan("arm2,cartpole", "osc,pd", "reach", seeds=[0])
    assert {(j.plant, j.controller) for j in p.jobs} == {("arm2", "osc"), ("arm2", "pd")}
    assert len(p.refused) == 2 and all("cartpole" in line and "\n" not in line for line in p.refused)


def test_items_of_a_tuple_value_are_separated_by_semicolons():
    p = plan("cartpole", "pg", "balance", ["pg.hidden=16;16,32"], seeds=[0])
    assert sorted(dict(j.sets)["pg.hidden"] for j in p.jobs) == ["16,16", "32"]
    assert len({j.settings_hash for j in p.jobs}) == 2


def test_duplicate_values_collapse():
    p = plan("arm2", "osc", "reach", ["osc.kp=200,200.0"], seeds=[0])
    assert len(p.jobs) == 1


@pytest.mark.parametrize("argv, fragment", [
    (["arm2,arn2", "osc", "reach"], "unknown plant or dataset 'arn2'"),
    (["arm2", "osc,pdd", "reach"], "unknown controller 'pdd'"),
    (["arm2", "osc", "reach,rech"], "unknown task 'rech'"),
    ([",", "osc", "reach"], "empty sweep"),
    (["arm2", "osc", "reach", "--set", "osc.kp="], "empty sweep"),
    (["cartpole", "osc", "reach"], "every combination was refused"),
    (["arm2", "osc", "reach", "--set", "osc.kpp=1,2"], "did you mean 'osc.kp'"),
    (["arm2", "osc", "reach", "--set", "osc.kp=100,-1"], "'osc.kp' must be > 0"),
    (["arm2", "osc", "reach", "--jobs", "0"], "--jobs must be at least 1"),
    (["arm2", "osc", "reach", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --executor dask"),
    (["arm2", "osc", "reach", "--executor", "dask"], "needs --scheduler"),
])
def test_bad_sweeps_are_one_line_and_exit_2(cli, argv, fragment):
    code, _out, err = cli("sweep", *argv, "--db", "s.sqlite")
    assert code == 2, err
    assert fragment in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not Path("s.sqlite").exists() or Store("s.sqlite").count() == 0


def test_a_store_of_a_newer_schema_is_refused_before_anything_runs(cli):
    Store("new.sqlite")
    con = sqlite3.connect("new.sqlite")
    con.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    code, _, err = cli("sweep", "arm2", "osc", "reach", "--db", "new.sqlite", "-j", "1")
    assert code == 2 and "newer ctrlbench" in err and len(err.strip().splitlines()) == 1
    assert sqlite3.connect("new.sqlite").execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_sweep_resumes_and_rerun_forces(cli):
    args = ["sweep", "arm2", "osc", "reach", "--seeds", "2", "--set", "osc.kp=100,200", "--db", "s.sqlite", "-j", "1"]
    code, out, err = cli(*args)
    assert code == 0, err
    assert "4 ok, 0 failed, 0 skipped" in out and "[4/4] ok" in err  # progress lines when not a terminal
    code, out, _ = cli(*args)
    assert code == 0 and "0 ok, 0 failed, 4 skipped" in out and Store("s.sqlite").count() == 4
    code, out, _ = cli(*args[:-2], "-j", "1", "--rerun", "-q")
    assert code == 0 and "4 ok" in out and Store("s.sqlite").count() == 4  # re-run in place: one row per seed


def test_process_pool_gives_the_same_rows_as_in_process(cli):
    common = ["arm2", "osc", "reach", "--seeds", "0,3", "--set", "osc.kp=100,200", "--set", "reach.targets=4", "-q"]
    assert cli("sweep", *common, "--db", "one.sqlite", "-j", "1")[0] == 0
    code, _, err = cli("sweep", *common, "--db", "pool.sqlite", "-j", "2")
    assert code == 0, err
    assert rows(Path("one.sqlite")) == rows(Path("pool.sqlite"))
    hosts = {r["host"] for r in Store("pool.sqlite").runs()}
    assert hosts and all(h for h in hosts)
    one, pool = Store("one.sqlite"), Store("pool.sqlite")
    for a in one.runs():
        b = next(r for r in pool.runs() if (r["settings_hash"], r["seed"]) == (a["settings_hash"], a["seed"]))
        assert one.frame(a["id"], "trajectory").equals(pool.frame(b["id"], "trajectory"))
    consistent(Path("pool.sqlite"))


def test_a_run_that_raises_is_stored_as_failed_and_the_sweep_goes_on(cli):
    # osc with kp=1e6 diverges at dt=0.01 and is fine at dt=0.001
    code, out, _err = cli("sweep", "arm2", "osc", "reach", "--set", "osc.kp=1e6", "--dt", "0.01,0.001",
                         "--db", "f.sqlite", "-j", "2", "-q")
    assert code == 1
    assert "1 ok, 1 failed" in out
    runs = Store("f.sqlite").runs()
    failed = [r for r in runs if r["status"] == "failed"]
    assert len(runs) == 2 and len(failed) == 1
    kind, _, message = failed[0]["error"].partition(": ")
    assert kind in ("Diverged", "InvalidArgument") and "finite" in message  # the arm blows up
    log = Path(failed[0]["log_path"]).read_text()
    assert "Traceback" in log and message in log
    assert '"dt": 0.01' in failed[0]["settings"]
    # a failed run is not "already stored": the next sweep tries it again
    code, out, _ = cli("sweep", "arm2", "osc", "reach", "--set", "osc.kp=1e6", "--dt", "0.01,0.001",
                       "--db", "f.sqlite", "-j", "1", "-q")
    assert "0 ok, 1 failed, 1 skipped" in out


@pytest.mark.slow
def test_a_killed_worker_keeps_completed_runs_and_the_rerun_completes_the_rest(tmp_path):
    db = tmp_path / "k.sqlite"
    sweep = plan("arm2", "osc", "reach", ["reach.duration=1", "reach.targets=16"], seeds=range(6),
                 workroot=tmp_path / "runs")
    store = Store(db)
    killed = []

    def kill_first_worker(outcome, run_id):
        if not killed:
            pid = int(outcome.worker.rsplit(":", 1)[1])
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)

    report = run_sweep(sweep, store, jobs=2, quiet=True, on_outcome=kill_first_worker)
    assert killed and report.lost, "the pool should lose the jobs of the killed worker"
    assert len(report.ok) + len(report.lost) == 6 and not report.failed
    assert report.exit_code == 1
    assert store.count() == len(report.ok)
    consistent(db)
    again = run_sweep(sweep, store, jobs=2, quiet=True)
    assert len(again.skipped) == len(report.ok) and len(again.ok) == len(report.lost) and not again.lost
    assert sorted(r["seed"] for r in store.runs()) == list(range(6))
    consistent(db)


def test_ctrl_c_keeps_completed_runs_and_exits_130(tmp_path):
    db = tmp_path / "c.sqlite"
    cmd = [str(BIN / "bench"), "sweep", "arm2", "osc", "reach", "--seeds", "200", "--db", str(db), "-j", "1"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if _count(db) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in out
    n = Store(db).count()
    assert 3 <= n < 200
    consistent(db)
    assert Store(db).runs()[-1]["status"] == "ok"


def _count(db: Path) -> int:
    """Completed runs (not the one in progress), read-only (the store may still be being created by the sweep)."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return int(con.execute("SELECT count(*) FROM runs WHERE status != 'pending'").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_shows_counts():
    stream = _Terminal()
    bar = Progress(3, stream=stream)
    bar.update(None, "ok")
    bar.update(None, "failed")
    bar.close()
    text = stream.getvalue()
    assert "2/3" in text and "1 ok" in text and "1 failed" in text and "1 left" in text
