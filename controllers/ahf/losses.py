"""The training losses of the ``ahf`` network, for hessianfree's Gauss-Newton.

Every loss acts on the output of the network's last layer, the arm layer, at
each step ``t = 0 … T-1`` of the reach (``T = duration / dt``).  With the
setting ``cost_space = "joint"`` that output is the arm's state::

    y_t = [p_t = q_t (J angles, rad), v_t = dq_t (J velocities, rad/s), a_t (actuator torques, N·m)]

and with ``cost_space = "hand"`` (:meth:`ArmPlantLayer.hand_output`)::

    y_t = [p_t = hand (2, m), v_t = J(q_t) dq_t (hand velocity, 2, m/s), a_t (actuator torques, N·m), 0 …]

(``a_t`` only on arms with an actuator in their state, e.g. Todorov's
``arm2_python_todorov``).  Per trial the loss is

    L = ½ Σ_{t ∈ C} [ |p_t - p*|² + w_v |v_t|² + w_a |a_t|² ]        final state
      + ½ Σ_{t < T} [ s_p |p_t - p*|² + s_v |v_t|² ]                 path
      + ½ e Σ_t |layer-3 output_t|²                                     effort (SparseL2)

in rad² (joint space) or m² (hand space), where ``C`` holds the steps that
carry a target (the last step, and with a return phase the last step of each
half; the target array is NaN at every other step, which costs nothing),
``p*`` is the target (joint angles by IK, rad, or the hand target, m) and the
weights are the ``ahf`` settings

* ``w_v = final_velocity_cost`` (s²: it turns a squared speed into a squared distance),
* ``w_a = final_actuator_cost`` (rad²/(N·m)² or m²/(N·m)²),
* ``s_p = step_cost`` (dimensionless, per step of ``dt``),
* ``s_v = step_velocity_cost`` (s², per step of ``dt``),
* ``e = effort_cost``.

With ``w_v = w_a = 1`` and no path or effort cost this is the plain
final-state cost, ``½ |y_T - y*|²`` (:class:`MaskedSquaredError`), of the
reference.  ``w_v`` weighs the velocity at the end against the distance to
the target.  The path terms favour short, direct movements: ``s_p`` pulls
towards the target at every step (a fast approach), ``s_v`` penalises speed at
every step, whose minimum for fixed end points is the straight line at
constant speed, in the cost's space: a straight hand path in hand space (a
joint-space line bends the hand's path).

Gauss-Newton.  Each term is an elementwise quadratic of ``y``, so the exact
Hessian of the loss with respect to the layer's output is diagonal: ``d2_loss``
returns it (``w_i`` where a target is set, plus the path weights at every step,
0 elsewhere), so HF's ``G = Jᵀ diag(d2_loss) J`` is the Gauss-Newton matrix of
the very objective whose gradient it follows.  In hand space the kinematics
are part of the layer (its ``d_output`` Jacobian), not of the loss, which is
what keeps the curvature elementwise.

hessianfree calls ``loss`` and ``d2_loss`` on whole sequences ``(n, T, S)``
and ``d_loss`` on one step at a time ``(n, S)`` (targets sliced alike; ahf's
own products call it on the whole sequence); every class here accepts both.
"""

from __future__ import annotations

from typing import Any

import hessianfree as hf
import numpy as np


def _none(activities: list) -> list:
    return [None] * (len(activities) - 1)


def _sum_but_batch(a: np.ndarray) -> np.ndarray:
    return np.sum(a, axis=tuple(range(1, a.ndim)))


class MaskedSquaredError(hf.loss_funcs.LossFunction):
    """``0.5 Σ (y - target)²`` of the plant-layer output; a NaN target costs nothing.

    Same value and gradient as ``hf.loss_funcs.SquaredError``, but its
    curvature ``d2_loss`` is 0 where the target is NaN.  hessianfree's own
    ``SquaredError.d2_loss`` is 1 at *every* step, so with targets only on the
    last step its Gauss-Newton matrix belongs to a different objective (a
    cost on every step) than its gradient, and HF crawls.
    """

    def loss(self, activities, targets):
        y = activities[-1]
        return _none(activities) + [0.5 * _sum_but_batch(np.nan_to_num(y - targets) ** 2)]

    def d_loss(self, activities, targets):
        return _none(activities) + [np.nan_to_num(activities[-1] - targets)]

    def d2_loss(self, activities, targets):
        d2 = np.where(np.isnan(targets), 0, 1).astype(activities[-1].dtype)
        return _none(activities) + [np.broadcast_to(d2, activities[-1].shape).copy()]


