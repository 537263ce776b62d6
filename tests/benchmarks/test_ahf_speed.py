"""Speed of one Hessian-free epoch of ``ahf``: batched analytic plant vs the reference's method.

Run the real measurement with::

    .venv/bin/pytest tests/benchmarks/test_ahf_speed.py --benchmark-enable

The reference configuration: network [8, 32, 32, 4, 4], 64 targets on the
arm2 reach circle, 40 steps of dt = 0.01 s, CG up to 96 iterations, initial
damping 100.  One *epoch* is one rollout with derivatives
(``cache_minibatch``) plus one HF update (gradient, CG with Gauss-Newton
products, backtracking and line search), from the same weights every round.

Variants (groups ``ahf-epoch-initial`` and ``ahf-epoch-trained``: from fresh
weights and from the shipped arm2 checkpoint's):

* ``batched-analytic``: the default ``ahf`` path - the whole batch through
  ``arm2.step`` and the exact ``arm2.jacobians`` in one call per time step,
  float64, cached arrays stored time-major, Gauss-Newton products and
  gradients layer by layer over the sequence (``bench.controllers.ahf.gauss_newton``).
* ``batched-analytic-f32``: the same in float32 (the plant layer casts).
* ``hf-plain``: batched analytic plant but hessianfree's own ``calc_G`` and
  ``calc_grad`` (a loop over steps, layers and connections), memory layout
  and ``einsum`` ``J_dot`` (what the GN products cost without our changes).
* ``per-trial-fd``: the reference's method in our code base - hessianfree's
  ``RNNet`` as it is (as ``hf-plain``), the arm simulated trial by trial and
  its Jacobians by central finite differences, one trial and one perturbed
  copy at a time (:class:`PerTrialFiniteDifferenceArm`).

Every variant runs with one BLAS thread, as ``ahf`` trains (``one_blas_thread``).

Every variant checks its update: finite, non-zero, lowering the training
error, and within :data:`TOLERANCE` of the float64 batched update from the
same weights (the same numbers up to round-off for ``hf-plain``, up to the
finite differences' and float32's round-off for the others, amplified by up
to 96 CG iterations: from trained weights, where HF's damping is about 3e-6,
a relative 1e-16 perturbation of each of hessianfree's own Gauss-Newton
products moves its update by 2%, with the same error after it; hence the
looser ``trained`` tolerances.  ``tests/test_ahf_gauss_newton.py`` checks the
products themselves to 1e-12).

:func:`test_epoch_profile` runs one epoch of the default path with timers
around the plant, the Gauss-Newton products, the gradient and the forward
passes; :func:`test_speed_ratios` builds all four variants itself, checks
their updates and times them alternately.  Under ``make test``
(``--benchmark-disable``) each of these runs each epoch once, on 8 targets
instead of 64 (:data:`SMOKE_TARGETS`), and prints nothing; with
``--benchmark-enable`` the profile and each variant's time, plant share and
speed-up over ``per-trial-fd`` go to the end-of-run section, and the issue's
targets are checked: the plant below 5% of the batched epoch from trained
weights, and that epoch at least 5x faster than ``per-trial-fd``.
"""

from __future__ import annotations

import time
from pathlib import Path

import hessianfree as hf
import numpy as np
import pytest

import bench
from bench.controllers.ahf.arm_layer import ArmPlantLayer
from bench.controllers.ahf.gauss_newton import one_blas_thread
from bench.controllers.ahf.net import MaskedRNNet, build_network, make_losses
from bench.controllers.ahf.training import make_problem

VARIANTS = ["batched-analytic", "batched-analytic-f32", "hf-plain", "per-trial-fd"]
TARGETS, SMOKE_TARGETS = 64, 8
#: (variant, start) -> largest relative (L2) difference of its update from the float64 batched one
TOLERANCE = {("batched-analytic", "initial"): 1e-9, ("batched-analytic", "trained"): 1e-9,
             ("hf-plain", "initial"): 1e-9, ("hf-plain", "trained"): 0.05,
             ("per-trial-fd", "initial"): 1e-6, ("per-trial-fd", "trained"): 0.1,
             ("batched-analytic-f32", "initial"): 1e-4, ("batched-analytic-f32", "trained"): 0.5}
