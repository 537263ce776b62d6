"""studywolf/control's arms: arm1, arm1_python, arm2_python, arm2_python_todorov, arm3 and its variants.

Their parameters against the source's, the conformance checks, exact
Jacobians against central differences, energy conservation without torque
or friction, dissipation with it, the actuator lag, and the force field.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from arms import assert_step_solves_equations_of_motion

import bench
from bench.api import finite_difference_jacobians
from bench.errors import OutOfReach, SettingError
from bench.plants.forcefield import FORCE_MATRIX, ForceField, force_matrix, postural_force
from bench.testing import check_plant

#: (plant, settings) of every studywolf arm and variant.
VARIANTS = {
    "arm1": ("arm1", {}),
    "arm1-gravity-damping": ("arm1", {"gravity": 9.81, "damping": 0.5}),
    "arm1_python": ("arm1_python", {}),
    "arm2_python": ("arm2_python", {}),
    "todorov": ("arm2_python_todorov", {}),
    "todorov-no-actuator-friction": ("arm2_python_todorov", {"actuator_tau": 0.0,
                                                              "friction": (0.7, 0.08, 0.08, 0.8)}),
    "arm3": ("arm3", {}),
    "arm3-gravity": ("arm3", {"gravity": 9.81}),
    "arm3-damping": ("arm3", {"damping": 1.0}),
    "arm3-gravity-damping": ("arm3", {"gravity": 9.81, "damping": 1.0}),
    "arm3-smallmass": ("arm3", {"mass_scale": 0.001}),
    "arm3_rods": ("arm3_rods", {}),
}


def make(key):
    name, settings = VARIANTS[key]
    return bench.plant(name, **settings)


def batch(arm, n, rng):
    """States around the start posture (actuator torques too) and torques scaled to the arm's inertia."""
    x = np.tile(arm.start_state, (n, 1)) + rng.uniform(-0.8, 0.8, (n, arm.state_size))
    scale = float(np.max(np.diag(arm.inertia(arm.start_q[None])[0])))
    return x, rng.uniform(-3, 3, (n, arm.input_size)) * scale


@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_conformance(key):
    check_plant(make(key))


@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_jacobians_are_exact(key):
    arm = make(key)
    x, u = batch(arm, 12, np.random.default_rng(1))
    a, b = arm.jacobians(x, u)
    fa, fb = finite_difference_jacobians(arm.step, x, u, eps=1e-4)   # the step is linear in u: no truncation
    for got, ref in ((a, fa), (b, fb)):
        err = np.linalg.norm(got - ref, axis=(1, 2)) / np.linalg.norm(ref, axis=(1, 2))
        assert err.max() < 1e-6, (key, err.max())
    if arm.n_joints > 1 or arm.gravity:            # a level one-link arm is linear: its Jacobian is constant
        assert not np.allclose(a[0], a[1])


@pytest.mark.parametrize("key", ["arm1", "arm1_python", "todorov-no-actuator-friction", "arm3", "arm3-smallmass",
                                 "arm3-gravity"])
def test_energy_is_conserved_without_torque_or_friction(key):
    name, settings = VARIANTS[key]
    settings = {**settings, "dt": 1e-4}
    if name == "arm2_python_todorov":
        settings["friction"] = (0.0, 0.0, 0.0, 0.0)
    arm = bench.plant(name, **settings)
    rng = np.random.default_rng(2)
    x = np.concatenate([arm.start_q + rng.uniform(-1, 1, (4, arm.n_joints)),
                        rng.uniform(-2, 2, (4, arm.n_joints))], axis=1)
    zero = np.zeros((4, arm.input_size))
    e0 = arm.energy(x)
    scale = np.abs(e0) + arm.kinetic_energy(x)
    for _ in range(5000):
        x = arm.step(x, zero)
    drift = np.abs(arm.energy(x) - e0) / scale
    assert drift.max() < 2e-3, drift


