"""Issue 11, item 3: no setting is accepted without an effect.

A setting marked ``train_only`` (``bench.setting(..., train_only=True)``) is
read only when the component trains.  ``bench run`` / ``sweep`` / a suite
refuse it (exit 2, one line naming the ``bench train`` command that uses it)
unless the run trains: ``--train``, or a task that trains its controller in
every run (``Task.TRAINS``: balance, classify).  The settings stored (and
hashed) with a run are exactly the ones that shaped it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import bench
from bench import settings as _settings
from bench.errors import Incompatible, SettingError
from bench.runner import describe
from bench.session import resolve, stand_ins
from bench.store import Store
from bench.sweep import plan

#: A few seconds of ahf training on arm2 at the shipped weights' step.
TINY_AHF = ["--set", "ahf.hidden=6", "--set", "ahf.targets=4", "--set", "ahf.cg_iter=5", "--set", "reach.targets=4"]


def stored(db: str = ".bench/results.sqlite") -> list[dict]:
    return Store(db).runs()


def test_a_setting_can_be_marked_train_only_and_left_out_of_what_is_stored():
    @dataclasses.dataclass
    class S:
        kp: float = _settings.setting(1.0, "gain")
        lr: float = _settings.setting(0.1, "learning rate", train_only=True)

    assert _settings.train_only(S) == {"lr"} and _settings.train_only(S()) == {"lr"}
    assert _settings.as_dict(S()) == {"kp": 1.0, "lr": 0.1}
    assert _settings.as_dict(S(), trained=False) == {"kp": 1.0}
    assert _settings.train_only(_settings.NoSettings) == frozenset() and _settings.train_only(None) == frozenset()


def test_the_built_in_learners_mark_their_training_settings():
    ahf = _settings.train_only(bench.controller("ahf").Settings)
    assert {"regime", "iterations", "cg_iter", "dt", "targets", "goal", "max_seconds"} <= ahf
    assert not {"hidden", "weights"} & ahf  # these choose and check the weights it acts with
    from bench.controllers.policy_gradient.npg import NPGSettings
    from bench.controllers.policy_gradient.pg import PGSettings

    assert {"lr", "discount", "batch_steps", "value_lr"} <= _settings.train_only(PGSettings)
    assert {"delta", "rcond", "per_sample"} <= _settings.train_only(NPGSettings)
    assert not {"policy", "hidden", "act_mode"} & _settings.train_only(PGSettings)


def test_run_refuses_training_settings_in_one_line_naming_the_train_command(cli):
    code, _, err = cli("run", "arm2", "ahf", "reach", "--dt", "0.01", "--set", "ahf.regime=fixed",
                       "--set", "ahf.iterations=3")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert ("settings ahf.regime, ahf.iterations are used only when training: bench train arm2 ahf reach "
            "--dt 0.01 --set ahf.regime=fixed --set ahf.iterations=3 (or add --train to train first)") in err
    assert not Path(".bench/results.sqlite").exists() or not stored()


def test_sweep_refuses_a_swept_training_setting_before_anything_runs(cli):
    code, _, err = cli("sweep", "arm2", "ahf", "reach", "--dt", "0.01", "--set", "ahf.regime=rollout,fixed",
                       "--db", "s.sqlite", "-j", "1")
    assert code == 2 and "ahf.regime is used only when training" in err and "--train" in err
    assert len(err.strip().splitlines()) == 1
    assert not Path("s.sqlite").exists() or Store("s.sqlite").count() == 0


def test_a_suite_that_sets_a_training_setting_is_refused(cli):
    Path("t.toml").write_text('name = "t"\nversion = 1\nseeds = 1\n[[run]]\nplant = "arm2"\ncontroller = "ahf"\n'
                              'task = "reach"\ndt = 0.01\nset = { "ahf.iterations" = 3 }\n')
    code, _, err = cli("ci", "--suite", "t.toml", "--db", "c.sqlite", "-j", "1", "-q")
    assert code == 2 and "ahf.iterations is used only when training" in err


def test_a_suite_run_with_train_true_trains_first(cli):
    Path("t.toml").write_text('name = "t"\nversion = 1\nseeds = 1\n[[run]]\nplant = "arm2"\ncontroller = "ahf"\n'
                              'task = "reach"\ndt = 0.01\ntrain = true\nset = { "ahf.iterations" = 1, '
                              '"ahf.hidden" = 6, "ahf.targets" = 4, "ahf.cg_iter" = 5, "reach.targets" = 4 }\n')
    code, _, err = cli("ci", "--suite", "t.toml", "--db", "c.sqlite", "-j", "1", "-q")
    assert code == 0, err
    (row,) = Store("c.sqlite").runs()
    assert json.loads(row["settings"])["controller"]["iterations"] == 1
    Path("bad.toml").write_text(Path("t.toml").read_text().replace("train = true", 'train = "yes"'))
    code, _, err = cli("ci", "--suite", "bad.toml", "--db", "c.sqlite", "-j", "1", "-q")
    assert code == 2 and "train must be true or false" in err


def test_a_task_that_trains_its_controller_accepts_its_training_settings():
    r = resolve("cartpole", "pg", "balance", {"pg.lr": "0.02", "batches": "2"})
    assert r.task_trains and r.settings["pg"] == {"lr": "0.02"}
    parts, _ = describe(*stand_ins(r))
    assert parts["controller"]["lr"] == 0.02 and "discount" in parts["controller"]


def test_what_is_stored_is_what_shaped_the_run(cli):
    code, _, err = cli("run", "arm2", "ahf", "reach", "--dt", "0.01", "--set", "reach.targets=4", "-q")
    assert code == 0, err
    (row,) = stored()
    ctrl = json.loads(row["settings"])["controller"] if isinstance(row["settings"], str) else row["settings"]
    assert "hidden" in ctrl and "weights" in ctrl
    assert not _settings.train_only(bench.controller("ahf").Settings) & set(ctrl)
    (job,) = plan("arm2", "ahf", "reach", {"reach.targets": "4"}, dt="0.01").jobs
    assert job.settings_hash == row["settings_hash"]  # a sweep finds this run as already stored


def test_python_api_records_training_settings_only_when_the_learner_was_trained():
    arm, task = bench.plant("arm2", dt=0.01), bench.task("reach", targets=4)
    plain = bench.run(arm, bench.controller("ahf"), task, seed=0)
    assert "iterations" not in plain.meta["settings"]["controller"]
    learner = bench.controller("ahf", hidden=6, targets=4, cg_iter=5, iterations=1)
    learner.bind(arm)
    bench.api.train_learner(learner, arm, task, seed=0, fresh=True)
    trained = bench.run(arm, learner, task, seed=0)
    assert trained.meta["settings"]["controller"]["iterations"] == 1
    assert trained.meta["settings_hash"] != plain.meta["settings_hash"]


def test_train_flag_trains_first_with_the_run_seed_and_records_the_settings(cli):
    args = ["run", "arm2", "ahf", "reach", "--dt", "0.01", "--train", "--set", "ahf.iterations=1",
            "--set", "ahf.regime=fixed", *TINY_AHF, "--seeds", "2", "-q"]
    finals = []
    for db in ("a.sqlite", "b.sqlite"):  # from scratch each time: the same seed gives the same learner
        code, _, err = cli(*args, "--db", db)
        assert code == 0, err
        store = Store(db)
        runs = sorted(store.runs(), key=lambda r: r["seed"])
        assert [r["seed"] for r in runs] == [0, 1] and all(r["status"] == "ok" for r in runs)
        for r in runs:
            ctrl = (json.loads(r["settings"]) if isinstance(r["settings"], str) else r["settings"])["controller"]
            assert ctrl["iterations"] == 1 and ctrl["regime"] == "fixed"
        finals.append([store.run(r["id"])["metrics"]["final_distance_mean"]["value"] for r in runs])
    assert finals[0] == finals[1] and finals[0][0] != finals[0][1]
    assert any(Path("train").iterdir())  # the checkpoints, in the store's folder


def test_train_flag_needs_a_learner_and_a_task_that_does_not_train_it_anyway(cli):
    code, _, err = cli("run", "arm2", "osc", "reach", "--train")
    assert code == 2 and "controller 'osc' does not learn; learners:" in err
    code, _, err = cli("run", "cartpole", "pg", "balance", "--train")
    assert code == 2 and "task 'balance' trains controller 'pg' itself" in err and "leave --train out" in err


def test_a_sweep_with_train_gives_two_real_variants_and_refuses_what_cannot_learn():
    p = plan("arm2", "osc,ahf", "reach", {"ahf.regime": "rollout,fixed", "ahf.iterations": "1"}, dt="0.01",
             train=True)
    assert len(p.refused) == 1 and "does not learn" in p.refused[0]
    assert [j.controller for j in p.jobs] == ["ahf", "ahf"] and all(j.train for j in p.jobs)
    assert len({j.settings_hash for j in p.jobs}) == 2 and "trained" in p.jobs[0].label
    with pytest.raises(SettingError, match="used only when training"):
        plan("arm2", "ahf", "reach", {"ahf.regime": "rollout,fixed"}, dt="0.01")


def test_the_sweep_train_path_runs_and_stores_the_training_settings(cli):
    code, out, err = cli("sweep", "arm2", "ahf", "reach", "--dt", "0.01", "--train", "--set",
                         "ahf.regime=rollout,fixed", "--set", "ahf.iterations=1", *TINY_AHF, "--db", "w.sqlite",
                         "-j", "1", "-q")
    assert code == 0, err
    assert "2 ok, 0 failed" in out
    runs = Store("w.sqlite").runs()
    regimes = {json.loads(r["settings"])["controller"]["regime"] for r in runs}
    assert regimes == {"rollout", "fixed"}
    planned = plan("arm2", "ahf", "reach", ["ahf.regime=rollout,fixed", "ahf.iterations=1", *TINY_AHF[1::2]],
                   dt="0.01", train=True)
    assert {j.settings_hash for j in planned.jobs} == {r["settings_hash"] for r in runs}  # as the runs recorded
    code, out, err = cli("sweep", "arm2", "ahf", "reach", "--dt", "0.01", "--train", "--set",
                         "ahf.regime=rollout,fixed", "--set", "ahf.iterations=1", *TINY_AHF, "--db", "w.sqlite",
                         "-j", "1", "-q")
    assert code == 0 and "0 ok, 0 failed, 2 skipped" in out, err


def test_resolve_with_train_refuses_a_controller_that_does_not_learn():
    with pytest.raises(Incompatible, match="does not learn"):
        resolve("arm2", "osc", "reach", train=True)
