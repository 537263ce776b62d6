"""``bench.controllers.ahf.gauss_newton``: the layer-by-layer Gauss-Newton products and gradients give
hessianfree's own ``RNNet.calc_G`` / ``calc_grad`` results to float round-off, for ahf's networks on several
arms and losses and for other recurrent networks; what they cannot compute falls back to hessianfree."""

from __future__ import annotations

import hessianfree as hf
import numpy as np
import pytest

import bench
from bench.controllers.ahf import gauss_newton
from bench.controllers.ahf.arm_layer import ArmPlantLayer
from bench.controllers.ahf.net import build_network, make_losses
from bench.controllers.ahf.training import make_problem


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, float) - b) / np.linalg.norm(b))


def _ahf_net(plant: str, *, targets: int = 6, dtype=np.float64, seed: int = 0, return_phase: bool = False,
             step_cost: float = 0.0, effort_cost: float = 0.0, hidden: int = 8):
    arm = bench.plant(plant, dt=0.01)
    settings = bench.controller("ahf", targets=targets, hidden=hidden, return_phase=return_phase).settings
    problem = make_problem(arm, bench.task("reach", duration=0.12), settings)
    layer = ArmPlantLayer(arm, problem.target_state, arm.start_state, problem.steps, dtype=dtype,
                          input_center=arm.start_state, input_scale=0.2, cost_steps=problem.cost_steps)
    net = build_network(arm.state_size, hidden, plant_layer=layer, dtype=dtype, seed=seed, init_coeff=0.5,
                        losses=make_losses(problem.q_target, step_cost, effort_cost))
    net.cache_minibatch(layer, None)
    return net


def _check(net, rtol: float) -> None:
    rng = np.random.default_rng(3)
    for damping in (0.0, 0.7):
        v = rng.standard_normal(net.W.size).astype(net.dtype)
        expected = hf.RNNet.calc_G(net, v, damping=damping).copy()
        got = gauss_newton.gauss_newton_product(net, v, damping=damping)
        assert got.dtype == net.dtype and got.shape == expected.shape
        assert _relative(got, expected) < rtol
        out = np.full(net.W.size, np.nan, dtype=net.dtype)  # written in place, nothing left over
        assert gauss_newton.gauss_newton_product(net, v, damping=damping, out=out) is out
        assert _relative(out, expected) < rtol
    expected = hf.RNNet.calc_grad(net)
    assert _relative(gauss_newton.gradient(net), expected) < rtol


@pytest.mark.parametrize("plant, options", [
    ("arm2", {}),
    ("arm2", {"return_phase": True}),  # cost at two steps, targets that move
    ("arm2", {"step_cost": 0.3, "effort_cost": 0.01}),  # a cost at every step and on layer 3
    ("arm3", {"seed": 4}),
    ("arm2_python_todorov", {}),  # actuator lag in the state (S = 6)
    ("arm3_rods", {"hidden": 5}),
])
def test_products_match_hessianfree_on_ahf_networks(plant, options):
    net = _ahf_net(plant, **options)
    assert gauss_newton.supported(net)
    # the arm's state is carried from step to step by precomputed chains when only a few steps cost
    chains = gauss_newton._cached(net).chains
    assert (4 in chains) == ("step_cost" not in options)
    if "return_phase" in options:
        assert list(chains[4][0]) == [11, 23]  # the end of the reach, then of the return
    _check(net, 1e-12)


def test_float32_products_match_hessianfree_to_float32_round_off():
    net = _ahf_net("arm2", dtype=np.float32)
    _check(net, 1e-5)


def test_products_match_on_a_network_fed_by_arrays():
    """A generic hessianfree RNNet: array inputs, every step a target, a non-tanh nonlinearity, a skip
    connection, a recurrent output layer, and a loss on every step."""
    rng = np.random.default_rng(0)
    net = hf.RNNet([3, 6, 5, 2], layers=[hf.nl.Linear(), hf.nl.Logistic(), hf.nl.Tanh(), hf.nl.Linear()],
                   rec_layers=[1, 3], conns={0: [1, 3], 1: [2], 2: [3]}, rng=np.random.RandomState(1),
                   dtype=np.float64)
    inputs = rng.standard_normal((7, 9, 3))
    targets = rng.standard_normal((7, 9, 2))
    net.cache_minibatch(inputs, targets)
    assert gauss_newton.supported(net)
    _check(net, 1e-12)


def test_what_it_cannot_compute_falls_back_to_hessianfree():
    net = hf.RNNet([2, 4, 2], rec_layers=[1], truncation=(3, 3), rng=np.random.RandomState(1), dtype=np.float64)
    assert not gauss_newton.supported(net)  # truncated backpropagation through time
    ahf = _ahf_net("arm2")
    assert gauss_newton.supported(ahf)
    ahf.truncation = (2, 2)
    v = np.random.default_rng(0).standard_normal(ahf.W.size)
    expected = hf.RNNet.calc_G(ahf, v).copy()
    expected[ahf.fixed] = 0
    assert np.array_equal(ahf.calc_G(v), expected)  # MaskedRNNet used hessianfree's own product


def test_the_fixed_weights_get_no_product_or_gradient():
    net = _ahf_net("arm2")
    v = np.random.default_rng(1).standard_normal(net.W.size)
    assert np.all(net.calc_G(v)[net.fixed] == 0) and np.all(net.calc_grad()[net.fixed] == 0)
    assert np.any(hf.RNNet.calc_G(net, v)[net.fixed] != 0)  # they would have one


def test_an_epoch_from_fresh_weights_is_hessianfrees():
    """One HF update (gradient, CG with up to 96 products, backtracking, line search) from fresh weights:
    the same update as with hessianfree's own products, to round-off."""
    updates = []
    for products in ("ours", "hessianfree"):
        net = _ahf_net("arm2", targets=8, hidden=16)
        if products == "hessianfree":
            steps = net.inputs.shape[1]
            net.truncation = (steps, steps)  # the whole sequence (the same sums), but MaskedRNNet falls back
            assert not gauss_newton.supported(net)
        net.optimizer = hf.opt.HessianFree(CG_iter=96, init_damping=100.0, plotting=False)
        update = net.optimizer.compute_update(False)
        update[net.fixed] = 0
        updates.append(update)
    assert np.all(np.isfinite(updates[0])) and np.any(updates[0] != 0)
    assert _relative(updates[0], updates[1]) < 1e-9


def test_one_blas_thread_limits_and_restores():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before = blas_threads()
    with gauss_newton.one_blas_thread():
        assert set(blas_threads()) <= {1}
    assert blas_threads() == before
