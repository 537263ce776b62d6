"""Speed of one Hessian-free epoch of ``ahf``: batched analytic plant vs the reference's method.

Run the real measurement with::

    .venv/bin/pytest tests/benchmarks/test_ahf_speed.py --benchmark-enable -s

The reference configuration: network [8, 32, 32, 4, 4], 64 targets on the
arm2 reach circle, 40 steps of dt = 0.01 s, CG up to 96 iterations, initial
damping 100.  One *epoch* is one rollout with derivatives
(``cache_minibatch``) plus one HF update (gradient, CG with Gauss-Newton
products, backtracking and line search), from the same weights every round.

Variants (group ``ahf-epoch``):

* ``batched-analytic``: the default ``ahf`` path - the whole batch through
  ``arm2.step`` and the exact ``arm2.jacobians`` in one call per time step,
  float64, cached arrays stored time-major, ``J_dot`` by ``matmul``.
* ``batched-analytic-f32``: the same in float32 (the plant layer casts).
* ``hf-plain``: batched analytic plant but hessianfree's own memory layout
  and ``einsum`` ``J_dot`` (what the GN products cost without our changes).
* ``per-trial-fd``: the reference's method in our code base - the arm
  simulated trial by trial and its Jacobians by central finite differences,
  one trial and one perturbed copy at a time (:class:`PerTrialFiniteDifferenceArm`).

:func:`test_epoch_profile` runs one epoch of the default path with timers
around the plant, the Gauss-Newton products, the gradient and the forward
passes and prints the split; :func:`test_speed_ratios` (only with
``--benchmark-enable``) prints the ratios and checks the issue's target: the
plant below 5% of the batched epoch.
"""

from __future__ import annotations

import time
from pathlib import Path

import hessianfree as hf
import numpy as np
import pytest
from bench.controllers.ahf_net import MaskedRNNet, build_network, make_losses
from bench.controllers.ahf_plant import ArmPlantLayer
from bench.controllers.ahf_train import make_problem

import bench

TIMES: dict[tuple[str, str], float] = {}
PLANT_SHARE: dict[str, float] = {}


class PerTrialFiniteDifferenceArm:
    """arm2 driven the reference's way: one trial per ``step`` call and Jacobians
    by central differences, one trial and one perturbed coordinate at a time."""

    def __init__(self, arm, eps: float = 1e-6) -> None:
        self.arm, self.eps = arm, eps
        for attr in ("dt", "state_size", "input_size", "n_joints", "start_state", "name", "settings"):
            setattr(self, attr, getattr(arm, attr))

    def hand(self, q):
        return self.arm.hand(q)

    def step(self, x, u):
        return np.concatenate([self.arm.step(x[i:i + 1], u[i:i + 1]) for i in range(x.shape[0])])

    def jacobians(self, x, u):
        n, s = x.shape
        m = u.shape[1]
        dx, du = np.empty((n, s, s)), np.empty((n, s, m))
        for i in range(n):
            for j in range(s + m):
                xp, xm, up, um = x[i:i + 1].copy(), x[i:i + 1].copy(), u[i:i + 1].copy(), u[i:i + 1].copy()
                if j < s:
                    xp[0, j] += self.eps
                    xm[0, j] -= self.eps
                else:
                    up[0, j - s] += self.eps
                    um[0, j - s] -= self.eps
                col = (self.arm.step(xp, up) - self.arm.step(xm, um))[0] / (2 * self.eps)
                if j < s:
                    dx[i, :, j] = col
                else:
                    du[i, :, j - s] = col
        return dx, du


class PlainRNNet(MaskedRNNet):
    """MaskedRNNet with hessianfree's own memory layout and ``einsum`` ``J_dot``."""

    J_dot = staticmethod(hf.RNNet.J_dot)
    cache_minibatch = hf.RNNet.cache_minibatch


def shipped_state():
    """Weights, damping and CG warm start of the shipped arm2 checkpoint (a late-training epoch)."""
    from importlib import resources

    from bench.controllers import ahf_checkpoints as ckpt

    folder = resources.files("bench.controllers") / "weights"
    (path, _), = ckpt.find([p for p in map(Path, map(str, folder.iterdir())) if p.suffix == ".json"], plant="arm2")
    arrays, _ = ckpt.read_weights(path)
    return arrays["W"], float(arrays["damping"]), arrays["init_delta"]


