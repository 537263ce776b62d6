"""What the arm tasks (``reach``, ``postural``, ``random_movements``, ``write``) share.

* :class:`ArmTaskSettings` - the settings every arm task has: studywolf's
  velocity-dependent joint force field (``force``) and the size of the
  animation frame;
* :class:`Episode` - a controller driving a batch of arms step by step:
  divergence checks of the simulated arm (the runner checks every act output and
  observation: bench.guards), the force field and any extra torque on
  the simulated arm (never on the controller's model), effort, timing, and
  the record of joint angles and targets the ``arm`` frame is made from;
* :func:`arrived` - studywolf's switching rule ``|hand - target|₁ + |dq|₁ < threshold``;
* :func:`arm_frame` - the downsampled ``arm`` frame (joint angles and joint
  positions over time) that ``bench show --animate`` and the HTML report draw.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.plants.forcefield import with_force_field

from ..errors import Diverged
from ..settings import setting

#: The name of the frame every arm task stores for the animation.
ARM_FRAME = "arm"


@dataclass
class ArmTaskSettings:
    """Settings shared by every arm task."""

    force: float = setting(0.0, "studywolf's --force: scale of the velocity-dependent joint force field "
                                "F·dq the simulation adds to the torques (F: studywolf's 3×3 matrix in "
                                "N·m·s/rad; 0: no field)")
    animation_points: int = setting(200, "arm postures kept in the `arm` frame (for the animation)", ge=2,
                                    le=5000)


def check_point(name: str, value: tuple[float, ...] | None) -> None:
    """Refuse (ValueError, turned into a SettingError) a point setting that is not two values (x, y)."""
    if value is not None and len(value) != 2:
        raise ValueError(f"{name} must hold 2 values (x, y), got {len(value)}")


def arrived(hand: np.ndarray, target: np.ndarray, dq: np.ndarray, threshold: float) -> np.ndarray:
    """``(n,)`` bool: studywolf's rule ``Σ|hand - target| + Σ|dq| < threshold`` (m plus rad/s)."""
    return np.abs(hand - target).sum(axis=1) + np.abs(dq).sum(axis=1) < threshold


class Episode:
    """``controller`` driving ``n`` arms on ``plant`` (with the task's force field), one step at a time.

    ``step(targets, extra=None)`` asks the controller for torques (N·m) at
    the current observation, checks them, adds the force field's and
    ``extra`` torques to what the simulated arm receives, steps it and
    records the joint angles and targets.  ``effort`` sums ``|u|²·dt`` of
    the controller's torques per arm (N²·m²·s).
    """

    def __init__(self, task: str, plant: Any, controller: Any, n: int, rng: np.random.Generator, *,
                 force: float = 0.0, x0: np.ndarray | None = None) -> None:
        self.task = task
        self.plant = plant
        self.sim = with_force_field(plant, force)
        self.controller = controller
        self.n = int(n)
        self.nj = int(plant.n_joints)
        self.dt = float(plant.dt)
        self.x = np.tile(plant.start_state, (self.n, 1)) if x0 is None else np.array(x0, dtype=float)
        self.rng = rng
        controller.reset(self.n, rng)
        self.steps = 0
        self.effort = np.zeros(self.n)
        self.act_time = 0.0
        self._q: list[np.ndarray] = [self.q.copy()]
        self._targets: list[np.ndarray] = []

    # -- state -------------------------------------------------------------
    @property
    def q(self) -> np.ndarray:
        """``(n, J)`` joint angles (rad)."""
        return self.x[:, : self.nj]

    @property
    def dq(self) -> np.ndarray:
        """``(n, J)`` joint velocities (rad/s)."""
        return self.x[:, self.nj: 2 * self.nj]

    def hand(self) -> np.ndarray:
        """``(n, 2)`` hand positions (m)."""
        return self.plant.hand(self.q)

    def hand_speed(self) -> np.ndarray:
        """``(n,)`` hand speeds (m/s)."""
        vel = (self.plant.hand_jacobian(self.q) @ self.dq[:, :, None])[:, :, 0]
        return np.hypot(vel[:, 0], vel[:, 1])

    def set_state(self, x: np.ndarray) -> None:
        """Hard reset: every arm in state ``x`` (``(S,)`` or ``(n, S)``) and a fresh trial for the controller
        (``controller.reset``, as at the start: its memory of the arm it lost is of no use)."""
        self.x = np.tile(np.asarray(x, dtype=float), (self.n, 1)) if np.ndim(x) == 1 else np.array(x, float)
        self._q[-1] = self.q.copy()
        self.controller.reset(self.n, self.rng)

    # -- stepping ----------------------------------------------------------
    def step(self, targets: np.ndarray, extra: np.ndarray | None = None, total: int | None = None) -> np.ndarray:
        """One step towards ``(n, 2)`` ``targets``; returns the new ``(n, 2)`` hand positions (m).

        ``total`` (steps planned, if known) only makes error messages say
        "step k of T".
        """
        plant = self.plant
        k = self.steps + 1
        where = f"step {k} of {total}" if total else f"step {k}"
        with np.errstate(over="ignore", invalid="ignore"):
            obs = plant.observation(self.x)
            t0 = time.perf_counter()
            u = self.controller.act(obs, targets)
            self.act_time += time.perf_counter() - t0
            u = np.asarray(u)  # shape (n, U) and finite: checked by the runner (bench.guards)
            pushed = u if extra is None else u + extra
            try:
                x = self.sim.step(self.x, pushed)
            except Diverged as exc:  # the plant saw it; say which step of the task
                raise Diverged(f"{self.task}: {where}: {exc}") from None
            if not np.all(np.isfinite(x)):
                raise Diverged(f"{self.task}: state not finite at {where}")
            self.effort += np.sum(u.astype(float) ** 2, axis=1) * self.dt
        self.x = x
        self.steps = k
        self._q.append(self.q.copy())
        self._targets.append(np.array(targets, dtype=float, copy=True))
        return self.hand()

    def move(self, goal: np.ndarray, tolerance: float, limit: int,
             extra: np.ndarray | None = None) -> tuple[bool, float]:
        """Step towards the fixed ``(n, 2)`` ``goal`` until every arm :func:`arrived` within ``tolerance``
        or ``limit`` steps passed; returns ``(arrived, hand path length in m of the first arm)``."""
        hand = self.hand()
        path = 0.0
        for _ in range(limit):
            new = self.step(goal, extra)
            path += float(np.hypot(*(new[0] - hand[0])))
            hand = new
            if arrived(hand, goal, self.dq, tolerance).all():
                return True, path
        return False, path

    # -- records -----------------------------------------------------------
    def record(self) -> tuple[np.ndarray, np.ndarray]:
        """``(steps+1, n, J)`` joint angles and ``(steps+1, n, 2)`` targets in force (the first
        row's target is the first step's)."""
        qs = np.stack(self._q)
        if self._targets:
            tg = np.stack([self._targets[0], *self._targets])
        else:
            tg = np.full((1, self.n, 2), np.nan)
        return qs, tg

    def latency(self) -> dict[str, float]:
        """Wall time of one batched ``act`` call and per arm (µs)."""
        per_call = self.act_time / max(self.steps, 1) * 1e6
        return {"latency_us_per_call": per_call, "latency_us_per_arm": per_call / self.n}


