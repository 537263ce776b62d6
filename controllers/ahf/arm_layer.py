"""An arm plant as the last layer of a ``hessianfree`` recurrent network.

``hessianfree`` (0.4.0) lets a stateful :class:`hessianfree.nonlinearities.Plant`
be both the *input generator* of an :class:`~hessianfree.RNNet` (layer 0 reads
``plant(previous output)`` every step) and its *last layer* (a stateful
nonlinearity whose input is the network's output).  For a stateful layer
``d_activation`` must return, per trial, three ``(S, S)`` Jacobians stacked on
the last axis:

* ``[..., 0]`` d new state / d layer input  (``d_input``)
* ``[..., 1]`` d new state / d old state    (``d_state``)
* ``[..., 2]`` d layer output / d new state (``d_output``)

because ``RNNet.calc_grad`` / ``calc_G`` propagate ``R_state = d_state R_state
+ d_input R_input`` and ``R_output = d_output R_state``.  All three must have
the same shape, so the layer is ``S`` wide: its input is ``S`` numbers of
which the first ``U`` are the joint torques (the rest are unused, with zero
derivative), and its output is the arm state ``[q..., dq...]`` (or, with
``output="hand"``, the hand's position and velocity and the rest of the state,
with the Jacobian of that map as ``d_output``; for costs in hand space).

The Jacobians come from the plant's batched ``jacobians(x, u)`` for the whole
batch in one call (analytic where the plant provides them, batched central
differences otherwise); they are only computed when hessianfree asks for
derivatives, never during the error evaluations of its line search.

A state guard keeps a bad update from blowing up the simulation: every state
component beyond ``±guard`` is squashed smoothly, ``g(x) = sign(x) (guard +
tanh(|x| - guard))`` (value and slope continuous at the threshold).
"""

from __future__ import annotations

from typing import Any

import hessianfree as hf
import numpy as np


