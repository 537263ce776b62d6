"""The runner: one run = (plant, controller, task, settings, seed).

:func:`run` binds the controller to the plant, calls the task, times it (wall
and CPU), and records what is needed to reproduce and compare the run: names,
settings and their hash, seed, ctrlbench and dependency versions, the git
commit.  Given a :class:`~bench.store.Store` it writes the run in one
transaction.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import platform
import subprocess
import time
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from . import settings as _settings
from .api import Metric, Result, trains
from .errors import BenchError
from .guards import guarded
from .registry import check_compatible

#: Distributions whose versions every run records (when installed).
KEY_DEPENDENCIES = ("numpy", "pandas", "pluggy", "gymnasium", "hessianfree", "tensorflow", "tf-keras",
                    "nengo", "nengo-dl", "scikit-learn")


@functools.cache
def versions() -> dict[str, str]:
    """Installed versions of ctrlbench and its key dependencies."""
    out = {"python": platform.python_version()}
    for dist in ("ctrlbench", *KEY_DEPENDENCIES):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


@functools.cache
def git_commit() -> str | None:
    """The commit of the ctrlbench checkout (``+dirty`` if modified), or None."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "") if sha else None


def code_version() -> str:
    """What identifies the code of a run: ctrlbench version and commit."""
    commit = git_commit()
    return f"{versions().get('ctrlbench', '0')}" + (f"+{commit}" if commit else "")


def describe(plant: Any, controller: Any, task: Any) -> tuple[dict[str, dict[str, Any]], str]:
    """The settings that shape a run of the three components, and their hash.

    Settings marked ``train_only`` are left out unless the run trains the
    controller (:func:`bench.api.trains`).
    """
    trained = trains(controller, task)
    parts = {
        "plant": {"name": plant.name, **_settings.as_dict(plant.settings, trained=trained)},
        "controller": {"name": controller.name, **_settings.as_dict(controller.settings, trained=trained)},
        "task": {"name": task.name, **_settings.as_dict(task.settings, trained=trained)},
    }
    return parts, _settings.settings_hash(parts)


def run_name(plant: str, controller: str, task: str, settings_hash: str, seed: int) -> str:
    """The name of one run's work folder and log: ``arm2-osc-reach-<hash8>-seed0``."""
    return f"{plant}-{controller}-{task}-{settings_hash[:8]}-seed{seed}"


def write_log(log_dir: Path, label: str, text: str | None = None) -> Path:
    """``text`` (default: the traceback being handled) in ``log_dir/<time>-<label>.log``; returns the path."""
    import traceback

    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    log = Path(log_dir) / f"{stamp}-{label}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(traceback.format_exc() if text is None else text)
    return log


def provenance(plant: Any, controller: Any, task: Any, seed: int, *, task_name: str | None = None,
               suite: str | None = None) -> dict[str, Any]:
    """What identifies a run: names, settings and their hash, seed, versions, commit, host, and each
    component's provenance (:mod:`bench.provenance`) with the experiment key and fingerprint they give."""
    from . import provenance as _prov

    settings, shash = describe(plant, controller, task)
    task_name = task_name or task.name
    comps = _prov.components(plant, controller, task)
    version = code_version()
    return {"plant": plant.name, "controller": controller.name, "task": task_name, "seed": seed,
            "settings": settings, "settings_hash": shash,
            "started_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "versions": versions(), "git_commit": git_commit(), "code_version": version,
            "host": platform.node(), "suite": suite, "label": f"{plant.name}/{controller.name}/{task_name}/seed{seed}",
            "provenance": comps, "fingerprint": _prov.fingerprint(comps),
            "experiment": _prov.experiment_key(plant.name, controller.name, task_name, shash, version, comps)}