#: the issue's target: the plant's share of one batched epoch from trained weights
PLANT_SHARE_TARGET = 0.05
#: the issue's target: a batched epoch from trained weights against the reference's (per-trial-fd)
SPEEDUP_TARGET = 5.0


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
    """hessianfree's own ``RNNet`` products (``calc_G``, ``calc_grad``: a loop over steps, layers and
    connections), memory layout and ``einsum`` ``J_dot``; only the fixed entries are zeroed, as in
    :class:`MaskedRNNet`."""

    J_dot = staticmethod(hf.RNNet.J_dot)
    cache_minibatch = hf.RNNet.cache_minibatch

    def calc_grad(self) -> np.ndarray:
        grad = hf.RNNet.calc_grad(self)
        grad[self.fixed] = 0
        return grad

    def calc_G(self, v, damping=0, out=None):
        gv = hf.RNNet.calc_G(self, v, damping=damping, out=out)
        gv[self.fixed] = 0
        return gv


def shipped_state():
    """Weights, damping and CG warm start of the shipped arm2 checkpoint (a late-training epoch)."""
    from importlib import resources

    from bench.controllers.ahf import checkpoints as ckpt

    folder = resources.files("bench.controllers.ahf") / "weights"
    (path, _), = ckpt.find([p for p in map(Path, map(str, folder.iterdir())) if p.suffix == ".json"], plant="arm2")
    arrays, _ = ckpt.read_weights(path)
    return arrays["W"], float(arrays["damping"]), arrays["init_delta"]


def reference_setup(variant: str, start: str = "initial", targets: int = TARGETS):
    """(net, plant layer, optimiser, starting weights, damping, CG warm start) of the
    reference configuration (``targets`` reach targets), from fresh weights or from the
    shipped arm2 checkpoint."""
    arm = bench.plant("arm2", dt=0.01)
    settings = bench.controller("ahf", targets=targets).settings
    problem = make_problem(arm, bench.task("reach", targets=64), settings)
    plant = PerTrialFiniteDifferenceArm(arm) if variant == "per-trial-fd" else arm
    dtype = np.float32 if variant.endswith("f32") else np.float64
    layer = ArmPlantLayer(plant, problem.target_state, arm.start_state, problem.steps, dtype=dtype,
                          input_center=arm.start_state, input_scale=settings.input_scale)
    net = build_network(4, 32, plant_layer=layer, dtype=dtype, seed=0, init_coeff=settings.init_coeff,
                        losses=make_losses(problem.q_target))
    if variant in ("hf-plain", "per-trial-fd"):  # the reference: hessianfree's RNNet as it is
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


class Epoch:
    """One variant's epoch from fixed weights, damping and CG warm start (each call starts afresh)."""

    def __init__(self, variant: str, start: str, targets: int) -> None:
        self.variant, self.start = variant, start
        self.net, self.layer, self.opt, self.w0, self.damping0, self.delta0 = reference_setup(variant, start, targets)

    def setup(self) -> tuple:
        self.net.W[:] = self.w0
        self.opt.damping = self.damping0
        self.opt.init_delta = None if self.delta0 is None else self.delta0.copy()
        self.layer.plant_seconds = 0.0
        return ()

    def run(self) -> tuple[np.ndarray, float]:
        """The update and the plant's share of the epoch's time."""
        with one_blas_thread():  # as ahf trains (every variant alike)
            t0 = time.perf_counter()
            update = one_epoch(self.net, self.layer, self.opt)
            return update, self.layer.plant_seconds / (time.perf_counter() - t0)

    def check(self, update: np.ndarray, reference: np.ndarray) -> None:
        """``update`` (this epoch's, from ``w0``) is finite, lowers the error and is close to ``reference``."""
        assert update.shape == self.w0.shape and np.all(np.isfinite(update)) and np.any(update != 0)
        before, after = self.net.error(self.w0.copy()), self.net.error(self.w0 + update)
        assert after < before, f"{self.variant} ({self.start}): error {before:.3g} -> {after:.3g}"
        diff = np.linalg.norm(update.astype(np.float64) - reference) / np.linalg.norm(reference)
        assert diff <= TOLERANCE[(self.variant, self.start)], f"{self.variant} ({self.start}): {diff:.3g} off"


@pytest.fixture(scope="module")
def reference_update():
    """``reference_update(start, targets)``: the float64 batched update from those weights (computed once)."""
    cache: dict[tuple[str, int], np.ndarray] = {}

    def get(start: str, targets: int) -> np.ndarray:
        if (start, targets) not in cache:
            epoch = Epoch("batched-analytic", start, targets)
            epoch.setup()
            cache[start, targets] = epoch.run()[0].copy()
        return cache[start, targets]

    return get


