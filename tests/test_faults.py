"""Faults (issue 12): hangs, orphans, collateral losses and hidden causes, each with real processes, real
sockets, a real Dask cluster and real file systems (tmpfs mounts, when this process may mount).

The sweeps here run a third-party plugin installed into a temporary site folder (``faultplug``: a task
that sleeps, and can make its worker die once), so that the experiment keys do not depend on the
built-in plugins' sources, and a killed and resumed sweep finds its own runs again.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from distributions import make_distribution
from stores import stored_rows

from bench.store import Store

BIN = Path(sys.executable).parent
#: Tests that find a sweep's worker processes in /proc.
linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

FAULTPLUG = """
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import bench


class Dot(bench.PlantModel):
    '''A point on a line that does nothing much.'''

    state_size, input_size = 1, 1

    def __init__(self, settings=None):
        super().__init__(settings)
        self.dt = 0.01

    def initial_state(self, n, rng):
        return np.zeros((n, 1))

    def step(self, x, u):
        return x + self.dt * u


class Still(bench.Controller):
    def act(self, observation, target):
        return np.zeros((observation.shape[0], 1))


@dataclass
class NapSettings:
    seconds: float = bench.setting(0.1, "how long one run sleeps", unit="s", ge=0)
    die: str = bench.setting("", "seeds (a;b) whose worker dies, once each, half-way through the run")
    marks: str = bench.setting("", "folder of the files that make each death happen once")
    pad: int = bench.setting(0, "kB of frame data each run stores", ge=0)


class Nap(bench.Task):
    Settings = NapSettings
    METRICS = {"slept": bench.Metric("s", "lower")}

    def run(self, plant, controller, seed, *, workdir=None):
        import pandas as pd

        s = self.settings
        if str(seed) in s.die.split(";") and s.marks:
            mark = Path(s.marks) / f"died-{seed}"
            if not mark.exists():
                time.sleep(s.seconds / 2)
                mark.write_text(str(os.getpid()))
                os._exit(9)
        time.sleep(float(os.environ.get("FAULTPLUG_SECONDS", s.seconds)))  # a test's knob outside the key
        noise = np.random.default_rng(seed).random(s.pad * 128)  # incompressible: pad kB as stored
        frames = {"pad": pd.DataFrame({"noise": noise})} if s.pad else {}
        return self.result({"slept": s.seconds}, frames=frames)


@bench.hookimpl
def register_plants(register):
    register("dot", "faultplug:Dot", provides={"dynamics"})


@bench.hookimpl
def register_controllers(register):
    register("still", "faultplug:Still", provides={"act"}, accepts={"none"})


@bench.hookimpl
def register_tasks(register):
    register("nap", "faultplug:Nap", needs={"controller:act"}, target="none")
"""


# -- helpers ----------------------------------------------------------------------------
@pytest.fixture
def site(tmp_path):
    """The fault plugin, installed for subprocesses (``PYTHONPATH``)."""
    return make_distribution(tmp_path / "site", "fault-dist", {"faultplug": FAULTPLUG}, {"fault": "faultplug"})


@pytest.fixture
def faultplug(third_party):
    """The fault plugin, installed in this process too (its pool's workers find it on ``sys.path``)."""
    third_party("fault-dist", {"faultplug": FAULTPLUG}, {"fault": "faultplug"})


def _env(site: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    env.pop("BENCH_PLUGINS", None)
    return {**env, **extra}


def _sweep(db: Path, seeds: int, *sets: str, jobs: int = 2) -> list[str]:
    return [str(BIN / "bench"), "sweep", "dot", "still", "nap", "--seeds", str(seeds), "-j", str(jobs), "-q",
            "--db", str(db), *(a for s in sets for a in ("--set", s))]


def _rows(db: Path) -> list[tuple]:
    """(experiment, seed, status, claim pid) of every row, in seed order."""
    return sorted(stored_rows(db, "experiment, seed, status, claim_pid"), key=lambda r: r[1])


def _stored(db: Path) -> int:
    try:
        return sum(st != "pending" for _, _, st, _ in _rows(db))
    except sqlite3.Error:  # not created yet
        return 0


def _exactly_once(db: Path, seeds: int) -> None:
    """Every seed stored once, ok, nothing pending, one experiment, and the file whole."""
    rows = _rows(db)
    assert sorted(s for _, s, _, _ in rows) == list(range(seeds)), rows
    assert {st for _, _, st, _ in rows} == {"ok"}, rows
    assert len({e for e, _, _, _ in rows}) == 1
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT count(*) FROM metrics m LEFT JOIN runs r ON r.id = m.run_id "
                           "WHERE r.id IS NULL").fetchone()[0] == 0
    finally:
        con.close()


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                out.append(int(d))
    return out


def _workers(pid: int) -> list[int]:
    """The pool workers of the sweep ``pid``: the forkserver's children (the sweep's grandchildren)."""
    return [w for c in _children(pid) for w in _children(c)]


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] in ("Z", "X")
    except OSError:
        return True


