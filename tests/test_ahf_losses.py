"""The ``ahf`` training losses (``controllers/ahf/losses.py``): value, gradient and curvature
against finite differences and the docstring's formula, and the network's gradient and
Gauss-Newton product with them on Todorov's arm (an actuator in the state)."""

from __future__ import annotations

import hessianfree as hf
import numpy as np
import pytest

import bench
from bench.controllers.ahf.arm_layer import ArmPlantLayer
from bench.controllers.ahf.losses import MaskedSquaredError, PathCost, WeightedFinalState, make_losses
from bench.controllers.ahf.net import build_network
from bench.controllers.ahf.training import make_problem

N, T, S, J = 3, 5, 6, 2
WEIGHTS = {"step_cost": 0.3, "effort_cost": 0.0, "final_velocity_cost": 0.05, "final_actuator_cost": 0.2,
           "step_velocity_cost": 0.01}


def sequence(seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((N, T, S))
    q_target = rng.standard_normal((N, J))
    targets = np.full((N, T, S), np.nan)
    targets[:, -1] = np.concatenate([q_target, np.zeros((N, S - J))], axis=1)
    targets[:, 1] = rng.standard_normal((N, S))  # a second cost step (as with a return phase)
    return y, q_target, targets


def total(loss, y, targets):
    return float(sum(np.sum(v) for v in loss.loss([y], targets) if v is not None))


def by_formula(y, q_target, targets, w):
    """The module docstring's ``L`` summed over trials, written out term by term."""
    out = 0.0
    for t in range(T):
        q, dq, a = y[:, t, :J], y[:, t, J:2 * J], y[:, t, 2 * J:]
        if not np.isnan(targets[0, t, 0]):
            r = targets[:, t]
            out += 0.5 * np.sum((q - r[:, :J]) ** 2 + w["final_velocity_cost"] * (dq - r[:, J:2 * J]) ** 2
                                + w["final_actuator_cost"] * (a - r[:, 2 * J:]) ** 2)
        out += 0.5 * np.sum(w["step_cost"] * (q - q_target) ** 2 + w["step_velocity_cost"] * dq ** 2)
    return out


def test_loss_value_is_the_documented_formula():
    y, q, targets = sequence()
    loss = make_losses(q, **WEIGHTS)
    assert total(loss, y, targets) == pytest.approx(by_formula(y, q, targets, WEIGHTS), rel=1e-12)
    plain = {**WEIGHTS, "step_cost": 0.0, "step_velocity_cost": 0.0, "final_velocity_cost": 1.0,
             "final_actuator_cost": 1.0}
    assert isinstance(make_losses(q), MaskedSquaredError)
    assert total(make_losses(q), y, targets) == pytest.approx(by_formula(y, q, targets, plain), rel=1e-12)


@pytest.mark.parametrize("loss", [
    WeightedFinalState(J, velocity=0.05, actuator=0.2),
    PathCost(np.random.default_rng(5).standard_normal((N, J)), distance=0.3, velocity=0.01),
    make_losses(np.random.default_rng(5).standard_normal((N, J)), **WEIGHTS),
], ids=["final", "path", "all"])
def test_gradient_and_curvature_match_finite_differences(loss):
    """d_loss is the gradient of loss and d2_loss its (diagonal) Hessian, on whole sequences and on
    the per-step slices hessianfree's calc_grad passes; NaN targets give no cost and no curvature."""
    y, _, targets = sequence(1)
    eps = 1e-6
    grad = loss.d_loss([y], targets)[-1]
    curv = loss.d2_loss([y], targets)[-1]
    fd_grad = np.zeros_like(y)
    fd_curv = np.zeros_like(y)
    for idx in np.ndindex(y.shape):
        d = np.zeros_like(y)
        d[idx] = eps
        fd_grad[idx] = (total(loss, y + d, targets) - total(loss, y - d, targets)) / (2 * eps)
        fd_curv[idx] = (loss.d_loss([y + d], targets)[-1][idx] - loss.d_loss([y - d], targets)[-1][idx]) / (2 * eps)
    assert np.allclose(grad, fd_grad, atol=1e-7)
    assert np.allclose(curv, fd_curv, atol=1e-7)
    assert np.abs(fd_grad).max() > 0.1 and curv.max() > 0
    for t in range(T):  # per-step slices give the same numbers
        assert np.allclose(loss.d_loss([y[:, t]], targets[:, t])[-1], grad[:, t])
    # the Hessian is diagonal: moving one element moves only that element's gradient
    d = np.zeros_like(y)
    d[1, 2, 3] = 1e-3
    moved = (loss.d_loss([y + d], targets)[-1] - grad) != 0
    assert moved.sum() <= 1


def test_final_cost_ignores_steps_without_a_target():
    y, _, targets = sequence(2)
    loss = WeightedFinalState(J, velocity=0.05, actuator=0.2)
    curv = loss.d2_loss([y], targets)[-1]
    assert np.all(curv[:, [0, 2, 3]] == 0) and np.all(loss.d_loss([y], targets)[-1][:, 0] == 0)
    assert np.allclose(curv[:, -1], [1, 1, 0.05, 0.05, 0.2, 0.2])


def test_hessianfree_squared_error_would_put_curvature_on_every_step():
    y, q, targets = sequence(3)
    assert hf.loss_funcs.SquaredError().d2_loss([y], targets)[-1][:, 0].sum() > 0
    assert make_losses(q, final_velocity_cost=0.1).d2_loss([y], targets)[-1][:, 0].sum() == 0


def test_hand_output_and_its_jacobian():
    """The hand-space layer output is [hand, J(q) dq, actuator torques] and d_output its Jacobian
    (central differences of the output map); its targets are the hand targets at rest."""
    arm = bench.plant("arm2_python_todorov", dt=0.01)
    problem = make_problem(arm, bench.task("reach"), bench.controller("ahf", targets=4).settings)
    layer = ArmPlantLayer(arm, problem.target_state, arm.start_state, problem.steps, output="hand")
    x = np.tile(arm.start_state, (4, 1)) + np.random.default_rng(0).normal(0, 0.3, (4, 6))
    out = layer.hand_output(x)
    assert np.allclose(out[:, :2], arm.hand(x[:, :2]))
    assert np.allclose(out[:, 2:4], np.einsum("nij,nj->ni", arm.hand_jacobian(x[:, :2]), x[:, 2:4]))
    assert np.array_equal(out[:, 4:], x[:, 4:])
    jac = layer.output_jacobian(x)
    eps = 1e-6
    fd = np.stack([(layer.hand_output(x + eps * e) - layer.hand_output(x - eps * e)) / (2 * eps)
                   for e in np.eye(6)], axis=2)
    assert np.allclose(jac, fd, atol=1e-7)
    assert np.allclose(layer.targets[:, -1, :2], problem.targets_xy) and np.all(layer.targets[:, -1, 2:] == 0)
    assert np.allclose(layer.hand_of(out), arm.hand(x[:, :2]))
    with pytest.raises(ValueError, match="'hand'"):
        ArmPlantLayer(arm, problem.target_state, arm.start_state, problem.steps, output="wrist")


@pytest.mark.parametrize("space", ["joint", "hand"])
def test_network_gradient_and_gauss_newton_product_with_the_new_costs(space):
    """calc_grad and calc_G on Todorov's arm (6-number state) with every cost, in joint and in hand
    space, against central differences of the same fixed-input objective."""
    arm = bench.plant("arm2_python_todorov", dt=0.01)
    s = bench.controller("ahf", hidden=3, targets=3).settings
    problem = make_problem(arm, bench.task("reach", duration=0.05), s)
    layer = ArmPlantLayer(arm, problem.target_state, arm.start_state, problem.steps, input_center=arm.start_state,
                          input_scale=0.2, cost_steps=problem.cost_steps, output=space)
    reference = problem.targets_xy if space == "hand" else problem.q_target
    net = build_network(arm.state_size, 3, plant_layer=layer, seed=3, init_coeff=1.0,
                        losses=make_losses(reference, **{**WEIGHTS, "effort_cost": 0.1}))
    net.cache_minibatch(layer, None)
    w0 = net.W.copy()
    free = np.flatnonzero(~net.fixed)
    eps = 1e-6

    def fd(f):
        g = np.zeros_like(w0)
        for i in free:
            d = np.zeros_like(w0)
            d[i] = eps
            g[i] = (f(w0 + d) - f(w0 - d)) / (2 * eps)
        return g

    grad = net.calc_grad()
    expected = fd(lambda w: net.error(w))
    assert np.abs(grad - expected).max() <= 1e-6 * np.abs(expected).max()

    v = np.random.default_rng(0).standard_normal(w0.size)
    v[net.fixed] = 0
    gv = net.calc_G(v.copy(), damping=0.0)
    jv = [(p - m) / (2 * eps) for p, m in zip(net.forward(net.inputs, w0 + eps * v),
                                              net.forward(net.inputs, w0 - eps * v))]
    h = net.loss.d2_loss(net.activations, net.targets)
    expected = fd(lambda w: sum(np.sum(hl * jl * al) for hl, jl, al in zip(h, jv, net.forward(net.inputs, w))
                                if hl is not None)) / net.inputs.shape[0]
    assert np.abs(gv - expected).max() <= 1e-5 * np.abs(expected).max()