def squash(x: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """The state guard and its elementwise derivative.

    Identity inside ``[-limit, limit]``, ``sign(x) (limit + tanh(|x| - limit))``
    outside.  Returns ``(g(x), g'(x))``.
    """
    ax = np.abs(x)
    over = ax > limit
    if not over.any():
        return x, np.ones_like(x)
    t = np.tanh(np.where(over, ax - limit, 0.0))
    y = np.where(over, np.sign(x) * (limit + t), x)
    dy = np.where(over, 1.0 - t * t, 1.0)
    return y.astype(x.dtype, copy=False), dy.astype(x.dtype, copy=False)


class ArmPlantLayer(hf.nl.Plant):
    """A batched ``bench`` arm as hessianfree's input generator and last layer.

    Parameters
    ----------
    arm : bench.api.ArmModel
        Simulated with ``arm.step``; derivatives from ``arm.jacobians``.
    target_state : ndarray (n, S) or (n, T, S)
        Joint-space targets ``[q*, 0]`` (rad, rad/s), one per trial, or one
        per trial and step (a target that moves, e.g. back to the start).
    start_state : ndarray (n, S) or (S,)
        State every trial starts from.
    steps : int
        Sequence length ``T`` (the reach lasts ``T · arm.dt`` seconds).
    cost_steps : sequence of int
        Steps whose state is compared with the target (default: the last);
        every other step has a NaN target, i.e. no cost.
    dtype : numpy dtype
        The network's float type; inputs, outputs and Jacobians use it.
    guard : float
        State squashing threshold (rad and rad/s).
    input_center, input_scale : float or ndarray (S,)
        The network input is ``[(target - center) / scale, (state - center) / scale]``
        (centred on the start posture, so the target-dependent part is not
        swamped by the constant joint angles).
    output : ``"joint"`` or ``"hand"``
        What the layer outputs (and the loss sees): the arm state, or
        :meth:`hand_output` of it, ``[hand (2, m), hand velocity (2, m/s),
        the rest of the state (actuator torques, N·m), zeros]`` (``S`` numbers
        still; an arm of at least two joints).  With ``"hand"`` the targets are
        mapped alike, ``d_output`` is the Jacobian of that map, and a loss that
        is elementwise in hand space gets its exact Gauss-Newton curvature.
    """

    def __init__(self, arm: Any, target_state: np.ndarray, start_state: np.ndarray, steps: int,
                 dtype: Any = np.float64, guard: float = 2 * np.pi, input_center: Any = 0.0,
                 input_scale: Any = 1.0, cost_steps: Any = (-1,), output: str = "joint") -> None:
        super().__init__(stateful=True)
        self.arm = arm
        if output not in ("joint", "hand") or (output == "hand" and int(arm.n_joints) < 2):
            raise ValueError(f"ArmPlantLayer output {output!r}: 'joint' (the state), or 'hand' for an arm of "
                             f"2 or more joints")
        self.output = output
        self.dtype = np.dtype(dtype)
        self.n_state = int(arm.state_size)
        self.n_input = int(arm.input_size)
        self.steps = int(steps)
        n = np.shape(target_state)[0]
        self.start_state = np.broadcast_to(np.asarray(start_state, dtype=self.dtype), (n, self.n_state)).copy()
        self.guard = float(guard)
        self.shape = [n, self.steps, 2 * self.n_state]
        # the network sees (state - center) / scale for both halves of its input
        self.input_center = np.broadcast_to(np.asarray(input_center, dtype=self.dtype), (self.n_state,)).copy()
        self.input_scale = np.broadcast_to(np.asarray(input_scale, dtype=self.dtype), (self.n_state,)).copy()
        self.retarget(target_state, cost_steps)
        self._eye = np.broadcast_to(np.eye(self.n_state, dtype=self.dtype), (n, self.n_state, self.n_state))
        self.plant_seconds = 0.0  # time spent in arm.step / arm.jacobians (profiling)
        self.reset()

    def retarget(self, target_state: np.ndarray, cost_steps: Any = (-1,)) -> None:
        """Set the targets (same number of trials): ``target_state`` ``(n, S)`` or ``(n, T, S)``
        (rad, rad/s), compared with the state at ``cost_steps``."""
        target_state = np.asarray(target_state, dtype=self.dtype)
        n = target_state.shape[0]
        if target_state.ndim == 2:
            target_state = np.broadcast_to(target_state[:, None, :], (n, self.steps, target_state.shape[1]))
        self.target_state = target_state  # (n, T, S)
        self.targets = np.full((n, self.steps, self.n_state), np.nan, dtype=self.dtype)
        for k in cost_steps:
            self.targets[:, k] = self.output_of(target_state[:, k])
        self._target_input = (self.target_state - self.input_center) / self.input_scale

    # -- output map -------------------------------------------------------------
    def output_of(self, state: np.ndarray) -> np.ndarray:
        """``(n, S)`` layer output for ``(n, S)`` arm states (the state itself, or :meth:`hand_output`)."""
        return state if self.output == "joint" else self.hand_output(state)

    def hand_output(self, state: np.ndarray) -> np.ndarray:
        """``[hand (m), J(q) dq (m/s), state[2J:], 0 …]`` of ``(n, S)`` states (float64 kinematics)."""
        j = int(self.arm.n_joints)
        x = np.asarray(state, dtype=float)
        out = np.zeros_like(x)
        out[:, :2] = self.arm.hand(x[:, :j])
        out[:, 2:4] = np.einsum("nik,nk->ni", self.arm.hand_jacobian(x[:, :j]), x[:, j:2 * j])
        rest = x.shape[1] - 2 * j
        out[:, 4:4 + rest] = x[:, 2 * j:]
        return out.astype(self.dtype, copy=False)

    def output_jacobian(self, state: np.ndarray) -> np.ndarray:
        """``(n, S, S)`` d output / d state; for ``"hand"`` the velocity rows' d(J(q) dq)/dq by central
        differences of the arm's ``hand_jacobian`` (step 1e-6 rad)."""
        n, s = state.shape
        if self.output == "joint":
            return self._eye[:n]
        j = int(self.arm.n_joints)
        x = np.asarray(state, dtype=float)
        q, dq = x[:, :j], x[:, j:2 * j]
        out = np.zeros((n, s, s))
        jac = self.arm.hand_jacobian(q)
        out[:, :2, :j] = jac
        out[:, 2:4, j:2 * j] = jac
        eps = 1e-6
        for m in range(j):
            d = np.zeros(j)
            d[m] = eps
            dj = (self.arm.hand_jacobian(q + d) - self.arm.hand_jacobian(q - d)) / (2 * eps)
            out[:, 2:4, m] = np.einsum("nik,nk->ni", dj, dq)
        for i in range(s - 2 * j):
            out[:, 4 + i, 2 * j + i] = 1.0
        return out.astype(self.dtype, copy=False)

    def hand_of(self, output: np.ndarray) -> np.ndarray:
        """``(n, 2)`` hand positions (m) from ``(n, S)`` layer outputs."""
        if self.output == "hand":
            return np.asarray(output[:, :2], dtype=float)
        return self.arm.hand(np.asarray(output[:, : self.arm.n_joints], dtype=float))

    # -- input generator ------------------------------------------------------
    def __call__(self, _previous_output: np.ndarray | None) -> np.ndarray:
        """The network input for this step: normalised ``[target state, current state]``."""
        k = min(len(self._recorded), self.steps - 1)
        inp = np.concatenate([self._target_input[:, k], (self.state - self.input_center) / self.input_scale], axis=1)
        self._recorded.append(inp)
        return inp

    def get_vecs(self) -> tuple[np.ndarray, np.ndarray]:
        """``(inputs (n, T, 2S), targets (n, T, S))`` of the last rollout."""
        return np.stack(self._recorded, axis=1), self.targets

    def reset(self, init: np.ndarray | None = None) -> None:
        self.state = (self.start_state if init is None else np.asarray(init, dtype=self.dtype)).copy()
        self._recorded: list[np.ndarray] = []
        self._pending: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    # -- last layer -----------------------------------------------------------
    def activation(self, x: np.ndarray) -> np.ndarray:
        """Step the arm with torques ``x[:, :U]``; returns the new (guarded) state's output."""
        import time

        t0 = time.perf_counter()
        u = x[:, : self.n_input]
        raw = self.arm.step(self.state, u)
        self.plant_seconds += time.perf_counter() - t0
        if not np.all(np.isfinite(raw)):
            raise FloatingPointError(f"the arm's state is not finite after step {len(self._recorded) or '?'}")
        new, slope = squash(np.asarray(raw, dtype=self.dtype), self.guard)
        self._pending = (self.state, u, slope)
        self.state = new
        return self.output_of(new)

    def d_activation(self, x: np.ndarray, a: np.ndarray) -> np.ndarray:
        """``(n, S, S, 3)``: d_input, d_state, d_output (at the new state) of the last step."""
        import time

        if self._pending is None:
            raise RuntimeError("ArmPlantLayer.d_activation called before activation")
        old, u, slope = self._pending
        t0 = time.perf_counter()
        dx, du = self.arm.jacobians(old, u)
        self.plant_seconds += time.perf_counter() - t0
        n, s = old.shape
        out = np.zeros((n, s, s, 3), dtype=self.dtype)
        out[:, :, : self.n_input, 0] = slope[:, :, None] * du
        out[:, :, :, 1] = slope[:, :, None] * dx
        out[:, :, :, 2] = self.output_jacobian(self.state)
        return out