def run(plant: Any, controller: Any, task: Any, seed: int = 0, *, store: Any = None,
        workdir: str | Path | None = None, suite: str | None = None) -> Result:
    """Run ``task`` with ``controller`` on ``plant`` for one ``seed``.

    The three components are ready objects (``bench.plant(...)``, ...).  The
    result's ``meta`` holds the provenance; with ``store`` (a path, opened as
    a :class:`~bench.store.Store`, or a ``Store``) the run is saved and
    ``result.run_id`` set.  The same seed gives the same metrics.  Bad
    arguments are refused before anything runs.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise BenchError(f"seed must be a non-negative integer, got {seed!r}")
    store = _as_store(store)
    specs = [getattr(o, "spec", None) for o in (plant, controller, task)]
    if all(s is not None for s in specs):
        check_compatible(*specs)
    if hasattr(controller, "bind"):
        controller.bind(plant)
    meta = provenance(plant, controller, task, seed, suite=suite)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    with guarded(plant, controller, task):  # dt against the task's durations; every act and observation checked
        result = task.run(plant, controller, seed, workdir=Path(workdir) if workdir else None)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    if not isinstance(result, Result):
        raise BenchError(f"task {task.name!r} returned {type(result).__name__}, not a bench.Result")
    result.meta.update(meta, wall_s=wall, cpu_s=cpu)
    if store is not None:
        store.save(result)
    return result


def _as_store(store: Any) -> Any:
    """``store`` as something with ``save(result)``: a path opens a Store; anything else is refused."""
    from .store import Store

    if store is None or isinstance(store, Store):
        return store
    if isinstance(store, (str, os.PathLike)):
        return Store(store)
    if callable(getattr(store, "save", None)):  # a duck-typed store worked before: keep it, say it is going
        warnings.warn(f"bench.run(store=...) with a {type(store).__name__} is deprecated; pass a path or a "
                      f"bench.store.Store", DeprecationWarning, stacklevel=3)
        return store
    raise BenchError(f"store must be a path (str or os.PathLike) or a bench.store.Store, "
                     f"got {type(store).__name__} {store!r:.60}")


def failed_result(plant: Any, controller: Any, task: Any, seed: int, log_path: Path | None,
                  suite: str | None = None, task_name: str | None = None) -> Result:
    """An empty result carrying the provenance of a run that raised (``task_name``: ``TASK:train`` for a
    training run)."""
    r = Result(metrics={})
    r.meta.update(provenance(plant, controller, task, seed, suite=suite, task_name=task_name),
                  log_path=str(log_path) if log_path else None)
    return r


#: What a training run's task name ends with: ``reach:train`` is the training of a learner for ``reach``.
TRAIN_SUFFIX = ":train"
#: The metric every training run reports besides its learner's :attr:`bench.api.Learner.TRAINING_METRICS`.
TRAIN_WALL = Metric("s", "", "wall time of the training session (this call; a resumed curve's wall_s goes on)")


def training_task(name: str) -> tuple[str, bool]:
    """``("reach", True)`` for ``"reach:train"``, ``("reach", False)`` for ``"reach"``."""
    return (name[: -len(TRAIN_SUFFIX)], True) if name.endswith(TRAIN_SUFFIX) else (name, False)


def training_result(plant: Any, controller: Any, task: Any, seed: int, curve: Any, wall: float,
                    cpu: float, weights: str | os.PathLike | None = None, *,
                    meta: dict[str, Any] | None = None, suite: str | None = None) -> Result:
    """A training session as a storable run of task ``TASK:train`` (``bench train``).

    ``curve`` is the learner's training history (one row per batch or
    iteration); its last row's numbers become the metrics ``last_<column>``,
    the learner adds its own (:meth:`bench.api.Learner.training_metrics`:
    times to a threshold, with unit and direction), and the whole table is
    kept as the frame ``training`` so that reports draw the learning curve.
    ``weights``, the file the trained weights were saved to, is recorded as
    the artifact ``weights`` (what ``--set LEARNER.weights=run:ID`` loads).
    ``meta``: the provenance, when already taken (:func:`provenance` with
    ``task_name="TASK:train"``; a training run's partial results reuse it).
    """
    import pandas as pd

    last = curve.iloc[-1] if len(curve) else pd.Series(dtype=float)
    metrics = {f"last_{k}": float(v) for k, v in last.items()
               if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)}
    info: dict[str, Metric] = {}
    declared = getattr(controller, "TRAINING_METRICS", {}) or {}
    own = getattr(controller, "training_metrics", None)
    if callable(own) and len(curve):
        for name, value in own(curve, task).items():
            metrics[name] = float(value)
            if name in declared:
                info[name] = declared[name]
    metrics["train_wall_s"] = wall
    info["train_wall_s"] = TRAIN_WALL
    r = Result(metrics=metrics, frames={"training": curve.reset_index(drop=True)}, info=info,
               artifacts={"weights": Path(weights).resolve()} if weights is not None else {})
    if meta is None:
        meta = provenance(plant, controller, task, seed, task_name=f"{task.name}{TRAIN_SUFFIX}", suite=suite)
    r.meta.update(meta, wall_s=wall, cpu_s=cpu)
    return r
