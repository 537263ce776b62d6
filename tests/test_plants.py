"""The built-in plants: arm2, arm3_rods (and arm3) and cartpole (studywolf's arms: test_studywolf_arms.py).

Exact Jacobians against central finite differences, batching, dtypes,
energy conservation, kinematics and inverse kinematics, Gymnasium's
CartPole-v1 physics, bad input, divergence, and the contract checks of
:mod:`bench.testing` on every registered plant.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from arms import assert_step_solves_equations_of_motion

import bench
from bench.api import finite_difference_jacobians
from bench.errors import BenchError, Diverged, InvalidArgument, OutOfReach, SettingError
from bench.plants.arm2 import Arm2, Arm2Settings
from bench.plants.arm3 import Arm3, Arm3Settings
from bench.plants.cartpole import CartPole, CartPoleSettings
from bench.plants.simulate import simulate
from bench.testing import check_plant

PLANTS = {
    "arm2": {},
    "arm3_rods": {},
    "arm3_rods-gravity-damping": {"gravity": 9.81, "damping": 0.7},
    "cartpole": {},
    "cartpole-semi-implicit": {"integrator": "semi-implicit"},
}


def make(key: str):
    return bench.plant(key.split("-")[0], **PLANTS[key])


def random_batch(plant, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """States around the start posture (arms) or in the balancing region (cartpole)."""
    if hasattr(plant, "n_joints"):
        nj = plant.n_joints
        q = plant.start_q + rng.uniform(-1.5, 1.5, (n, nj))
        dq = rng.uniform(-3, 3, (n, nj))
        x = np.concatenate([q, dq], axis=1)
        u = rng.uniform(-2, 2, (n, plant.input_size)) * (20 if nj == 3 else 1)
    else:
        x = rng.uniform([-2, -2, -0.5, -3], [2, 2, 0.5, 3], (n, 4))
        u = rng.uniform(-10, 10, (n, 1))
    return x, u


# -- exact Jacobians -----------------------------------------------------------
@pytest.mark.parametrize("key", sorted(PLANTS))
def test_jacobians_match_central_differences(key):
    plant = make(key)
    x, u = random_batch(plant, 40, np.random.default_rng(1))
    a, b = plant.jacobians(x, u)
    assert a.shape == (40, plant.state_size, plant.state_size)
    assert b.shape == (40, plant.state_size, plant.input_size)
    fa, fb = finite_difference_jacobians(plant.step, x, u, eps=1e-6)
    for got, ref in ((a, fa), (b, fb)):
        err = np.linalg.norm(got - ref, axis=(1, 2)) / np.linalg.norm(ref, axis=(1, 2))
        assert err.max() < 1e-6, err.max()


@pytest.mark.parametrize("key", sorted(PLANTS))
def test_jacobians_are_not_identity_only(key):
    """The input Jacobian is really state-dependent (guards a constant answer)."""
    plant = make(key)
    x, u = random_batch(plant, 2, np.random.default_rng(2))
    b = plant.jacobians(x, u)[1]
    assert np.abs(b).max() > 0
    if key != "cartpole-semi-implicit" and key != "cartpole":
        assert not np.allclose(b[0], b[1])


# -- batching and dtypes -------------------------------------------------------
@pytest.mark.parametrize("key", sorted(PLANTS))
def test_batch_equals_rows_and_inputs_untouched(key):
    plant = make(key)
    x, u = random_batch(plant, 7, np.random.default_rng(3))
    x0, u0 = x.copy(), u.copy()
    batch = plant.step(x, u)
    rows = np.concatenate([plant.step(x[i:i + 1], u[i:i + 1]) for i in range(7)])
    np.testing.assert_array_equal(batch, rows)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(u, u0)
    assert not np.allclose(batch, x)


@pytest.mark.parametrize("key", sorted(PLANTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(key, dtype):
    plant = make(key)
    x, u = random_batch(plant, 5, np.random.default_rng(4))
    x, u = x.astype(dtype), u.astype(dtype)
    out = plant.step(x, u)
    a, b = plant.jacobians(x, u)
    assert out.dtype == a.dtype == b.dtype == dtype
    ref = plant.step(x.astype(np.float64), u.astype(np.float64))
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)
    if hasattr(plant, "n_joints"):
        q = x[:, : plant.n_joints]
        assert plant.joint_positions(q).dtype == dtype
        assert plant.hand_jacobian(q).dtype == dtype
        assert plant.inertia(q).dtype == dtype
        assert plant.inverse_kinematics(plant.hand(q)).dtype == dtype


def test_float32_state_with_float64_input_keeps_float32():
    arm = bench.plant("arm2")
    x = np.tile(arm.start_state, (3, 1)).astype(np.float32)
    assert arm.step(x, np.ones((3, 2))).dtype == np.float32


def test_integer_states_are_promoted():
    arm = bench.plant("arm3_rods")
    out = arm.step(np.zeros((2, 6), dtype=int), np.ones((2, 3), dtype=int))
    assert out.dtype == np.float64


# -- physics -------------------------------------------------------------------
@pytest.mark.parametrize("name", ["arm2", "arm3_rods"])
def test_energy_is_conserved_without_torque_and_damping(name):
    arm = bench.plant(name, dt=1e-4)
    rng = np.random.default_rng(5)
    n = 6
    x = np.concatenate([arm.start_q + rng.uniform(-1, 1, (n, arm.n_joints)),
                        rng.uniform(-2, 2, (n, arm.n_joints))], axis=1)
    e0 = arm.energy(x)
    zero = np.zeros((n, arm.input_size))
    for _ in range(round(1.0 / arm.dt)):
        x = arm.step(x, zero)
    drift = np.abs(arm.energy(x) - e0) / e0
    assert drift.max() < 1e-3, drift


def test_arm3_energy_with_gravity_is_conserved_and_damping_dissipates():
    """With gravity the drift is the integrator's: small, and halving with dt."""
    rng = np.random.default_rng(6)
    n = 4
    x0 = np.concatenate([np.array([0.5, 1.7, 0.8]) + rng.uniform(-1, 1, (n, 3)), rng.uniform(-2, 2, (n, 3))], axis=1)
    zero = np.zeros((n, 3))
    drifts = []
    for dt in (1e-4, 5e-5):
        arm = bench.plant("arm3_rods", dt=dt, gravity=9.81)
        lowest = -arm.gravity * arm.b.sum()          # every link hanging straight down
        x = x0
        for _ in range(round(0.5 / dt)):
            x = arm.step(x, zero)
        drifts.append(np.abs(arm.energy(x) - arm.energy(x0)) / (arm.energy(x0) - lowest))
    assert drifts[1].max() < 1e-3
    np.testing.assert_allclose(drifts[0] / drifts[1], 2.0, rtol=0.1)   # first order in dt: the model conserves
    damped = bench.plant("arm3_rods", dt=1e-3, gravity=9.81, damping=2.0)
    x = x0
    energies = [damped.energy(x)]
    for _ in range(300):
        x = damped.step(x, zero)
        energies.append(damped.energy(x))
    assert np.all(energies[-1] < energies[0] - 1e-3)