@pytest.mark.parametrize("start", ["initial", "trained"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_hf_epoch(benchmark, speed, reference_update, variant, start):
    targets = speed.size(TARGETS, SMOKE_TARGETS)
    epoch = Epoch(variant, start, targets)
    updates = []
    benchmark.group, benchmark.name = f"ahf-epoch-{start}", variant
    benchmark.extra_info["targets"] = targets
    rounds = 3 if variant == "per-trial-fd" or start == "trained" else 10
    benchmark.pedantic(lambda: updates.append(epoch.run()[0]), setup=lambda: (epoch.setup(), {}), rounds=rounds,
                       iterations=1, warmup_rounds=0)
    epoch.check(updates[-1], reference_update(start, targets))


@pytest.mark.parametrize("start", ["initial", "trained"])
def test_epoch_profile(speed, reference_update, start):
    """Where one epoch of the default path spends its time (in the end-of-run section of ``make bench``)."""
    targets = speed.size(TARGETS, SMOKE_TARGETS)
    epoch = Epoch("batched-analytic", start, targets)
    epoch.setup()
    net, layer = epoch.net, epoch.layer
    spent = {"calc_G": 0.0, "calc_grad": 0.0, "forward": 0.0}
    calls = dict.fromkeys(spent, 0)

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
    with one_blas_thread():  # as ahf trains, and as the reference update was computed
        t0 = time.perf_counter()
        update = one_epoch(net, layer, epoch.opt)
        total = time.perf_counter() - t0
    plant = layer.plant_seconds
    rest = total - spent["calc_G"] - spent["calc_grad"] - spent["forward"]
    speed.note(f"one HF epoch ({start} weights, {targets} targets) {total * 1e3:.0f} ms:",
               (f"  Gauss-Newton products {spent['calc_G'] * 1e3:.0f} ms ({calls['calc_G']} calls, "
                f"{spent['calc_G'] / max(calls['calc_G'], 1) * 1e3:.2f} ms each) {spent['calc_G'] / total:.0%}"),
               f"  gradient {spent['calc_grad'] * 1e3:.0f} ms {spent['calc_grad'] / total:.0%}",
               (f"  forward passes {spent['forward'] * 1e3:.0f} ms ({calls['forward']} calls) "
                f"{spent['forward'] / total:.0%}, of which the plant (step + jacobians) {plant * 1e3:.1f} ms "
                f"{plant / total:.1%}"),
               f"  CG vector algebra, line search bookkeeping, Python {rest * 1e3:.0f} ms {rest / total:.0%}")
    assert calls["calc_G"] >= 1 and calls["calc_grad"] >= 1 and calls["forward"] >= 1
    assert 0 < plant < spent["forward"] and rest > 0
    epoch.check(update, reference_update(start, targets))


@pytest.mark.parametrize("start", ["initial", "trained"])
def test_speed_ratios(speed, reference_update, start):
    """All four variants built here, their updates checked, timed alternately (once each under ``make test``)."""
    targets = speed.size(TARGETS, SMOKE_TARGETS)
    epochs = {variant: Epoch(variant, start, targets) for variant in VARIANTS}
    times, out = speed.minima({v: e.run for v, e in epochs.items()}, rounds=3, setup=lambda v: epochs[v].setup())
    for variant, epoch in epochs.items():
        epoch.check(out[variant][0], reference_update(start, targets))
    base = times["per-trial-fd"]
    speed.note(*(f"ahf-epoch-{start} {v}: {t * 1e3:.1f} ms (plant {out[v][1]:.1%})"
                 + (f", {base / t:.1f}x faster than per-trial-fd" if v != "per-trial-fd" else "")
                 for v, t in times.items()))
    if speed.enabled and start == "trained":
        ratio = base / times["batched-analytic"]
        speed.note(f"batched epoch from trained weights {ratio:.1f}x faster than the reference's "
                   f"(target >= {SPEEDUP_TARGET:g}x)")
        assert ratio >= SPEEDUP_TARGET, f"a trained epoch is only {ratio:.1f}x faster than per-trial-fd"
        share = out["batched-analytic"][1]
        speed.note(f"plant share of a batched epoch from trained weights: {share:.1%} "
                   f"(target < {PLANT_SHARE_TARGET:.0%})")
        assert share < PLANT_SHARE_TARGET, f"the plant takes {share:.1%} of a training HF epoch (target < 5%)"