def reference_setup(variant: str, start: str = "initial"):
    """(net, plant layer, optimiser, starting weights, damping, CG warm start) of the
    reference configuration, from fresh weights or from the shipped arm2 checkpoint."""
    arm = bench.plant("arm2", dt=0.01)
    settings = bench.controller("ahf").settings
    problem = make_problem(arm, bench.task("reach", targets=64), settings)
    plant = PerTrialFiniteDifferenceArm(arm) if variant == "per-trial-fd" else arm
    dtype = np.float32 if variant.endswith("f32") else np.float64
    layer = ArmPlantLayer(plant, problem.target_state, arm.start_state, problem.steps, dtype=dtype,
                          input_center=arm.start_state, input_scale=settings.input_scale)
    net = build_network(4, 32, plant_layer=layer, dtype=dtype, seed=0, init_coeff=settings.init_coeff,
                        losses=make_losses(problem.q_target))
    if variant == "hf-plain":
        net.__class__ = PlainRNNet
    opt = hf.opt.HessianFree(CG_iter=96, init_damping=100.0, plotting=False)
    net.optimizer = opt
    if start == "trained":
        w, damping, delta = shipped_state()
        net.W[:] = w
        return net, layer, opt, net.W.copy(), damping, np.asarray(delta, dtype=net.dtype)
    return net, layer, opt, net.W.copy(), 100.0, None


def one_epoch(net, layer, opt):
    net.cache_minibatch(layer, None)
    update = opt.compute_update(False)
    update[net.fixed] = 0
    net.W += update
    return update


@pytest.mark.parametrize("start", ["initial", "trained"])
@pytest.mark.parametrize("variant", ["batched-analytic", "batched-analytic-f32", "hf-plain", "per-trial-fd"])
def test_hf_epoch(benchmark, variant, start):
    net, layer, opt, w0, damping0, delta0 = reference_setup(variant, start)
    updates = []
    group = f"ahf-epoch-{start}"

    def setup():
        net.W[:] = w0
        opt.damping, opt.init_delta = damping0, None if delta0 is None else delta0.copy()
        layer.plant_seconds = 0.0
        return (), {}

    def run():
        t0 = time.perf_counter()
        updates.append(one_epoch(net, layer, opt))
        PLANT_SHARE[(group, variant)] = layer.plant_seconds / (time.perf_counter() - t0)

    benchmark.group, benchmark.name = group, variant
    rounds = 3 if variant == "per-trial-fd" or start == "trained" else 10
    benchmark.pedantic(run, setup=setup, rounds=rounds, iterations=1, warmup_rounds=0)
    stats = getattr(benchmark, "stats", None)
    if stats is not None and not benchmark.disabled:
        TIMES[(group, variant)] = stats.stats.min
    assert updates and np.all(np.isfinite(updates[-1])) and np.any(updates[-1] != 0)


@pytest.mark.parametrize("start", ["initial", "trained"])
def test_epoch_profile(capsys, start):
    """Where one epoch of the default path spends its time (printed with -s)."""
    net, layer, opt, _, damping, delta = reference_setup("batched-analytic", start)
    opt.damping, opt.init_delta = damping, delta
    spent = {"calc_G": 0.0, "calc_grad": 0.0, "forward": 0.0}
    calls = {k: 0 for k in spent}

    def timed(name, fn):
        def wrapper(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += time.perf_counter() - t0
                calls[name] += 1
        return wrapper

    net.calc_G = timed("calc_G", net.calc_G)
    net.calc_grad = timed("calc_grad", net.calc_grad)
    net.forward = timed("forward", net.forward)
    t0 = time.perf_counter()
    one_epoch(net, layer, opt)
    total = time.perf_counter() - t0
    plant = layer.plant_seconds
    rest = total - spent["calc_G"] - spent["calc_grad"] - spent["forward"]
    lines = [f"one HF epoch ({start} weights) {total * 1e3:.0f} ms:",
             (f"  Gauss-Newton products {spent['calc_G'] * 1e3:.0f} ms ({calls['calc_G']} calls, "
              f"{spent['calc_G'] / max(calls['calc_G'], 1) * 1e3:.2f} ms each) {spent['calc_G'] / total:.0%}"),
             f"  gradient {spent['calc_grad'] * 1e3:.0f} ms {spent['calc_grad'] / total:.0%}",
             (f"  forward passes {spent['forward'] * 1e3:.0f} ms ({calls['forward']} calls) "
              f"{spent['forward'] / total:.0%}, of which the plant (step + jacobians) {plant * 1e3:.1f} ms "
              f"{plant / total:.1%}"),
             f"  CG vector algebra, line search bookkeeping, Python {rest * 1e3:.0f} ms {rest / total:.0%}"]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert calls["calc_G"] >= 1 and plant > 0


def test_speed_ratios():
    if not TIMES:
        pytest.skip("ratios need --benchmark-enable")
    for (group, name), t in sorted(TIMES.items()):
        base = TIMES.get((group, "per-trial-fd"))
        ratio = f", {base / t:.1f}x faster than per-trial-fd" if base else ""
        print(f"\n{group} {name}: {t * 1e3:.1f} ms (plant {PLANT_SHARE.get((group, name), float('nan')):.1%}){ratio}")
    share = PLANT_SHARE[("ahf-epoch-trained", "batched-analytic")]
    assert share < 0.05, f"the plant takes {share:.1%} of a training HF epoch (target < 5%)"
