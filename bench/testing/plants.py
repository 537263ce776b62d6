"""Conformance of plants: sizes, seeded starts, pure batched steps, Jacobians, arm kinematics."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..api import finite_difference_jacobians
from .common import _check_spec, _fail, _shape, _states, _who


def check_plant(plant: Any, *, n: int = 5, seed: int = 0, jacobian_rtol: float = 1e-4) -> None:
    """Check a :class:`bench.api.PlantModel` (and an :class:`ArmModel`'s kinematics).

    Checks sizes and ``dt``, seeded ``initial_state``, batched pure ``step``
    (batch equals row by row, inputs untouched, dtype kept), ``observation``
    (shape ``(n, observation_size)``, finite, the state's float dtype kept), ``jacobians``
    shapes and agreement with central finite differences, and for arms the
    kinematics: shapes, hand Jacobian against finite differences, inverse
    kinematics round trip.
    """
    who = _who("plant", plant)
    _check_spec(who, plant)
    for attr in ("dt", "state_size", "input_size"):
        if not hasattr(plant, attr):
            _fail(who, f"has no attribute {attr!r}")
    dt = plant.dt
    if not isinstance(dt, (float, int)) or not np.isfinite(dt) or dt <= 0:
        _fail(who, f"dt must be a positive finite number of seconds, got {dt!r}")
    s, u_size = plant.state_size, plant.input_size
    if not (isinstance(s, int) and s > 0 and isinstance(u_size, int) and u_size > 0):
        _fail(who, f"state_size and input_size must be positive ints, got {s!r}, {u_size!r}")
    x0 = _shape(who, "initial_state(n, rng)", plant.initial_state(n, np.random.default_rng(seed)), (n, s))
    _check_observation(who, plant, x0)
    again = plant.initial_state(n, np.random.default_rng(seed))
    if not np.array_equal(x0, again):
        _fail(who, "initial_state must be deterministic given the rng (randomness only from rng)")
    rng = np.random.default_rng(seed)
    x = _states(plant, n, rng)
    u = 0.1 * rng.standard_normal((n, u_size))
    x_copy, u_copy = x.copy(), u.copy()
    x1 = _shape(who, "step(x, u)", plant.step(x, u), (n, s))
    if not (np.array_equal(x, x_copy) and np.array_equal(u, u_copy)):
        _fail(who, "step(x, u) must not modify its inputs")
    rows = np.concatenate([plant.step(x[i:i + 1], u[i:i + 1]) for i in range(n)])
    if not np.allclose(rows, x1, rtol=1e-10, atol=1e-12):
        _fail(who, "step on a batch must equal step on each row alone")
    if x1.dtype != np.float64:
        _fail(who, f"step must keep the input dtype float64, returned {x1.dtype}")
    x32 = plant.step(x.astype(np.float32), u.astype(np.float32))
    if np.asarray(x32).dtype != np.float32:
        _fail(who, f"step must keep the input dtype float32, returned {np.asarray(x32).dtype}")
    a, b = plant.jacobians(x, u)
    _shape(who, "jacobians(x, u)[0] (dx_next/dx)", np.asarray(a), (n, s, s))
    _shape(who, "jacobians(x, u)[1] (dx_next/du)", np.asarray(b), (n, s, u_size))
    fa, fb = finite_difference_jacobians(plant.step, x, u)
    for name, got, ref in (("dx_next/dx", a, fa), ("dx_next/du", b, fb)):
        scale = max(float(np.max(np.abs(ref))), 1e-12)
        if np.max(np.abs(got - ref)) / scale > jacobian_rtol:
            _fail(who, f"jacobians {name} differ from central finite differences by "
                       f"{np.max(np.abs(got - ref)) / scale:.2e} (relative), more than {jacobian_rtol:g}")
    if "kinematics" in getattr(getattr(plant, "spec", None), "provides", ()) or hasattr(plant, "joint_positions"):
        _check_arm(who, plant, x, rng)


def _check_observation(who: str, plant: Any, x: np.ndarray) -> None:
    """``observation(x)``: ``(n, observation_size)``, finite, and of the state's float dtype (float64 and float32)."""
    s = plant.state_size
    size = getattr(plant, "observation_size", s)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        _fail(who, f"observation_size must be a positive int, got {size!r}")
    n = x.shape[0]
    for dtype in (np.float64, np.float32):
        obs = plant.observation(x.astype(dtype))
        _shape(who, f"observation(x) (observation_size {size}, state_size {s})", obs, (n, size))
        if obs.dtype != dtype:
            _fail(who, f"observation(x) must keep the state dtype {np.dtype(dtype).name}, returned {obs.dtype}")


def _check_arm(who: str, arm: Any, x: np.ndarray, rng: np.random.Generator) -> None:
    nj = arm.n_joints
    n = x.shape[0]
    q = x[:, :nj]
    if arm.state_size < 2 * nj:
        _fail(who, f"an arm's state starts with [q, dq] (extra states such as actuator torques may follow): "
                   f"state_size must be at least 2·n_joints = {2 * nj}, got {arm.state_size}")
    _shape(who, "joint_positions(q)", arm.joint_positions(q), (n, nj + 1, 2))
    hand = _shape(who, "hand(q)", arm.hand(q), (n, 2))
    jac = _shape(who, "hand_jacobian(q)", arm.hand_jacobian(q), (n, 2, nj))
    eps = 1e-6
    fd = np.stack([(arm.hand(q + eps * e) - arm.hand(q - eps * e)) / (2 * eps) for e in np.eye(nj)], axis=2)
    if np.max(np.abs(fd - jac)) > 1e-5 * max(1.0, float(np.max(np.abs(fd)))):
        _fail(who, "hand_jacobian(q) differs from finite differences of hand(q)")
    m = _shape(who, "inertia(q)", arm.inertia(q), (n, nj, nj))
    if not np.allclose(m, np.swapaxes(m, 1, 2)) or np.any(np.linalg.eigvalsh(m) <= 0):
        _fail(who, "inertia(q) must be symmetric positive definite")
    q_ik = _shape(who, "inverse_kinematics(xy)", arm.inverse_kinematics(hand), (n, nj))
    if np.max(np.abs(arm.hand(q_ik) - hand)) > 1e-6:
        _fail(who, "hand(inverse_kinematics(xy)) must return to xy (within 1 µm)")