def _wait(predicate, seconds: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


@contextlib.contextmanager
def _locked(db: Path):
    """Another process holding the store's write lock (``BEGIN IMMEDIATE``) until the block ends."""
    holder = subprocess.Popen([sys.executable, "-c", "import sqlite3, sys, time\n"
                               "c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n"
                               "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True)\n"
                               "sys.stdin.read()\n", str(db)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder.pid
    finally:
        holder.stdin.close()
        holder.wait(10)


@contextlib.contextmanager
def _tmpfs(path: Path, size: str):
    """A tmpfs of ``size`` at ``path`` (skips the test where this process may not mount)."""
    path.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


# -- the store: refused before anything runs (exit 2, the cause named) --------------------------
CHEAP = ["arm2", "osc", "reach", "--set", "reach.targets=2", "--set", "reach.duration=0.2"]


def test_a_store_in_a_missing_directory_is_refused_and_nothing_is_created(cli, tmp_path):
    for argv in (["run", *CHEAP], ["sweep", *CHEAP, "-j", "1"], ["train", "cartpole", "pg", "balance"]):
        code, _, err = cli(*argv, "--db", "nowhere/deeper/r.sqlite")
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert "nowhere/deeper" in err and "does not exist" in err
    assert not (tmp_path / "nowhere").exists()
    assert cli("run", *CHEAP, "-q")[0] == 0 and (tmp_path / ".bench" / "results.sqlite").is_file()  # the default


def test_a_store_locked_by_another_process_is_refused_after_the_documented_wait(cli, tmp_path, monkeypatch):
    db = tmp_path / "locked.sqlite"
    Store(db)
    monkeypatch.setenv("BENCH_STORE_LOCK_WAIT_S", "0.5")
    with _locked(db) as holder:
        for argv in (["run", *CHEAP], ["sweep", *CHEAP, "-j", "1"]):
            t0 = time.perf_counter()
            code, _, err = cli(*argv, "--db", str(db))
            assert time.perf_counter() - t0 < 5
            assert code == 2 and len(err.strip().splitlines()) == 1, err
            assert f"store {db} is locked by another process (pid {holder}" in err and "unreadable" not in err
    assert Store(db).count() == 0 and not (tmp_path / "runs").exists()
    assert cli("run", *CHEAP, "-q", "--db", str(db))[0] == 0  # the lock gone, it works


def test_a_nearly_full_disk_is_refused_up_front(cli, monkeypatch):
    monkeypatch.setenv("BENCH_STORE_MIN_FREE_MB", str(10**12))
    code, _, err = cli("sweep", *CHEAP, "-j", "1", "--db", "r.sqlite")
    assert code == 2 and "disk nearly full" in err and "BENCH_STORE_MIN_FREE_MB" in err
    monkeypatch.setenv("BENCH_STORE_MIN_FREE_MB", "lots")
    code, _, err = cli("run", *CHEAP, "--db", "r.sqlite")
    assert code == 2 and "BENCH_STORE_MIN_FREE_MB='lots'" in err


def test_a_read_only_store_is_refused_before_anything_runs(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_STORE_MIN_FREE_MB", "0.5")
    with _tmpfs(tmp_path / "ro", "2m") as ro:
        assert cli("run", *CHEAP, "-q", "--db", str(ro / "r.sqlite"))[0] == 0
        before = Store(ro / "r.sqlite").count()
        assert subprocess.run(["mount", "-o", "remount,ro", str(ro)], capture_output=True).returncode == 0
        for argv in (["run", *CHEAP, "--seed", "1"], ["sweep", *CHEAP, "--seeds", "3", "-j", "1"]):
            for name in ("r.sqlite", "new.sqlite"):  # an existing store, and a new one in a read-only folder
                t0 = time.perf_counter()
                code, _, err = cli(*argv, "--db", str(ro / name))
                assert code == 2 and "read-only" in err and len(err.strip().splitlines()) == 1, err
                assert time.perf_counter() - t0 < 5  # refused up front: nothing ran
        assert Store(ro / "r.sqlite").count() == before


@pytest.mark.slow
def test_a_disk_that_fills_in_the_middle_of_a_sweep_names_the_cause_and_keeps_every_stored_run(site, tmp_path):
    seeds = 12
    with _tmpfs(tmp_path / "small", "700k") as small:
        db = small / "r.sqlite"
        cmd = _sweep(db, seeds, "nap.seconds=0", "nap.pad=120", jobs=1)
        env = _env(site, BENCH_STORE_MIN_FREE_MB="0.2")
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 1, done.stderr
        assert "disk full (no space left on device) writing run dot still nap seed" in done.stderr
        assert "cannot rollback" not in done.stderr + done.stdout and "Traceback" not in done.stderr
        assert "stopped: disk full" in done.stdout
        stored = [r for r in _rows(db) if r[2] == "ok"]
        assert 0 < len(stored) < seeds
        assert subprocess.run(["mount", "-o", "remount,size=16m", str(small)], capture_output=True).returncode == 0
        again = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert f"{len(stored)} skipped" in again.stdout
        _exactly_once(db, seeds)


# -- Dask: a peer that is not a scheduler, a cluster without workers --------------------------------
@contextlib.contextmanager
def _server(answer: bytes | None):
    """A TCP server on 127.0.0.1 that accepts and then says ``answer`` (None: stays silent)."""
    srv = socket.create_server(("127.0.0.1", 0))
    conns: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            conns.append(conn)
            if answer is not None:
                with contextlib.suppress(OSError):
                    conn.settimeout(2)
                    conn.recv(4096)
                    conn.sendall(answer)
                    conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield f"tcp://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        srv.close()
        for c in conns:
            c.close()


@pytest.mark.parametrize("answer, why", [
    (None, "no Dask handshake within 1 s"),
    (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "does not speak the Dask protocol"),
])
def test_a_scheduler_address_that_is_not_a_dask_scheduler_fails_within_the_timeout(cli, monkeypatch, answer, why):
    pytest.importorskip("dask.distributed")
    monkeypatch.setenv("BENCH_DASK_CONNECT_S", "1")
    with _server(answer) as address:
        t0 = time.perf_counter()
        code, _, err = cli("sweep", *CHEAP, "--executor", "dask", "--scheduler", address, "--db", "d.sqlite")
        seconds = time.perf_counter() - t0
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert f"cannot reach the Dask scheduler at {address}" in err and why in err
    assert seconds < 5, seconds
    assert Store("d.sqlite").count() == 0


@pytest.fixture
def cluster():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, host="127.0.0.1",
                                  protocol="tcp://", dashboard_address=":0", silence_logs=50) as c:
        yield c


@pytest.mark.slow
def test_a_dask_cluster_without_workers_stops_the_sweep_with_exit_1(cli, cluster, monkeypatch):
    cluster.scale(0)
    assert _wait(lambda: not cluster.scheduler.workers, 10)
    monkeypatch.setenv("BENCH_DASK_NO_WORKERS_S", "1")
    t0 = time.perf_counter()
    code, out, err = cli("sweep", *CHEAP, "--seeds", "2", "--executor", "dask", "--scheduler",
                         cluster.scheduler_address, "--db", "d.sqlite")
    assert code == 1 and time.perf_counter() - t0 < 15, err
    assert f"the Dask cluster at {cluster.scheduler_address} has no workers for 1 s" in err
    assert "waiting up to 1 s" in err and "stopped:" in out
    assert Store("d.sqlite").count() == 0 and not _rows(Path("d.sqlite"))  # no claim left pending


@pytest.mark.slow
def test_when_every_dask_worker_is_gone_the_sweep_stops_and_keeps_its_completed_runs(tmp_path, cluster, monkeypatch):
    from dask.distributed import Client

    from bench.sweep import plan, run_sweep

    monkeypatch.setenv("BENCH_DASK_NO_WORKERS_S", "1")
    sweep = plan("arm2", "osc", "reach", ["reach.targets=2", "reach.duration=0.2"], seeds=range(20),
                 workroot=tmp_path / "runs")
    store = Store(tmp_path / "d.sqlite")
    with Client(cluster) as client:
        def close_the_workers(outcome, run_id):
            cluster.scale(0)

        t0 = time.perf_counter()
        report = run_sweep(sweep, store, executor="dask", client=client, quiet=True, on_outcome=close_the_workers)
        assert time.perf_counter() - t0 < 20
    assert report.exit_code == 1 and "has no workers for 1 s" in report.fault, report.line()
    assert 1 <= len(report.ok) < 20 and store.count() == len(report.ok)
    assert all(st == "ok" for _, _, st, _ in _rows(store.path))  # the rest released: nothing pending


@pytest.mark.slow
def test_a_scheduler_that_goes_away_stops_the_sweep_and_keeps_its_completed_runs(tmp_path, cluster, monkeypatch):
    from dask.distributed import Client

    from bench.sweep import plan, run_sweep

    monkeypatch.setenv("BENCH_DASK_NO_WORKERS_S", "1")
    sweep = plan("arm2", "osc", "reach", ["reach.targets=2", "reach.duration=0.2"], seeds=range(30),
                 workroot=tmp_path / "runs")
    store = Store(tmp_path / "g.sqlite")
    client = Client(cluster.scheduler_address)
    closing: list[threading.Thread] = []

    def close_the_cluster(outcome, run_id):
        if not closing:
            closing.append(threading.Thread(target=cluster.close))
            closing[0].start()

    try:
        t0 = time.perf_counter()
        report = run_sweep(sweep, store, executor="dask", client=client, quiet=True, on_outcome=close_the_cluster)
        assert time.perf_counter() - t0 < 20
    finally:
        closing[0].join(10)
        client.close(timeout=2)
    assert report.exit_code == 1, report.line()
    assert f"the Dask scheduler at {cluster.scheduler_address} does not answer" in report.fault
    assert 1 <= len(report.ok) < 30 and store.count() == len(report.ok)
    assert all(st == "ok" for _, _, st, _ in _rows(store.path))


# -- local workers: a dead one loses only its own run; none outlives the sweep --------------------
@pytest.mark.slow
def test_a_dead_worker_loses_only_its_own_run(faultplug, tmp_path):
    import io

    from bench.sweep import plan, run_sweep

    marks = tmp_path / "marks"
    marks.mkdir()
    sets = ["nap.seconds=0.6", "nap.die=1", f"nap.marks={marks}"]
    sweep = plan("dot", "still", "nap", sets, seeds=range(5), workroot=tmp_path / "runs")
    store = Store(tmp_path / "w.sqlite")
    progress = io.StringIO()
    report = run_sweep(sweep, store, jobs=2, stream=progress)
    # seed 1's worker died half-way; seed 0 ran on the other worker meanwhile and is kept
    assert [job.seed for job, _ in report.lost] == [1], report.line()
    assert "died (exit code 9) while running this job" in report.lost[0][1]
    assert sorted(store.run(i)["seed"] for i in report.ok) == [0, 2, 3, 4]
    assert report.exit_code == 1 and not report.failed
    assert "] lost " in progress.getvalue() and "(0 failed, 1 lost" in progress.getvalue()
    assert report.line().startswith("4 ok, 0 failed") and "1 lost (worker died" in report.line()
    again = run_sweep(sweep, store, jobs=2, quiet=True)
    assert [store.run(i)["seed"] for i in again.ok] == [1] and len(again.skipped) == 4
    _exactly_once(store.path, 5)


@linux
@pytest.mark.slow
def test_the_workers_of_a_killed_sweep_die_with_it_and_the_next_sweep_completes_its_runs(site, tmp_path):
    db = tmp_path / "k.sqlite"
    cmd = _sweep(db, 6, "nap.seconds=0.05")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(site, FAULTPLUG_SECONDS="30"),  # runs longer than the test
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert _wait(lambda: len(_workers(proc.pid)) == 2 and sum(r[2] == "pending" for r in _rows(db)) >= 2, 60)
    workers = _workers(proc.pid)
    proc.kill()
    proc.wait()
    t0 = time.perf_counter()
    assert _wait(lambda: all(_gone(w) for w in workers), 5), [w for w in workers if not _gone(w)]
    print(f"the workers of a SIGKILLed sweep died {time.perf_counter() - t0:.2f} s after it")
    # its claims are of a dead process: the next sweep takes them over at once
    done = subprocess.run(cmd, cwd=tmp_path, env=_env(site), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = _rows(db)
    assert {st for *_, st, _ in rows} == {"ok"} and len(rows) == 6


@linux
@pytest.mark.slow
def test_ctrl_c_or_sigterm_stops_in_order_and_a_second_ctrl_c_exits_130_at_once(site, tmp_path):
    db = tmp_path / "c.sqlite"
    cmd = _sweep(db, 40, "nap.seconds=0.3")
    cmd.remove("-q")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(site), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert _wait(lambda: _stored(db) >= 2, 60)
    workers = _workers(proc.pid)
    with _locked(db):  # the orderly stop cannot release its claims: it waits for the lock
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert proc.poll() is None
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        seconds = time.perf_counter() - t0
    assert proc.returncode == 130 and seconds < 3, (seconds, err)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert "Ctrl-C again to quit at once" in err and "interrupted again: quitting now" in err
    assert _wait(lambda: all(_gone(w) for w in workers), 5)
    kept = _stored(db)
    assert kept >= 2
    # one SIGTERM (or Ctrl-C: tests/test_sweep.py): an orderly stop, nothing left pending
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(site), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert _wait(lambda: _stored(db) >= kept + 2, 60)
    workers = _workers(proc.pid)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "interrupted (completed runs kept" in out
    assert {st for *_, st, _ in _rows(db)} == {"ok"}
    assert _wait(lambda: all(_gone(w) for w in workers), 5)


# -- random kills, then resume: every run stored exactly once ------------------------------------------
@linux
@pytest.mark.slow
def test_random_kills_of_a_worker_and_of_the_whole_sweep_then_resuming_stores_every_run_exactly_once(site, tmp_path):
    rng = random.Random(12)  # seeded: the same kill points on every machine of the same speed
    seeds, db = 40, tmp_path / "r.sqlite"
    cmd = _sweep(db, seeds, "nap.seconds=0.08")
    t0 = time.perf_counter()
    killed_workers = 0
    for _ in range(3):  # three sweeps, each losing a worker and then killed itself at random points
        before = _stored(db)
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(site), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert _wait(lambda p=proc, b=before: p.poll() is not None or (len(_workers(p.pid)) == 2 and _stored(db) > b),
                     60)
        time.sleep(rng.uniform(0.0, 0.4))
        workers = _workers(proc.pid)
        if workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(rng.choice(workers), signal.SIGKILL)
                killed_workers += 1
        time.sleep(rng.uniform(0.05, 0.5))
        workers = _workers(proc.pid)
        proc.kill()
        proc.communicate()
        assert _wait(lambda ws=workers: all(_gone(w) for w in ws), 5)
        rows = _rows(db)  # never two rows of one run, whatever was killed when
        assert len({(e, s) for e, s, _, _ in rows}) == len(rows)
    assert killed_workers and _stored(db) < seeds, "the kills came too late to test anything"
    done = subprocess.run(cmd, cwd=tmp_path, env=_env(site), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    _exactly_once(db, seeds)
    print(f"3 killed sweeps ({killed_workers} killed workers) and a resume: {seeds} runs stored exactly once "
          f"in {time.perf_counter() - t0:.1f} s")