def arm_frame(plant: Any, qs: np.ndarray, targets: np.ndarray, dt: float, points: int,
              trials: int | None = None, extra: dict[str, np.ndarray] | None = None) -> Any:
    """The ``arm`` frame: arm postures over time, downsampled, for the animation.

    ``qs`` ``(T+1, n, J)`` and ``targets`` ``(T+1, n, 2)``.  The first
    ``trials`` arms (all when None) are kept, one after the other, with about
    ``points`` rows in all.  Columns: ``t`` (s, within the trial),
    ``trial``, ``target_x``, ``target_y`` (m), ``q0..q{J-1}`` (rad) and
    ``px0..px{J}``, ``py0..py{J}`` (m): the base, every joint and the hand;
    then one column per entry of ``extra`` (each ``(T+1, n)``, e.g. ``pen``).
    """
    import pandas as pd

    steps, n, nj = qs.shape
    keep_n = min(n, trials) if trials else n
    per = max(2, points // keep_n)
    idx = np.unique(np.linspace(0, steps - 1, min(steps, per)).round().astype(int))
    blocks = []
    for trial in range(keep_n):
        q = qs[idx, trial, :]
        pts = plant.joint_positions(q)
        cols: dict[str, Any] = {"t": idx * dt, "trial": np.full(idx.size, trial),
                                "target_x": targets[idx, trial, 0], "target_y": targets[idx, trial, 1]}
        for j in range(nj):
            cols[f"q{j}"] = q[:, j]
        for j in range(nj + 1):
            cols[f"px{j}"] = pts[:, j, 0]
        for j in range(nj + 1):
            cols[f"py{j}"] = pts[:, j, 1]
        for name, values in (extra or {}).items():
            cols[name] = np.asarray(values)[idx, trial]
        blocks.append(pd.DataFrame(cols))
    return pd.concat(blocks, ignore_index=True)


def rest_state(plant: Any, q: np.ndarray) -> np.ndarray:
    """``(S,)`` the plant's state at joint angles ``q`` (rad), at rest (every other state zero)."""
    x = np.zeros(int(plant.state_size))
    x[: plant.n_joints] = np.asarray(q, dtype=float)
    return x


def posture_at(plant: Any, xy: np.ndarray) -> np.ndarray:
    """``(S,)`` a resting state with the hand at ``xy`` (m): inverse kinematics from the start posture."""
    q = plant.inverse_kinematics(np.asarray(xy, dtype=float)[None, :], q0=np.asarray(plant.start_q)[None, :])
    return rest_state(plant, q[0])
