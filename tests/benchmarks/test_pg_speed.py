"""Speed of one policy-gradient batch, vectorised vs the reference's loops, in the same run.

Run the real measurement with::

    .venv/bin/pytest tests/benchmarks/test_pg_speed.py --benchmark-enable

Groups (every round starts from the same weights and the same random stream,
so each round does the same batch of 200 environment steps):

* ``npg-batch`` / ``pg-batch``: one whole batch (rollout + update) from
  untrained Glorot weights (episodes of about 20 steps).  ``vectorised`` is
  the default learner (many carts per policy call, one TF call for the whole
  update); ``loop-path`` is the reference's method in the same code base
  (``rollout=stepwise``: one cart and one TF policy call per step, one value
  call per transition; for npg also ``per_sample=loop``: one gradient call per
  time step, natural step in numpy).
* ``npg-batch-balancing``: the same with a policy that balances, so the batch
  is one 200-step episode (the regime of most of a training run).
* ``npg-scores``: the per-sample gradients of one fixed 200-step batch:
  ``tiled`` and ``jacobian`` (one vectorised TF call), ``closed_form`` (the
  linear softmax's formula in numpy) vs ``loop`` (one gradient call per time
  step).

Every batch checks its curve row (at least 200 steps, the update applied,
finite new weights that differ from the start); every score method checks
its scores against the loop's.  :func:`test_speed_ratios` builds both sides
of a group itself, checks that from the same weights they make the same
update of the same episodes, and times them alternately (one call each under
``make test``, ``--benchmark-disable``); with ``--benchmark-enable`` it
reports the ratios of the minima and checks the issue's targets
(:data:`RATIOS`): one NPG batch and the tiled scores at least 10x faster
than the loop path.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import bench
from bench.controllers.policy_gradient.episodes import collect, sample_from_logits
from bench.controllers.policy_gradient.learner import policy_logits

if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("needs tensorflow (ctrlbench[tf])", allow_module_level=True)

#: (group, measured, baseline) -> minimum ratio checked by test_speed_ratios (None: reported only)
RATIOS = {
    ("npg-batch", "vectorised", "loop-path"): 10.0,
    ("npg-batch-balancing", "vectorised", "loop-path"): None,
    ("pg-batch", "vectorised", "loop-path"): None,
    ("npg-scores", "tiled", "loop"): 10.0,
    ("npg-scores", "jacobian", "loop"): None,
    ("npg-scores", "closed_form", "loop"): None,
}
LOOP_PATH = {"npg": {"rollout": "stepwise", "per_sample": "loop"}, "pg": {"rollout": "stepwise"}}
BALANCING = [np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 50.0], [0.0, 5.0]]), np.zeros(2)]
#: batch group -> (learner, policy weights to start from (None: its fresh Glorot weights))
BATCHES = {"npg-batch": ("npg", None), "npg-batch-balancing": ("npg", BALANCING), "pg-batch": ("pg", None)}
METHODS = ["tiled", "jacobian", "closed_form", "loop"]


def learner(name: str, **settings):
    """A bound learner with fresh weights whose TF functions are compiled (on a tiny batch)."""
    plant = bench.plant("cartpole")
    out = bench.controller(name, **settings)
    out.bind(plant)
    out.initialize(np.random.default_rng(0))
    start = [p.copy() for p in out.params], [p.copy() for p in out.value_params]
    tiny = sampled_batch(out, np.random.default_rng(1), steps=3)
    out.update(tiny)
    out._tf_probs(tiny.observations[:1])
    out.set_weights(*start)
    return out


def sampled_batch(ln, rng: np.random.Generator, steps: int = 200):
    return collect(ln.cart, lambda o: sample_from_logits(policy_logits(ln.params, o), rng), rng, steps, 200)


VARIANTS = ("vectorised", "loop-path")


class BatchSide:
    """One side of a batch group: a learner and one batch from the group's start weights."""

    def __init__(self, group: str, ln, weights=None) -> None:
        self.group, self.ln = group, ln
        self.start = [p.copy() for p in (weights or ln.params)], [p.copy() for p in ln.value_params]

    def setup(self) -> tuple:
        self.ln.set_weights(*self.start)
        return (np.random.default_rng(2),)

    def run(self, rng: np.random.Generator) -> dict:
        return self.ln.train_batch(rng, 200)

    def check(self, row: dict) -> None:
        """The curve row and the weights after one batch."""
        assert row["steps"] >= 200 and not row["skipped"], row
        if self.group == "npg-batch":
            assert row["episodes"] > 1, row
        elif self.group == "npg-batch-balancing":
            assert row["episodes"] == 1 and row["max_reward"] == 200, row
        weights = self.ln.params + self.ln.value_params
        assert all(np.all(np.isfinite(w)) for w in weights)
        assert any(not np.array_equal(w, w0) for w, w0 in zip(weights, self.start[0] + self.start[1], strict=True))


