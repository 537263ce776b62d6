"""Conformance of controllers and learners: batched act, determinism, training, save and load."""

from __future__ import annotations

import inspect
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..capabilities import (
    Acts,
    Kinematics,
    Learns,
    describe_missing,
    lacks,
)
from .common import _TIMING, _check_spec, _fail, _shape, _shrunk, _who, smallest_budget


def check_controller(controller: Any, plant: Any, *, n: int = 4, seed: int = 0, steps: int = 3) -> None:
    """Check a :class:`bench.api.Controller` acting on ``plant``.

    ``bind`` + ``reset`` + batched ``act`` for a few steps: shape ``(n, U)``,
    finite, inputs untouched, and the same result for the same seed.
    """
    who = _who("controller", controller)
    _check_spec(who, controller)
    for attr in ("reset", "act"):
        if not callable(getattr(controller, attr, None)):
            _fail(who, f"has no method {attr}()")
    if callable(getattr(controller, "bind", None)):
        controller.bind(plant)
    first = _rollout(who, controller, plant, n, seed, steps)
    second = _rollout(who, controller, plant, n, seed, steps)
    if not np.allclose(first, second):
        _fail(who, "act must give the same inputs after reset with the same seed")


def _rollout(who: str, controller: Any, plant: Any, n: int, seed: int, steps: int) -> np.ndarray:
    """``(steps, n, U)`` inputs of ``steps`` closed-loop steps from seeded start states."""
    rng = np.random.default_rng(seed)
    controller.reset(n, rng)
    x = plant.initial_state(n, np.random.default_rng(seed))
    target = None
    if isinstance(plant, Kinematics):
        start = plant.hand(x[:, : plant.n_joints])
        ang = 2 * np.pi * np.arange(n) / n
        target = start + 0.05 * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    outs = []
    for _ in range(steps):
        obs = plant.observation(x)
        obs_copy = obs.copy()
        u = _shape(who, "act(observation, target)", np.asarray(controller.act(obs, target)),
                   (n, plant.input_size))
        if not np.array_equal(obs, obs_copy):
            _fail(who, "act must not modify the observation")
        outs.append(u)
        x = plant.step(x, u.astype(x.dtype))
    return np.stack(outs)


def _timing_column(name: Any) -> bool:
    return bool(_TIMING.search(str(name).lower()))


def _same_curve(a: Any, b: Any) -> str | None:
    """Why two learning curves differ outside their timing columns (None: they do not)."""
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return f"{len(a)} rows {list(a.columns)} then {len(b)} rows {list(b.columns)}"
    for col in a.columns:
        if _timing_column(col):
            continue
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if x.dtype.kind in "biuf" and y.dtype.kind in "biuf":
            same = np.allclose(x.astype(float), y.astype(float), rtol=1e-9, atol=1e-12, equal_nan=True)
        else:
            same = [str(v) for v in x] == [str(v) for v in y]
        if not same:
            return f"column {col!r}"
    return None


def _train_keywords(train: Any) -> tuple[set[str], bool]:
    try:
        params = inspect.signature(train).parameters
    except (TypeError, ValueError):
        return set(), True
    return set(params), any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())



def check_learner(learner: Any, plant: Any, task: Any = None, *, seed: int = 0, shrink: bool = True,
                  n: int = 4, steps: int = 3) -> None:
    """Check a :class:`bench.api.Learner` training on ``plant`` for ``task``.

    Rules: it can act and learn (``reset``, ``act``, ``train``, ``save``,
    ``load``); ``train`` takes ``seed``, ``fresh``, ``workdir`` and ``log``
    (:meth:`bench.api.Learner.train`); a fresh training returns the learning
    curve as a DataFrame with at least one row, and a second one with the
    same seed gives the same curve (timing columns aside); the trained
    learner passes :func:`check_controller`; ``save`` writes a file that
    ``load`` reads into a new learner with the same settings, which then acts
    exactly as the trained one.  A ``train`` that declares ``progress`` calls
    it with the curve so far (a DataFrame), the last time with the curve it
    returns.

    With ``shrink`` (default) the learner's and the task's budget settings
    are set to their smallest allowed values for the check
    (:func:`smallest_budget`; the learner's settings are restored after).
    Budgets a learner reads from the task need ``task``.
    """
    who = _who("learner", learner)
    _check_spec(who, learner)
    gaps = {token: lacks(protocol, learner) for token, protocol in (("act", Acts), ("learn", Learns))}
    gaps = {token: names for token, names in gaps.items() if names}
    if gaps:
        _fail(who, "a learner must act and learn: " + describe_missing(gaps).replace("claims", "needs"))
    params, var_kw = _train_keywords(learner.train)
    if "rng" in params and "seed" not in params:
        _fail(who, "train(plant, task, *, rng) is the deprecated signature; accept seed=... "
                   "(see bench.api.Learner.train)")
    lacking = [k for k in ("seed", "fresh", "workdir", "log") if k not in params and not var_kw]
    if lacking:
        _fail(who, f"train must accept the keywords seed, fresh, workdir and log (bench.api.Learner.train); "
                   f"it lacks {', '.join(lacking)}")
    import pandas as pd

    task = _shrunk(task) if shrink else task
    saved = learner.settings
    try:
        if shrink:
            learner.settings = smallest_budget(saved)
        with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
            root = Path(tmp)
            curves, acts = [], []
            for run in ("first", "second"):
                lines: list[str] = []
                seen: list[Any] = []
                if callable(getattr(learner, "bind", None)):
                    learner.bind(plant)
                extra = {"progress": seen.append} if "progress" in params else {}
                curve = learner.train(plant, task, seed=seed, fresh=True, workdir=root / run, log=lines.append,
                                      **extra)
                if not isinstance(curve, pd.DataFrame):
                    _fail(who, "train must return the learning curve as a pandas DataFrame, "
                               f"got {type(curve).__name__}")
                if len(curve) < 1:
                    _fail(who, "train must return a learning curve with one row per iteration or batch, got none")
                if not all(isinstance(line, str) for line in lines):
                    _fail(who, "train must call log(line) with strings")
                if extra and (not seen or not all(isinstance(c, pd.DataFrame) for c in seen)
                              or _same_curve(seen[-1], curve)):
                    _fail(who, "train(progress=...) must call progress(curve so far) with DataFrames after each "
                               "iteration or batch, the last with the curve it returns")
                curves.append(curve)
                acts.append(_rollout(who, learner, plant, n, seed, steps))
            why = _same_curve(*curves)
            if why:
                _fail(who, f"train with the same seed must give the same learning curve (timings aside); {why} differs")
            if not np.allclose(acts[0], acts[1], equal_nan=True):
                _fail(who, "train with the same seed must give the same learner; it acts differently after a "
                           "second training")
            check_controller(learner, plant, n=n, seed=seed, steps=steps)
            trained = acts[1]
            path = learner.save(root / "weights.npz")
            if not isinstance(path, Path) or not path.is_file():
                _fail(who, f"save(path) must write a file and return its Path, got {path!r}")
            try:
                clone = type(learner)(learner.settings)
            except Exception as exc:
                _fail(who, f"a new learner with the same settings cannot be built to load into: {exc}")
            clone.name = getattr(learner, "name", "")
            if callable(getattr(clone, "bind", None)):
                clone.bind(plant)
            clone.load(path)
            if not np.allclose(_rollout(who, clone, plant, n, seed, steps), trained, equal_nan=True):
                _fail(who, "a learner that loads the saved weights must act as the trained one")
    finally:
        learner.settings = saved
