"""Open-loop rollouts of any plant, with divergence reported by step.

``simulate(plant, x0, inputs)`` steps a batch through a sequence of inputs
and returns the whole trajectory.  When a state stops being finite it raises
:class:`bench.errors.Diverged` naming the step, never returning NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.errors import Diverged, InvalidArgument

from .validation import require_finite, state_batch


def simulate(plant: Any, x0: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """``(T+1, n, S)`` states from ``(n, S)`` ``x0`` under ``(T, n, U)`` ``inputs``.

    The dtype of ``x0`` is kept.  Raises :class:`~bench.errors.Diverged`
    naming the first step whose state is not finite, and
    :class:`~bench.errors.InvalidArgument` for bad shapes or non-finite
    arguments.
    """
    who = f"simulate({getattr(plant, 'name', '') or type(plant).__name__})"
    x = state_batch(x0, plant.state_size, who, "x0")
    require_finite(x, "x0", who)
    u = np.asarray(inputs)
    n = x.shape[0]
    if u.ndim != 3 or u.shape[1:] != (n, plant.input_size):
        raise InvalidArgument(f"{who}: inputs must have shape (T, {n}, {plant.input_size}), got {u.shape}")
    if u.dtype.kind not in "biuf":
        raise InvalidArgument(f"{who}: inputs must be real numbers, got dtype {u.dtype}")
    bad = ~np.isfinite(u)
    if bad.any():
        k = int(np.argmax(bad.reshape(u.shape[0], -1).any(axis=1)))
        raise InvalidArgument(f"{who}: inputs must be finite; step {k} holds NaN or inf")
    u = u.astype(x.dtype, copy=False)
    steps = u.shape[0]
    out = np.empty((steps + 1, n, plant.state_size), dtype=x.dtype)
    out[0] = x
    for k in range(steps):
        try:
            x = plant.step(x, u[k])
        except Diverged as exc:
            raise Diverged(f"{who}: state not finite at step {k + 1} of {steps} ({exc})") from None
        if not np.isfinite(x).all():
            raise Diverged(f"{who}: state not finite at step {k + 1} of {steps}")
        out[k + 1] = x
    return out
