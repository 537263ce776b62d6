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

Under ``make test`` (``--benchmark-disable``) every function runs once as a
plain test and :func:`test_speed_ratios` is skipped; with
``--benchmark-enable`` it prints the ratios (from the minimum times) and
checks the issue's target: one NPG batch at least 10x faster than the loop
path.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from bench.controllers.policy import policy_logits
from bench.controllers.rollout import collect, sample_from_logits

import bench

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
TIMES: dict[tuple[str, str], float] = {}
LOOP_PATH = {"npg": {"rollout": "stepwise", "per_sample": "loop"}, "pg": {"rollout": "stepwise"}}
BALANCING = [np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 50.0], [0.0, 5.0]]), np.zeros(2)]


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


def measure(benchmark, group: str, name: str, fn, setup, rounds: int) -> None:
    benchmark.group = group
    benchmark.name = name
    benchmark.pedantic(fn, setup=setup, rounds=rounds, iterations=1, warmup_rounds=1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None and not benchmark.disabled:
        TIMES[(group, name)] = stats.stats.min


def batch_benchmark(benchmark, group: str, name: str, variant: str, weights=None, rounds: int = 20) -> dict:
    ln = learner(name, **(LOOP_PATH[name] if variant == "loop-path" else {}))
    start = [p.copy() for p in (weights or ln.params)], [p.copy() for p in ln.value_params]
    rows = []

    def setup():
        ln.set_weights(*start)
        return (np.random.default_rng(2),), {}

    def one_batch(rng):
        rows.append(ln.train_batch(rng, 200))

    measure(benchmark, group, variant, one_batch, setup, rounds if variant == "vectorised" else 3)
    assert rows and all(r["steps"] >= 200 for r in rows)
    return rows[-1]


@pytest.mark.parametrize("variant", ["vectorised", "loop-path"])
def test_npg_batch(benchmark, variant):
    row = batch_benchmark(benchmark, "npg-batch", "npg", variant)
    assert row["episodes"] > 1


@pytest.mark.parametrize("variant", ["vectorised", "loop-path"])
def test_npg_batch_balancing(benchmark, variant):
    row = batch_benchmark(benchmark, "npg-batch-balancing", "npg", variant, weights=BALANCING, rounds=10)
    assert row["episodes"] == 1 and row["max_reward"] == 200


@pytest.mark.parametrize("variant", ["vectorised", "loop-path"])
def test_pg_batch(benchmark, variant):
    batch_benchmark(benchmark, "pg-batch", "pg", variant)


@pytest.fixture(scope="module")
def npg_and_batch():
    ln = learner("npg")
    return ln, sampled_batch(ln, np.random.default_rng(3))


@pytest.mark.parametrize("per_sample", ["tiled", "jacobian", "closed_form", "loop"])
def test_npg_scores(benchmark, npg_and_batch, per_sample):
    """Per-sample gradients of one batch: one vectorised call vs one gradient call per time step."""
    ln, episodes = npg_and_batch
    obs, actions = episodes.observations, episodes.actions
    ln.scores(obs[:2], actions[:2], per_sample)  # compile
    out = []
    measure(benchmark, "npg-scores", per_sample, lambda: out.append(ln.scores(obs, actions, per_sample)),
            lambda: None, 30 if per_sample != "loop" else 3)
    assert out[-1].shape == (episodes.steps, 10) and np.all(np.isfinite(out[-1]))


def test_speed_ratios():
    """Ratios of the figures above (run last); checked only when benchmarks ran."""
    if not TIMES:
        pytest.skip("benchmarks disabled (run with --benchmark-enable to measure the ratios)")
    failures = []
    for (group, fast, slow), minimum in RATIOS.items():
        if (group, fast) not in TIMES or (group, slow) not in TIMES:
            continue
        ratio = TIMES[(group, slow)] / TIMES[(group, fast)]
        print(f"\n{group}: {fast} {TIMES[(group, fast)] * 1e3:.2f} ms, {slow} {TIMES[(group, slow)] * 1e3:.2f} ms,"
              f" ratio {ratio:.1f}x" + (f" (target >= {minimum:g}x)" if minimum else ""))
        if minimum is not None and ratio < minimum:
            failures.append(f"{group}: {fast} only {ratio:.1f}x faster than {slow} (target {minimum:g}x)")
    assert not failures, "; ".join(failures)
