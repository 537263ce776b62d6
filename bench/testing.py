"""Conformance checks for plugins, in the spirit of Gymnasium's ``check_env``.

:func:`check_plant` and :func:`check_controller` exercise a component through
the :mod:`bench.api` contract and raise :class:`~bench.errors.ConformanceError`
naming the first broken rule.  Installed as a pytest plugin (entry point
``pytest11``), so a third-party package's tests can use the fixtures
``bench_check_plant`` and ``bench_check_controller``::

    def test_my_controller(bench_check_controller):
        bench_check_controller(bench.controller("mine"), bench.plant("arm2"))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .api import finite_difference_jacobians
from .errors import ConformanceError


def _fail(who: str, rule: str) -> None:
    raise ConformanceError(f"{who}: {rule}")


def _shape(who: str, what: str, arr: Any, shape: tuple[int, ...]) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        _fail(who, f"{what} must return a numpy array, got {type(arr).__name__}")
    if arr.shape != shape:
        _fail(who, f"{what} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        _fail(who, f"{what} returned non-finite values")
    return arr


def _states(plant: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` start states, jittered so the checks do not sit on one point."""
    x = np.asarray(plant.initial_state(n, rng), dtype=float)
    return x + 0.05 * rng.standard_normal(x.shape)


def check_plant(plant: Any, *, n: int = 5, seed: int = 0, jacobian_rtol: float = 1e-4) -> None:
    """Check a :class:`bench.api.PlantModel` (and an :class:`ArmModel`'s kinematics).

    Checks sizes and ``dt``, seeded ``initial_state``, batched pure ``step``
    (batch equals row by row, inputs untouched, dtype kept), ``jacobians``
    shapes and agreement with central finite differences, and for arms the
    kinematics: shapes, hand Jacobian against finite differences, inverse
    kinematics round trip.
    """
    who = f"plant {getattr(plant, 'name', '') or type(plant).__name__}"
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
    if hasattr(plant, "joint_positions"):
        _check_arm(who, plant, x, rng)


def _check_arm(who: str, arm: Any, x: np.ndarray, rng: np.random.Generator) -> None:
    nj = arm.n_joints
    n = x.shape[0]
    q = x[:, :nj]
    if arm.state_size != 2 * nj:
        _fail(who, f"an arm's state is [q, dq]: state_size must be 2·n_joints = {2 * nj}, got {arm.state_size}")
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


def check_controller(controller: Any, plant: Any, *, n: int = 4, seed: int = 0, steps: int = 3) -> None:
    """Check a :class:`bench.api.Controller` acting on ``plant``.

    ``bind`` + ``reset`` + batched ``act`` for a few steps: shape ``(n, U)``,
    finite, inputs untouched, and the same result for the same seed.
    """
    who = f"controller {getattr(controller, 'name', '') or type(controller).__name__}"
    for attr in ("reset", "act"):
        if not callable(getattr(controller, attr, None)):
            _fail(who, f"has no method {attr}()")
    if callable(getattr(controller, "bind", None)):
        controller.bind(plant)

    def rollout() -> np.ndarray:
        rng = np.random.default_rng(seed)
        controller.reset(n, rng)
        x = plant.initial_state(n, np.random.default_rng(seed))
        target = None
        if hasattr(plant, "hand"):
            start = plant.hand(x[:, : plant.n_joints])
            ang = 2 * np.pi * np.arange(n) / n
            target = start + 0.05 * np.stack([np.cos(ang), np.sin(ang)], axis=1)
        outs = []
        for _ in range(steps):
            obs = plant.observation(x)
            obs_copy = obs.copy()
            u = _shape(who, "act(observation, target)", np.asarray(controller.act(obs, target)),
                       (n, plant.input_size))
            if not np.array_equal(obs, obs_copy):
                _fail(who, "act must not modify the observation")
            outs.append(u)
            x = plant.step(x, u.astype(x.dtype))
        return np.stack(outs)

    first, second = rollout(), rollout()
    if not np.allclose(first, second):
        _fail(who, "act must give the same inputs after reset with the same seed")


# -- pytest plugin -----------------------------------------------------------
try:
    import pytest
except ImportError:  # pragma: no cover - pytest is optional at run time
    pytest = None

if pytest is not None:

    @pytest.fixture
    def bench_check_plant():
        """:func:`bench.testing.check_plant`."""
        return check_plant

    @pytest.fixture
    def bench_check_controller():
        """:func:`bench.testing.check_controller`."""
        return check_controller