@pytest.mark.parametrize("key", ["arm1-gravity-damping", "arm3-damping", "todorov-no-actuator-friction"])
def test_friction_dissipates(key):
    arm = make(key)
    x = np.concatenate([np.tile(arm.start_q, (3, 1)), np.random.default_rng(3).uniform(-2, 2, (3, arm.n_joints))],
                       axis=1)
    zero = np.zeros((3, arm.input_size))
    e0 = arm.energy(x)
    for _ in range(300):
        x = arm.step(x, zero)
    assert np.all(arm.energy(x) < e0 - 1e-4)


def test_step_solves_equations_of_motion():
    """(dq' - dq) / dt = M⁻¹ (u - h) with the public inertia and bias torques (no actuator lag)."""
    for key in ("arm1-gravity-damping", "todorov-no-actuator-friction", "arm3-gravity-damping"):
        arm = make(key)
        assert_step_solves_equations_of_motion(arm, *batch(arm, 6, np.random.default_rng(4)))


# -- studywolf's parameters ---------------------------------------------------------
def test_arm3_has_studywolfs_body_and_start_posture():
    arm = bench.plant("arm3")
    np.testing.assert_array_equal(arm.link_lengths, [2.0, 1.2, 0.7])
    np.testing.assert_array_equal(arm.masses, [10.0, 10.0, 10.0])
    np.testing.assert_array_equal(arm.com_inertia, [100.0, 100.0, 100.0])
    np.testing.assert_allclose(arm.start_q, [math.pi / 5.5, math.pi / 1.7, math.pi / 6])
    np.testing.assert_allclose(arm.hand(arm.start_q[None])[0], [0.0960, 2.0129], atol=1e-4)
    # M = Σ Jcomᵀ diag(m, m, izz) Jcom, studywolf's gen_Mq, at a random posture
    q = np.array([0.3, 1.1, -0.4])
    phi = np.cumsum(q)
    m = np.zeros((3, 3))
    for i in range(3):
        jac = np.zeros((3, 3))
        for j in range(i + 1):
            reach = sum(arm.link_lengths[k] * (0.5 if k == i else 1.0) * np.array([-np.sin(phi[k]), np.cos(phi[k])])
                        for k in range(j, i + 1))
            jac[:2, j] = reach
            jac[2, j] = 1.0
        m += jac.T @ np.diag([10.0, 10.0, 100.0]) @ jac
    np.testing.assert_allclose(arm.inertia(q[None])[0], m, rtol=1e-12)


def test_arm3_variants_are_settings():
    base, small = bench.plant("arm3"), bench.plant("arm3", mass_scale=0.001)
    q = base.start_q[None]
    np.testing.assert_allclose(small.inertia(q), 0.001 * base.inertia(q), rtol=1e-12)
    heavy = bench.plant("arm3", gravity=9.81)
    h = heavy.bias_torques(q, np.zeros_like(q))
    assert np.all(np.abs(h) > 1.0) and np.allclose(base.bias_torques(q, np.zeros_like(q)), 0.0)
    damped = bench.plant("arm3", damping=1.0)
    dq = np.array([[0.5, -1.0, 2.0]])
    np.testing.assert_allclose(damped.bias_torques(q, dq) - base.bias_torques(q, dq), dq, atol=1e-12)
    with pytest.raises(SettingError, match="inertias must hold 3 values"):
        bench.plant("arm3", inertias=(1.0, 2.0))
    with pytest.raises(SettingError, match=r"'arm3\.mass_scale' must be > 0"):
        bench.plant("arm3", mass_scale=0.0)


