"""Sweeps on a real Dask cluster (LocalCluster on 127.0.0.1, worker processes)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from test_sweep import consistent, rows

from bench.store import Store
from bench.sweep import plan, run_sweep

distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(autouse=True)
def _fresh_commit():
    """Read the checkout's commit afresh: worker processes do, and the tree may move between tests."""
    import bench.runner

    bench.runner.git_commit.cache_clear()


@pytest.fixture(scope="module")
def cluster():
    import dask

    # a task whose worker dies fails at once instead of being retried elsewhere,
    # so the killed-worker test sees lost runs deterministically
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     dashboard_address=None, silence_logs=50)
    yield c
    c.close()


def test_dask_sweep_writes_the_same_rows_as_the_local_one(cli, cluster):
    common = ["sweep", "arm2", "osc", "reach", "--seeds", "0,2", "--set", "osc.kp=100,200",
              "--set", "reach.targets=4", "-q"]
    code, out, err = cli(*common, "--executor", "dask", "--scheduler", cluster.scheduler_address,
                         "--db", "dask.sqlite")
    assert code == 0, err
    assert "4 ok" in out
    assert cli(*common, "--db", "local.sqlite", "-j", "1")[0] == 0
    assert rows(Path("dask.sqlite")) == rows(Path("local.sqlite"))
    pids = {r["host"] for r in Store("dask.sqlite").runs()}
    assert pids  # workers report where they ran
    consistent(Path("dask.sqlite"))
    # resumable on the cluster too
    code, out, _ = cli(*common, "--executor", "dask", "--scheduler", cluster.scheduler_address, "--db", "dask.sqlite")
    assert code == 0 and "4 skipped" in out


def test_unreachable_scheduler_is_one_line_exit_2(cli):
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code, _, err = cli("sweep", "arm2", "osc", "reach", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9",
                           "--db", "x.sqlite")
    assert code == 2 and "cannot reach the Dask scheduler" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_killed_dask_worker_keeps_the_store_consistent_and_the_rerun_completes_only_what_is_missing(
        tmp_path, cluster):
    db = tmp_path / "k.sqlite"
    sweep = plan("arm2", "osc", "reach", ["reach.duration=1", "reach.targets=16"], seeds=range(6),
                 workroot=tmp_path / "runs")
    store = Store(db)
    client = distributed.Client(cluster)
    killed = []

    def kill_a_busy_worker(outcome, run_id):
        if killed:
            return
        busy = [w for w, keys in client.processing().items() if keys]
        if busy:
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)

    try:
        report = run_sweep(sweep, store, executor="dask", client=client, quiet=True, on_outcome=kill_a_busy_worker)
        assert killed and report.lost, "the job running on the killed worker must be reported lost"
        assert all("KilledWorker" in why for _, why in report.lost)
        assert len(report.ok) + len(report.lost) == 6 and report.exit_code == 1
        assert store.count() == len(report.ok)
        consistent(db)
        again = run_sweep(sweep, store, executor="dask", client=client, quiet=True)
    finally:
        client.close()
    assert len(again.skipped) == len(report.ok) and len(again.ok) == len(report.lost) and not again.lost
    assert sorted(r["seed"] for r in store.runs()) == list(range(6))
    consistent(db)