def test_arm3_model_matches_rigid_body_sums():
    """M(q) and the potential energy agree with sums over the three rods."""
    arm = bench.plant("arm3_rods", gravity=9.81)
    rng = np.random.default_rng(7)
    q = rng.uniform(-3, 3, (5, 3))
    dq = rng.uniform(-2, 2, (5, 3))
    phi, w = np.cumsum(q, axis=1), np.cumsum(dq, axis=1)
    lengths, m, r, inertia = arm.link_lengths, arm.masses, arm.com, arm.com_inertia
    kinetic = np.zeros(5)
    height = np.zeros(5)
    base_v = np.zeros((5, 2))
    base_y = np.zeros(5)
    for i in range(3):
        d = np.stack([-np.sin(phi[:, i]), np.cos(phi[:, i])], axis=1) * w[:, i:i + 1]
        v = base_v + r[i] * d
        kinetic += 0.5 * m[i] * np.sum(v * v, axis=1) + 0.5 * inertia[i] * w[:, i] ** 2
        height += m[i] * (base_y + r[i] * np.sin(phi[:, i]))
        base_v = base_v + lengths[i] * d
        base_y = base_y + lengths[i] * np.sin(phi[:, i])
    np.testing.assert_allclose(arm.kinetic_energy(np.concatenate([q, dq], axis=1)), kinetic, rtol=1e-12)
    np.testing.assert_allclose(arm.potential_energy(q), 9.81 * height, rtol=1e-12, atol=1e-12)
    hand = np.stack([np.sum(lengths * np.cos(phi), axis=1), base_y], axis=1)
    np.testing.assert_allclose(arm.hand(q), hand, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("key", ["arm2", "arm3_rods", "arm3_rods-gravity-damping"])
def test_step_solves_equations_of_motion(key):
    """(dq' - dq) / dt = M⁻¹ (u - h) with the public inertia and bias torques."""
    arm = make(key)
    assert_step_solves_equations_of_motion(arm, *random_batch(arm, 9, np.random.default_rng(8)))


def test_arm2_keeps_reference_physics():
    arm = bench.plant("arm2")
    s = arm.settings
    assert (arm.dt, s.l1, s.l2, s.m1, s.m2) == (1e-3, 0.31, 0.27, 1.98, 1.32)
    np.testing.assert_array_equal(arm.start_q, [0.75613, 1.8553])
    x = np.array([[0.3, 1.1, 0.4, -0.8]])
    u = np.array([[0.5, -0.2]])
    k1 = (1.98 / 3 + 1.32) * 0.31**2 + 1.32 * 0.27**2 / 3
    k2, k3, k4 = 1.32 * 0.31 * 0.27, 1.32 * 0.27**2 / 3, 1.32 * 0.31 * 0.27 / 2
    c, s1 = math.cos(1.1), math.sin(1.1)
    m = np.array([[k1 + k2 * c, k3 + k4 * c], [k3 + k4 * c, k3]])
    h = np.array([-k2 * s1 * (0.4 * -0.8 + 0.5 * 0.64), k2 * s1 * 0.5 * 0.16])
    ddq = np.linalg.solve(m, u[0] - h)
    dq = x[0, 2:] + 1e-3 * ddq
    np.testing.assert_allclose(arm.step(x, u)[0], np.concatenate([x[0, :2] + 1e-3 * dq, dq]), rtol=1e-13)


# -- cartpole against Gymnasium ------------------------------------------------
def test_cartpole_equals_gymnasium_cartpole_v1():
    import gymnasium

    env = gymnasium.make("CartPole-v1").unwrapped
    cart = bench.plant("cartpole")
    rng = np.random.default_rng(9)
    states = rng.uniform([-2.4, -3, -0.4, -3], [2.4, 3, 0.4, 3], (200, 4))
    actions = rng.integers(0, 2, 200)
    ours = cart.step_action(states, actions)
    for i in range(200):
        env.reset(seed=0)
        env.state = states[i].copy()
        obs, _, terminated, _, _ = env.step(int(actions[i]))
        np.testing.assert_allclose(ours[i], env.state, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(ours[i].astype(np.float32), obs)
        assert cart.terminated(ours[i:i + 1])[0] == terminated


@pytest.mark.filterwarnings("ignore:.*already returned terminated")
def test_cartpole_trajectory_follows_gymnasium():
    import gymnasium

    env = gymnasium.make("CartPole-v1").unwrapped
    cart = bench.plant("cartpole")
    env.reset(seed=4)
    x = env.state[None].copy()
    rng = np.random.default_rng(10)
    for _ in range(300):
        a = int(rng.integers(2))
        env.step(a)
        x = cart.step_action(x, [a])
        assert np.max(np.abs(x[0] - env.state)) <= 1e-12


def test_cartpole_actions_map_to_force():
    cart = bench.plant("cartpole")
    np.testing.assert_array_equal(cart.action_force(np.array([0, 1, 1])), [[-10.0], [10.0], [10.0]])
    x = cart.initial_state(3, np.random.default_rng(0))
    np.testing.assert_array_equal(cart.step_action(x, [0, 1, 0]), cart.step(x, [[-10.0], [10.0], [-10.0]]))
    with pytest.raises(InvalidArgument, match="0, 1"):
        cart.action_force(np.array([0, 2]))
    with pytest.raises(InvalidArgument, match="integers"):
        cart.action_force(np.array([0.5]))
    registry = bench.registry()
    spec = registry.get("plant", "cartpole")
    assert spec.provides == {"dynamics", "jacobians", "discrete-actions"}
    assert registry.get("plant", "arm3_rods").provides == {"dynamics", "kinematics", "jacobians"}


# -- kinematics ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["arm2", "arm3_rods"])
def test_hand_jacobian_and_joint_positions(name):
    arm = bench.plant(name)
    q = arm.start_q + np.random.default_rng(11).uniform(-1, 1, (6, arm.n_joints))
    pts = arm.joint_positions(q)
    np.testing.assert_allclose(np.linalg.norm(np.diff(pts, axis=1), axis=2), np.tile(arm.link_lengths, (6, 1)))
    np.testing.assert_array_equal(pts[:, 0], 0.0)
    eps = 1e-6
    fd = np.stack([(arm.hand(q + eps * e) - arm.hand(q - eps * e)) / (2 * eps) for e in np.eye(arm.n_joints)], 2)
    np.testing.assert_allclose(arm.hand_jacobian(q), fd, atol=1e-8)


def test_arm2_closed_form_ik_elbow_convention():
    arm = bench.plant("arm2")
    rng = np.random.default_rng(12)
    q = np.stack([rng.uniform(-3, 3, 50), rng.uniform(0.05, 3.0, 50)], axis=1)  # elbow q1 in (0, pi)
    got = arm.inverse_kinematics(arm.hand(q))
    np.testing.assert_allclose(got[:, 1], q[:, 1], atol=1e-9)
    np.testing.assert_allclose(arm.hand(got), arm.hand(q), atol=1e-12)
    mirrored = q * [1, -1]                          # the other elbow branch gives the same q1 >= 0 answer
    assert np.all(arm.inverse_kinematics(arm.hand(mirrored))[:, 1] >= 0)


def test_arm3_damped_least_squares_ik():
    arm = bench.plant("arm3_rods")
    rng = np.random.default_rng(13)
    r = rng.uniform(0.3, 3.7, 40)
    ang = rng.uniform(-np.pi, np.pi, 40)
    xy = np.stack([r * np.cos(ang), r * np.sin(ang)], axis=1)
    q = arm.inverse_kinematics(xy)
    assert q.shape == (40, 3)
    np.testing.assert_allclose(arm.hand(q), xy, atol=1e-9)


@pytest.mark.parametrize("name,far,near", [("arm2", 0.6, 0.02), ("arm3_rods", 4.0, 0.05)])
def test_unreachable_targets_raise_out_of_reach(name, far, near):
    arm = bench.plant(name)
    with pytest.raises(OutOfReach, match=r"target 1 .*reachable distances"):
        arm.inverse_kinematics(np.array([[0.1, 0.2], [far, 0.0]]))
    with pytest.raises(OutOfReach, match="target 0"):
        arm.inverse_kinematics(np.array([[0.0, near]]))


def test_osc_reaches_with_arm3():
    """The OSC baseline drives studywolf's arm3 (untuned) to every reach target within the arm's 2 cm."""
    arm = bench.plant("arm3")
    result = bench.run(arm, bench.controller("osc"), bench.task("reach", targets=8, duration=0.6))
    assert result.metrics["within_tolerance"] == 1.0 and result.metrics["final_distance_max"] < 0.002
    default = bench.run(bench.plant("arm3"), bench.controller("osc"), bench.task("reach", targets=8))
    assert default.metrics["within_tolerance"] == 1.0 and default.metrics["final_distance_max"] < 0.02


# -- bad input -----------------------------------------------------------------
@pytest.mark.parametrize("name", ["arm2", "arm3_rods", "cartpole"])
def test_bad_shapes_name_the_argument(name):
    plant = bench.plant(name)
    s, m = plant.state_size, plant.input_size
    with pytest.raises(InvalidArgument, match=rf"x must have shape \(n, {s}\).*got \(3, {s + 1}\)"):
        plant.step(np.zeros((3, s + 1)), np.zeros((3, m)))
    with pytest.raises(InvalidArgument, match=r"x must have shape"):
        plant.step(np.zeros(s), np.zeros(m))
    with pytest.raises(InvalidArgument, match=rf"u must have shape \(3, {m}\).*got \(2, {m}\)"):
        plant.step(np.zeros((3, s)), np.zeros((2, m)))
    with pytest.raises(InvalidArgument, match="u must have shape"):
        plant.jacobians(np.zeros((3, s)), np.zeros((3, m + 1)))
    with pytest.raises(InvalidArgument, match="real numbers"):
        plant.step(np.full((1, s), "a"), np.zeros((1, m)))


@pytest.mark.parametrize("name", ["arm2", "arm3_rods", "cartpole"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_states_and_inputs_are_refused(name, bad):
    plant = bench.plant(name)
    x, u = random_batch(plant, 4, np.random.default_rng(14))
    for arg in ("x", "u"):
        xb, ub = x.copy(), u.copy()
        (xb if arg == "x" else ub)[2, 0] = bad
        with np.errstate(all="ignore"):
            with pytest.raises(InvalidArgument, match=rf"{arg} must be finite; row 2"):
                plant.step(xb, ub)
            with pytest.raises(InvalidArgument, match=rf"{arg} must be finite; row 2"):
                plant.jacobians(xb, ub)


@pytest.mark.parametrize("name", ["arm2", "arm3_rods"])
def test_kinematics_refuse_bad_angles(name):
    arm = bench.plant(name)
    with pytest.raises(InvalidArgument, match=rf"q must have shape \(n, {arm.n_joints}\)"):
        arm.hand(np.zeros((2, arm.n_joints + 1)))
    with pytest.raises(InvalidArgument, match="q must be finite"):
        arm.hand_jacobian(np.full((1, arm.n_joints), np.nan))
    with pytest.raises(InvalidArgument, match="xy must be finite"):
        arm.inverse_kinematics(np.array([[np.nan, 0.1]]))
    with pytest.raises(InvalidArgument, match=r"xy must have shape \(n, 2\)"):
        arm.inverse_kinematics(np.zeros(2))


@pytest.mark.parametrize("name", ["arm2", "arm3_rods", "cartpole"])
@pytest.mark.parametrize("dt", [0.0, -1e-3])
def test_non_positive_dt_is_refused(name, dt):
    with pytest.raises(SettingError, match=rf"'{name}.dt' must be > 0"):
        bench.plant(name, dt=dt)


def test_settings_are_checked_when_a_plant_is_built_directly():
    with pytest.raises(SettingError, match=r"'arm2.dt' must be > 0 s; got -1"):
        Arm2(Arm2Settings(dt=-1))
    with pytest.raises(SettingError, match=r"'arm3.dt' must be a finite number"):
        Arm3(Arm3Settings(dt=float("nan")))
    with pytest.raises(SettingError, match=r"'cartpole.integrator' must be one of 'euler', 'semi-implicit'"):
        CartPole(CartPoleSettings(integrator="rk4"))
    with pytest.raises(SettingError, match=r"'arm2.l1' expects a number, got 'long'"):
        Arm2(Arm2Settings(l1="long"))


def test_arm3_settings_are_checked():
    with pytest.raises(SettingError, match="masses must hold 3 values"):
        bench.plant("arm3_rods", masses=(1.0, 2.0))
    with pytest.raises(SettingError, match=r"'arm3_rods\.gravity' must be >= 0"):
        bench.plant("arm3_rods", gravity=-1.0)
    heavy = bench.plant("arm3_rods", masses="4,2.4,1.4")
    q = heavy.start_q[None]
    np.testing.assert_allclose(heavy.inertia(q), 2 * bench.plant("arm3_rods").inertia(q), rtol=1e-12)


# -- divergence ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["arm2", "arm3_rods", "cartpole"])
def test_divergence_names_the_step(name):
    plant = bench.plant(name)
    x0 = plant.initial_state(2, np.random.default_rng(0))
    inputs = np.full((5, 2, plant.input_size), 1e300)
    with np.errstate(all="ignore"):
        with pytest.raises(Diverged, match=r"state not finite at step \d of 5"):
            simulate(plant, x0, inputs)
        with pytest.raises(Diverged, match="diverged"):
            x = x0
            for k in range(5):
                x = plant.step(x, inputs[k])


def test_simulate_returns_the_trajectory_and_checks_arguments():
    arm = bench.plant("arm2")
    x0 = arm.initial_state(3, np.random.default_rng(0)).astype(np.float32)
    traj = simulate(arm, x0, np.ones((4, 3, 2)))
    assert traj.shape == (5, 3, 4) and traj.dtype == np.float32
    np.testing.assert_array_equal(traj[1], arm.step(x0, np.ones((3, 2), dtype=np.float32)))
    with pytest.raises(InvalidArgument, match=r"inputs must have shape \(T, 3, 2\)"):
        simulate(arm, x0, np.ones((4, 2)))
    with pytest.raises(InvalidArgument, match="step 2 holds NaN"):
        simulate(arm, x0, np.stack([np.ones((3, 2))] * 2 + [np.full((3, 2), np.nan)]))


def test_errors_are_bench_errors():
    assert issubclass(OutOfReach, BenchError) and issubclass(Diverged, BenchError)


# -- the contract checks on every registered plant -----------------------------
@pytest.mark.parametrize("name", bench.registry().names("plant"))
def test_check_plant_on_every_registered_plant(name):
    check_plant(bench.plant(name))
