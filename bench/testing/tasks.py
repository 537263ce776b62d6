"""Conformance of tasks and datasets: declared metrics, results, reproducibility, arrays."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..api import Metric, Result
from ..capabilities import (
    Images,
    describe_missing,
    lacks,
)
from ..guards import guarded
from .common import TIME_UNITS, _check_spec, _fail, _shrunk, _who


def _float_metric(who: str, key: Any, value: Any) -> float:
    if not isinstance(key, str):
        _fail(who, f"metric names must be strings, got {key!r}")
    if isinstance(value, bool) or not isinstance(value, (float, int, np.floating, np.integer)):
        _fail(who, f"metric {key!r} must be a number, got {type(value).__name__}")
    if math.isinf(float(value)):
        _fail(who, f"metric {key!r} is infinite (use NaN for 'never happened')")
    return float(value)


def check_task(task: Any, plant: Any, controller: Any, *, seed: int = 0, shrink: bool = True) -> None:
    """Check a :class:`bench.api.Task` running ``controller`` on ``plant``.

    Rules: ``METRICS`` maps names to :class:`bench.api.Metric`; ``run(plant,
    controller, seed, workdir=...)`` returns a :class:`bench.api.Result`
    whose metrics are numbers (NaN allowed, not infinity), each declared in
    ``METRICS`` or in the result's ``info``, whose frames are DataFrames and
    whose artifacts are existing files; a second run with the same seed
    gives the same metrics, except those measured in time units
    (:data:`TIME_UNITS`).  With ``shrink`` the task runs with its smallest
    budget (:func:`smallest_budget`, on a copy).
    """
    import pandas as pd

    who = _who("task", task)
    _check_spec(who, task)
    if not callable(getattr(task, "run", None)):
        _fail(who, "has no method run()")
    declared = getattr(task, "METRICS", None)
    if not isinstance(declared, Mapping) or not all(isinstance(m, Metric) for m in declared.values()):
        _fail(who, "METRICS must map metric names to bench.api.Metric")
    task = _shrunk(task) if shrink else task
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        for run in ("first", "second"):
            if callable(getattr(controller, "bind", None)):  # as bench.run does
                controller.bind(plant)
            with guarded(plant, controller, task):  # as bench.run does: dt, act outputs, observations checked
                result = task.run(plant, controller, seed, workdir=Path(tmp) / run)
            if not isinstance(result, Result):
                _fail(who, f"run must return a bench.api.Result, got {type(result).__name__}")
            metrics = {k: _float_metric(who, k, v) for k, v in result.metrics.items()}
            if not metrics:
                _fail(who, "run must return at least one metric")
            undeclared = sorted(k for k in metrics if k not in declared and not isinstance(result.info.get(k), Metric))
            if undeclared:
                _fail(who, f"metric(s) {', '.join(undeclared)} declared neither in METRICS nor in the result's info")
            for name, frame in result.frames.items():
                if not isinstance(frame, pd.DataFrame):
                    _fail(who, f"frame {name!r} must be a pandas DataFrame, got {type(frame).__name__}")
            for name, path in result.artifacts.items():
                if not isinstance(path, Path) or not path.exists():
                    _fail(who, f"artifact {name!r} must be the Path of a file the run wrote, got {path!r}")
            results.append((metrics, result.info))
    (first, info), (second, _) = results
    if set(first) != set(second):
        _fail(who, "run with the same seed must return the same metrics")
    for key, value in first.items():
        metric = info.get(key) or declared.get(key)
        if metric is not None and metric.unit in TIME_UNITS:
            continue
        if not (value == second[key] or (math.isnan(value) and math.isnan(second[key]))
                or math.isclose(value, second[key], rel_tol=1e-9, abs_tol=1e-12)):
            _fail(who, f"run with the same seed must give the same metrics; {key!r} was {value!r} then {second[key]!r}")


def check_dataset(dataset: Any, *, seed: int = 0) -> None:
    """Check a :class:`bench.api.Dataset` (the ``images`` capability).

    Rules: ``load(seed)`` returns four numpy arrays ``(x_train, y_train,
    x_test, y_test)``, none empty; images are finite real numbers of one
    shape, ``input_shape`` (known after ``load``); labels are 1-D integers
    in ``[0, n_classes)``, one per image, ``n_classes >= 2``; the same seed
    gives the same arrays.
    """
    who = _who("dataset", dataset)
    _check_spec(who, dataset)
    gaps = lacks(Images, dataset)
    if gaps:
        _fail(who, describe_missing({"images": gaps}).replace("claims", "a dataset needs"))
    split = dataset.load(seed)
    if not isinstance(split, (tuple, list)) or len(split) != 4:
        _fail(who, "load(seed) must return (x_train, y_train, x_test, y_test)")
    names = ("x_train", "y_train", "x_test", "y_test")
    for name, arr in zip(names, split):
        if not isinstance(arr, np.ndarray):
            _fail(who, f"load(seed): {name} must be a numpy array, got {type(arr).__name__}")
        if arr.shape[:1] == (0,) or arr.ndim == 0:
            _fail(who, f"load(seed): {name} is empty")
    x_train, y_train, x_test, y_test = split
    for name, x in (("x_train", x_train), ("x_test", x_test)):
        if x.dtype.kind not in "biuf" or x.ndim < 2:
            _fail(who, f"load(seed): {name} must be real-valued images (n, ...), got dtype {x.dtype}, shape {x.shape}")
        if not np.all(np.isfinite(x)):
            _fail(who, f"load(seed): {name} holds non-finite values")
    if x_train.shape[1:] != x_test.shape[1:]:
        _fail(who, f"load(seed): x_train images are {x_train.shape[1:]} but x_test images are {x_test.shape[1:]}")
    if tuple(dataset.input_shape) != x_train.shape[1:]:
        _fail(who, f"input_shape must be the shape of one image, {x_train.shape[1:]}, got {dataset.input_shape!r}")
    n_classes = dataset.n_classes
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        _fail(who, f"n_classes must be an int >= 2, got {n_classes!r}")
    for (xname, x), (yname, y) in (((names[0], x_train), (names[1], y_train)),
                                   ((names[2], x_test), (names[3], y_test))):
        if y.ndim != 1 or y.dtype.kind not in "iu":
            _fail(who, f"load(seed): {yname} must be 1-D integer labels, got dtype {y.dtype}, shape {y.shape}")
        if y.shape[0] != x.shape[0]:
            _fail(who, f"load(seed): {xname} has {x.shape[0]} images but {yname} {y.shape[0]} labels")
        if y.min() < 0 or y.max() >= n_classes:
            _fail(who, f"load(seed): {yname} has labels outside [0, {n_classes})")
    again = dataset.load(seed)
    if not all(isinstance(b, np.ndarray) and np.array_equal(a, b) for a, b in zip(split, again)):
        _fail(who, "load(seed) must return the same arrays for the same seed")
