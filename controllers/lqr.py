"""``lqr``: the linear-quadratic regulator of the arm linearised at the target.

For each trial the target posture ``q*`` comes from the arm's inverse
kinematics of the hand target (m); the target state ``x* = [q*, 0]`` is held
by ``u* = h(q*, 0)`` (the gravity torque, N·m; zero for a horizontal arm).
A state with more than ``[q, dq]`` (Todorov's arm carries its actuators'
torques) is regulated whole, with the extra components at their rest values
(:func:`~bench.controllers.joint_targets.equilibrium`) and no cost on them.
The plant's exact step Jacobians at ``(x*, u*)`` give the discrete model
``δx' = A δx + B δu``, and the discrete algebraic Riccati equation
(:func:`solve_dare`, batched over trials, no SciPy needed) gives the gain
``K`` that minimises ``Σ (δxᵀ Q δx + δuᵀ R δu)``; the control is::

    u = u* - K [wrap(q - q*), dq, ...]

Costs are written per second and multiplied by the step ``dt`` (s), so the
gains hardly depend on ``dt``: ``Q = dt · diag(position_cost · I,
velocity_cost · I)``.  With ``effort = "acceleration"`` (default) the effort
is the joint acceleration the torque causes at the target posture,
``R = dt · effort_cost · M(q*)⁻²``, so one set of weights behaves alike on a
0.1 kg·m² arm and a 300 kg·m² one (each joint then acts roughly as a double
integrator with natural frequency ``(position_cost / effort_cost)^¼`` rad/s,
31.6 by default, damping ratio 0.71); ``effort = "torque"`` uses
``R = dt · effort_cost · I`` as studywolf/control's ``lqr`` did.

studywolf/control's ``lqr`` re-linearised at the current state every step by
finite differences and mapped the hand error through ``Jᵀ``; here the
linearisation is exact and at the target, where the regulator's model is
right when it matters most (near the end of the reach).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from bench.api import Controller
from bench.errors import InvalidArgument
from bench.settings import setting

from .joint_targets import JointTargets, equilibrium, full_state, hand_targets, require_arm, wrap


def solve_dare(a: np.ndarray, b: np.ndarray, q: np.ndarray, r: np.ndarray, *,
               tol: float = 1e-11, max_iter: int = 80) -> np.ndarray:
    """Stabilising solutions ``P`` ``(n, S, S)`` of ``P = AᵀPA - AᵀPB (R + BᵀPB)⁻¹ BᵀPA + Q``.

    Batched over the first axis (``a`` ``(n, S, S)``, ``b`` ``(n, S, U)``,
    ``q`` ``(n, S, S)`` symmetric positive semi-definite, ``r`` ``(n, U, U)``
    positive definite) by the structure-preserving doubling algorithm (Chu et
    al. 2004): quadratic convergence, one ``S×S`` solve per trial and
    iteration.  Raises :class:`InvalidArgument` when it does not converge
    within ``max_iter`` doublings (an unstabilisable or undetectable pair).
    """
    n, s, _ = a.shape
    eye = np.broadcast_to(np.eye(s), (n, s, s))
    ak = a.astype(float).copy()
    gk = b @ np.linalg.solve(r, np.swapaxes(b, 1, 2))
    hk = q.astype(float).copy()
    change = np.full(n, np.inf)
    with np.errstate(all="ignore"):  # an unstabilisable pair blows up; caught below
        for _ in range(max_iter):
            try:
                w = eye + gk @ hk
                w_a = np.linalg.solve(w, ak)                     # W⁻¹ A
                w_g = np.linalg.solve(w, gk)                     # W⁻¹ G
            except np.linalg.LinAlgError:
                break
            h_next = hk + np.swapaxes(ak, 1, 2) @ hk @ w_a
            gk = gk + ak @ w_g @ np.swapaxes(ak, 1, 2)
            ak = ak @ w_a
            scale = np.maximum(np.max(np.abs(h_next), axis=(1, 2)), 1e-300)
            change = np.max(np.abs(h_next - hk), axis=(1, 2)) / scale
            hk = 0.5 * (h_next + np.swapaxes(h_next, 1, 2))
            if not np.all(np.isfinite(change)):
                break
            if np.all(change <= tol):
                return hk
    worst = float(np.nanmax(np.where(np.isfinite(change), change, np.inf)))
    raise InvalidArgument(f"lqr: the Riccati iteration did not converge in {max_iter} doublings "
                          f"(largest relative change {worst:.2e}); is the linearised arm "
                          f"stabilisable and the state cost positive?")


def lqr_gain(a: np.ndarray, b: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``(n, U, S)`` optimal feedback ``K = (R + BᵀPB)⁻¹ BᵀPA`` (``u = -K δx``), ``P`` from :func:`solve_dare`."""
    p = solve_dare(a, b, q, r)
    bt_p = np.swapaxes(b, 1, 2) @ p
    return np.linalg.solve(r + bt_p @ b, bt_p @ a)


