"""Shared rules of the conformance checks: failing, naming, budgets, shapes."""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from typing import Any

import numpy as np

from ..capabilities import (
    describe_missing,
    missing_capabilities,
)
from ..errors import ConformanceError

#: Integer settings that size a training or an experiment; the checks set them to their smallest allowed value.
BUDGET_SETTINGS = frozenset({
    "batches", "batch_steps", "iterations", "epochs", "episodes", "eval_episodes", "max_steps", "targets",
    "cg_iter", "fixed_iters",
})

#: Units of metrics that measure wall time (left out of the determinism checks).
TIME_UNITS = frozenset({"s", "ms", "µs", "us", "ns"})
_TIMING = re.compile(r"(^|_)(ms|us|µs|ns|s|sec|secs|seconds|time|wall)(_|$)")


def _fail(who: str, rule: str) -> None:
    raise ConformanceError(f"{who}: {rule}")


def _who(kind: str, obj: Any) -> str:
    return f"{kind} {getattr(obj, 'name', '') or type(obj).__name__}"


def _check_spec(who: str, obj: Any) -> None:
    """The Protocols of the tokens the object's registration claims (when it has one)."""
    spec = getattr(obj, "spec", None)
    gaps = missing_capabilities(getattr(spec, "provides", ()), obj)
    if gaps:
        _fail(who, describe_missing(gaps))


def smallest_budget(settings: Any) -> Any:
    """A copy of ``settings`` whose budget fields (:data:`BUDGET_SETTINGS`) hold the smallest value allowed.

    Only integer fields are changed, and only downwards: to the declared
    lower bound (``ge``/``gt``), at least 1.  Anything that is not a
    dataclass instance is returned as it is.
    """
    if settings is None or isinstance(settings, type) or not dataclasses.is_dataclass(settings):
        return settings
    changes = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if f.name not in BUDGET_SETTINGS or not f.init or isinstance(value, bool) or not isinstance(value, int):
            continue
        meta = f.metadata or {}
        low = 1
        if meta.get("ge") is not None:
            low = max(low, math.ceil(meta["ge"]))
        if meta.get("gt") is not None:
            low = max(low, math.floor(meta["gt"]) + 1)
        if low < value:
            changes[f.name] = low
    return dataclasses.replace(settings, **changes) if changes else settings


def _shape(who: str, what: str, arr: Any, shape: tuple[int, ...]) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        _fail(who, f"{what} must return a numpy array, got {type(arr).__name__}")
    if arr.shape != shape:
        _fail(who, f"{what} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        _fail(who, f"{what} returned non-finite values")
    return arr


def _states(plant: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` start states, jittered so the checks do not sit on one point."""
    x = np.asarray(plant.initial_state(n, rng), dtype=float)
    return x + 0.05 * rng.standard_normal(x.shape)

def _shrunk(obj: Any) -> Any:
    """A shallow copy of a task with :func:`smallest_budget` settings (``obj`` itself if nothing shrinks)."""
    if obj is None:
        return None
    small = smallest_budget(getattr(obj, "settings", None))
    if small is getattr(obj, "settings", None):
        return obj
    out = copy.copy(obj)
    out.settings = small
    return out