def test_arm1_bodies():
    arm, py = bench.plant("arm1"), bench.plant("arm1_python")
    assert arm.link_lengths.tolist() == [0.8] and py.link_lengths.tolist() == [0.31]
    assert arm.joint_inertia == pytest.approx(15.0 + 1.0 * 0.4**2)
    assert py.joint_inertia == pytest.approx(1.98 * 0.31**2)          # studywolf: ddq = u / (m l²)
    x = np.array([[0.2, 0.0]])
    nxt = py.step(x, np.array([[1.0]]))
    assert nxt[0, 1] == pytest.approx(1e-3 / (1.98 * 0.31**2))
    np.testing.assert_allclose(arm.hand(np.array([[0.0], [math.pi / 2]])), [[0.8, 0.0], [0.0, 0.8]], atol=1e-15)
    q = np.array([[0.3], [-2.5], [3.0]])
    np.testing.assert_allclose(arm.inverse_kinematics(arm.hand(q)), q, atol=1e-12)
    with pytest.raises(OutOfReach):
        arm.inverse_kinematics(np.array([[0.5, 0.0]]))


def test_arm2_python_is_arm2():
    reg = bench.registry()
    assert reg.get("plant", "arm2_python").factory == reg.get("plant", "arm2").factory
    a, b = bench.plant("arm2"), bench.plant("arm2_python")
    x, u = batch(a, 5, np.random.default_rng(5))
    np.testing.assert_array_equal(a.step(x, u), b.step(x, u))


def test_todorov_parameters_and_actuator_lag():
    arm = bench.plant("arm2_python_todorov")
    assert arm.state_size == 6 and arm.start_state.tolist() == [0.75613, 1.8553, 0, 0, 0, 0]
    assert arm.a1 == pytest.approx(0.025 + 0.045 + 1.1 * 0.31**2)
    assert arm.a2 == pytest.approx(1.1 * 0.31 * 0.16) and arm.a3 == pytest.approx(0.045)
    # a step command reaches 1 - 1/e of itself after one time constant (40 ms)
    x = arm.start_state[None]
    u = np.array([[1.0, -0.5]])
    for _ in range(40):
        x = arm.step(x, u)
    np.testing.assert_allclose(x[0, 4:], (1 - math.exp(-1)) * u[0], rtol=1e-9)
    plain = bench.plant("arm2_python_todorov", actuator_tau=0.0)
    assert plain.state_size == 4
    lagged = arm.step(arm.start_state[None], u)
    direct = plain.step(plain.start_state[None], u)
    assert np.all(np.abs(lagged[0, 2:4]) < np.abs(direct[0, 2:4]))        # the lag slows the first step


# -- the force field -------------------------------------------------------------------
def test_force_field_adds_studywolfs_velocity_torques():
    np.testing.assert_array_equal(force_matrix(2, 2.0), 2.0 * FORCE_MATRIX[:2, :2])
    assert force_matrix(4).shape == (4, 4) and force_matrix(4)[3, 3] == FORCE_MATRIX[0, 0]
    for name in ("arm1", "arm2", "arm2_python_todorov", "arm3"):
        arm = bench.plant(name)
        field = ForceField(arm, 0.5)
        x, u = batch(arm, 4, np.random.default_rng(6))
        nj = arm.n_joints
        push = x[:, nj:2 * nj] @ (0.5 * FORCE_MATRIX[:nj, :nj]).T
        np.testing.assert_allclose(field.step(x, u), arm.step(x, u + push), rtol=1e-13)
        a, b = field.jacobians(x, u)
        fa, fb = finite_difference_jacobians(field.step, x, u, eps=1e-6)
        assert np.abs(a - fa).max() / np.abs(fa).max() < 1e-6 and np.abs(b - fb).max() / np.abs(fb).max() < 1e-4
        assert not np.allclose(a, arm.jacobians(x, u)[0])


def test_postural_force_is_a_row_of_studywolfs_table():
    np.testing.assert_allclose(postural_force(3, 7, 400.0), [-260.052348, -355.635144, 28.263128])
    np.testing.assert_allclose(postural_force(2, 0, 1.0), [-0.90937641, -0.64614133])
