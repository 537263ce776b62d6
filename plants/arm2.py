"""Two-link planar arm (the arm of the reference write-ups).

Description
    Two uniform rods in the horizontal plane (no gravity), joints at the
    shoulder (origin) and elbow, torque-driven.  Model (kinematics, dynamics)
    is this module's :class:`Arm2`; the Gymnasium adapter lives in
    :mod:`bench.plants.envs`.

Action Space
    Joint torques ``u = [u0, u1]`` in N·m.

Observation Space
    The state ``[q0, q1, dq0, dq1]``: joint angles (rad) then velocities (rad/s).

Starting State
    ``q = [0.75613, 1.8553]`` rad, ``dq = 0``.

Dynamics
    ``M(q) ddq + H(q, dq) = u`` with
    ``K1 = (m1/3 + m2) l1² + m2 l2²/3``, ``K2 = m2 l1 l2``, ``K3 = m2 l2²/3``,
    ``K4 = m2 l1 l2 / 2``; ``M = [[K1 + K2 cos q1, K3 + K4 cos q1],
    [K3 + K4 cos q1, K3]]``; ``H1 = -K2 sin q1 (dq0 dq1 + dq1²/2)``,
    ``H2 = K2 sin q1 dq0²/2``.  Semi-implicit Euler: velocity first, then
    position with the new velocity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.api import ArmModel
from bench.errors import InvalidArgument, OutOfReach
from bench.settings import setting


@dataclass
class Arm2Settings:
    dt: float = setting(1e-3, "integration step", unit="s", gt=0, le=1.0)
    l1: float = setting(0.31, "upper-arm length", unit="m", gt=0)
    l2: float = setting(0.27, "forearm length", unit="m", gt=0)
    m1: float = setting(1.98, "upper-arm mass", unit="kg", gt=0)
    m2: float = setting(1.32, "forearm mass", unit="kg", gt=0)


class Arm2(ArmModel):
    """Batched two-link arm; see the module docstring for the equations.

    dt : float, seconds
    l1, l2 : float, metres
    m1, m2 : float, kilograms
    """

    Settings = Arm2Settings
    n_joints = 2
    state_size = 4
    input_size = 2

    def __init__(self, settings: Arm2Settings | None = None) -> None:
        super().__init__(settings)
        s = self.settings
        self.dt = float(s.dt)
        self.l1, self.l2, self.m1, self.m2 = float(s.l1), float(s.l2), float(s.m1), float(s.m2)
        self.link_lengths = np.array([self.l1, self.l2])
        self.start_q = np.array([0.75613, 1.8553])
        self.K1 = (self.m1 / 3 + self.m2) * self.l1**2 + self.m2 * self.l2**2 / 3
        self.K2 = self.m2 * self.l1 * self.l2
        self.K3 = self.m2 * self.l2**2 / 3
        self.K4 = self.m2 * self.l1 * self.l2 / 2

    # -- dynamics ----------------------------------------------------------
    def inertia(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q)
        c1 = np.cos(q[:, 1])
        m = np.empty((q.shape[0], 2, 2), dtype=np.result_type(q, np.float32))
        m[:, 0, 0] = self.K1 + self.K2 * c1
        m[:, 0, 1] = m[:, 1, 0] = self.K3 + self.K4 * c1
        m[:, 1, 1] = self.K3
        return m

    def bias_torques(self, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
        s1 = np.sin(q[:, 1])
        h = np.empty_like(dq)
        h[:, 0] = -self.K2 * s1 * (dq[:, 0] * dq[:, 1] + 0.5 * dq[:, 1] ** 2)
        h[:, 1] = self.K2 * s1 * 0.5 * dq[:, 0] ** 2
        return h

    def step(self, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        u = np.asarray(u, dtype=x.dtype)
        if x.ndim != 2 or x.shape[1] != 4:
            raise InvalidArgument(f"arm2.step: x must have shape (n, 4), got {x.shape}")
        if u.shape != (x.shape[0], 2):
            raise InvalidArgument(f"arm2.step: u must have shape ({x.shape[0]}, 2), got {u.shape}")
        q0, q1, dq0, dq1 = x[:, 0], x[:, 1], x[:, 2], x[:, 3]
        c1, s1 = np.cos(q1), np.sin(q1)
        a = self.K1 + self.K2 * c1
        b = self.K3 + self.K4 * c1
        d = self.K3
        r0 = u[:, 0] + self.K2 * s1 * (dq0 * dq1 + 0.5 * dq1 * dq1)
        r1 = u[:, 1] - self.K2 * s1 * 0.5 * dq0 * dq0
        det = a * d - b * b
        ddq0 = (d * r0 - b * r1) / det
        ddq1 = (a * r1 - b * r0) / det
        dt = self.dt
        out = np.empty_like(x)
        out[:, 2] = dq0 + ddq0 * dt
        out[:, 3] = dq1 + ddq1 * dt
        out[:, 0] = q0 + out[:, 2] * dt
        out[:, 1] = q1 + out[:, 3] * dt
        return out

    # -- kinematics --------------------------------------------------------
    def joint_positions(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q)
        a0 = q[:, 0]
        a1 = q[:, 0] + q[:, 1]
        out = np.zeros((q.shape[0], 3, 2), dtype=np.result_type(q, np.float32))
        out[:, 1, 0] = self.l1 * np.cos(a0)
        out[:, 1, 1] = self.l1 * np.sin(a0)
        out[:, 2, 0] = out[:, 1, 0] + self.l2 * np.cos(a1)
        out[:, 2, 1] = out[:, 1, 1] + self.l2 * np.sin(a1)
        return out

    def hand_jacobian(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q)
        a0, a1 = q[:, 0], q[:, 0] + q[:, 1]
        j = np.empty((q.shape[0], 2, 2), dtype=np.result_type(q, np.float32))
        j[:, 0, 1] = -self.l2 * np.sin(a1)
        j[:, 1, 1] = self.l2 * np.cos(a1)
        j[:, 0, 0] = -self.l1 * np.sin(a0) + j[:, 0, 1]
        j[:, 1, 0] = self.l1 * np.cos(a0) + j[:, 1, 1]
        return j

    def inverse_kinematics(self, xy: np.ndarray, q0: np.ndarray | None = None) -> np.ndarray:
        """Closed form, elbow convention ``q1 >= 0`` (the start posture's branch)."""
        xy = np.asarray(xy, dtype=float)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise InvalidArgument(f"arm2.inverse_kinematics: xy must have shape (n, 2), got {xy.shape}")
        r2 = np.sum(xy**2, axis=1)
        c = (r2 - self.l1**2 - self.l2**2) / (2 * self.l1 * self.l2)
        bad = ~np.isfinite(c) | (np.abs(c) > 1 + 1e-12)
        if bad.any():
            i = int(np.argmax(bad))
            lo, hi = abs(self.l1 - self.l2), self.l1 + self.l2
            raise OutOfReach(f"arm2.inverse_kinematics: target {i} at {xy[i].tolist()} is {np.sqrt(r2[i]):.4f} m "
                             f"from the shoulder; reachable distances are [{lo:.3f}, {hi:.3f}] m")
        q1 = np.arccos(np.clip(c, -1.0, 1.0))
        q0 = np.arctan2(xy[:, 1], xy[:, 0]) - np.arctan2(self.l2 * np.sin(q1), self.l1 + self.l2 * np.cos(q1))
        return np.stack([q0, q1], axis=1)
