"""Issue 14, item 1: training runs are runs.

``bench train PLANT LEARNER TASK --seeds N --set k=a,b`` (and ``bench sweep ... TASK:train``) store one run per
(settings, seed) with its learning curve (the frame ``training``: error against iteration and wall time),
written as the training goes (status ``partial``), kept when the training is stopped, resumed by the same
command and completed in place; reports draw the curves across seeds and ``bench compare`` gates on the
time-to-threshold metrics.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from stores import stored_rows

import bench
from bench.api import Metric, Result, train_learner
from bench.claims import Claims
from bench.errors import SweepError
from bench.store import SCHEMA_VERSION, Store
from bench.sweep import plan

BIN = Path(sys.executable).parent
TINY_AHF = ["--set", "ahf.hidden=6", "--set", "ahf.targets=4", "--set", "ahf.cg_iter=5", "--set", "reach.targets=4"]


def _runs(db: str | Path) -> list[dict]:
    return Store(db).runs()


def _metrics(store: Store, run_id: int) -> dict[str, dict]:
    return store.run(run_id)["metrics"]


# -- planning ---------------------------------------------------------------------------------
def test_a_training_task_plans_one_training_run_per_setting_and_seed():
    p = plan("arm2", "ahf", "reach:train", ["ahf.regime=rollout,fixed"], [0, 1], dt="0.01")
    assert len(p.jobs) == 4 and not p.refused
    assert all(j.training and j.task == "reach" and j.task_name == "reach:train" and j.resumes for j in p.jobs)
    assert all(j.claim_row()["task"] == "reach:train" for j in p.jobs)
    assert len({(j.experiment, j.seed) for j in p.jobs}) == 4 and len({j.experiment for j in p.jobs}) == 2
    # training settings (train_only) are accepted without --train; a benchmark run of the same task refuses them
    with pytest.raises(bench.errors.SettingError, match="used only when training"):
        plan("arm2", "ahf", "reach", ["ahf.regime=rollout"], [0], dt="0.01")
    # the training's key is not the key of a run of the task, nor of a run trained first (--train)
    runs = plan("arm2", "ahf", "reach", ["ahf.regime=rollout"], [0], dt="0.01", train=True)
    assert runs.jobs[0].experiment not in {j.experiment for j in p.jobs}
    # pg and npg do not resume a stopped training
    assert not plan("cartpole", "pg", "balance:train", [], [0]).jobs[0].resumes


def test_only_learners_train_and_train_first_is_not_a_training_run():
    with pytest.raises(SweepError, match="every combination was refused"):
        plan("arm2", "osc", "reach:train", [], [0])
    mixed = plan("arm2", "osc,ahf", "reach:train", [], [0], dt="0.01")
    assert [j.controller for j in mixed.jobs] == ["ahf"] and "does not learn" in mixed.refused[0]
    with pytest.raises(SweepError, match="--train"):
        plan("arm2", "ahf", "reach:train", [], [0], train=True)


def test_the_regimes_suite_plans_three_regimes_by_three_seeds_of_training_runs():
    from bench.suite import find

    suite = find("ahf-regimes")
    jobs = suite.plan().jobs
    assert len(jobs) == 9 and all(j.training and j.task_name == "reach:train" and j.dt == "0.01" for j in jobs)
    regimes = sorted((dict(j.sets)["ahf.regime"], j.seed) for j in jobs)
    assert regimes == sorted((r, s) for r in ("rollout", "fixed", "switch") for s in range(3))
    assert suite.threshold("reach:train", "train_s_to_1cm") is None  # wall clock: shown, not gated
    assert suite.threshold("reach:train", "iterations_to_1cm") == 0.05


# -- the store: partial rows --------------------------------------------------------------------
def _partial_result(experiment: str, rows: int, seed: int = 0) -> Result:
    curve = pd.DataFrame({"iteration": np.arange(rows), "wall_s": np.arange(rows) * 0.1,
                          "distance_mean": np.linspace(0.1, 0.01, rows)})
    r = Result(metrics={"last_iteration": rows - 1.0}, frames={"training": curve})
    r.meta.update(experiment=experiment, seed=seed, plant="arm2", controller="ahf", task="reach:train",
                  settings_hash="h", settings={})
    return r


def test_a_partial_row_is_written_only_under_its_claim_kept_when_released_and_never_reported(tmp_path):
    store = Store(tmp_path / "p.sqlite")
    row = {"experiment": "e" * 64, "seed": 0, "plant": "arm2", "controller": "ahf", "task": "reach:train",
           "settings_hash": "h"}
    with Claims(store) as claims:
        claim = claims.claim(row)
        run_id = claims.progress(claim, _partial_result("e" * 64, 3))
        assert run_id == claim.run_id
        assert stored_rows(store.path, "id, status, claim IS NOT NULL") == [(run_id, "partial", 1)]
        assert len(store.frame(run_id, "training")) == 3
        assert claims.progress(claim, _partial_result("e" * 64, 5)) == run_id  # newer curve replaces the older
    # the claim released (Ctrl-C): the partial row stays, unclaimed, with its curve
    assert stored_rows(store.path, "id, status, claim IS NOT NULL") == [(run_id, "partial", 0)]
    assert len(store.frame(run_id, "training")) == 5
    assert store.count() == 0 and store.dataframe().empty  # reports and compare read ok runs only
    from bench.reports import html

    df, summary, runs = html.build(store)
    assert df.empty and runs == [] and summary.empty
    # the next claimer takes it over and completes it in place
    with Claims(store) as claims:
        again = claims.claim(row)
        assert again.state == "claimed" and again.previous == "partial" and again.run_id == run_id
        final = _partial_result("e" * 64, 8)
        assert claims.complete(again, final) == run_id
        assert claims.progress(again, _partial_result("e" * 64, 6)) is None  # a late curve never undoes it
    assert stored_rows(store.path, "id, status") == [(run_id, "ok")]
    assert len(store.frame(run_id, "training")) == 8 and store.count() == 1


def test_a_completed_training_run_replaces_the_partial_run_of_its_settings_and_seed_left_by_older_code(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    row = {"experiment": "old" * 21 + "o", "seed": 0, "plant": "arm2", "controller": "ahf", "task": "reach:train",
           "settings_hash": "h"}
    with Claims(store) as claims:
        claims.progress(claims.claim(row), _partial_result(row["experiment"], 3))
        other = claims.claim({**row, "seed": 1})  # another seed: kept
        claims.progress(other, _partial_result(row["experiment"], 2, seed=1))
    with Claims(store) as claims:  # the code changed: another experiment key, the same settings and seed
        new = {**row, "experiment": "new" * 21 + "n"}
        done = claims.complete(claims.claim(new), _partial_result(new["experiment"], 9))
    assert stored_rows(store.path, "id, status, seed") == [(2, "partial", 1), (done, "ok", 0)]
    assert len(store.frame(done, "training")) == 9


def test_a_schema_3_store_migrates_so_that_a_run_may_be_partial(tmp_path):
    db = tmp_path / "v3.sqlite"
    first = bench.run(bench.plant("arm2"), bench.controller("osc"), bench.task("reach", targets=2), seed=0,
                      store=db)
    with sqlite3.connect(db) as con:  # the runs table of schema 3: no 'partial' status
        con.execute("PRAGMA foreign_keys = OFF")
        con.execute("PRAGMA legacy_alter_table = ON")  # the other tables keep referring to runs
        sql = con.execute("SELECT sql FROM sqlite_master WHERE name = 'runs'").fetchone()[0]
        con.execute("ALTER TABLE runs RENAME TO runs_new")
        con.execute(sql.replace(", 'partial'", "").replace("CREATE TABLE runs_new", "CREATE TABLE runs"))
        con.execute("INSERT INTO runs SELECT * FROM runs_new")
        con.execute("DROP TABLE runs_new")
        con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
        with pytest.raises(sqlite3.IntegrityError):
            con.execute("UPDATE runs SET status = 'partial'")
    old = Store(db)
    assert old.version == 3 and old.run(first.run_id)["status"] == "ok"
    with Claims(old) as claims:  # the first write migrates, the same rows kept
        claim = claims.claim({"experiment": "x" * 64, "seed": 0, "plant": "arm2", "controller": "ahf",
                              "task": "reach:train", "settings_hash": "h"})
        assert claims.progress(claim, _partial_result("x" * 64, 2)) is not None
    assert Store(db).version == SCHEMA_VERSION == 4
    assert stored_rows(db, "id, status") == [(first.run_id, "ok"), (first.run_id + 1, "partial")]
    assert len(Store(db).frame(first.run_id, "trajectory")) == 2 * 50


# -- learners hand their curve on as they train ------------------------------------------------
def test_learners_hand_on_their_curve_after_every_iteration(tmp_path):
    arm, task = bench.plant("arm2", dt=0.01), bench.task("reach", targets=4)
    ahf = bench.controller("ahf", hidden=6, targets=4, cg_iter=5, iterations=4)
    ahf.bind(arm)
    seen: list[pd.DataFrame] = []
    curve = train_learner(ahf, arm, task, seed=0, fresh=True, workdir=tmp_path, progress=seen.append)
    assert [len(c) for c in seen] == [1, 2, 3, 4, 5]  # iteration 0 (the start), then every update
    pd.testing.assert_frame_equal(seen[-1], curve)
    metrics = ahf.training_metrics(curve, task)
    assert set(metrics) == set(ahf.TRAINING_METRICS) and all(m.better == "lower" for m in
                                                              ahf.TRAINING_METRICS.values())
    cartpole = bench.plant("cartpole")
    pg = bench.controller("pg")
    pg.bind(cartpole)
    seen.clear()
    curve = train_learner(pg, cartpole, bench.task("balance", batches=3), seed=0, fresh=True, progress=seen.append)
    assert [len(c) for c in seen] == [1, 2, 3] and list(curve["batch"]) == [1, 2, 3]
    assert curve["wall_s"].is_monotonic_increasing
    # a learner whose train() does not take progress trains as before, without it
    class Plain(bench.Learner):
        def act(self, observation, target):
            return observation

        def train(self, plant, task, *, seed, fresh=False, workdir=None, log=None):
            return pd.DataFrame({"batch": [1, 2]})

        def save(self, path):
            return Path(path)

        def load(self, path):
            pass

    seen.clear()
    assert list(train_learner(Plain(), None, None, seed=0, progress=seen.append)["batch"]) == [1, 2] and not seen


def test_the_learner_conformance_check_holds_a_declared_progress_to_its_promise(bench_check_learner):
    from test_contracts import Hill, cartpole_and_balance

    from bench.errors import ConformanceError

    class Silent(Hill):  # declares progress, never calls it
        def train(self, plant, task, *, seed, fresh=False, workdir=None, log=None, progress=None):
            return super().train(plant, task, seed=seed, fresh=fresh, workdir=workdir, log=log)

    class Honest(Hill):
        def train(self, plant, task, *, seed, fresh=False, workdir=None, log=None, progress=None):
            curve = super().train(plant, task, seed=seed, fresh=fresh, workdir=workdir, log=log)
            for n in range(1, len(curve) + 1):
                progress(curve.iloc[:n])
            return curve

    plant, task = cartpole_and_balance()
    bench_check_learner(Honest(), plant, task)
    learner = Silent()
    learner.name = "hill"
    with pytest.raises(ConformanceError, match=r"^learner hill: train\(progress=...\) must call progress"):
        bench_check_learner(learner, plant, task)


def test_the_time_to_a_threshold_is_read_on_the_curve_and_nan_when_never_reached():
    ahf = bench.controller("ahf")
    ahf.bind(bench.plant("arm2", dt=0.01))
    curve = pd.DataFrame({"iteration": [0, 1, 2, 3], "wall_s": [0.0, 1.5, 3.0, 4.5],
                          "distance_mean": [0.05, 0.012, 0.009, 0.004], "distance_max": [0.09, 0.03, 0.02, 0.009]})
    m = ahf.training_metrics(curve, bench.task("reach"))
    assert (m["train_s_to_1cm"], m["iterations_to_1cm"]) == (3.0, 2.0)
    assert (m["train_s_to_threshold_all"], m["iterations_to_threshold_all"]) == (4.5, 3.0)  # arm2: 0.01 m
    m = ahf.training_metrics(curve, bench.task("reach", tolerance=0.005))
    assert np.isnan(m["train_s_to_threshold_all"]) and m["best_distance_mean"] == 0.004
    pg = bench.controller("pg")
    rewards = pd.DataFrame({"batch": [1, 2, 3, 4], "wall_s": [1.0, 2.0, 3.0, 4.0], "max_reward": [20, 200, 60, 200],
                            "mean_reward": [10, 30, 50, 70]})
    m = pg.training_metrics(rewards, bench.task("balance", solved_reward=40, solved_window=2))
    assert (m["batches_to_solved"], m["train_s_to_solved"]) == (3.0, 3.0)  # mean of batches 2-3: 40
    assert (m["batches_to_cap"], m["train_s_to_cap"]) == (2.0, 2.0)
    assert np.isnan(pg.training_metrics(rewards, bench.task("balance"))["batches_to_solved"])


def test_a_partial_result_is_handed_on_at_most_once_a_second_and_once_more_when_training_stops(tmp_path):
    from bench.session import resolve, train_run

    class Stop(Exception):
        pass

    got: list[Result] = []

    def progress(result):
        got.append(result)

    resolved = resolve("cartpole", "pg", "balance", {"batches": 40}, train=True)
    result = train_run(resolved, 0, train_dir=tmp_path, progress=progress, every=3600)
    assert len(got) == 1 and len(got[0].frames["training"]) == 1  # the first at once, the rest throttled
    assert got[0].meta["task"] == "balance:train" and got[0].meta["experiment"] == result.meta["experiment"]
    assert len(result.frames["training"]) == 40 and Path(result.artifacts["weights"]).is_file()
    assert result.info["batches_to_solved"] == Metric("batches", "lower", result.info["batches_to_solved"].help)

    def stop_after_five(r):  # a training that stops (Ctrl-C, a crash) hands on its newest curve first
        got.append(r)
        if len(r.frames["training"]) >= 5:
            raise Stop

    got.clear()
    with pytest.raises(Stop):
        train_run(resolved, 0, train_dir=tmp_path, progress=stop_after_five, every=0)
    assert len(got[-1].frames["training"]) == 5


# -- bench train and bench sweep TASK:train -------------------------------------------------------
@pytest.mark.slow
def test_train_stores_one_run_per_setting_and_seed_skips_stored_ones_and_fresh_replaces_them(cli):
    args = ["cartpole", "pg", "balance", "--seeds", "2", "--set", "batches=2,3"]
    code, out, err = cli("train", *args)
    assert code == 0, err
    rows = _runs(".bench/results.sqlite")
    assert len(rows) == 4 and {r["task"] for r in rows} == {"balance:train"} and {r["status"] for r in rows} == {"ok"}
    assert sorted((json.loads(r["settings"])["task"]["batches"], r["seed"]) for r in rows) == [
        (2, 0), (2, 1), (3, 0), (3, 1)]
    store = Store(".bench/results.sqlite")
    for r in rows:
        curve = store.frame(r["id"], "training")
        n = json.loads(r["settings"])["task"]["batches"]
        assert list(curve["batch"]) == list(range(1, n + 1)) and curve["wall_s"].is_monotonic_increasing
        m = _metrics(store, r["id"])
        assert m["train_s_to_solved"]["better"] == "lower" and m["train_s_to_solved"]["unit"] == "s"
        assert f"--set pg.weights=run:{r['id']}" in out
    # the same command again: everything is stored, nothing trains
    code, out, err = cli("train", *args)
    assert code == 0 and out.count("already stored as run") == 4 and "training curve stored" not in out
    # bench sweep with TASK:train is the same planner: the same runs, skipped
    code, out, err = cli("sweep", *args[:2], "balance:train", *args[3:], "-j", "1")
    assert code == 0 and "0 ok, 0 failed, 4 skipped" in out, out + err
    # --fresh trains them again, each in its own row
    code, out, err = cli("train", *args, "--fresh")
    assert code == 0 and out.count("training curve stored as run") == 4
    again = _runs(".bench/results.sqlite")
    assert [r["id"] for r in again] == [r["id"] for r in rows] and all(
        a["started_at"] >= b["started_at"] for a, b in zip(again, rows))


@pytest.mark.slow
def test_ahf_regimes_train_in_parallel_workers_with_one_row_each(cli):
    code, _, err = cli("train", "arm2", "ahf", "reach", "--dt", "0.01", *TINY_AHF, "--seeds", "2",
                         "--set", "ahf.regime=rollout,fixed", "--set", "ahf.iterations=3", "-j", "2")
    assert code == 0, err
    rows = _runs(".bench/results.sqlite")
    assert len(rows) == 4 and {r["status"] for r in rows} == {"ok"} and {r["task"] for r in rows} == {"reach:train"}
    store = Store(".bench/results.sqlite")
    for r in rows:
        curve = store.frame(r["id"], "training")
        assert list(curve["iteration"]) == [0, 1, 2, 3] and {"wall_s", "distance_mean"} <= set(curve.columns)
        assert set(_metrics(store, r["id"])) >= {"train_s_to_1cm", "iterations_to_1cm", "train_s_to_threshold_all"}
    curves = {json.loads(r["settings"])["controller"]["regime"] + str(r["seed"]): store.frame(r["id"], "training")
              for r in rows}
    assert not curves["rollout0"]["error"].equals(curves["rollout1"]["error"])  # seeds differ
    assert not curves["rollout0"]["error"].equals(curves["fixed0"]["error"])  # regimes differ


def test_train_refuses_what_does_not_learn_and_train_first_with_a_training_task(cli):
    code, _, err = cli("train", "arm2", "osc", "reach")
    assert code == 2 and "does not learn" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("sweep", "arm2", "ahf", "reach:train", "--train")
    assert code == 2 and "--train" in err and len(err.strip().splitlines()) == 1


# -- reports and compare ----------------------------------------------------------------------------
@pytest.mark.slow
def test_reports_draw_training_curves_across_seeds_per_variant(cli, tmp_path):
    code, _, err = cli("train", "cartpole", "pg", "balance", "--seeds", "2", "--set", "batches=4",
                       "--set", "solved_reward=10", "--set", "solved_window=2", "--set", "pg.lr=0.01,0.05", "-q")
    assert code == 0, err
    code, out, _ = cli("report")
    assert code == 0 and "## balance:train" in out
    head = next(line for line in out.splitlines() if line.startswith("| plant"))
    assert "train_s_to_solved" in head and "batches_to_solved" in head and "pg.lr" in head
    code, _, _ = cli("report", "--format", "html", "--out", "rep")
    assert code == 0
    figure = Path("rep/figures/balance-train-cartpole-training-mean_reward.png")
    assert figure.is_file() and figure.stat().st_size > 5000
    page = Path("rep/index.html").read_text()
    assert "training for balance on cartpole" in page and "against training wall time" in page
    assert "figures/balance-train-cartpole-training-mean_reward.png" in Path("rep/summary.md").read_text()


def test_the_curve_band_holds_each_seeds_last_value_on_a_common_time_grid():
    from bench.reports.figures import _held

    grid = np.array([0.0, 0.5, 1.0, 2.5, 10.0])
    assert list(_held(np.array([0.2, 1.0, 2.0]), np.array([3.0, 2.0, 1.0]), grid))[1:] == [3.0, 2.0, 1.0, 1.0]
    assert np.isnan(_held(np.array([0.2, 1.0]), np.array([3.0, 2.0]), grid)[0])


@pytest.mark.slow
def test_compare_gates_on_a_time_to_threshold_that_is_never_reached_now(cli):
    # the base solves balance at once (solved_reward 10: a random policy's mean reward is about 20); the head
    # asks for 190 within 12 batches, never: NaN after finite is a regression
    code, _, err = cli("train", "cartpole", "pg", "balance", "--seeds", "3", "--set", "batches=12",
                       "--set", "solved_reward=10", "--set", "solved_window=2", "-q", "--db", "base.sqlite")
    assert code == 0, err
    code, _, err = cli("train", "cartpole", "pg", "balance", "--seeds", "3", "--set", "batches=12",
                       "--set", "solved_reward=190", "--set", "solved_window=2", "-q", "--db", "head.sqlite")
    assert code == 0, err
    base = Store("base.sqlite")
    assert all(np.isfinite(_metrics(base, r["id"])["batches_to_solved"]["value"]) for r in base.runs())
    code, out, _ = cli("compare", "base.sqlite", "head.sqlite")
    assert code == 1, out
    line = next(line for line in out.splitlines() if "batches_to_solved" in line)
    assert "regression" in line
    code, out, _ = cli("compare", "base.sqlite", "base.sqlite")
    assert code == 0, out


# -- a stopped training keeps its curve and resumes -----------------------------------------------------
def _wait_partial(db: Path, rows: int, proc: subprocess.Popen, seconds: float = 120) -> list[tuple]:
    """Wait until every row of ``db`` holds a partial curve of at least ``rows`` rows; the rows."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        found = stored_rows(db, "id, status, seed")
        if found and all(st == "partial" for _, st, _ in found):
            store = Store(db)
            if all(len(store.frame(i, "training")) >= rows for i, _, _ in found):
                return found
        time.sleep(0.1)
    raise AssertionError(f"no partial curves of {rows} rows in {seconds} s: {stored_rows(db)}")


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_keeps_the_ahf_curve_so_far_and_the_same_command_resumes_from_the_checkpoints(tmp_path, jobs):
    db = tmp_path / "r.sqlite"
    seeds = "1" if jobs == "1" else "2"
    cmd = [str(BIN / "bench"), "train", "arm2", "ahf", "reach", "--dt", "0.01", *TINY_AHF, "--set",
           "ahf.regime=rollout", "--set", "ahf.iterations=400", "--set", "ahf.goal=0", "--seeds", seeds, "-j", jobs,
           "--db", str(db)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_partial(db, 20, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    kept = stored_rows(db, "id, status, claim")
    assert len(kept) == int(seeds) and all(st == "partial" and claim is None for _, st, claim in kept), kept
    keys = stored_rows(db, "experiment")
    seed_of = dict(stored_rows(db, "id, seed"))
    assert "the curve so far is kept in run(s)" in err and "the same command resumes" in err
    store = Store(db)
    before = {i: store.frame(i, "training") for i, _, _ in kept}
    assert all(list(c["iteration"]) == list(range(len(c))) for c in before.values())
    assert store.count() == 0 and store.dataframe().empty  # not a finished run anywhere
    # the same command: resumed from the checkpoints, completed in the same rows
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resuming from checkpoint" in done.stdout or jobs == "2", done.stdout  # ahf's own line (in process)
    after = stored_rows(db, "id, status, seed")
    assert len(after) == int(seeds) and {st for _, st, _ in after} == {"ok"}, after
    if stored_rows(db, "experiment") == keys:  # the same experiments: completed in their rows
        assert [i for i, _, _ in after] == [i for i, _, _ in kept]
        assert done.stdout.count("resuming the stopped training") == int(seeds), done.stdout
    # else the code changed meanwhile (another experiment): the completed runs replaced the partial ones
    for run_id, curve in before.items():
        full = store.frame(next(i for i, _, s in after if s == seed_of[run_id]), "training")
        assert list(full["iteration"]) == list(range(401))
        assert full["wall_s"].is_monotonic_increasing
        # the stored part is the start of the completed curve (checkpointed every iteration: nothing lost;
        # frames keep a float column to a millionth of its range)
        np.testing.assert_allclose(full["distance_mean"].iloc[:len(curve)], curve["distance_mean"], rtol=1e-5)


@pytest.mark.slow
def test_a_killed_pg_training_keeps_its_curve_and_the_same_command_starts_it_over_in_its_row(tmp_path):
    db = tmp_path / "k.sqlite"
    cmd = [str(BIN / "bench"), "train", "cartpole", "pg", "balance", "--set", "batches=1500", "--db", str(db)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    found = _wait_partial(db, 10, proc)
    proc.send_signal(signal.SIGKILL)  # no chance to say anything, nor to release its claim
    proc.communicate(timeout=30)
    (run_id, status, claim_pid), = stored_rows(db, "id, status, claim_pid")
    assert status == "partial" and claim_pid == proc.pid and found[0][0] == run_id
    partial = Store(db).frame(run_id, "training")
    assert 10 <= len(partial) < 1500
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "from the start (pg does not resume a stopped training)" in done.stdout
    assert stored_rows(db, "id, status, claim_pid") == [(run_id, "ok", None)]
    full = Store(db).frame(run_id, "training")
    assert list(full["batch"]) == list(range(1, 1501))
    # started over with the same seed: the same batches as before the kill (timings aside)
    for col in ("batch", "max_reward", "mean_reward", "episodes", "steps"):
        np.testing.assert_allclose(full[col].iloc[:len(partial)], partial[col], rtol=1e-5)
