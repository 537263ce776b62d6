"""Two-link planar arm (the arm of the reference write-ups), studywolf's ``arm2`` / ``arm2_python``.

Registered as ``arm2`` and, under studywolf/control's name, ``arm2_python``
(the same factory: same physics and parameters, l = 0.31, 0.27 m,
m = 1.98, 1.32 kg, studywolf's ``arms/two_link/arm_python.py``).

Description
    Two uniform rods in the horizontal plane (no gravity), joints at the
    shoulder (origin) and elbow, torque-driven.  Model (kinematics, dynamics,
    exact Jacobians of the step) is this module's :class:`Arm2`; the
    Gymnasium adapter lives in :mod:`bench.plants.envs`.

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

Jacobians
    With ``ddq = M⁻¹ (u - H)``: ``d ddq/dq1 = M⁻¹ (-M' ddq - dH/dq1)``
    (``M' = -sin q1 [[K2, K4], [K4, 0]]``), ``d ddq/d dq = -M⁻¹ dH/d dq``,
    ``d ddq/du = M⁻¹``, ``d ddq/dq0 = 0``; the step's Jacobians follow as in
    :mod:`bench.plants.planar`.

Inverse kinematics
    Closed form, elbow convention ``0 <= q1 <= pi`` (the start posture's
    branch: the elbow bends counter-clockwise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.settings import setting

from .geometry import TWO_LINK
from .planar import TwoLinkArm
from .validation import diagnose


@dataclass
class Arm2Settings:
    dt: float = setting(1e-3, "integration step", unit="s", gt=0, le=1.0)
    l1: float = setting(0.31, "upper-arm length", unit="m", gt=0)
    l2: float = setting(0.27, "forearm length", unit="m", gt=0)
    m1: float = setting(1.98, "upper-arm mass", unit="kg", gt=0)
    m2: float = setting(1.32, "forearm mass", unit="kg", gt=0)


class Arm2(TwoLinkArm):
    """Batched two-link arm; see the module docstring for the equations.

    dt : float, seconds
    l1, l2 : float, metres
    m1, m2 : float, kilograms
    """

    Settings = Arm2Settings
    state_size = 4
    input_size = 2
    task_geometry = TWO_LINK

    def __init__(self, settings: Arm2Settings | None = None) -> None:
        super().__init__(settings)
        s = self.settings
        self.dt = float(s.dt)
        self.l1, self.l2, self.m1, self.m2 = float(s.l1), float(s.l2), float(s.m1), float(s.m2)
        self.link_lengths = np.array([self.l1, self.l2])
        self.start_q = np.array(self.START_Q)
        self.K1 = (self.m1 / 3 + self.m2) * self.l1**2 + self.m2 * self.l2**2 / 3
        self.K2 = self.m2 * self.l1 * self.l2
        self.K3 = self.m2 * self.l2**2 / 3
        self.K4 = self.m2 * self.l1 * self.l2 / 2
        self._jacobian_constants = {np.dtype(t): tuple(c.astype(t) for c in self._jacobian_tables())
                                    for t in (np.float32, np.float64)}

    def _jacobian_tables(self) -> tuple[np.ndarray, ...]:
        """Constant tables that turn the step's Jacobian into two small matrix products.

        With ``c = cos q1``, ``s = sin q1``, ``hb = H / (K2 s) = [-(dq0 dq1 + dq1²/2), dq0²/2]``
        and ``adj(M) = adj0 + c·adj1``, ``M⁻¹ = adj(M) / det(M)``:

        * ``hb = HB @ vec(dq dqᵀ)``,
        * ``ddq = (ADJ[:2] @ r + c·ADJ[2:] @ r) / det`` with ``r = u - K2 s·hb``,
        * the matrix ``W`` with ``d ddq/d[x, u] = M⁻¹ W`` is linear in the features
          ``F = [s·ddq, c·hb, s·dq, 1]``, so the flattened ``(4, 6)`` Jacobian of the
          step is ``P @ [F / det, c·F / det, 1]``: one product (the last column of
          ``P`` holds the identity part); ``P`` is stored transposed.
        """
        k1, k2, k3, k4, dt = self.K1, self.K2, self.K3, self.K4, self.dt
        hb = np.array([[0.0, -0.5, -0.5, -0.5], [0.5, 0.0, 0.0, 0.0]])
        adj0 = np.array([[k3, -k3], [-k3, k1]])
        adj1 = np.array([[0.0, -k4], [-k4, k2]])
        # det(M) = K3 (K1 + K2 c) - (K3 + K4 c)² = d0 + c (d1 + c d2)
        det = np.array([k3 * k1 - k3 * k3, k3 * k2 - 2 * k3 * k4, -k4 * k4])
        # W[i, column, feature], columns q0 q1 dq0 dq1 u0 u1, features s·ddq0 s·ddq1 c·hb0 c·hb1 s·dq0 s·dq1 1
        w = np.zeros((2, 6, 7))
        w[0, 1, [0, 1, 2]] = k2, k4, -k2            # -M' ddq - dH/dq1
        w[1, 1, [0, 3]] = k4, -k2
        w[0, 2, 5], w[1, 2, 4] = k2, -k2            # -dH/d dq0
        w[0, 3, [4, 5]] = k2                        # -dH/d dq1
        w[0, 4, 6] = w[1, 5, 6] = 1.0               # d/du
        # rows of the step: dq' = dq + dt ddq, q' = q + dt dq'
        rows = np.zeros((4, 2))                     # d x'_row / d ddq
        rows[[2, 3], [0, 1]] = dt
        rows[[0, 1], [0, 1]] = dt * dt
        ident = np.eye(4, 6)
        ident[[0, 1], [2, 3]] = dt
        p0 = np.einsum("ri,ij,jcf->rcf", rows, adj0, w).reshape(24, 7)
        p1 = np.einsum("ri,ij,jcf->rcf", rows, adj1, w).reshape(24, 7)
        p = np.concatenate([p0, p1, ident.reshape(24, 1)], axis=1)
        return hb, np.concatenate([adj0, adj1]), det, np.ascontiguousarray(p.T)

    # -- dynamics ----------------------------------------------------------
    def inertia(self, q: np.ndarray) -> np.ndarray:
        """``(n, 2, 2)`` joint-space inertia M(q) (kg·m²)."""
        q = self._angles(q, "inertia")
        c1 = np.cos(q[:, 1])
        m = np.empty((q.shape[0], 2, 2), dtype=q.dtype)
        m[:, 0, 0] = self.K1 + self.K2 * c1
        m[:, 0, 1] = m[:, 1, 0] = self.K3 + self.K4 * c1
        m[:, 1, 1] = self.K3
        return m

    def bias_torques(self, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
        """``(n, 2)`` Coriolis and centrifugal torques H(q, dq) (N·m)."""
        q = self._angles(q, "bias_torques")
        dq = self._angles(dq, "bias_torques", "dq")
        s1 = np.sin(q[:, 1])
        h = np.empty_like(dq)
        h[:, 0] = -self.K2 * s1 * (dq[:, 0] * dq[:, 1] + 0.5 * dq[:, 1] ** 2)
        h[:, 1] = self.K2 * s1 * 0.5 * dq[:, 0] ** 2
        return h

    def step(self, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``(n, 4)`` next states; one fused semi-implicit Euler step of ``dt``."""
        x, u = self._batch(x, u, "step")
        xt, ut = x.T, u.T
        q1, dq0, dq1 = xt[1], xt[2], xt[3]
        c1 = np.cos(q1)
        ks = self.K2 * np.sin(q1)
        a = self.K1 + self.K2 * c1
        b = self.K3 + self.K4 * c1
        d = self.K3
        r0 = ut[0] + ks * (dq0 * dq1 + 0.5 * dq1 * dq1)
        r1 = ut[1] - ks * 0.5 * dq0 * dq0
        dt_det = self.dt / (a * d - b * b)
        out = np.empty_like(x)
        ot = out.T
        np.add(dq0, (d * r0 - b * r1) * dt_det, out=ot[2])
        np.add(dq1, (a * r1 - b * r0) * dt_det, out=ot[3])
        np.add(xt[:2], ot[2:] * self.dt, out=ot[:2])
        return self._finish(out, "step", x, u)

    def jacobians(self, x: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact ``(n, 4, 4)`` d x'/d x and ``(n, 4, 2)`` d x'/d u of :meth:`step`.

        Evaluated as a few whole-batch products with the constant tables of
        :meth:`_jacobian_tables` (derivation in the module docstring).
        """
        x, u = self._batch(x, u, "jacobians")
        hb_map, adj, det, p = self._jacobian_constants[x.dtype]
        n = x.shape[0]
        xt = np.ascontiguousarray(x.T)
        dq = xt[2:]
        c, s = np.cos(xt[1]), np.sin(xt[1])
        hb = hb_map @ (dq[:, None] * dq[None]).reshape(4, n)
        ar = adj @ (u.T - (self.K2 * s) * hb)
        inv = 1.0 / (det[0] + c * (det[1] + c * det[2]))
        s_inv = s * inv
        f = np.empty((15, n), dtype=x.dtype)
        np.multiply(s_inv * inv, ar[:2] + c * ar[2:], out=f[:2])
        np.multiply(c * inv, hb, out=f[2:4])
        np.multiply(s_inv, dq, out=f[4:6])
        f[6] = inv
        np.multiply(c, f[:7], out=f[7:14])
        f[14] = 1.0
        full = (f.T @ p).reshape(n, 4, 6)
        check = full.reshape(-1)
        xv = x.reshape(-1)
        if not np.isfinite(check @ check + xv @ xv):
            diagnose(f"{self.name or 'arm2'}.jacobians", full, x=x, u=u)
        return full[:, :, :4], full[:, :, 4:]
