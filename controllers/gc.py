"""``gc``: control in generalised (joint) coordinates.

studywolf/control's ``gc`` controller ("generalized coordinates"): a joint-space
PD law shaped by the arm's inertia, towards the joint angles ``q*`` that put
the hand on the target (the arm's inverse kinematics)::

    u = M(q) (kp · wrap(q* - q) - kv · dq) + h(q, dq)

``M`` is the joint-space inertia (kg·m²) and ``h`` the Coriolis, centrifugal,
gravity and friction torques (N·m) of the arm, so every joint behaves like a
unit-inertia mass-spring-damper (``kv = 2·sqrt(kp)``: critically damped by
default; studywolf used ``kv = sqrt(kp)``).  Cancelling ``h`` is also the
gravity compensation a vertical arm needs.  The hand moves along whatever path
the joints take (not a straight line as with ``osc``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.api import Controller
from bench.settings import setting

from .joint_targets import JointTargets, hand_targets, require_arm, wrap


@dataclass
class GCSettings:
    kp: float = setting(200.0, "joint stiffness per unit inertia", unit="1/s²", gt=0)
    kv: float | None = setting(None, "joint damping per unit inertia (default 2·sqrt(kp): critical)", unit="1/s",
                               ge=0)
    compensate_bias: bool = setting(True, "cancel Coriolis, centrifugal, gravity and friction torques h(q, dq)")


class GC(Controller):
    """Joint-space PD (inertia-shaped) to the inverse-kinematics posture; see the module docstring."""

    Settings = GCSettings

    def __init__(self, settings: GCSettings | None = None) -> None:
        super().__init__(settings)
        s = self.settings
        self.kp = float(s.kp)
        self.kv = float(s.kv) if s.kv is not None else 2.0 * np.sqrt(self.kp)
        self.joint_targets: JointTargets | None = None

    def bind(self, plant: Any) -> None:
        require_arm(plant, "gc", ("inertia", "bias_torques", "inverse_kinematics"))
        super().bind(plant)
        self.joint_targets = JointTargets(plant)

    def reset(self, n: int, rng: np.random.Generator) -> None:
        if self.joint_targets is not None:
            self.joint_targets.reset()

    def act(self, observation: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        """``(n, J)`` joint torques (N·m) for ``(n, 2J)`` states and ``(n, 2)`` hand targets (m)."""
        arm = self.plant
        nj = arm.n_joints
        obs = np.asarray(observation)
        q, dq = obs[:, :nj].astype(float), obs[:, nj:2 * nj].astype(float)
        q_star = self.joint_targets(hand_targets(target, obs.shape[0], "gc"), q)
        acc = self.kp * wrap(q_star - q) - self.kv * dq
        u = (arm.inertia(q) @ acc[:, :, None])[:, :, 0]
        if self.settings.compensate_bias:
            u = u + arm.bias_torques(q, dq)
        return u.astype(obs.dtype, copy=False)
