"""Bounded memory at scale: the store's size per run, ``bench report`` on large stores, a long sweep's coordinator.

Run the real measurement with::

    .venv/bin/pytest tests/benchmarks/test_report_scale.py --benchmark-enable -s

* :func:`test_store_bytes_per_reach_run` - real ``arm2 osc reach`` runs of 64
  targets stored as now (compressed frames, 50 time points per target), as
  schema 2 stored them (JSON, 100 points) and with ``reach.full_trajectory``:
  bytes per run after ``VACUUM`` (what a run adds to the file).  Target: at
  most 60 KB per run by default (checked in both modes: sizes do not depend
  on the machine's load).
* :func:`test_report_scale` - ``bench report --format md`` (printed), ``csv``
  (printed) and ``html`` (the folder: tables, figures, animations, history)
  on a synthetic store (:mod:`synthetic_store`) of 10 000 runs against the
  same report on 1 000 runs, each in a fresh process: its wall time and its
  peak resident memory (``ru_maxrss``).  Targets: under 30 s (reported) and
  under 1 GB (checked).
* :func:`test_sweep_coordinator_rss` - a sweep of 10 000 cheap runs
  (``arm2 osc reach``, one target, 0.02 s at dt 0.01) at ``-j 2`` and
  through Dask (a ``LocalCluster`` of 2 worker processes in another
  process, reached at its scheduler address as ``--scheduler`` does): the
  coordinator's resident memory sampled as the runs are stored.  Target:
  under 200 MB throughout (checked), and flat (the growth is reported).

Under ``make test`` (``--benchmark-disable``) each runs once at a small size
(a few runs, a store of tens of runs) and checks its results; with
``--benchmark-enable`` the full sizes run (about 15 minutes, the two
10 000-run sweeps most of it) and the figures print in the ``speed ratios
and profiles`` section.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve()
KB = 1024
#: Targets of issue 15.
STORE_KB_PER_RUN = 60
REPORT_S = 30
REPORT_MB = 1024
COORDINATOR_MB = 200


def _child(*args: str, timeout: float = 1800) -> dict[str, Any]:
    """Run this file as a script (``__main__`` below) in a fresh process; its JSON answer."""
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"scale-{os.getpid()}-{time.monotonic_ns()}.json"
    try:
        proc = subprocess.run([sys.executable, str(HERE), *args, str(out)], capture_output=True, text=True,
                              timeout=timeout, cwd=HERE.parents[2])
        assert proc.returncode == 0, f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


# -- the store's size per run ----------------------------------------------------------------------
def _file_bytes(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        con.execute("VACUUM")
        return con.execute("PRAGMA page_count").fetchone()[0] * con.execute("PRAGMA page_size").fetchone()[0]
    finally:
        con.close()


def test_store_bytes_per_reach_run(tmp_path, speed):
    import bench
    from bench.store import Store

    n = speed.size(10, 2)
    arm = bench.plant("arm2")
    sizes = {}
    for kind, task in (("now", bench.task("reach", targets=64)),
                       ("schema 2 (JSON, 100 points)", bench.task("reach", targets=64, frame_points=100)),
                       ("full_trajectory", bench.task("reach", targets=64, full_trajectory=True))):
        db = tmp_path / f"{len(sizes)}.sqlite"
        store = Store(db)
        empty = _file_bytes(db)
        for seed in range(n):
            result = bench.run(arm, bench.controller("osc"), task, seed=seed, store=store)
            if kind.startswith("schema 2"):  # the frames as schema 2 wrote them
                con = sqlite3.connect(db)
                with con:
                    for name, frame in result.frames.items():
                        con.execute("UPDATE frames SET data = ?, encoding = 'json' WHERE run_id = ? AND name = ?",
                                    (frame.to_json(orient="split", index=False, double_precision=10),
                                     result.run_id, name))
                con.close()
        sizes[kind] = (_file_bytes(db) - empty) / n
        assert len(store.frame(result.run_id, "trajectory")) == 64 * {"now": 50, "full_trajectory": 401}.get(kind, 100)
    speed.note(*(f"{kind}: {b / KB:.1f} KB per 64-target reach run (dt 1 ms, 400 steps; {n} runs)"
                 for kind, b in sizes.items()),
               f"now / schema 2: {sizes['now'] / sizes['schema 2 (JSON, 100 points)']:.3f}")
    assert sizes["now"] <= STORE_KB_PER_RUN * KB, f"{sizes['now'] / KB:.1f} KB per run > {STORE_KB_PER_RUN} KB"
    assert sizes["now"] < sizes["full_trajectory"] < sizes["schema 2 (JSON, 100 points)"]


# -- bench report on a large store ------------------------------------------------------------------
@pytest.fixture(scope="module")
def stores(tmp_path_factory, request):
    """(small, large) synthetic stores: 1 000 and 10 000 runs (smoke: 20 and 60 runs of one family)."""
    from conftest import timing_enabled
    from synthetic_store import make

    folder = tmp_path_factory.mktemp("scale")
    if timing_enabled(request.config):
        return make(folder / "1k.sqlite", 1_000), make(folder / "10k.sqlite", 10_000)
    one = ("arm2 osc reach",)
    return make(folder / "small.sqlite", 20, seeds=5, families=one), make(folder / "large.sqlite", 60, seeds=5,
                                                                           families=one)


@pytest.mark.parametrize("fmt", ["md", "csv", "html"])
def test_report_scale(fmt, stores, tmp_path, benchmark, speed):
    small, large = stores
    runs = {}
    for db in (small, large):
        con = sqlite3.connect(db)
        runs[db] = con.execute("SELECT count(*) FROM runs").fetchone()[0]
        con.close()

    def report(db: Path) -> dict[str, Any]:
        return _child("report", str(db), fmt, str(tmp_path / f"{db.stem}-{fmt}"))

    big = benchmark.pedantic(report, args=(large,), rounds=1, iterations=1)
    little = report(small)
    for got in (little, big):
        assert got["rc"] == 0 and got["output"] > 0, got
    if fmt == "html":
        assert (tmp_path / f"{large.stem}-html" / "index.html").stat().st_size > 0
    label = {small: f"{runs[small]:,} runs", large: f"{runs[large]:,} runs"}
    speed.check_ratios(f"bench report --format {fmt}", {label[small]: little["wall_s"], label[large]: big["wall_s"]},
                       {(label[small], label[large]): None})
    speed.note(*(f"{fmt} on {label[db]}: {got['wall_s']:.1f} s (target < {REPORT_S} s: "
                 f"{'met' if got['wall_s'] < REPORT_S else 'MISSED'}), peak {got['maxrss_mb']:.0f} MB"
                 for db, got in ((small, little), (large, big))))
    for got in (little, big):
        assert got["maxrss_mb"] < REPORT_MB, f"bench report --format {fmt}: peak {got['maxrss_mb']:.0f} MB"


# -- a long sweep's coordinator ------------------------------------------------------------------------
@pytest.mark.parametrize("executor", ["local", "dask"])
def test_sweep_coordinator_rss(executor, tmp_path, speed):
    if executor == "dask":
        pytest.importorskip("dask.distributed")
    runs = speed.size(10_000, 20)
    got = _child("sweep", executor, str(runs), str(tmp_path / "sweep.sqlite"))
    assert got["ok"] == runs, got["line"]
    samples = got["samples"]   # [runs stored, RSS MB]
    peak = max(mb for _, mb in samples)
    warm = min(500, runs // 2)   # runs after which the coordinator has built what it keeps
    settled = next((mb for done, mb in samples if done >= warm), samples[0][1])
    growth = (samples[-1][1] - settled) / max(1, samples[-1][0] - warm) * 1000
    shown = samples[:: max(1, len(samples) // 12)]
    speed.note(f"{executor} -j 2, {runs:,} runs in {got['wall_s']:.0f} s: coordinator RSS {got['start_mb']:.0f} MB "
               f"before the first run, {samples[0][1]:.0f} MB after it, {settled:.0f} MB after {warm} runs, "
               f"{samples[-1][1]:.0f} MB after {samples[-1][0]:,}, peak {peak:.0f} MB; "
               f"{growth:+.2f} MB per 1 000 runs after the first {warm}",
               "  samples (runs: MB): " + ", ".join(f"{d}: {mb:.0f}" for d, mb in shown))
    assert peak < COORDINATOR_MB, f"coordinator peaked at {peak:.0f} MB"


# -- what the children run ------------------------------------------------------------------------------
def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _report(db: str, fmt: str, out_dir: str) -> dict[str, Any]:
    import contextlib
    import io

    from bench.cli import main

    args = ["report", "--db", db, "--format", fmt] + (["--out", out_dir] if fmt == "html" else [])
    printed = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(printed):
        rc = main(args)
    wall = time.perf_counter() - t0
    return {"rc": rc, "wall_s": wall, "output": len(printed.getvalue()),
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _sweep(executor: str, runs: int, db: str) -> dict[str, Any]:
    from bench.store import Store
    from bench.sweep import plan, run_sweep

    start = _rss_mb()
    the_plan = plan("arm2", "osc", "reach", ["reach.targets=1", "reach.duration=0.02"], seeds=range(runs), dt="0.01",
                    workroot=str(Path(db).parent / "runs"))
    every = max(1, runs // 100)
    samples: list[tuple[int, float]] = []
    stored = 0

    def on_outcome(outcome: Any, run_id: int | None) -> None:
        nonlocal stored
        stored += 1
        if stored == 1 or stored % every == 0 or stored == runs:
            samples.append((stored, _rss_mb()))

    cluster = None
    scheduler = None
    if executor == "dask":   # the scheduler and workers in another process, as `--scheduler tcp://...` has them
        cluster = subprocess.Popen(
            [sys.executable, "-c", "import sys\nfrom dask.distributed import LocalCluster\n"
             "c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)\n"
             "print(c.scheduler_address, flush=True)\nsys.stdin.read()\nc.close()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        scheduler = cluster.stdout.readline().strip()
    t0 = time.perf_counter()
    try:
        report = run_sweep(the_plan, Store(db), executor=executor, jobs=2, scheduler=scheduler, quiet=True,
                           on_outcome=on_outcome)
    finally:
        if cluster is not None:
            cluster.stdin.close()
            try:
                cluster.wait(timeout=60)
            except subprocess.TimeoutExpired:
                cluster.kill()
    return {"ok": len(report.ok), "line": report.line(), "wall_s": time.perf_counter() - t0, "start_mb": start,
            "samples": samples}


if __name__ == "__main__":
    what, *rest, answer = sys.argv[1:]
    got = _report(*rest) if what == "report" else _sweep(rest[0], int(rest[1]), rest[2])
    Path(answer).write_text(json.dumps(got))
