"""Policy-gradient learners ``pg`` and ``npg`` on the ``cartpole`` plant."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import bench
from bench.controllers.policy_gradient.episodes import (
    collect,
    discounted_returns,
    sample_actions,
    sample_from_logits,
)
from bench.controllers.policy_gradient.learner import policy_logits
from bench.controllers.policy_gradient.npg import (
    NPG,
    NPGSettings,
    linear_softmax_scores,
    natural_step,
)
from bench.errors import CheckpointError, Incompatible, InvalidArgument, SettingError

if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("needs tensorflow (ctrlbench[tf])", allow_module_level=True)


@pytest.fixture(scope="module")
def cartpole():
    return bench.plant("cartpole")


def fresh(name: str, plant, seed: int = 0, **settings):
    learner = bench.controller(name, **settings)
    learner.bind(plant)
    learner.initialize(np.random.default_rng(seed))
    return learner


def balance(**settings):
    """The balance task, whose settings hold the training budget (batches, max_steps)."""
    return bench.task("balance", **settings)


@pytest.fixture(scope="module")
def npg(cartpole):
    return fresh("npg", cartpole)


@pytest.fixture(scope="module")
def batch(npg):
    rng = np.random.default_rng(1)
    return collect(npg.cart, lambda o: sample_from_logits(policy_logits(npg.params, o), rng), rng, 200, 200)


# -- no TensorFlow on import ----------------------------------------------------------
def test_importing_the_learners_does_not_import_tensorflow():
    code = ("import sys, bench, bench.controllers.policy_gradient.pg, bench.controllers.policy_gradient.npg, "
            "bench.tasks.balance; bench.controller('npg'); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- returns and rollouts -------------------------------------------------------------
@pytest.mark.parametrize("discount", [0.97, 1.0, 0.5])
def test_discounted_returns_match_a_direct_sum(discount):
    lengths = np.array([1, 5, 3, 12])
    expected = np.concatenate([[sum(discount ** k for k in range(n - t)) for t in range(n)] for n in lengths])
    np.testing.assert_allclose(discounted_returns(lengths, discount), expected, rtol=1e-12)


def test_sampling_from_logits_matches_probability_sampling():
    logits = np.random.default_rng(0).normal(size=(500, 2)) * 3
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    a = sample_from_logits(logits, np.random.default_rng(7))
    b = sample_actions(p, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    three = np.log(np.array([[0.2, 0.5, 0.3]]).repeat(20000, axis=0))
    freq = np.bincount(sample_from_logits(three, np.random.default_rng(1)), minlength=3) / 20000
    np.testing.assert_allclose(freq, [0.2, 0.5, 0.3], atol=0.015)


def test_batch_is_whole_episodes_of_at_least_batch_steps(npg, batch, cartpole):
    lengths = batch.lengths
    assert batch.steps >= 200 and batch.steps - lengths[-1] < 200  # stop at the first episode crossing 200
    assert batch.observations.shape == (batch.steps, 4) and batch.actions.shape == (batch.steps,)
    assert set(np.unique(batch.actions)) <= {0, 1}
    # replaying each episode's actions from its first state reproduces its observations and its end
    starts = np.cumsum(lengths) - lengths
    for s, n in zip(starts, lengths):
        x = batch.observations[s:s + 1]
        for t in range(n):
            np.testing.assert_allclose(x, batch.observations[s + t:s + t + 1], rtol=0, atol=1e-12)
            x = cartpole.step(x, cartpole.action_force(batch.actions[s + t:s + t + 1]))
            assert cartpole.terminated(x)[0] == (t == n - 1) or n == 200


def test_episode_cap_truncates(npg):
    rng = np.random.default_rng(3)
    eps = collect(npg.cart, lambda o: np.zeros(len(o), dtype=np.int32) + (o[:, 3] > 0), rng, 30, 7)
    assert eps.lengths.max() <= 7 and eps.steps >= 30


# -- per-sample gradients -------------------------------------------------------------
def test_vectorised_scores_equal_closed_form_and_loop(npg, batch):
    obs, act = batch.observations, batch.actions
    closed = linear_softmax_scores(npg.params, obs, act)
    assert closed.shape == (len(obs), 4 * 2 + 2)
    for method in ("tiled", "jacobian", "loop", "closed_form"):
        np.testing.assert_allclose(npg.scores(obs, act, method), closed, rtol=1e-10, atol=1e-12)


def test_mlp_scores_agree_between_vectorised_and_loop(cartpole, batch):
    mlp = fresh("npg", cartpole, policy="mlp", hidden=(8, 5))
    obs, act = batch.observations[:40], batch.actions[:40]
    loop = mlp.scores(obs, act, "loop")
    assert loop.shape == (40, 4 * 8 + 8 + 8 * 5 + 5 + 5 * 2 + 2)
    np.testing.assert_allclose(mlp.scores(obs, act, "tiled"), loop, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mlp.scores(obs, act, "jacobian"), loop, rtol=1e-10, atol=1e-12)


# -- the natural-gradient step --------------------------------------------------------
def test_natural_step_meets_the_kl_constraint():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(300, 6))
    adv = rng.normal(size=300)
    step = natural_step(scores, adv, delta=0.001)
    fisher = scores.T @ scores / 300
    g = scores.T @ adv / 300
    assert step @ fisher @ step == pytest.approx(0.001, rel=1e-9)
    np.testing.assert_allclose(step / np.linalg.norm(step), np.linalg.solve(fisher, g) / np.linalg.norm(
        np.linalg.solve(fisher, g)), rtol=1e-9)


def test_natural_step_cuts_tiny_singular_values():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(100, 3))
    scores = np.concatenate([base, base[:, :1]], axis=1)  # rank 3 of 4: a singular Fisher matrix
    step = natural_step(scores, rng.normal(size=100), 0.001)
    assert np.all(np.isfinite(step))
    assert step[0] == pytest.approx(step[3], rel=1e-6)  # no component along the null direction (1,0,0,-1)


def test_zero_advantages_give_a_non_finite_step():
    scores = np.random.default_rng(2).normal(size=(50, 4))
    assert not np.all(np.isfinite(natural_step(scores, np.zeros(50), 0.001)))


def test_fused_update_applies_value_baseline_and_natural_step(cartpole, batch):
    learner = fresh("npg", cartpole, seed=5)
    before, vbefore = [p.copy() for p in learner.params], [p.copy() for p in learner.value_params]
    returns = batch.returns(0.97)
    h = np.maximum(batch.observations @ vbefore[0] + vbefore[1], 0)
    adv = returns - (h @ vbefore[2] + vbefore[3])[:, 0]
    expected = natural_step(linear_softmax_scores(before, batch.observations, batch.actions), adv, 0.001)
    assert learner.update(batch)
    got = np.concatenate([(a - b).ravel() for a, b in zip(learner.params, before)])
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-12)
    assert not np.allclose(learner.value_params[0], vbefore[0])  # the value net took its Adam step


@pytest.fixture(scope="module")
def updated(cartpole, batch):
    """Weights after one default (tiled, fused) update of ``batch`` from seed-9 weights."""
    ref = fresh("npg", cartpole, seed=9)
    assert ref.update(batch)
    return ref.params + ref.value_params


@pytest.mark.parametrize("per_sample", ["loop", "closed_form", "jacobian"])
def test_every_gradient_path_gives_the_same_update(cartpole, batch, updated, per_sample):
    other = fresh("npg", cartpole, seed=9, per_sample=per_sample)
    assert other.update(batch)
    for a, b in zip(updated, other.params + other.value_params):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


def test_mlp_policy_fused_update_equals_the_loop_path(cartpole, batch):
    ref = fresh("npg", cartpole, seed=4, policy="mlp", hidden=(6,))
    loop = fresh("npg", cartpole, seed=4, policy="mlp", hidden=(6,), per_sample="loop")
    assert ref.update(batch) and loop.update(batch)
    for a, b in zip(ref.params, loop.params):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    curve = bench.controller("pg", policy="mlp", hidden=(6,)).train(cartpole, balance(batches=1, max_steps=50),
                                                                   seed=0)
    assert len(curve) == 1 and not curve["skipped"].any()


def test_nan_update_is_skipped_and_changes_nothing(cartpole, batch):
    for name in ("npg", "pg"):
        learner = fresh(name, cartpole, seed=2)
        learner._ensure_tf()
        before = [p.copy() for p in learner.params]
        adv = np.zeros(batch.steps) if name == "npg" else np.full(batch.steps, np.nan)
        assert not learner._policy_update(batch.observations, batch.actions.astype(np.int32), adv)
        learner.params = [v.numpy() for v in learner._tf["policy_vars"]]
        for a, b in zip(before, learner.params):
            np.testing.assert_array_equal(a, b)


def test_saturated_policy_makes_the_fused_npg_step_nan_and_it_is_skipped(cartpole):
    """A policy whose softmax is exactly 0/1 has zero scores, F = 0 and g = 0: the step is NaN."""
    learner = fresh("npg", cartpole, seed=3)
    saturated = [np.zeros((4, 2)), np.array([0.0, 1e6])]  # always push right, with probability exactly 1
    learner.set_weights(saturated)
    rng = np.random.default_rng(0)
    eps = collect(learner.cart, lambda o: sample_from_logits(policy_logits(learner.params, o), rng), rng, 200, 200)
    assert np.abs(learner.scores(eps.observations, eps.actions)).max() == 0
    value_before = learner.value_params[0].copy()
    assert learner.update(eps) is False
    np.testing.assert_array_equal(learner.params[1], saturated[1])
    np.testing.assert_array_equal(learner.params[0], saturated[0])
    assert not np.array_equal(learner.value_params[0], value_before)  # the value step still ran


class ZeroAdvantageNPG(NPG):
    """An NPG whose odd batches see all-zero advantages: g = 0, so the natural step is NaN."""

    def update(self, episodes):
        self._count = getattr(self, "_count", 0) + 1
        if self._count % 2:
            obs, act = episodes.observations, episodes.actions.astype(np.int32)
            return self._policy_update(obs, act, np.zeros(len(obs)))
        return super().update(episodes)


def test_training_counts_skipped_batches_and_goes_on(cartpole):
    learner = ZeroAdvantageNPG(NPGSettings())
    curve = learner.train(cartpole, balance(batches=4, max_steps=50), seed=0)
    assert curve["skipped"].tolist() == [True, False, True, False]
    assert np.all(np.isfinite(np.concatenate([p.ravel() for p in learner.params])))


# -- training -------------------------------------------------------------------------
def test_same_seed_same_curve_and_npg_learns(cartpole):
    a = bench.controller("npg").train(cartpole, balance(batches=25), seed=4)
    b = bench.controller("npg").train(cartpole, balance(batches=25), seed=4)
    cols = ["batch", "max_reward", "mean_reward", "episodes", "steps", "skipped"]
    assert a[cols].equals(b[cols])
    assert list(a.columns) == ["batch", "max_reward", "mean_reward", "episodes", "steps", "rollout_ms",
                               "update_ms", "skipped", "wall_s"]
    assert (a["wall_s"].diff().dropna() > 0).all()  # the training's wall time at the end of each batch
    assert (a["steps"] >= 200).all() and (a["max_reward"] <= 200).all()
    assert a["mean_reward"].iloc[-5:].mean() > 2 * a["mean_reward"].iloc[:5].mean()


def test_pg_and_stepwise_rollout_train(cartpole):
    curve = bench.controller("pg", rollout="stepwise").train(cartpole, balance(batches=2, max_steps=30), seed=0)
    assert len(curve) == 2 and (curve["steps"] >= 200).all() and (curve["max_reward"] <= 30).all()


def test_train_saves_to_workdir_and_resumes(cartpole, tmp_path):
    lines = []
    first = bench.controller("npg")
    first.train(cartpole, balance(batches=3, max_steps=40), seed=0, workdir=tmp_path, log=lines.append)
    saved = tmp_path / "npg-cartpole.npz"
    assert saved.exists() and any("batch 3/3" in line for line in lines)
    again = bench.controller("npg")
    again.train(cartpole, balance(batches=1, max_steps=40), seed=1, workdir=tmp_path, log=lines.append)
    assert any("continuing from" in line for line in lines)
    with np.load(saved, allow_pickle=False) as data:  # one more batch moved the weights on from the first run's
        assert not np.allclose(data["policy_000"], first.params[0])
    resumed = sum("continuing from" in line for line in lines)
    bench.controller("npg").train(cartpole, balance(batches=1, max_steps=40), seed=1, fresh=True,
                                  workdir=tmp_path, log=lines.append)
    assert sum("continuing from" in line for line in lines) == resumed  # fresh ignores the checkpoint
    wide = bench.controller("npg", policy="mlp")
    with pytest.raises(CheckpointError):
        wide.train(cartpole, balance(batches=1), seed=1, workdir=tmp_path)


@pytest.mark.parametrize("name", ["pg", "npg"])
def test_learners_pass_the_learner_conformance_check(cartpole, bench_check_learner, name):
    bench_check_learner(bench.controller(name), cartpole, balance())


def test_train_learner_trains_with_the_one_signature(cartpole):
    from bench.api import train_learner

    a = train_learner(bench.controller("pg"), cartpole, balance(batches=2, max_steps=30), seed=7)
    b = bench.controller("pg").train(cartpole, balance(batches=2, max_steps=30), seed=7)
    cols = ["batch", "max_reward", "mean_reward", "episodes", "steps", "skipped"]
    assert a[cols].equals(b[cols])


# -- acting ---------------------------------------------------------------------------
def test_act_greedy_and_sampled(npg, cartpole):
    obs = cartpole.initial_state(2000, np.random.default_rng(0)) * 20
    u = npg.act(obs, None)
    assert u.shape == (2000, 1) and set(np.unique(u)) <= {-10.0, 10.0}
    greedy = np.argmax(policy_logits(npg.params, obs), axis=1)
    np.testing.assert_array_equal(u[:, 0] > 0, greedy == 1)
    npg.reset(2000, np.random.default_rng(1))
    sampled = npg.act(obs, None, greedy=False)[:, 0] > 0
    p1 = npg.probabilities(obs)[:, 1]
    assert abs(sampled.mean() - p1.mean()) < 0.03
    sampler = bench.controller("npg", act_mode="sampled")
    sampler.bind(cartpole)
    sampler.params = npg.params
    sampler.reset(2000, np.random.default_rng(1))
    np.testing.assert_array_equal(sampler.act(obs, None)[:, 0] > 0, sampled)


@pytest.mark.parametrize("act_mode", ["greedy", "sampled"])
def test_learners_pass_the_controller_conformance_check(cartpole, act_mode):
    from bench.testing import check_controller

    for name in ("pg", "npg"):
        learner = fresh(name, cartpole, act_mode=act_mode)
        check_controller(learner, cartpole, n=5, steps=4)
    with pytest.raises(InvalidArgument, match="train or load"):
        untrained = bench.controller("npg")
        untrained.bind(cartpole)
        untrained.act(cartpole.initial_state(2, np.random.default_rng(0)), None)


# -- checkpoints ----------------------------------------------------------------------
def test_save_load_round_trip_without_tensorflow_state(npg, cartpole, tmp_path):
    path = npg.save(tmp_path / "w.npz")
    other = bench.controller("pg")  # same architecture: a pg can load npg weights
    other.load(path)
    other.bind(cartpole)
    obs = cartpole.initial_state(50, np.random.default_rng(0)) * 30
    np.testing.assert_array_equal(other.act(obs, None), npg.act(obs, None))
    with np.load(path, allow_pickle=False) as data:
        assert "architecture" in data.files


def test_checkpoint_from_another_architecture_is_refused(npg, cartpole, tmp_path):
    path = npg.save(tmp_path / "linear.npz")
    mlp = bench.controller("npg", policy="mlp")
    mlp.bind(cartpole)
    with pytest.raises(CheckpointError, match="4-2 policy"):
        mlp.load(path)
    wide = bench.controller("npg", value_hidden=11)
    with pytest.raises(CheckpointError, match="10-unit value"):
        wide.load(path)


def test_bad_checkpoint_files(tmp_path):
    learner = bench.controller("npg")
    with pytest.raises(CheckpointError, match="does not exist"):
        learner.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError, match="not a readable"):
        learner.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "pickled.npz", format=np.array("ctrlbench-softmax-policy-v1"),
             architecture=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointError):
        learner.load(tmp_path / "pickled.npz")
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a"):
        learner.load(tmp_path / "other.npz")


# -- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize("name, key, value", [
    ("npg", "delta", 0), ("npg", "delta", -0.1), ("npg", "discount", 0), ("pg", "discount", 1.5),
    ("pg", "discount", -1), ("pg", "lr", 0), ("npg", "rcond", 1.0), ("npg", "batch_steps", 0),
])
def test_bad_settings_are_refused(name, key, value):
    with pytest.raises(SettingError, match=key):
        bench.controller(name, **{key: value})


def test_bad_settings_refused_when_built_directly():
    with pytest.raises(SettingError, match="delta"):
        NPG(NPGSettings(delta=-1.0))
    with pytest.raises(SettingError, match="discount"):
        NPG(NPGSettings(discount=0.0))
    with pytest.raises(SettingError, match=r"^npg: per_sample=closed_form needs the linear policy"):
        bench.controller("npg", policy="mlp", per_sample="closed_form")
    with pytest.raises(ValueError, match="per_sample=closed_form needs the linear policy"):
        NPGSettings(policy="mlp", per_sample="closed_form")
    with pytest.raises(SettingError, match=r"^pg: hidden must list at least one layer size for policy=mlp$"):
        bench.controller("pg", policy="mlp", hidden=())
    with pytest.raises(SettingError, match=r"^setting 'npg.rcond' must be < 1; got 2.0$"):
        NPG(NPGSettings(rcond=2.0))
    assert bench.controller("npg", discount=1.0).settings.discount == 1.0


def test_policy_size_must_fit_the_plant(cartpole):
    with pytest.raises(Incompatible, match="6 inputs"):
        bench.controller("npg", inputs=6).bind(cartpole)
    with pytest.raises(Incompatible, match="3 actions"):
        bench.controller("pg", actions=3).bind(cartpole)
    with pytest.raises(Incompatible, match="discrete actions"):
        bench.controller("npg").bind(bench.plant("arm2"))


def test_act_refuses_wrong_observation_shape(npg):
    with pytest.raises(InvalidArgument, match=r"\(n, 4\)"):
        npg.act(np.zeros((3, 5)), None)
