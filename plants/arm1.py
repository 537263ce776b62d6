"""One-link arms: studywolf's ``arm1`` and ``arm1_python``.

Description
    One rigid link turning about a revolute joint at the origin, torque
    driven.  Horizontal by default; ``gravity`` (m/s², towards -y) and
    viscous joint ``damping`` (N·m·s/rad) can be switched on.  The hand can
    only move on a circle of radius ``length`` around the base, so every
    task pulls its targets onto that circle
    (:func:`bench.plants.geometry.into_workspace`).  This module is the model;
    the Gymnasium adapters live in :mod:`bench.plants.envs`.

Body parameters (studywolf/control, ``arms/one_link``)
    ``arm1`` (:class:`Arm1`, ``arm.py``): length 0.8 m, mass 1 kg with its
    centre of mass half-way (0.4 m), moment of inertia about it 15 kg·m²
    (the model studywolf's controllers use; its compiled MapleSim
    simulation had other numbers, here model and simulation are one).
    ``arm1_python`` (:class:`Arm1Python`, ``arm_python.py``): length 0.31 m
    and a 1.98 kg point mass at the hand (``ddq = u / (m l²)``).

Action Space
    Joint torque ``u = [u0]`` in N·m.

Observation Space
    The state ``[q0, dq0]``: joint angle (rad, from +x), joint velocity (rad/s).

Starting State
    ``q = 0`` (the link along +x, as studywolf resets both arms), ``dq = 0``.

Dynamics
    ``I ddq = u - damping·dq - m g r cos q`` with ``I = izz + m r²`` (kg·m²),
    integrated by semi-implicit Euler (:mod:`bench.plants.planar`).

Jacobians
    ``d ddq/dq = m g r sin q / I``, ``d ddq/d dq = -damping / I``,
    ``d ddq/du = 1 / I``; the step's Jacobians follow as in
    :mod:`bench.plants.planar`.

Inverse kinematics
    ``q = atan2(y, x)`` for a target on the circle of radius ``length``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.settings import setting

from .planar import PlanarArm


@dataclass
class Arm1Settings:
    dt: float = setting(1e-3, "integration step", unit="s", gt=0, le=1.0)
    length: float = setting(0.8, "link length", unit="m", gt=0)
    mass: float = setting(1.0, "link mass", unit="kg", gt=0)
    com: float = setting(0.4, "distance of the centre of mass from the joint", unit="m", ge=0)
    inertia: float = setting(15.0, "moment of inertia about the centre of mass", unit="kg·m²", ge=0)
    gravity: float = setting(0.0, "gravitational acceleration along -y (0: horizontal arm)", unit="m/s²", ge=0)
    damping: float = setting(0.0, "viscous joint friction", unit="N·m·s/rad", ge=0)

    def __post_init__(self) -> None:
        if float(self.inertia) + float(self.mass) * float(self.com) ** 2 <= 0:
            raise ValueError("the moment of inertia about the joint (inertia + mass·com²) must be > 0")


@dataclass
class Arm1PythonSettings(Arm1Settings):
    length: float = setting(0.31, "link length", unit="m", gt=0)
    mass: float = setting(1.98, "point mass at the hand", unit="kg", gt=0)
    com: float = setting(0.31, "distance of the mass from the joint", unit="m", ge=0)
    inertia: float = setting(0.0, "moment of inertia about the centre of mass", unit="kg·m²", ge=0)


class Arm1(PlanarArm):
    """Batched one-link arm; see the module docstring for the model.

    dt : float, seconds
    length, com : float, metres
    mass : float, kilograms
    inertia : float, kg·m² (about the centre of mass)
    gravity : float, m/s²
    damping : float, N·m·s/rad
    """

    Settings = Arm1Settings
    n_joints = 1
    state_size = 2
    input_size = 1

    def __init__(self, settings: Arm1Settings | None = None) -> None:
        super().__init__(settings)
        s = self.settings
        self.dt = float(s.dt)
        self.length = float(s.length)
        self.mass = float(s.mass)
        self.com = float(s.com)
        self.gravity = float(s.gravity)
        self.damping = float(s.damping)
        self.link_lengths = np.array([self.length])
        self.start_q = np.zeros(1)
        self.joint_inertia = float(s.inertia) + self.mass * self.com**2   # kg·m² about the joint
        self.weight_arm = self.mass * self.gravity * self.com             # N·m: gravity torque at q = 0

    # -- model terms -------------------------------------------------------
    def inertia(self, q: np.ndarray) -> np.ndarray:
        """``(n, 1, 1)`` joint inertia (kg·m²)."""
        q = self._angles(q, "inertia")
        return np.full((q.shape[0], 1, 1), self.joint_inertia, dtype=q.dtype)

    def bias_torques(self, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
        """``(n, 1)`` gravity and friction torques h = m g r cos q + damping·dq (N·m)."""
        q = self._angles(q, "bias_torques")
        dq = self._angles(dq, "bias_torques", "dq").astype(q.dtype, copy=False)
        return self.weight_arm * np.cos(q) + self.damping * dq

    def potential_energy(self, q: np.ndarray) -> np.ndarray:
        """``(n,)`` gravitational potential energy (J), zero with the link along x."""
        q = self._angles(q, "potential_energy")
        return self.weight_arm * np.sin(q[:, 0])

    # -- dynamics ----------------------------------------------------------
    def step(self, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``(n, 2)`` next states; one semi-implicit Euler step of ``dt``."""
        x, u = self._batch(x, u, "step")
        q, dq = x[:, 0], x[:, 1]
        torque = u[:, 0] - self.damping * dq
        if self.weight_arm:
            torque = torque - self.weight_arm * np.cos(q)
        out = np.empty_like(x)
        out[:, 1] = dq + (self.dt / self.joint_inertia) * torque
        out[:, 0] = q + self.dt * out[:, 1]
        return self._finish(out, "step", x, u)

    def jacobians(self, x: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact ``(n, 2, 2)`` d x'/d x and ``(n, 2, 1)`` d x'/d u of :meth:`step`."""
        x, u = self._batch(x, u, "jacobians")
        dt, inv = self.dt, 1.0 / self.joint_inertia
        a_q = (self.weight_arm * inv) * np.sin(x[:, 0])       # d ddq / dq
        a_v = -self.damping * inv                              # d ddq / d dq
        n = x.shape[0]
        a = np.empty((n, 2, 2), dtype=x.dtype)
        a[:, 1, 0] = dt * a_q
        a[:, 1, 1] = 1.0 + dt * a_v
        a[:, 0, 0] = 1.0 + dt * a[:, 1, 0]
        a[:, 0, 1] = dt * a[:, 1, 1]
        b = np.empty((n, 2, 1), dtype=x.dtype)
        b[:, 1, 0] = dt * inv
        b[:, 0, 0] = dt * dt * inv
        return a, b

    # -- kinematics --------------------------------------------------------
    def inverse_kinematics(self, xy: np.ndarray, q0: np.ndarray | None = None) -> np.ndarray:
        """``(n, 1)`` angles ``atan2(y, x)`` for targets on the hand's circle.

        ``q0`` is accepted for interface compatibility and ignored.  Raises
        :class:`~bench.errors.OutOfReach` for a target off the circle of radius
        ``length`` (relative tolerance 1e-12; see
        :func:`bench.plants.geometry.into_workspace`).
        """
        xy, dtype = self._targets(xy, "inverse_kinematics")
        return np.arctan2(xy[:, 1], xy[:, 0])[:, None].astype(dtype, copy=False)


class Arm1Python(Arm1):
    """studywolf's ``arm1_python``: a 1.98 kg point mass at the end of a 0.31 m link."""

    Settings = Arm1PythonSettings
