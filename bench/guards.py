"""Checks the runner makes for every task, so that no task has to.

* :func:`check_dt` - a plant step that does not divide a task's durations
  (:meth:`bench.api.Task.durations`) is refused, naming the nearest valid
  steps; the session layer calls it before a run, :func:`guarded` again at
  its start (Python API users).
* :func:`guarded` - for the duration of one run, every ``controller.act``
  output is checked for shape ``(n, U)`` and finiteness, and every
  ``plant.observation`` for shape ``(n, O)`` (``O``: the plant's
  ``observation_size``, else its ``state_size``).  A failure names the step
  (the how-many-th call in this run), the component and the shapes.

The checks are instance attributes that shadow the methods and are removed
when the run ends: the components are not wrapped in proxies, so
``type(plant)``, ``isinstance`` and ``inspect.signature`` see what they saw
(a component without an instance ``__dict__``, one with ``__slots__``, is
left unchecked).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from .errors import ConformanceError, Diverged, SettingError

__all__ = ["check_dt", "check_task", "check_work", "guarded", "nearest_dts"]

#: Relative tolerance of "a whole number of steps".
RTOL = 1e-9


def _period(durations: Mapping[str, float]) -> float:
    """The longest step that divides every duration (their greatest common divisor, as fractions)."""
    fracs = [Fraction(float(d)).limit_denominator(10**9) for d in durations.values()]
    den = math.lcm(*(f.denominator for f in fracs))
    return math.gcd(*(int(f * den) for f in fracs)) / den


def _round(value: float) -> bool:
    """Whether ``value`` has at most 3 significant digits (0.0025, 0.1; not 0.00298507)."""
    return math.isclose(float(f"{value:.3g}"), value, rel_tol=1e-12)


def _step_counts(start: int, stop: int) -> range:
    """Step counts from ``start`` towards ``stop`` (at most 100000 of them)."""
    direction = 1 if stop >= start else -1
    stop = start + direction * min(abs(stop - start), 100_000)
    return range(start, stop + direction, direction)


def nearest_dts(dt: float, durations: Mapping[str, float]) -> list[float]:
    """Valid steps just below and just above ``dt`` (one when ``dt`` exceeds every valid step).

    A valid step is the durations' common period divided by a whole number;
    within a factor of two of ``dt`` a round one (3 significant digits) is
    preferred to the very nearest.
    """
    period = _period(durations)
    ratio = period / float(dt)
    out = []
    below = max(1, math.ceil(ratio))  # step counts: more steps = a shorter dt
    if period / below < dt:
        out.append(next((period / k for k in _step_counts(below, 2 * below) if _round(period / k)), period / below))
    above = math.floor(ratio)
    if above >= 1 and period / above > dt:
        out.append(next((period / k for k in _step_counts(above, math.ceil(above / 2)) if _round(period / k)),
                        period / above))
    return out


def _whole(ratio: float) -> bool:
    k = round(ratio)
    return k >= 1 and abs(ratio - k) <= RTOL * k


def check_dt(dt: float, durations: Mapping[str, float], who: str = "dt") -> None:
    """Refuse a step ``dt`` (s) that does not divide each of ``durations`` (name → seconds).

    A duration must be a whole number of steps within a relative ``1e-9``.
    Raises :class:`~bench.errors.SettingError`, one line naming the first
    duration that does not fit and the nearest valid steps.
    """
    durations = {k: float(v) for k, v in durations.items() if v is not None and float(v) > 0}
    if not durations or dt is None:
        return
    dt = float(dt)
    for name, length in durations.items():
        ratio = length / dt
        if not _whole(ratio):
            valid = " or ".join(f"{v:.12g}" for v in nearest_dts(dt, durations))
            steps = "less than one step" if ratio < 1 else f"{ratio:.4g} steps"
            raise SettingError(f"{who} {dt:g} s does not divide {name} = {length:g} s ({steps}); "
                               f"nearest valid dt: {valid} s")


def check_work(dt: float | None, durations: Mapping[str, float], who: str = "dt", batch: int = 1,
               steps: Mapping[str, float] | None = None, trials: str = "") -> None:
    """Refuse a run of more than ``BENCH_MAX_STEPS_X_BATCH`` (:mod:`bench.limits`) steps × trials: its longest
    trial (the longest of ``durations`` in steps of ``dt``, or of ``steps``, name → a step count) × ``batch``.
    One :class:`~bench.errors.SettingError` line names the setting and the limit."""
    from .limits import LIMITS, max_steps_x_batch

    seconds = {k: float(v) for k, v in durations.items() if v is not None and float(v) > 0}
    counts = {k: v / float(dt) for k, v in seconds.items()} if dt is not None and float(dt) > 0 else {}
    counts.update({k: float(v) for k, v in (steps or {}).items() if v is not None})
    if not counts:
        return
    name, n = max(counts.items(), key=lambda kv: kv[1])
    batch = max(1, int(batch))
    work, most = n * batch, max_steps_x_batch()
    if work <= most:  # nan and inf are refused too
        return
    what = (f"{who} {float(dt):g} s with {name} = {seconds[name]:g} s: {n:.3g} steps" if name in seconds
            else f"{name} = {n:.3g} steps")
    trials = f" × {batch:,} trials" + (f" ({trials})" if trials else "") if batch > 1 else ""
    total = f" = {work:.3g}" if batch > 1 else ""
    raise SettingError(f"{what}{trials}{total}, more than the {LIMITS['BENCH_MAX_STEPS_X_BATCH'][1]} "
                       f"allowed (at most {most:,}; set BENCH_MAX_STEPS_X_BATCH to allow more)")


def check_task(task: Any, dt: float | None, who: str = "dt") -> None:
    """What the runner checks of ``task`` before a run at plant step ``dt``: :func:`check_work` (its
    :meth:`~bench.api.Task.durations`, :meth:`~bench.api.Task.steps` and :meth:`~bench.api.Task.batch`),
    then :func:`check_dt`."""
    def call(name: str, default: Any) -> Any:
        method = getattr(task, name, None)
        return method() if callable(method) else default

    durations = call("durations", {})
    check_work(dt, durations, who, call("batch", 1), call("steps", {}), str(getattr(task, "BATCH", "") or ""))
    if dt is not None:
        check_dt(dt, durations, who)


# -- the run guards ------------------------------------------------------------
def _name(kind: str, obj: Any) -> str:
    return f"{kind} {getattr(obj, 'name', '') or type(obj).__name__!r}"


def _act_guard(act: Callable[..., Any], controller: Any, plant: Any) -> Callable[..., Any]:
    who, inputs = _name("controller", controller), getattr(plant, "input_size", None)
    calls = 0

    @functools.wraps(act)
    def guarded_act(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        out = act(*args, **kwargs)
        obs = args[0] if args else kwargs.get("observation")
        n = np.shape(obs)[0] if np.ndim(obs) >= 1 else None
        arr = np.asarray(out)
        want = (n, inputs if inputs is not None else (arr.shape[1] if arr.ndim == 2 else "U"))
        if arr.shape != want:
            raise ConformanceError(f"{who}: act() at step {calls} returned shape {arr.shape}; "
                                   f"{_name('plant', plant)} takes inputs of shape "
                                   f"({n}, {want[1]}) for {n} observations")
        if arr.dtype.kind not in "biuf":
            raise ConformanceError(f"{who}: act() at step {calls} returned {arr.dtype} values, not numbers")
        finite = np.isfinite(arr)
        if not finite.all():
            raise Diverged(f"{who}: act() at step {calls} returned non-finite inputs "
                           f"({int(arr.size - finite.sum())} of {arr.size} values)")
        return out

    return guarded_act


def _observation_guard(observation: Callable[..., Any], plant: Any) -> Callable[..., Any]:
    who = _name("plant", plant)
    size = getattr(plant, "observation_size", None) or getattr(plant, "state_size", None)
    calls = 0

    @functools.wraps(observation)
    def guarded_observation(x: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        out = observation(x, *args, **kwargs)
        n = np.shape(x)[0] if np.ndim(x) >= 1 else None
        shape = np.shape(out)
        if shape != (n, size if size is not None else (shape[1] if len(shape) == 2 else "O")):
            raise ConformanceError(f"{who}: observation() at step {calls} returned shape {shape} for {n} states; "
                                   f"its observation_size is {size}, so ({n}, {size}) was expected")
        return out

    return guarded_observation


def _shadow(obj: Any, attr: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Callable[[], None]:
    """Shadow the method ``obj.attr`` by ``make(method)`` on the instance; returns what undoes it."""
    method = getattr(obj, attr, None)
    own = getattr(obj, "__dict__", None)
    if not callable(method) or own is None:
        return lambda: None
    had, before = attr in own, own.get(attr)
    try:
        setattr(obj, attr, make(method))
    except (AttributeError, TypeError):  # a read-only attribute: left unguarded
        return lambda: None

    def undo() -> None:
        if had:
            setattr(obj, attr, before)
        else:
            with contextlib.suppress(AttributeError):
                delattr(obj, attr)

    return undo


@contextlib.contextmanager
def guarded(plant: Any, controller: Any, task: Any = None) -> Iterator[None]:
    """Check ``controller.act`` and ``plant.observation`` on every call while the block runs.

    With ``task``, its :meth:`~bench.api.Task.durations` are first checked
    against ``plant.dt`` (:func:`check_dt`).  Raises
    :class:`~bench.errors.ConformanceError` for a wrong shape or dtype and
    :class:`~bench.errors.Diverged` for a non-finite controller output.
    """
    if task is not None:
        check_task(task, getattr(plant, "dt", None), who=f"{getattr(plant, 'name', '') or 'plant'}.dt")
    undo = []
    try:
        if callable(getattr(plant, "observation", None)):
            undo.append(_shadow(plant, "observation", lambda m: _observation_guard(m, plant)))
        if callable(getattr(controller, "act", None)):
            undo.append(_shadow(controller, "act", lambda m: _act_guard(m, controller, plant)))
        yield
    finally:
        for step in reversed(undo):
            step()
