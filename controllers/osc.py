"""Operational-space control: task-space PD shaped by the arm's inertia.

The classical reaching baseline (Khatib 1987).  With hand Jacobian ``J``,
joint inertia ``M`` and task-space inertia ``Mx = (J M⁻¹ Jᵀ)⁻¹``::

    F = Mx (kp (x* - x) - kv ẋ)
    u = Jᵀ F + h(q, dq) + (I - Jᵀ J̄ᵀ) M (-kv_null dq)      J̄ = M⁻¹ Jᵀ Mx

so the hand behaves like a critically damped unit mass pulled to the target;
the null-space term damps redundant joints (arms with more than two).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.api import Controller
from bench.errors import InvalidArgument
from bench.settings import setting


@dataclass
class OSCSettings:
    kp: float = setting(200.0, "task-space stiffness", unit="1/s²", gt=0)
    kv: float | None = setting(None, "task-space damping (default 2·sqrt(kp): critical)", unit="1/s", ge=0)
    kv_null: float = setting(10.0, "joint damping in the null space", unit="1/s", ge=0)
    compensate_bias: bool = setting(True, "cancel Coriolis / gravity torques h(q, dq)")
    singular_damping: float = setting(1e-6, "regularisation of J M⁻¹ Jᵀ near singularities", ge=0)


class OSC(Controller):
    """Operational-space reaching controller; needs an arm with kinematics."""

    Settings = OSCSettings

    def __init__(self, settings: OSCSettings | None = None) -> None:
        super().__init__(settings)
        s = self.settings
        self.kp = s.kp
        self.kv = s.kv if s.kv is not None else 2.0 * np.sqrt(s.kp)

    def bind(self, plant) -> None:
        for attr in ("hand_jacobian", "inertia", "hand"):
            if not hasattr(plant, attr):
                raise InvalidArgument(f"osc needs an arm plant with {attr}(); "
                                      f"{getattr(plant, 'name', plant)!r} has none")
        super().bind(plant)

    def act(self, observation: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        """``(n, J)`` joint torques (N·m) pulling each hand to its ``(n, 2)`` target (m)."""
        return self.track(observation, target)

    def track(self, observation: np.ndarray, position: np.ndarray, velocity: np.ndarray | None = None,
              acceleration: np.ndarray | None = None) -> np.ndarray:
        """``(n, J)`` torques (N·m) making the hand follow a moving reference::

            F = Mx (a* + kp (x* - x) + kv (v* - ẋ))

        ``position`` ``(n, 2)`` m, ``velocity`` m/s and ``acceleration`` m/s²
        (zero when None: :meth:`act`'s fixed target).  With an
        ``acceleration`` the hand's velocity-product acceleration ``J̇ q̇`` is
        cancelled too (``F = Mx (a* - J̇ q̇ + ...)``, ``J̇ q̇`` by a central
        difference of ``hand_jacobian`` along ``q̇``), so a fast reference is
        followed without the lag those terms cause on a heavy arm.
        """
        arm = self.plant
        nj = arm.n_joints
        q, dq = observation[:, :nj], observation[:, nj:2 * nj]
        jac = arm.hand_jacobian(q)  # (n, 2, J)
        m = arm.inertia(q)  # (n, J, J)
        m_inv = np.linalg.inv(m)
        jt = np.swapaxes(jac, 1, 2)
        mx_inv = jac @ m_inv @ jt
        mx_inv += self.settings.singular_damping * np.eye(2)
        mx = np.linalg.inv(mx_inv)
        err = position - arm.hand(q)
        vel = (jac @ dq[:, :, None])[:, :, 0]
        if velocity is not None:
            vel = vel - velocity
        desired = self.kp * err - self.kv * vel
        if acceleration is not None:
            desired = desired + acceleration - self._jdot_dq(q, dq)
        force = (mx @ desired[:, :, None])[:, :, 0]
        u = (jt @ force[:, :, None])[:, :, 0]
        if self.settings.compensate_bias:
            u = u + arm.bias_torques(q, dq)
        if nj > 2 and self.settings.kv_null > 0:
            jbar = m_inv @ jt @ mx  # (n, J, 2)
            null = np.eye(nj) - jt @ np.swapaxes(jbar, 1, 2)
            u = u + (null @ (m @ (-self.settings.kv_null * dq)[:, :, None]))[:, :, 0]
        return u.astype(observation.dtype, copy=False)

    def _jdot_dq(self, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
        """``(n, 2)`` ``J̇(q, q̇) q̇`` (m/s²): the central difference of ``J`` along ``q̇``, times ``q̇``."""
        h = 1e-6
        jp = self.plant.hand_jacobian(q + h * dq)
        jm = self.plant.hand_jacobian(q - h * dq)
        return ((jp - jm) @ dq[:, :, None])[:, :, 0] / (2 * h)
