"""The ``balance`` task: train a learner on cartpole, evaluate it greedily."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

import bench
from bench.errors import Incompatible, SettingError
from bench.registry import check_compatible
from bench.tasks.balance import METRICS, curve_metrics, evaluate

if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("needs tensorflow (ctrlbench[tf])", allow_module_level=True)

TIMINGS = {"ms_per_batch_median", "rollout_ms_median", "update_ms_median"}


def small_run(controller: str = "npg", seed: int = 0, workdir=None, **task):
    settings = {"batches": 6, "eval_episodes": 12, **task}
    return bench.run(bench.plant("cartpole"), bench.controller(controller), bench.task("balance", **settings),
                     seed=seed, workdir=workdir)


def test_curve_metrics_on_a_known_curve():
    max_r = np.array([10, 50, 200, 120, 200, 200, 200, 200])
    mean_r = np.array([10, 20, 100, 100, 196, 196, 196, 196])
    curve = pd.DataFrame({"batch": np.arange(1, 9), "max_reward": max_r, "mean_reward": mean_r,
                          "episodes": [20, 10, 2, 2, 1, 1, 1, 1], "rollout_ms": [1.0] * 8,
                          "update_ms": [2.0] * 8, "skipped": [False, True] + [False] * 6})
    m = curve_metrics(curve, cap=200, solved_reward=195, window=3)
    assert m["batches_to_cap"] == 3
    assert m["batches_to_solved"] == 7  # mean of batches 5, 6, 7 is the first >= 195
    assert m["auc_max_reward"] == max_r.sum()
    assert m["auc_max_reward_norm"] == pytest.approx(max_r.sum() / 1600)
    assert m["final_mean_reward"] == 196
    assert m["ms_per_batch_median"] == 3.0 and m["skipped_batches"] == 1 and m["episodes_total"] == 38
    never = curve_metrics(curve.assign(max_reward=10, mean_reward=10), cap=200, solved_reward=195, window=3)
    assert np.isnan(never["batches_to_cap"]) and np.isnan(never["batches_to_solved"])


def test_balance_run_metrics_frames_and_weights(tmp_path):
    r = small_run(workdir=tmp_path)
    assert set(r.metrics) == set(METRICS)
    curve = r.frames["curve"]
    assert list(curve.columns[:6]) == ["batch", "max_reward", "mean_reward", "episodes", "steps", "rollout_ms"]
    assert {"update_ms", "skipped"} <= set(curve.columns)
    assert curve["batch"].tolist() == list(range(1, 7))
    assert (curve["max_reward"] <= 200).all() and (curve["rollout_ms"] > 0).all()
    ev = r.frames["evaluation"]["reward"]
    assert len(ev) == 12 and ev.between(1, 200).all()
    assert r.metrics["eval_mean_reward"] == pytest.approx(ev.mean())
    assert r.metrics["skipped_batches"] == 0
    weights = r.artifacts["weights"]
    assert weights.exists()
    learner = bench.controller("npg")
    learner.load(weights)  # the saved policy loads back


def test_same_seed_same_metrics_other_seed_differs():
    a, b, c = (pd.Series(small_run(seed=s).metrics).drop(sorted(TIMINGS)) for s in (3, 3, 4))
    pd.testing.assert_series_equal(a, b)
    assert not a.equals(c)


def test_pg_on_balance_with_500_step_cap():
    r = small_run("pg", batches=3, eval_episodes=5, max_steps=500)
    assert r.frames["curve"]["max_reward"].max() <= 500
    assert r.metrics["eval_mean_reward"] <= 500


def test_greedy_evaluation_uses_the_most_likely_action():
    plant = bench.plant("cartpole")
    learner = bench.controller("npg", act_mode="sampled")
    learner.bind(plant)
    learner.initialize(np.random.default_rng(0))
    # a hand-made policy that pushes towards the pole's lean (bang-bang on theta): falls after a while;
    # its logits are small, so sampling would act almost at random
    learner.params = [np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), np.zeros(2)]
    rewards = evaluate(plant, learner, 20, 150, np.random.default_rng(1))
    assert rewards.shape == (20,) and rewards.min() >= 1 and rewards.max() <= 150
    # the same episodes stepped here with argmax actions, one cart at a time
    starts = plant.initial_state(20, np.random.default_rng(1))
    expected = []
    for x in starts:
        x, n = x[None], 0
        while n < 150:
            a = np.argmax(x @ learner.params[0] + learner.params[1], axis=1)
            x, n = plant.step(x, plant.action_force(a)), n + 1
            if plant.terminated(x)[0]:
                break
        expected.append(n)
    np.testing.assert_array_equal(rewards, expected)
    assert 1 < np.mean(expected) < 150


def test_incompatible_combinations_are_refused():
    reg = bench.registry()
    with pytest.raises(Incompatible, match="learn"):
        check_compatible(reg.get("plant", "cartpole"), reg.get("controller", "osc"), reg.get("task", "balance"))
    with pytest.raises(Incompatible, match="discrete-actions"):
        check_compatible(reg.get("plant", "arm2"), reg.get("controller", "npg"), reg.get("task", "balance"))


@pytest.mark.parametrize("key, value", [("batches", 0), ("max_steps", 0), ("eval_episodes", 0),
                                        ("solved_reward", -1)])
def test_bad_task_settings(key, value):
    with pytest.raises(SettingError, match=key):
        bench.task("balance", **{key: value})


def test_balance_passes_the_task_conformance_check(bench_check_task):
    bench_check_task(bench.task("balance"), bench.plant("cartpole"), bench.controller("pg"))


def test_the_training_seed_derives_from_the_run_seed():
    from bench.tasks.balance import training_seed

    seqs = [np.random.SeedSequence(s).spawn(2)[0] for s in (0, 0, 1)]
    seeds = [training_seed(seq) for seq in seqs]
    assert seeds[0] == seeds[1] != seeds[2] and all(0 <= s < 2**32 for s in seeds)
