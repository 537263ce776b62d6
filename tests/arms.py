"""What the arm tests share: the check of an arm's step against its own equations of motion."""

from __future__ import annotations

import numpy as np


def assert_step_solves_equations_of_motion(arm, x: np.ndarray, u: np.ndarray) -> None:
    """``(dq' - dq) / dt = M⁻¹ (u - h)`` with the arm's public inertia ``M`` and bias torques ``h``, and
    ``q' = q + dt·dq'`` (semi-implicit Euler), for the states ``x`` and torques ``u`` (no actuator lag)."""
    nj = arm.n_joints
    q, dq = x[:, :nj], x[:, nj:]
    ddq = np.linalg.solve(arm.inertia(q), (u - arm.bias_torques(q, dq))[:, :, None])[:, :, 0]
    nxt = arm.step(x, u)
    np.testing.assert_allclose((nxt[:, nj:] - dq) / arm.dt, ddq, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(nxt[:, :nj], q + arm.dt * nxt[:, nj:], rtol=1e-14, atol=1e-14)