@pytest.fixture(scope="module")
def batch_sides():
    """Both sides of every batch group (one compiled learner per learner and variant, shared by
    the groups), and for each group each side's weights after one update of the same episodes
    from the group's start weights, taken here while the sides are fresh (their optimizers in
    the same state), so that no test depends on what ran before it."""
    learners = {(name, v): learner(name, **(LOOP_PATH[name] if v == "loop-path" else {}))
                for name in ("npg", "pg") for v in VARIANTS}
    sides = {(group, v): BatchSide(group, learners[name, v], weights)
             for group, (name, weights) in BATCHES.items() for v in VARIANTS}
    updates = {}
    for group in BATCHES:
        sides[group, "vectorised"].setup()
        episodes = sampled_batch(sides[group, "vectorised"].ln, np.random.default_rng(4))
        for v in VARIANTS:
            side = sides[group, v]
            side.setup()
            applied = side.ln.update(episodes)
            updates[group, v] = applied, side.ln.params + side.ln.value_params
    return sides, updates


def batch_benchmark(benchmark, batch_sides, group: str, variant: str, rounds: int = 20) -> None:
    side = batch_sides[0][group, variant]
    rows = []
    benchmark.group = group
    benchmark.name = variant
    benchmark.pedantic(lambda rng: rows.append(side.run(rng)), setup=lambda: (side.setup(), {}),
                       rounds=rounds if variant == "vectorised" else 3, iterations=1, warmup_rounds=1)
    assert rows
    side.check(rows[-1])


@pytest.mark.parametrize("variant", VARIANTS)
def test_npg_batch(benchmark, batch_sides, variant):
    batch_benchmark(benchmark, batch_sides, "npg-batch", variant)


@pytest.mark.parametrize("variant", VARIANTS)
def test_npg_batch_balancing(benchmark, batch_sides, variant):
    batch_benchmark(benchmark, batch_sides, "npg-batch-balancing", variant, rounds=10)


@pytest.mark.parametrize("variant", VARIANTS)
def test_pg_batch(benchmark, batch_sides, variant):
    batch_benchmark(benchmark, batch_sides, "pg-batch", variant)


@pytest.fixture(scope="module")
def npg_and_batch():
    """An npg learner, one fixed 200-step batch of its episodes and the loop's scores of it."""
    ln = learner("npg")
    episodes = sampled_batch(ln, np.random.default_rng(3))
    for method in METHODS:
        ln.scores(episodes.observations[:2], episodes.actions[:2], method)  # compile
    return ln, episodes, ln.scores(episodes.observations, episodes.actions, "loop")


def assert_scores(got: np.ndarray, loop: np.ndarray) -> None:
    assert got.shape == loop.shape == (loop.shape[0], 10) and np.all(np.isfinite(got))
    np.testing.assert_allclose(got, loop, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("per_sample", METHODS)
def test_npg_scores(benchmark, npg_and_batch, per_sample):
    """Per-sample gradients of one batch: one vectorised call vs one gradient call per time step."""
    ln, episodes, loop = npg_and_batch
    obs, actions = episodes.observations, episodes.actions
    out = []
    benchmark.group = "npg-scores"
    benchmark.name = per_sample
    benchmark.pedantic(lambda: out.append(ln.scores(obs, actions, per_sample)),
                       rounds=30 if per_sample != "loop" else 3, iterations=1, warmup_rounds=1)
    assert_scores(out[-1], loop)


def targets(group: str) -> dict[tuple[str, str], float | None]:
    return {(fast, slow): target for (g, fast, slow), target in RATIOS.items() if g == group}


@pytest.mark.parametrize("group", list(BATCHES))
def test_speed_ratios(speed, batch_sides, group):
    """Both sides of a batch group: the same update of the same episodes, and timed alternately."""
    sides, updates = batch_sides
    for v in VARIANTS:
        assert updates[group, v][0], f"{group} {v}: the update was not applied"
    for a, b in zip(updates[group, "vectorised"][1], updates[group, "loop-path"][1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    mine = {v: sides[group, v] for v in VARIANTS}
    times, rows = speed.minima({v: side.run for v, side in mine.items()}, rounds=5,
                               setup=lambda v: mine[v].setup())
    for v, side in mine.items():
        side.check(rows[v])
    speed.check_ratios(group, times, targets(group))


def test_speed_ratios_scores(speed, npg_and_batch):
    """The score methods on one batch, timed alternately; each gives the loop's scores."""
    ln, episodes, loop = npg_and_batch
    obs, actions = episodes.observations, episodes.actions
    times, out = speed.minima({m: (lambda m=m: ln.scores(obs, actions, m)) for m in METHODS}, rounds=10,
                              seconds=1.0, burst=3)
    for method in METHODS:
        assert_scores(out[method], loop)
    speed.check_ratios("npg-scores", times, targets("npg-scores"))
