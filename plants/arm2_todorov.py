"""Todorov's two-link arm: studywolf's ``arm2_python_todorov``.

Description
    The two-link arm model of Li & Todorov (iLQG, 2004-2005), as studywolf
    translated it from Todorov's Matlab code (``arms/two_link/
    arm_python_todorov.py``): two links in the horizontal plane (no
    gravity), shoulder at the origin, with optional joint friction and a
    first-order actuator between the command and the joint torque.  This
    module is the model; the Gymnasium adapters live in
    :mod:`bench.plants.envs`.

Body parameters (studywolf / Todorov)
    Segment masses ``m1`` = 1.4 kg, ``m2`` = 1.1 kg; centres of mass
    ``s1`` = 0.11 m, ``s2`` = 0.16 m from the proximal joint; moments of
    inertia ``i1`` = 0.025 kg·m², ``i2`` = 0.045 kg·m² (about the proximal
    joints, as the model's inertia terms use them); lengths ``l1`` = 0.31 m,
    ``l2`` = 0.27 m (studywolf's two-link lengths; Todorov's paper used 0.30
    and 0.33 m).  ``m1`` and ``s1`` do not enter the horizontal dynamics.
    Joint friction ``friction`` = (b11, b12, b21, b22) N·m·s/rad, zero by
    default as in studywolf (Todorov's values, commented out there: 0.7,
    0.08, 0.08, 0.8).  Actuator time constant ``actuator_tau`` = 0.04 s.

Action Space
    Commanded joint torques ``u = [u0, u1]`` in N·m.

Observation Space
    With the actuator (``actuator_tau`` > 0): ``[q0, q1, dq0, dq1, T0, T1]``,
    joint angles (rad), velocities (rad/s) and the torques the actuators
    deliver (N·m).  With ``actuator_tau = 0`` the torque is the command and
    the state is ``[q0, q1, dq0, dq1]``.  (studywolf declared the 0.04 s
    time constant but its code never applied it: ``actuator_tau=0``
    reproduces that.)

Starting State
    ``q = [0.75613, 1.8553]`` rad (studywolf's two-link start), at rest, no torque.

Dynamics
    ``a1 = i1 + i2 + m2 l1²``, ``a2 = m2 l1 s2``, ``a3 = i2``;
    ``M = [[a1 + 2 a2 cos q1, a3 + a2 cos q1], [a3 + a2 cos q1, a3]]``;
    ``C = a2 sin q1 [-dq1 (2 dq0 + dq1), dq0²]``; ``M ddq + C + B dq = T``.
    The actuator is the first-order lag ``dT/dt = (u - T) / tau``, held
    exactly over a step: ``T' = u + (T - u) e^(-dt/tau)``.  Then
    semi-implicit Euler with ``T'``: ``dq' = dq + dt ddq(q, dq, T')``,
    ``q' = q + dt dq'`` (studywolf's loop used explicit Euler).

Jacobians
    With ``r = T' - C - B dq`` and ``ddq = M⁻¹ r``:
    ``d ddq/dq1 = M⁻¹ (dr/dq1 - dM/dq1 ddq)``, ``dM/dq1 = -a2 sin q1 [[2, 1], [1, 0]]``,
    ``d ddq/d dq = M⁻¹ (-dC/d dq - B)``, ``d ddq/dT' = M⁻¹``,
    ``dT'/dT = e^(-dt/tau)``, ``dT'/du = 1 - e^(-dt/tau)``.

Inverse kinematics
    Closed form, elbow convention ``0 <= q1 <= pi`` (as ``arm2``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bench.settings import setting

from .geometry import TWO_LINK
from .planar import TwoLinkArm
from .validation import diagnose


@dataclass
class Arm2TodorovSettings:
    dt: float = setting(1e-3, "integration step", unit="s", gt=0, le=1.0)
    l1: float = setting(0.31, "upper-arm length", unit="m", gt=0)
    l2: float = setting(0.27, "forearm length", unit="m", gt=0)
    m2: float = setting(1.1, "forearm mass", unit="kg", gt=0)
    s2: float = setting(0.16, "forearm centre of mass, from the elbow", unit="m", ge=0)
    i1: float = setting(0.025, "upper-arm moment of inertia about the shoulder", unit="kg·m²", gt=0)
    i2: float = setting(0.045, "forearm moment of inertia about the elbow", unit="kg·m²", gt=0)
    friction: tuple[float, ...] = setting((0.0, 0.0, 0.0, 0.0), "joint friction matrix (b11, b12, b21, b22)",
                                          unit="N·m·s/rad")
    actuator_tau: float = setting(0.04, "actuator time constant (0: the torque is the command)", unit="s", ge=0)

    def __post_init__(self) -> None:
        if len(self.friction) != 4:
            raise ValueError(f"friction must hold 4 values (b11, b12, b21, b22), got {len(self.friction)}")


class Arm2Todorov(TwoLinkArm):
    """Batched Todorov two-link arm; see the module docstring for the model.

    dt, actuator_tau : float, seconds
    l1, l2, s2 : float, metres
    m2 : float, kilograms
    i1, i2 : float, kg·m²
    friction : four floats, N·m·s/rad
    """

    Settings = Arm2TodorovSettings
    input_size = 2
    task_geometry = TWO_LINK

    def __init__(self, settings: Arm2TodorovSettings | None = None) -> None:
        super().__init__(settings)
        s = self.settings
        self.dt = float(s.dt)
        self.l1, self.l2 = float(s.l1), float(s.l2)
        self.link_lengths = np.array([self.l1, self.l2])
        self.start_q = np.array(self.START_Q)
        self.a1 = float(s.i1) + float(s.i2) + float(s.m2) * self.l1**2
        self.a2 = float(s.m2) * self.l1 * float(s.s2)
        self.a3 = float(s.i2)
        self.friction = np.array([float(v) for v in s.friction]).reshape(2, 2)
        self.actuator_tau = float(s.actuator_tau)
        self.actuated = self.actuator_tau > 0
        self.decay = math.exp(-self.dt / self.actuator_tau) if self.actuated else 0.0
        self.state_size = 6 if self.actuated else 4

    @property
    def start_state(self) -> np.ndarray:
        """``(S,)`` the start posture at rest (and no actuator torque)."""
        return np.concatenate([self.start_q, np.zeros(self.state_size - 2)])

    # -- model terms -------------------------------------------------------
    def inertia(self, q: np.ndarray) -> np.ndarray:
        """``(n, 2, 2)`` joint-space inertia M(q) (kg·m²)."""
        q = self._angles(q, "inertia")
        c = np.cos(q[:, 1])
        m = np.empty((q.shape[0], 2, 2), dtype=q.dtype)
        m[:, 0, 0] = self.a1 + 2 * self.a2 * c
        m[:, 0, 1] = m[:, 1, 0] = self.a3 + self.a2 * c
        m[:, 1, 1] = self.a3
        return m

    def bias_torques(self, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
        """``(n, 2)`` Coriolis, centrifugal and friction torques C + B dq (N·m)."""
        q = self._angles(q, "bias_torques")
        dq = self._angles(dq, "bias_torques", "dq").astype(q.dtype, copy=False)
        ks = self.a2 * np.sin(q[:, 1])
        h = np.empty_like(dq)
        h[:, 0] = -ks * dq[:, 1] * (2 * dq[:, 0] + dq[:, 1])
        h[:, 1] = ks * dq[:, 0] ** 2
        return h + dq @ self.friction.T.astype(dq.dtype)

    def kinetic_energy(self, x: np.ndarray) -> np.ndarray:
        """``(n,)`` kinetic energy (J) ``½ dqᵀ M(q) dq`` (the actuator stores none)."""
        x = np.asarray(x)
        q, dq = x[:, :2], x[:, 2:4]
        return 0.5 * np.einsum("ni,nij,nj->n", dq, self.inertia(q), dq)

    # -- dynamics ----------------------------------------------------------
    def _torque(self, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``(n, 2)`` the torque T' acting during the step (N·m)."""
        if not self.actuated:
            return u
        return u + (x[:, 4:6] - u) * self.decay

    def _acceleration(self, x: np.ndarray, torque: np.ndarray) -> tuple[np.ndarray, ...]:
        """``ddq (n, 2)``, ``M⁻¹ (n, 2, 2)``, ``cos q1``, ``sin q1`` for states ``x`` under ``torque``."""
        q1, dq0, dq1 = x[:, 1], x[:, 2], x[:, 3]
        c, s = np.cos(q1), np.sin(q1)
        m00 = self.a1 + 2 * self.a2 * c
        m01 = self.a3 + self.a2 * c
        m11 = self.a3
        inv_det = 1.0 / (m00 * m11 - m01 * m01)
        minv = np.empty((x.shape[0], 2, 2), dtype=x.dtype)
        minv[:, 0, 0] = m11 * inv_det
        minv[:, 0, 1] = minv[:, 1, 0] = -m01 * inv_det
        minv[:, 1, 1] = m00 * inv_det
        ks = self.a2 * s
        b = self.friction.tolist()  # Python floats keep float32 math in float32
        r0 = torque[:, 0] + ks * dq1 * (2 * dq0 + dq1) - b[0][0] * dq0 - b[0][1] * dq1
        r1 = torque[:, 1] - ks * dq0 * dq0 - b[1][0] * dq0 - b[1][1] * dq1
        ddq = np.stack([minv[:, 0, 0] * r0 + minv[:, 0, 1] * r1, minv[:, 1, 0] * r0 + minv[:, 1, 1] * r1], axis=1)
        return ddq, minv, c, s

    def step(self, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``(n, S)`` next states: actuator, then one semi-implicit Euler step of ``dt``."""
        x, u = self._batch(x, u, "step")
        torque = self._torque(x, u)
        ddq, _, _, _ = self._acceleration(x, torque)
        out = np.empty_like(x)
        out[:, 2:4] = x[:, 2:4] + self.dt * ddq
        out[:, 0:2] = x[:, 0:2] + self.dt * out[:, 2:4]
        if self.actuated:
            out[:, 4:6] = torque
        return self._finish(out, "step", x, u)

    def jacobians(self, x: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact ``(n, S, S)`` d x'/d x and ``(n, S, 2)`` d x'/d u of :meth:`step`."""
        x, u = self._batch(x, u, "jacobians")
        n, size = x.shape
        torque = self._torque(x, u)
        ddq, minv, c, s = self._acceleration(x, torque)
        dq0, dq1 = x[:, 2], x[:, 3]
        a2 = self.a2
        # w = d r / d[q0, q1, dq0, dq1] - (dM/dq1 ddq in the q1 column)
        w = np.zeros((n, 2, 4), dtype=x.dtype)
        kc = a2 * c
        # dr/dq1 = -dC/dq1; -dM/dq1 ddq = a2 s [2 ddq0 + ddq1, ddq0]
        w[:, 0, 1] = kc * dq1 * (2 * dq0 + dq1) + a2 * s * (2 * ddq[:, 0] + ddq[:, 1])
        w[:, 1, 1] = -kc * dq0 * dq0 + a2 * s * ddq[:, 0]
        ks = a2 * s
        b = self.friction.tolist()
        w[:, 0, 2] = 2 * ks * dq1 - b[0][0]
        w[:, 0, 3] = 2 * ks * (dq0 + dq1) - b[0][1]
        w[:, 1, 2] = -2 * ks * dq0 - b[1][0]
        w[:, 1, 3] = -b[1][1]
        dacc = minv @ w                                           # d ddq / d[q, dq]  (n, 2, 4)
        a = np.zeros((n, size, size), dtype=x.dtype)
        bu = np.zeros((n, size, 2), dtype=x.dtype)
        dt = self.dt
        eye2 = np.eye(2, dtype=x.dtype)
        # dq' rows
        a[:, 2:4, 0:4] = dt * dacc
        a[:, 2:4, 2:4] += eye2
        if self.actuated:
            a[:, 2:4, 4:6] = dt * self.decay * minv
            bu[:, 2:4, :] = dt * (1 - self.decay) * minv
            a[:, 4:6, 4:6] = self.decay * eye2
            bu[:, 4:6, :] = (1 - self.decay) * eye2
        else:
            bu[:, 2:4, :] = dt * minv
        # q' = q + dt dq'
        a[:, 0:2, :] = dt * a[:, 2:4, :]
        a[:, 0:2, 0:2] += eye2
        bu[:, 0:2, :] = dt * bu[:, 2:4, :]
        check = a.reshape(-1)
        if not np.isfinite(check @ check):
            diagnose(f"{self.name or 'arm2_python_todorov'}.jacobians", a, x=x, u=u)
        return a, bu
