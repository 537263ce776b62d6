"""What the model-based arm controllers (``gc``, ``lqr``, ``ilqr``, ``dmp``) share.

* :func:`require_arm`: refuse, in one line, a plant that lacks a method a
  controller needs.
* :class:`JointTargets`: the joint angles (rad) that put the hand on each
  trial's hand target (m), by the arm's inverse kinematics, recomputed only
  for the trials whose target changed since the last call.
* :func:`wrap`: an angle difference folded into ``[-pi, pi)`` (rad).
* :func:`equilibrium`: the rest state at a posture and the torque holding it,
  including any state beyond ``[q, dq]`` (an actuator's torque, say).
* :func:`full_state`: the observation checked to be the whole state.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from bench.errors import InvalidArgument
from bench.plants.geometry import into_workspace


def require_arm(plant: Any, who: str, attrs: Iterable[str]) -> None:
    """Raise :class:`InvalidArgument` naming the first of ``attrs`` that ``plant`` lacks."""
    for attr in attrs:
        if not callable(getattr(plant, attr, None)):
            raise InvalidArgument(f"{who} needs an arm plant with {attr}(); "
                                  f"{getattr(plant, 'name', '') or type(plant).__name__!r} has none")


def wrap(angle: np.ndarray) -> np.ndarray:
    """``angle`` (rad) folded into ``[-pi, pi)``."""
    return (angle + np.pi) % (2 * np.pi) - np.pi


def hand_targets(target: np.ndarray | None, n: int, who: str) -> np.ndarray:
    """``target`` checked to be ``(n, 2)`` finite hand positions (m), as float64."""
    if target is None:
        raise InvalidArgument(f"{who} needs hand targets of shape ({n}, 2) in metres, got None")
    t = np.asarray(target, dtype=float)
    if t.shape != (n, 2):
        raise InvalidArgument(f"{who}: targets must have shape ({n}, 2) (metres), got {t.shape}")
    if not np.all(np.isfinite(t)):
        raise InvalidArgument(f"{who}: targets must be finite")
    return t


class JointTargets:
    """Inverse kinematics of hand targets, cached per trial.

    ``__call__(target, q)`` returns ``(n, J)`` joint angles (rad) with the
    hand on ``target`` (``(n, 2)``, m); a target outside the reachable
    annulus is aimed at the nearest reachable point
    (:func:`bench.plants.geometry.into_workspace`, 0.01 % of the arm's reach
    inside the edge).  A trial whose target is unchanged
    since the previous call keeps its angles; for the others the arm's
    ``inverse_kinematics`` starts from the current angles ``q`` (so a
    redundant arm takes the solution nearest its posture; the two-link arm's
    closed form ignores the start).  :attr:`changed` says which trials got
    new angles in the last call.
    """

    def __init__(self, arm: Any) -> None:
        self.arm = arm
        self.reset()

    def reset(self) -> None:
        """Forget every cached target."""
        self.target: np.ndarray | None = None
        self.q: np.ndarray | None = None
        self.changed = np.zeros(0, dtype=bool)

    def __call__(self, target: np.ndarray, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=float)
        if self.target is None or self.target.shape != target.shape:
            changed = np.ones(target.shape[0], dtype=bool)
            self.q = np.empty_like(q)
        else:
            changed = np.any(self.target != target, axis=1)
        if changed.any():
            reachable = into_workspace(self.arm, target[changed], margin=1e-4)
            self.q[changed] = self.arm.inverse_kinematics(reachable, q0=q[changed])
            self.target = target.copy()
        self.changed = changed
        return self.q


def equilibrium(arm: Any, q: np.ndarray, *, iterations: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """``(x* (n, S), u* (n, U))``: the arm at rest at postures ``q`` (rad) and the torque holding it (N·m).

    ``u* = h(q, 0)`` (gravity; zero for a horizontal arm).  A state with more
    than ``[q, dq]`` (``S > 2J``, e.g. the torque of a first-order actuator)
    gets the rest values of its extra components from Newton's method on the
    fixed point ``x = step(x, u*)`` over those components, with the plant's
    exact Jacobians (one iteration for a linear actuator).
    """
    q = np.asarray(q, dtype=float)
    n, nj, size = q.shape[0], arm.n_joints, arm.state_size
    u = np.asarray(arm.bias_torques(q, np.zeros_like(q)), dtype=float)
    x = np.zeros((n, size))
    x[:, :nj] = q
    if size > 2 * nj:
        x[:, 2 * nj:] = np.asarray(arm.start_state, dtype=float)[2 * nj:]
        eye = np.eye(size - 2 * nj)
        for _ in range(iterations):
            residual = np.asarray(arm.step(x, u), dtype=float)[:, 2 * nj:] - x[:, 2 * nj:]
            if np.max(np.abs(residual)) <= 1e-12 * (1.0 + np.max(np.abs(x[:, 2 * nj:]))):
                break
            a, _ = arm.jacobians(x, u)
            block = np.asarray(a, dtype=float)[:, 2 * nj:, 2 * nj:]
            x[:, 2 * nj:] += np.linalg.solve(eye - block, residual[:, :, None])[:, :, 0]
    return x, u


def full_state(arm: Any, observation: np.ndarray, who: str) -> np.ndarray:
    """``observation`` as float64, checked to hold the whole ``(n, S)`` state (model-based control needs it)."""
    obs = np.asarray(observation, dtype=float)
    if obs.ndim != 2 or obs.shape[1] != arm.state_size:
        raise InvalidArgument(f"{who} needs the whole state of {getattr(arm, 'name', '') or 'the arm'} as its "
                              f"observation, shape (n, {arm.state_size}); got {obs.shape}")
    return obs
