"""Argument checks shared by the built-in plants.

The plants' ``step`` is called millions of times, so the checks are split in
two: a fast path (shape and dtype, in plain Python) that runs on every call,
and a slow diagnosis that runs only when a result is not finite.  A
non-finite result is blamed on the argument that holds a NaN or infinity
(:class:`~bench.errors.InvalidArgument`) or, when every argument is finite,
on the simulation itself (:class:`~bench.errors.Diverged`).

Dtype rule: float32 and float64 arrays keep their dtype; integer and bool
arrays are promoted to float64; anything else is refused.  The input ``u``
takes the dtype of the state ``x``.
"""

from __future__ import annotations

import numpy as np

from bench.errors import Diverged, InvalidArgument

FLOAT_TYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_array(a: object, name: str, who: str) -> np.ndarray:
    """``a`` as a float32 / float64 array (ints and bools become float64)."""
    a = np.asarray(a)
    if a.dtype in FLOAT_TYPES:
        return a
    if a.dtype.kind in "biu":
        return a.astype(np.float64)
    raise InvalidArgument(f"{who}: {name} must be an array of real numbers, got dtype {a.dtype}")


def state_batch(x: object, size: int, who: str, name: str = "x") -> np.ndarray:
    """``x`` checked to be an ``(n, size)`` float batch (n >= 1)."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != size or x.shape[0] < 1:
        raise InvalidArgument(f"{who}: {name} must have shape (n, {size}) with n >= 1, got {x.shape}")
    if x.dtype not in FLOAT_TYPES:
        x = as_float_array(x, name, who)
    return x


def input_batch(u: object, n: int, size: int, dtype: np.dtype, who: str, name: str = "u") -> np.ndarray:
    """``u`` checked to be ``(n, size)`` and cast to ``dtype``."""
    u = np.asarray(u)
    if u.shape != (n, size):
        raise InvalidArgument(f"{who}: {name} must have shape ({n}, {size}) to match x, got {u.shape}")
    if u.dtype != dtype:
        if u.dtype.kind not in "biuf":
            raise InvalidArgument(f"{who}: {name} must be an array of real numbers, got dtype {u.dtype}")
        u = u.astype(dtype)
    return u


def require_finite(a: np.ndarray, name: str, who: str, what: str = "") -> None:
    """Raise :class:`InvalidArgument` naming the first row of ``a`` holding NaN or inf."""
    bad = ~np.isfinite(a)
    if bad.any():
        row = int(np.argmax(bad.reshape(a.shape[0], -1).any(axis=1))) if a.ndim > 1 else int(np.argmax(bad))
        raise InvalidArgument(f"{who}: {name} must be finite{what}; row {row} is {np.asarray(a[row]).tolist()}")


def diagnose(who: str, out: np.ndarray, **arguments: np.ndarray) -> None:
    """Called when a result may not be finite: blame an argument or the simulation.

    Raises :class:`InvalidArgument` if one of ``arguments`` holds a NaN or
    infinity, :class:`Diverged` if they are finite but ``out`` is not, and
    returns quietly if everything is finite after all (a sum overflowed).
    """
    for name, a in arguments.items():
        require_finite(a, name, who)
    bad = ~np.isfinite(out)
    if bad.any():
        row = int(np.argmax(bad.reshape(out.shape[0], -1).any(axis=1)))
        raise Diverged(f"{who}: the result is not finite (row {row}) although every argument is: "
                       f"the simulation diverged; use a smaller dt or smaller inputs")
