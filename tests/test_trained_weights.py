"""Issue 14, item 2: learned weights can be evaluated later.

``bench train`` saves the learner's weights next to the store (``<db folder>/train/<run name>.npz``)
and records the file as the run's artifact ``weights``; ``--set LEARNER.weights=run:ID`` (``bench run``,
``bench sweep``) loads them.  balance evaluates explicit weights without training them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import bench
from bench.store import Store
from bench.tasks.balance import evaluate

TINY_AHF = ["--set", "ahf.hidden=6", "--set", "ahf.targets=4", "--set", "ahf.cg_iter=5", "--set", "reach.targets=4",
            "--set", "ahf.iterations=1", "--set", "ahf.regime=fixed"]


def trained_run(cli, *args: str) -> int:
    code, out, err = cli("train", *args)
    assert code == 0, err
    store = Store(".bench/results.sqlite")
    run = max(store.runs(), key=lambda r: r["id"])
    weights = Path(store.run(run["id"])["artifacts"]["weights"])
    assert weights.is_file() and weights.parent == Path(".bench/train").resolve()
    assert f"run:{run['id']}" in out
    return run["id"]


def test_pg_weights_of_a_training_run_are_evaluated_without_training(cli):
    run_id = trained_run(cli, "cartpole", "pg", "balance", "--set", "batches=3")
    code, _, err = cli("run", "cartpole", "pg", "balance", "--set", f"pg.weights=run:{run_id}",
                       "--set", "eval_episodes=20", "-q")
    assert code == 0, err
    store = Store(".bench/results.sqlite")
    row = store.run(max(r["id"] for r in store.runs()))
    assert row["task"] == "balance" and "curve" not in row["frames"]  # not trained
    weights = store.run(run_id)["artifacts"]["weights"]
    assert row["settings"]["controller"]["weights"] == weights
    assert any(f["path"] == str(Path(weights).resolve()) for f in row["provenance"]["controller"]["files"])
    # the same numbers as the loaded learner evaluated in process, with the task's evaluation stream
    plant, learner = bench.plant("cartpole"), bench.controller("pg", weights=weights)
    learner.bind(plant)
    eval_seq = np.random.SeedSequence(0).spawn(2)[1]
    rewards = evaluate(plant, learner, 20, 200, np.random.default_rng(eval_seq))
    assert row["metrics"]["eval_mean_reward"]["value"] == float(rewards.mean())
    assert row["metrics"]["eval_at_cap"]["value"] == float(np.mean(rewards >= 200))


def test_ahf_weights_of_a_training_run_are_loaded(cli):
    run_id = trained_run(cli, "arm2", "ahf", "reach", "--dt", "0.01", *TINY_AHF)
    code, _, err = cli("run", "arm2", "ahf", "reach", "--dt", "0.01", "--set", f"ahf.weights=run:{run_id}",
                       "--set", "ahf.hidden=6", "--set", "reach.targets=4", "-q")
    assert code == 0, err
    store = Store(".bench/results.sqlite")
    row = store.run(max(r["id"] for r in store.runs()))
    assert row["settings"]["controller"]["weights"] == store.run(run_id)["artifacts"]["weights"]


def test_a_bad_run_id_is_refused_in_one_line(cli):
    run_id = trained_run(cli, "cartpole", "pg", "balance", "--set", "batches=1")
    for value, why in ((f"run:{run_id + 50}", "no run"), ("run:x", "run:ID"),
                       (f"run:{run_id}", "learner 'pg'")):
        learner = "npg" if why.startswith("learner") else "pg"
        code, _, err = cli("run", "cartpole", learner, "balance", "--set", f"{learner}.weights={value}")
        assert code == 2 and why in err and len(err.strip().splitlines()) == 1, err
    code, _, err = cli("run", "cartpole", "pg", "balance", "--set", "pg.weights=run:1", "--db", "other.sqlite")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    osc_code, _, _ = cli("run", "arm2", "osc", "reach", "--set", "reach.targets=2", "-q")
    assert osc_code == 0
    osc_id = max(r["id"] for r in Store(".bench/results.sqlite").runs())
    code, _, err = cli("sweep", "cartpole", "pg", "balance", "--set", f"pg.weights=run:{osc_id}")
    assert code == 2 and "learner 'osc'" in err, err


def test_snn_params_of_a_classify_run_are_loaded_instead_of_trained(cli):
    if importlib.util.find_spec("nengo_dl") is None:  # imported only through bench.controllers.tfcompat
        pytest.skip("needs nengo_dl (ctrlbench[tf])")
    fast = ["--set", "epochs=1", "--set", "n_steps=5", "--set", "plots=false", "--set", "snn.cache_dir="]
    code, _, err = cli("run", "digits", "snn", "classify", *fast, "-q")
    assert code == 0, err
    store = Store(".bench/results.sqlite")
    run_id = max(r["id"] for r in store.runs())
    params = store.run(run_id)["artifacts"]["params"]
    code, _, err = cli("run", "digits", "snn", "classify", "--set", "n_steps=5", "--set", "plots=false",
                       "--set", f"snn.weights=run:{run_id}", "-q")
    assert code == 0, err
    row = store.run(max(r["id"] for r in store.runs()))
    assert row["settings"]["controller"]["weights"] == params
    assert row["metrics"]["rate_accuracy"]["value"] == store.run(run_id)["metrics"]["rate_accuracy"]["value"]