def effort_matrix(arm: Any, q: np.ndarray, weight: float, kind: str) -> np.ndarray:
    """``(n, U, U)`` per-second effort weights: ``weight · M(q)⁻²`` (acceleration) or ``weight · I`` (torque)."""
    n, u = q.shape[0], arm.input_size
    if kind == "torque":
        return np.broadcast_to(weight * np.eye(u), (n, u, u)).copy()
    m_inv = np.linalg.inv(arm.inertia(q))
    return weight * np.swapaxes(m_inv, 1, 2) @ m_inv


def regulator(arm: Any, q_star: np.ndarray, position_cost: float, velocity_cost: float, effort_cost: float,
              effort: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(K (n, U, S), x* (n, S), u* (n, U))``: the discrete LQR holding ``arm`` at rest at ``q_star`` (rad).

    Costs per second (multiplied by ``dt``): ``position_cost`` on the joint
    angles, ``velocity_cost`` on the joint velocities, none on any further
    state (an actuator's torque), ``effort_cost`` on the effort
    (:func:`effort_matrix`).  The linearisation is the plant's exact
    ``jacobians`` at :func:`~bench.controllers.joint_targets.equilibrium`.
    """
    nj, size = arm.n_joints, arm.state_size
    x_star, u_star = equilibrium(arm, q_star)
    a, b = arm.jacobians(x_star, u_star)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    dt = float(arm.dt)
    cost = np.zeros(size)
    cost[:nj], cost[nj:2 * nj] = position_cost, velocity_cost
    q = np.broadcast_to(np.diag(cost * dt), a.shape).copy()
    r = effort_matrix(arm, x_star[:, :nj], effort_cost * dt, effort)
    return lqr_gain(a, b, q, r), x_star, u_star


@dataclass
class LQRSettings:
    position_cost: float = setting(1000.0, "weight of the squared joint-angle error per second", unit="1/(rad²·s)",
                                   gt=0)
    velocity_cost: float = setting(0.0, "weight of the squared joint velocity per second", unit="s/rad²", ge=0)
    effort_cost: float = setting(1e-3, "weight of the squared effort per second (see effort)",
                                 unit="s³/rad² (acceleration) or 1/(N²·m²·s) (torque)", gt=0)
    effort: Literal["acceleration", "torque"] = setting(
        "acceleration", "acceleration: effort = M(q*)⁻¹u, gains independent of the arm's inertia; "
                        "torque: effort = u (studywolf/control)")


class LQR(Controller):
    """Infinite-horizon discrete LQR around each trial's target state; see the module docstring."""

    Settings = LQRSettings

    def __init__(self, settings: LQRSettings | None = None) -> None:
        super().__init__(settings)
        self.joint_targets: JointTargets | None = None
        self.gain: np.ndarray | None = None      # (n, U, S)
        self.x_star: np.ndarray | None = None    # (n, S)
        self.u_star: np.ndarray | None = None    # (n, U)

    def bind(self, plant: Any) -> None:
        require_arm(plant, "lqr", ("inertia", "bias_torques", "inverse_kinematics", "jacobians"))
        super().bind(plant)
        self.joint_targets = JointTargets(plant)

    def reset(self, n: int, rng: np.random.Generator) -> None:
        if self.joint_targets is not None:
            self.joint_targets.reset()
        self.gain = self.x_star = self.u_star = None

    def gains_at(self, q_star: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(K (n, U, S), u* (n, U))`` for target postures ``q_star`` ``(n, J)`` (rad) (see :func:`regulator`)."""
        k, _, u_star = regulator(self.plant, q_star, *self._weights())
        return k, u_star

    def act(self, observation: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        """``(n, J)`` joint torques (N·m) for ``(n, 2J)`` states and ``(n, 2)`` hand targets (m)."""
        arm = self.plant
        nj = arm.n_joints
        x = full_state(arm, observation, "lqr")
        q_star = self.joint_targets(hand_targets(target, x.shape[0], "lqr"), x[:, :nj])
        changed = self.joint_targets.changed
        if self.gain is None or self.gain.shape[0] != x.shape[0]:
            self.gain, self.x_star, self.u_star = regulator(arm, q_star, *self._weights())
        elif changed.any():
            self.gain[changed], self.x_star[changed], self.u_star[changed] = regulator(
                arm, q_star[changed], *self._weights())
        dx = x - self.x_star
        dx[:, :nj] = wrap(dx[:, :nj])
        u = self.u_star - (self.gain @ dx[:, :, None])[:, :, 0]
        return u.astype(np.asarray(observation).dtype, copy=False)

    def _weights(self) -> tuple[float, float, float, str]:
        s = self.settings
        return s.position_cost, s.velocity_cost, s.effort_cost, s.effort
