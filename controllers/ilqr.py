"""``ilqr``: iterative LQR on the plant's exact Jacobians, planned per target, then tracked.

When a trial's hand target (m) jumps, ``ilqr`` plans a torque sequence
over ``horizon`` seconds from the trial's current state, all trials of the
batch at once, and then follows it with the plan's own time-varying feedback
gains; after the horizon an LQR (:mod:`bench.controllers.lqr`) holds the
posture the plan ends in.  Plan, then track: one plan per target instead of
one per control step (studywolf/control's ``ilqr`` re-planned at every step
with finite-difference derivatives), so a whole reach costs about one plan.

The plan
    Torques are piecewise constant over intervals of ``plan_dt`` (s), a whole
    number ``r`` of plant steps (``r = 1`` at the studywolf ``--dt=1e-2``).
    One interval is ``r`` plant steps, so its Jacobians are exact products of
    the plant's step Jacobians (``plant.jacobians``, one batched call per
    iteration)::

        A = A_r ··· A_1,     B = Σ_j A_r ··· A_{j+1} B_j

    The cost of a plan of ``N`` intervals (as in studywolf/control: effort
    along the way, position and velocity at the end)::

        Σ_k effort_cost · plan_dt · |E u_k|²  +  position_cost · |hand(q_N) - target|²
                                              +  velocity_cost · |dq_N|²

    with ``E = M(q_0)⁻¹`` (``effort = "acceleration"``, default: the joint
    accelerations the torques cause, so the same weights suit light and heavy
    arms) or ``E = I`` (``"torque"``).  The hand term is expanded to second
    order with the Gauss-Newton Hessian ``2 Jᵀ J``.  Each iteration is a
    backward Riccati pass and a forward pass that tries five step sizes
    ``α`` for every trial at once, keeping per trial the best one that lowers
    its cost (else it raises that trial's Levenberg-Marquardt damping).

The budget
    At most ``iterations`` iterations per plan; a trial stops when an
    iteration lowers its cost by less than ``tolerance`` (relative).
    ``time_budget`` (s, 0 = none) also stops the whole plan after that much
    wall time; it then depends on the machine's speed, so runs are no longer
    bit-for-bit reproducible (off by default).

Tracking
    At plant step ``t`` of interval ``k``: ``u = U_k + K_k (x_t - X_t)`` with
    ``X`` the planned states at the plant's own steps.  Torques in N·m.

Moving targets
    A target that jumps by more than ``replan`` metres between two steps
    (a new reach) gets a new plan; one that moves less (a traced path, a
    slowly drifting goal) re-aims the holding LQR at the new posture
    without planning (studywolf re-planned at every step instead).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from bench.api import Controller
from bench.errors import InvalidArgument
from bench.plants.geometry import into_workspace
from bench.settings import setting

from .joint_targets import JointTargets, equilibrium, full_state, hand_targets, require_arm, wrap
from .lqr import effort_matrix, regulator

ALPHAS = np.array([1.0, 0.5, 0.25, 0.1, 0.03])


@dataclass
class ILQRSettings:
    horizon: float = setting(0.3, "planned movement time; the plan ends at rest on the target", unit="s", gt=0)
    plan_dt: float = setting(0.01, "torque interval of the plan (rounded to whole plant steps, at least one)",
                             unit="s", gt=0)
    iterations: int = setting(50, "most iLQR iterations per plan", ge=1, le=10000)
    time_budget: float = setting(0.0, "stop planning after this much wall time (0: no limit; a limit makes "
                                      "results depend on the machine's speed)", unit="s", ge=0)
    tolerance: float = setting(1e-4, "a trial's plan is done when an iteration lowers its cost by less than "
                                     "this fraction", ge=0, lt=1)
    position_cost: float = setting(1e6, "weight of the squared final hand error", unit="1/m²", gt=0)
    velocity_cost: float = setting(1e3, "weight of the squared final joint velocity", unit="s²/rad²", ge=0)
    effort_cost: float = setting(1.0, "weight of the squared effort per second (see effort)",
                                 unit="s³/rad² (acceleration) or 1/(N²·m²·s) (torque)", gt=0)
    effort: Literal["acceleration", "torque"] = setting(
        "acceleration", "acceleration: effort = M(q₀)⁻¹u (weights independent of the arm's inertia); "
                        "torque: effort = u (studywolf/control)")
    hold_position_cost: float = setting(1000.0, "after the horizon: position weight of the holding LQR",
                                        unit="1/(rad²·s)", gt=0)
    hold_effort_cost: float = setting(1e-3, "after the horizon: effort weight of the holding LQR "
                                            "(same effort measure)", unit="s³/rad²", gt=0)
    replan: float = setting(0.01, "a target that jumps by more than this from one step to the next gets a new "
                                  "plan; smaller moves (a traced path) re-aim the holding LQR", unit="m", ge=0)


@dataclass
class Plan:
    """A batch of plans.  ``u`` ``(n, N, U)`` N·m, ``gain`` ``(n, N, U, S)``,
    ``states`` ``(n, N·r + 1, S)`` at the plant's steps, ``cost`` ``(n,)``,
    ``iterations`` run."""

    u: np.ndarray
    gain: np.ndarray
    states: np.ndarray
    cost: np.ndarray
    iterations: int


class ILQR(Controller):
    """Plan-then-track iterative LQR; see the module docstring."""

    Settings = ILQRSettings

    def __init__(self, settings: ILQRSettings | None = None) -> None:
        super().__init__(settings)
        self.joint_targets: JointTargets | None = None
        self.ratio = 1
        self.n_intervals = 1
        self.plans: Plan | None = None
        self.step_index: np.ndarray | None = None
        self.hold: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None   # x_f, u_f, K_f
        self.last_plan: dict[str, float] = {}
        self.plans_made = 0          # plan() calls since bind (each plans a batch of trials)

    def bind(self, plant: Any) -> None:
        require_arm(plant, "ilqr", ("inertia", "bias_torques", "inverse_kinematics", "jacobians", "hand_jacobian",
                                    "step"))
        super().bind(plant)
        self.joint_targets = JointTargets(plant)
        s = self.settings
        self.ratio = max(1, round(s.plan_dt / plant.dt))
        self.n_intervals = max(1, round(s.horizon / (self.ratio * plant.dt)))

    def reset(self, n: int, rng: np.random.Generator) -> None:
        if self.joint_targets is not None:
            self.joint_targets.reset()
        self.plans, self.step_index, self.hold = None, None, None

    # -- the plan -------------------------------------------------------------------------
    def _cost(self, hand: np.ndarray, dq: np.ndarray, u: np.ndarray, weight: np.ndarray,
              target: np.ndarray) -> np.ndarray:
        """``(m,)`` plan costs: ``u`` ``(m, N, U)``, ``weight`` ``(m, U, U)`` (effort per interval)."""
        s = self.settings
        effort = np.einsum("mki,mij,mkj->m", u, weight, u)
        return (effort + s.position_cost * np.sum((hand - target) ** 2, axis=1)
                + s.velocity_cost * np.sum(dq**2, axis=1))

    def _rollout(self, x0: np.ndarray, u_ff: np.ndarray, gain: np.ndarray | None = None,
                 ref: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """States ``(m, N·r + 1, S)`` at every plant step and the torques ``(m, N, U)`` applied.

        Interval ``k`` applies ``u_ff[:, k] + gain[:, k] (x - ref[:, k·r])`` (the gain part only if given)."""
        arm, r, big_n = self.plant, self.ratio, self.n_intervals
        states = np.empty((x0.shape[0], big_n * r + 1, x0.shape[1]))
        states[:, 0] = x = x0
        applied = np.empty_like(u_ff)
        for k in range(big_n):
            u = u_ff[:, k]
            if gain is not None:
                u = u + (gain[:, k] @ (x - ref[:, k * r])[:, :, None])[:, :, 0]
            applied[:, k] = u
            for j in range(r):
                x = arm.step(x, u)
                states[:, k * r + j + 1] = x
        return states, applied

    def _interval_jacobians(self, states: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact ``(m, N, S, S)`` and ``(m, N, S, U)`` Jacobians of each r-step interval."""
        m, _, s = states.shape
        r, big_n, nu = self.ratio, self.n_intervals, u.shape[2]
        xs = states[:, :-1].reshape(m * big_n * r, s)
        us = np.repeat(u, r, axis=1).reshape(m * big_n * r, nu)
        a, b = self.plant.jacobians(xs, us)
        a = np.asarray(a, dtype=float).reshape(m, big_n, r, s, s)
        b = np.asarray(b, dtype=float).reshape(m, big_n, r, s, nu)
        fa, fb = a[:, :, 0], b[:, :, 0]
        for j in range(1, r):
            fb = a[:, :, j] @ fb + b[:, :, j]
            fa = a[:, :, j] @ fa
        return fa, fb

    def _backward(self, fa: np.ndarray, fb: np.ndarray, u: np.ndarray, weight: np.ndarray,
                  v_x: np.ndarray, v_xx: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feed-forward changes ``(m, N, U)`` and gains ``(m, N, U, S)`` of one Riccati pass."""
        m, big_n, s, nu = fb.shape
        dk = np.empty((m, big_n, nu))
        gain = np.empty((m, big_n, nu, s))
        l_uu = 2.0 * weight                                   # (m, U, U)
        damp = mu[:, None, None] * l_uu
        for k in range(big_n - 1, -1, -1):
            a, b = fa[:, k], fb[:, k]
            at, bt = np.swapaxes(a, 1, 2), np.swapaxes(b, 1, 2)
            q_x = (at @ v_x[:, :, None])[:, :, 0]
            q_u = (l_uu @ u[:, k, :, None])[:, :, 0] + (bt @ v_x[:, :, None])[:, :, 0]
            vb = v_xx @ b
            q_xx = at @ v_xx @ a
            q_ux = bt @ v_xx @ a
            q_uu = l_uu + bt @ vb
            sol = np.linalg.solve(q_uu + damp, np.concatenate([q_u[:, :, None], q_ux], axis=2))
            dk[:, k] = -sol[:, :, 0]
            gain[:, k] = -sol[:, :, 1:]
            kt = np.swapaxes(gain[:, k], 1, 2)
            v_x = q_x + (kt @ q_uu @ dk[:, k, :, None])[:, :, 0] + (kt @ q_u[:, :, None])[:, :, 0] \
                + (np.swapaxes(q_ux, 1, 2) @ dk[:, k, :, None])[:, :, 0]
            v_xx = q_xx + kt @ q_uu @ gain[:, k] + kt @ q_ux + np.swapaxes(q_ux, 1, 2) @ gain[:, k]
            v_xx = 0.5 * (v_xx + np.swapaxes(v_xx, 1, 2))
        return dk, gain

    def _terminal(self, states: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient ``(m, S)`` and Gauss-Newton Hessian ``(m, S, S)`` of the final cost."""
        s, nj = self.settings, self.plant.n_joints
        x = states[:, -1]
        q, dq = x[:, :nj], x[:, nj:2 * nj]
        jac = self.plant.hand_jacobian(q)
        err = self.plant.hand(q) - target
        m, size = x.shape
        v_x = np.zeros((m, size))
        v_xx = np.zeros((m, size, size))
        v_x[:, :nj] = 2 * s.position_cost * (np.swapaxes(jac, 1, 2) @ err[:, :, None])[:, :, 0]
        v_x[:, nj:2 * nj] = 2 * s.velocity_cost * dq
        v_xx[:, :nj, :nj] = 2 * s.position_cost * np.swapaxes(jac, 1, 2) @ jac
        v_xx[:, nj:2 * nj, nj:2 * nj] = 2 * s.velocity_cost * np.eye(nj)
        return v_x, v_xx

    def plan(self, x0: np.ndarray, target: np.ndarray) -> Plan:
        """Plans for ``(m, S)`` start states and ``(m, 2)`` hand targets (m)."""
        arm, s, nj = self.plant, self.settings, self.plant.n_joints
        x0 = np.asarray(x0, dtype=float)
        m, big_n, r = x0.shape[0], self.n_intervals, self.ratio
        nu = arm.input_size
        interval = r * float(arm.dt)
        weight = effort_matrix(arm, x0[:, :nj], s.effort_cost * interval, s.effort)   # (m, U, U) per interval
        u = np.repeat(arm.bias_torques(x0[:, :nj], np.zeros((m, nj)))[:, None, :], big_n, axis=1)
        states, _ = self._rollout(x0, u)
        cost = self._cost(arm.hand(states[:, -1, :nj]), states[:, -1, nj:2 * nj], u, weight, target)
        gain = np.zeros((m, big_n, nu, x0.shape[1]))
        mu = np.zeros(m)
        active = np.ones(m, dtype=bool)
        started = time.perf_counter()
        n_alpha = ALPHAS.size
        iterations = 0
        for _ in range(s.iterations):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            iterations += 1
            st, uu, w, tg = states[idx], u[idx], weight[idx], target[idx]
            fa, fb = self._interval_jacobians(st, uu)
            v_x, v_xx = self._terminal(st, tg)
            dk, kk = self._backward(fa, fb, uu, w, v_x, v_xx, mu[idx])
            # every step size for every active trial in one batch: row = alpha * len(idx) + trial
            u_try = np.concatenate([uu + a * dk for a in ALPHAS])
            k_try = np.concatenate([kk] * n_alpha)
            ref = np.concatenate([st] * n_alpha)
            st_try, u_new = self._rollout(np.concatenate([x0[idx]] * n_alpha), u_try, k_try, ref)
            c_try = self._cost(arm.hand(st_try[:, -1, :nj]), st_try[:, -1, nj:2 * nj], u_new,
                               np.concatenate([w] * n_alpha), np.concatenate([tg] * n_alpha))
            c_try = np.where(np.isfinite(c_try), c_try, np.inf).reshape(n_alpha, idx.size)
            best = np.argmin(c_try, axis=0)
            c_best = c_try[best, np.arange(idx.size)]
            improved = c_best < cost[idx]
            rows = best * idx.size + np.arange(idx.size)
            take = idx[improved]
            decrease = (cost[take] - c_best[improved]) / np.maximum(cost[take], 1e-300)
            states[take] = st_try[rows[improved]]
            u[take] = u_new[rows[improved]]
            gain[take] = kk[improved]
            cost[take] = c_best[improved]
            relaxed = np.where(best[improved] == 0, mu[take] / 10, mu[take])
            mu[take] = np.where(relaxed < 1e-6, 0.0, relaxed)
            stuck = idx[~improved]
            mu[stuck] = np.where(mu[stuck] == 0, 1e-3, mu[stuck] * 10)
            active[take[decrease < s.tolerance]] = False
            active[stuck[mu[stuck] > 1e10]] = False
            if s.time_budget and time.perf_counter() - started > s.time_budget:
                break
        # the gains of the last accepted pass belong to the plan; re-derive them at the final plan
        fa, fb = self._interval_jacobians(states, u)
        v_x, v_xx = self._terminal(states, target)
        _, gain = self._backward(fa, fb, u, weight, v_x, v_xx, np.zeros(m))
        self.plans_made += 1
        self.last_plan = {"iterations": float(iterations), "seconds": time.perf_counter() - started,
                          "cost_max": float(cost.max())}
        return Plan(u=u, gain=gain, states=states, cost=cost, iterations=iterations)

    def _hold_gains(self, q_final: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x_f, u_f, K_f)``: the LQR holding the hand on ``target`` near the posture the plan ends in."""
        arm, s = self.plant, self.settings
        q_f = arm.inverse_kinematics(target, q0=q_final)
        k, x_f, u_f = regulator(arm, q_f, s.hold_position_cost, 0.0, s.hold_effort_cost, s.effort)
        return x_f, u_f, k

    def _reaim(self, rows: np.ndarray, q_star: np.ndarray) -> None:
        """Move the holding LQR of ``rows`` to the postures ``q_star`` (rad), keeping its gains."""
        x_f, u_f = equilibrium(self.plant, q_star)
        self.hold[0][rows], self.hold[1][rows] = x_f, u_f

    def _replan(self, rows: np.ndarray, x: np.ndarray, target: np.ndarray) -> None:
        p = self.plan(x[rows], target[rows])
        hold = self._hold_gains(p.states[:, -1, : self.plant.n_joints], target[rows])
        if self.plans is None or self.plans.u.shape[0] != x.shape[0]:
            self.plans, self.hold = p, hold
            self.step_index = np.zeros(x.shape[0], dtype=int)
            return
        for name in ("u", "gain", "states", "cost"):
            getattr(self.plans, name)[rows] = getattr(p, name)
        for held, new in zip(self.hold, hold):
            held[rows] = new
        self.step_index[rows] = 0

    # -- acting -----------------------------------------------------------------------------------
    def act(self, observation: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        """``(n, J)`` joint torques (N·m) for ``(n, 2J)`` states and ``(n, 2)`` hand targets (m).

        Plans (for the trials whose target jumped) before acting."""
        arm = self.plant
        if arm is None:
            raise InvalidArgument("ilqr: bind(plant) before act()")
        nj = arm.n_joints
        x = full_state(arm, observation, "ilqr")
        n = x.shape[0]
        tgt = into_workspace(arm, hand_targets(target, n, "ilqr"), margin=1e-4)  # as JointTargets aims
        previous = self.joint_targets.target
        q_star = self.joint_targets(tgt, x[:, :nj])
        changed = self.joint_targets.changed
        if self.plans is None or self.plans.u.shape[0] != n:
            self._replan(np.arange(n), x, tgt)
        elif changed.any():
            jump = changed & (np.linalg.norm(tgt - previous, axis=1) > self.settings.replan)
            if (changed & ~jump).any():
                rows = np.flatnonzero(changed & ~jump)
                self._reaim(rows, q_star[rows])
            if jump.any():
                self._replan(np.flatnonzero(jump), x, tgt)
        p, t = self.plans, self.step_index
        total = self.n_intervals * self.ratio
        u = np.empty((n, arm.input_size))
        live = t < total
        if live.any():
            i = np.flatnonzero(live)
            k = t[i] // self.ratio
            dx = x[i] - p.states[i, t[i]]
            u[i] = p.u[i, k] + (p.gain[i, k] @ dx[:, :, None])[:, :, 0]
        if (~live).any():
            i = np.flatnonzero(~live)
            x_f, u_f, k_f = self.hold
            dx = x[i] - x_f[i]
            dx[:, :nj] = wrap(dx[:, :nj])
            u[i] = u_f[i] - (k_f[i] @ dx[:, :, None])[:, :, 0]
        self.step_index = t + 1
        return u.astype(np.asarray(observation).dtype, copy=False)