def state_weights(n_out: int, n_pos: int, position: float, velocity: float, rest: float) -> np.ndarray:
    """``(S,)`` weights: ``position`` on the first ``P`` outputs (positions), ``velocity`` on the next
    ``P`` (velocities) and ``rest`` on the others (actuator torques)."""
    w = np.full(n_out, float(rest))
    w[:n_pos] = position
    w[n_pos:2 * n_pos] = velocity
    return w


class WeightedFinalState(hf.loss_funcs.LossFunction):
    """``½ Σ_{t ∈ C} Σ_i w_i (y_ti - y*_ti)²``: the final-state cost with the velocity (and actuator
    torque) weighed separately from the position; a NaN target costs nothing.

    ``n_pos`` P positions (J angles or the hand's 2 coordinates); weights ``1`` on them, ``velocity``
    (s²) on the next P outputs and ``actuator`` on the rest.  ``velocity = actuator = 1`` is
    :class:`MaskedSquaredError`.
    """

    def __init__(self, n_pos: int, velocity: float = 1.0, actuator: float = 1.0) -> None:
        self.n_pos = int(n_pos)
        self.velocity = float(velocity)
        self.actuator = float(actuator)

    def weights(self, y: np.ndarray) -> np.ndarray:
        return state_weights(y.shape[-1], self.n_pos, 1.0, self.velocity, self.actuator).astype(y.dtype)

    def loss(self, activities, targets):
        y = activities[-1]
        return _none(activities) + [0.5 * _sum_but_batch(self.weights(y) * np.nan_to_num(y - targets) ** 2)]

    def d_loss(self, activities, targets):
        y = activities[-1]
        return _none(activities) + [self.weights(y) * np.nan_to_num(y - targets)]

    def d2_loss(self, activities, targets):
        y = activities[-1]
        d2 = np.where(np.isnan(targets), 0, self.weights(y)).astype(y.dtype)
        return _none(activities) + [np.broadcast_to(d2, y.shape).copy()]


class PathCost(hf.loss_funcs.LossFunction):
    """``½ Σ_t [distance |p_t - p*|² + velocity |v_t|²]``: a cost at every step of the reach.

    ``reference`` ``p*`` is ``(n, P)`` (joint angles, rad, or hand positions, m), fixed per trial, so
    the loss needs no per-step targets (hessianfree passes one target array to every loss of a set,
    sliced per step in ``calc_grad``); the velocities ``v_t`` are the P outputs after the positions.
    ``distance`` is dimensionless, ``velocity`` in s², both per step of ``dt``; the rest costs nothing.
    """

    def __init__(self, reference: np.ndarray, distance: float = 0.0, velocity: float = 0.0) -> None:
        self.q = np.asarray(reference)
        self.distance = float(distance)
        self.velocity = float(velocity)

    def _parts(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(weights (S,), y - [p*, 0, …])``."""
        j = self.q.shape[1]
        q = self.q if y.ndim == 2 else self.q[:, None, :]
        d = np.zeros_like(y)
        d[..., :j] = y[..., :j] - q
        d[..., j:2 * j] = y[..., j:2 * j]
        return state_weights(y.shape[-1], j, self.distance, self.velocity, 0.0).astype(y.dtype), d

    def loss(self, activities, targets):
        w, d = self._parts(activities[-1])
        return _none(activities) + [0.5 * _sum_but_batch(w * d ** 2)]

    def d_loss(self, activities, targets):
        w, d = self._parts(activities[-1])
        return _none(activities) + [w * d]

    def d2_loss(self, activities, targets):
        w, _ = self._parts(activities[-1])
        return _none(activities) + [np.broadcast_to(w, activities[-1].shape).copy()]


def make_losses(reference: np.ndarray, step_cost: float = 0.0, effort_cost: float = 0.0, *,
                final_velocity_cost: float = 1.0, final_actuator_cost: float = 1.0,
                step_velocity_cost: float = 0.0) -> Any:
    """The training loss of the module docstring for targets ``reference`` ``p*`` ``(n, P)``: joint
    angles ``q*`` (rad) for a joint-space cost, hand positions (m) for a hand-space one.

    With the default weights it is :class:`MaskedSquaredError` alone (the plain final-state cost).
    """
    n_pos = np.shape(reference)[1]
    losses: list[Any] = [MaskedSquaredError() if final_velocity_cost == 1 and final_actuator_cost == 1
                         else WeightedFinalState(n_pos, final_velocity_cost, final_actuator_cost)]
    if step_cost > 0 or step_velocity_cost > 0:
        losses.append(PathCost(reference, step_cost, step_velocity_cost))
    if effort_cost > 0:
        losses.append(hf.loss_funcs.SparseL2(effort_cost, layers=[3]))
    return losses[0] if len(losses) == 1 else hf.loss_funcs.LossSet(losses)
