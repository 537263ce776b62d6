"""The session layer: resolve names, build components, run one seed and record it.

Everything the commands (``bench run``, ``train``, ``sweep``, ``ci``) share
between "the user typed names and settings" and "a run is in the store":

* :func:`resolve` - names to specs, settings routed to their components and
  checked, the combination checked, ``dt`` checked against the task's
  durations, settings used only when training refused unless the run trains -
  before anything is built or run;
* :func:`build` and :func:`build_all` - components from their settings;
  :func:`train_first` - the learner trained before its run (``--train``);
* :func:`run_one` - build, run and store one seed; a failure is logged and
  stored as a failed run;
* :func:`train_run` - one training run (``TASK:train``, ``bench train``): the
  learner trained with one seed, its curve handed on as it grows;
* :func:`parse_seeds` and :func:`db_path` - the shared argument rules.

This layer sits above the plugins and the store and below the commands; it
never sees an ``argparse.Namespace``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shlex
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from . import settings as _settings
from .api import train_learner
from .errors import Incompatible, SettingError, StoreError, UsageError
from .guards import check_task
from .npzfile import uninterrupted
from .plugins import registry
from .registry import Spec, check_compatible
from .store import DEFAULT_DB

__all__ = [
    "Resolved",
    "build",
    "build_all",
    "controller",
    "dataset",
    "db_path",
    "learners",
    "parse_seeds",
    "plant",
    "resolve",
    "run_one",
    "stand_ins",
    "task",
    "train_first",
    "train_run",
]


# -- names and settings --------------------------------------------------------
def db_path(path: str | Path | None, *, must_exist: bool = False) -> Path:
    """The results store: ``path``, or ``.bench/results.sqlite`` when None, checked by
    :func:`bench.paths.store_file` (a folder, or a folder that does not exist, is refused; with
    ``must_exist``, for commands that only read, so is anything but an existing store file)."""
    from .paths import store_file

    if path is None:
        return store_file(DEFAULT_DB, must_exist=must_exist, create_folder=True)
    return store_file(path, must_exist=must_exist)


def parse_seeds(seeds: str | None = None, seed: str | int | None = None) -> list[int]:
    """The seeds of ``--seeds`` (``"5"`` → 0..4, ``"1,4,9"``) or ``--seed`` (one); default ``[0]``.

    A seed is an integer from 0 to 2**63 - 1 (what the store keeps); a command
    runs at most ``BENCH_MAX_SEEDS`` seeds (:mod:`bench.limits`), checked
    before any list is built.
    """
    from .limits import INT_MAX, check_count, max_seeds, parse_int

    if seeds is not None:
        text = str(seeds)
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not parts or not all(p.isascii() and p.isdigit() for p in parts):
            raise UsageError(f"--seeds expects a count (1 to {max_seeds():,}) or a list of seeds from 0 to "
                             f"{INT_MAX:,} (1,4,9), got {text[:40]!r}")
        if len(parts) == 1:
            digits = parts[0].lstrip("0")
            if not digits:
                raise UsageError(f"--seeds expects a count from 1 to {max_seeds():,}, got {parts[0]!r}")
            count = int(digits) if len(digits) <= 30 else None  # never parse thousands of digits
            return list(range(check_count(f"--seeds {parts[0][:40]}", count, "BENCH_MAX_SEEDS")))
        check_count(f"--seeds ({len(parts):,} seeds listed)", len(parts), "BENCH_MAX_SEEDS")
        values = [parse_int(p, "--seeds (each seed)") for p in parts]
        return list(dict.fromkeys(values))  # a seed named twice runs once
    if seed is None:
        return [0]
    return [parse_int(seed, "--seed")]


@dataclasses.dataclass(frozen=True)
class Resolved:
    """A checked (plant, controller, task) triple: specs, factories and routed settings.

    specs : (Spec, Spec, Spec)
        Plant (or dataset), controller and task.
    settings : dict of str to dict
        The ``key=value`` pairs of each component, by component name, not
        yet converted (:func:`build` converts and checks them).
    train : bool
        The learner is trained for this run (``bench train``; ``bench run
        --train``, see :func:`train_first`).
    task_trains : bool
        The task trains its controller in every run (:attr:`bench.api.Task.TRAINS`).
    """

    specs: tuple[Spec, Spec, Spec]
    settings: dict[str, dict[str, Any]]
    train: bool = False
    task_trains: bool = False


def settings_class(spec: Spec) -> type:
    """The ``Settings`` dataclass of a registered component (imports its factory)."""
    return getattr(spec.load(), "Settings", _settings.NoSettings)


def resolve(plant: str, controller: str, task: str, sets: Mapping[str, Any] | None = None,
            dt: str | float | None = None, *, train: bool = False, steps: bool = True,
            db: str | Path | None = None) -> Resolved:
    """Names to specs, ``sets`` routed to the components that declare them, everything checked.

    ``train``: the learner is trained for this run (``bench train``, ``bench
    run --train``); only then, or when the task trains its controller itself,
    are settings marked ``train_only`` accepted.  The plant's ``dt`` must
    divide every duration of the task (:func:`bench.guards.check_dt`; not
    checked with ``steps=False``, for a first pass over names only).  A
    ``weights`` setting of ``run:ID`` becomes the weights file of that run in
    the store ``db`` (:func:`weights_from_runs`).

    Raises :class:`~bench.errors.UnknownName`, :class:`~bench.errors.Incompatible`,
    :class:`~bench.errors.Unavailable` or :class:`~bench.errors.SettingError`
    for anything a user can get wrong, before anything is built or run.
    """
    reg = registry()
    pspec = reg.get_any(("plant", "dataset"), plant, "plant or dataset")
    cspec = reg.get("controller", controller)
    tspec = reg.get("task", task)
    specs = (pspec, cspec, tspec)
    check_compatible(*specs)  # before anything is imported
    if train and "learn" not in cspec.provides:
        raise Incompatible(f"controller {controller!r} does not learn; learners: "
                           + (", ".join(s.name for s in learners()) or "none"))
    if len({s.name for s in specs}) < 3:
        raise UsageError(f"plant, controller and task need distinct names, got {plant} {controller} {task}")
    factories = {s.name: s.load() for s in specs}
    check_compatible(*specs, factories={"plant": factories[pspec.name], "controller": factories[cspec.name],
                                        "task": factories[tspec.name]})
    comps = {s.name: (s.kind, getattr(factories[s.name], "Settings", _settings.NoSettings)) for s in specs}
    pairs = dict(sets or {})
    if dt is not None:
        if "dt" not in _settings.fields(comps[pspec.name][1]):
            raise SettingError(f"--dt: {pspec.kind} {plant!r} has no dt setting")
        pairs[f"{pspec.name}.dt"] = dt
    pairs = weights_from_runs(pairs, db, plants=(pspec.name,), controllers=(cspec.name,))
    routed = _settings.route(pairs, comps)
    built = {name: _settings.build(cls, routed[name], owner=name)  # types and ranges now, not after a long run
             for name, (_, cls) in comps.items()}
    task_trains = bool(getattr(factories[tspec.name], "TRAINS", False))
    if not (train or task_trains):
        _refuse_train_only(specs, comps, routed, sets, dt)
    if steps:
        _check_durations(pspec, tspec, routed, getattr(built[pspec.name], "dt", None))
    return Resolved(specs, routed, train=train, task_trains=task_trains)


RUN_PREFIX = "run:"


def _is_run_weights(key: str, value: Any) -> bool:
    return (key == "weights" or key.endswith(".weights")) and isinstance(value, str) and value.startswith(RUN_PREFIX)


def run_weights(value: str, db: str | Path | None, *, key: str = "weights", plants: Sequence[str] = (),
                controllers: Sequence[str] = ()) -> str:
    """The path of the weights file that ``bench train`` run ``ID`` (``value`` = ``run:ID``) saved.

    Refused (:class:`~bench.errors.SettingError`, one line) when the store ``db`` has no such run,
    the run recorded no ``weights`` artifact (or its file is gone), or the run trained another
    learner (the ``LEARNER`` of ``LEARNER.weights``, or none of ``controllers``) or another plant
    (none of ``plants``).  The component then sees only a path, hashed into the provenance as any
    other input file.
    """
    from .limits import parse_int
    from .store import Store

    text = value[len(RUN_PREFIX):].strip()
    if not (text.isascii() and text.isdigit()):
        raise SettingError(f"{key}={value[:40]}: expected run:ID with ID a run id (bench list)")
    run_id = parse_int(text, key)
    path = db_path(db, must_exist=True)
    try:
        row = Store(path).run(run_id)
    except StoreError:
        raise SettingError(f"{key}={value}: no run {run_id} in {path}") from None
    owner = key.rpartition(".")[0] if "." in key else None
    wanted = (owner,) if owner else tuple(controllers)
    if wanted and row.get("controller") not in wanted:
        raise SettingError(f"{key}={value}: run {run_id} holds weights of learner {row.get('controller')!r}, "
                           f"not {' or '.join(map(repr, wanted))}")
    if plants and row.get("plant") not in plants:
        raise SettingError(f"{key}={value}: run {run_id} trained on plant {row.get('plant')!r}, "
                           f"not {' or '.join(map(repr, plants))}")
    artifacts = row.get("artifacts") or {}
    weights = artifacts.get("weights") or artifacts.get("params")  # params: what classify saves of snn
    if not weights:
        raise SettingError(f"{key}={value}: run {run_id} ({row.get('plant')} {row.get('controller')} "
                           f"{row.get('task')}) has no weights; bench train saves them")
    if not Path(weights).is_file():
        raise SettingError(f"{key}={value}: the weights file of run {run_id} is gone: {weights}")
    return str(weights)


def weights_from_runs(pairs: Mapping[str, Any], db: str | Path | None, *, plants: Sequence[str] = (),
                      controllers: Sequence[str] = ()) -> dict[str, Any]:
    """``pairs`` with each ``weights`` / ``LEARNER.weights`` value ``run:ID`` replaced by that run's
    weights file (:func:`run_weights`); nothing else changes, and the store is opened only when needed."""
    return {key: run_weights(value, db, key=key, plants=plants, controllers=controllers)
            if _is_run_weights(key, value) else value for key, value in pairs.items()}


def weights_from_runs_items(items: Sequence[str], db: str | Path | None, *, plants: Sequence[str] = (),
                            controllers: Sequence[str] = ()) -> list[str]:
    """The ``KEY=V1,V2`` items of ``bench sweep --set``, each ``run:ID`` value of a weights key translated."""
    out = []
    for item in items:
        key, sep, values = str(item).partition("=")
        key = key.strip()
        if sep and RUN_PREFIX in values and (key == "weights" or key.endswith(".weights")):
            values = ",".join(run_weights(v.strip(), db, key=key, plants=plants, controllers=controllers)
                              if _is_run_weights(key, v.strip()) else v for v in values.split(","))
            item = f"{key}={values}"
        out.append(item)
    return out


def _refuse_train_only(specs: tuple[Spec, Spec, Spec], comps: Mapping[str, tuple[str, type]],
                       routed: Mapping[str, Mapping[str, Any]], sets: Mapping[str, Any] | None, dt: Any) -> None:
    """One line naming the settings only a training reads, and the command that trains with them."""
    used = [f"{name}.{key}" for name, (_, cls) in comps.items() for key in routed[name]
            if key in _settings.train_only(cls)]
    if not used:
        return
    what = f"setting {used[0]} is" if len(used) == 1 else f"settings {', '.join(used)} are"
    if "learn" not in specs[1].provides:
        raise SettingError(f"{what} used only when training, and controller {specs[1].name!r} does not learn")
    argv = ["bench", "train", *(s.name for s in specs), *(["--dt", str(dt)] if dt is not None else [])]
    argv += [part for key, value in (sets or {}).items() for part in ("--set", f"{key}={value}")]
    raise SettingError(f"{what} used only when training: {shlex.join(argv)} (or add --train to train first)")


def _check_durations(pspec: Spec, tspec: Spec, routed: Mapping[str, Mapping[str, Any]], dt: Any) -> None:
    """The plant's ``dt`` (a setting) against the task's :meth:`~bench.api.Task.durations`, and what one run
    would simulate against ``BENCH_MAX_STEPS_X_BATCH`` (:func:`bench.guards.check_task`)."""
    try:
        the_task = build("task", tspec.name, **routed[tspec.name])
    except Exception:  # a task that cannot be built fails in its run, where that is logged and stored
        return
    check_task(the_task, dt, who=f"{pspec.name}.dt")


def check_train_first(resolved: Resolved) -> None:
    """Refuse ``--train`` (:attr:`Resolved.train`) for a task that trains its controller in every run anyway."""
    if resolved.train and resolved.task_trains:
        _, controller, task = (s.name for s in resolved.specs)
        raise Incompatible(f"--train: task {task!r} trains controller {controller!r} itself in every run; "
                           f"leave --train out")


# -- building ------------------------------------------------------------------
def build(kind: str, name: str, **settings: Any) -> Any:
    """Build the registered ``kind`` called ``name`` from keyword settings.

    The settings are checked against the component's ``Settings`` dataclass
    (unknown key, wrong type or out-of-range value: :class:`SettingError`).
    """
    spec = registry().get(kind, name)
    factory = spec.load()
    values = _settings.build(getattr(factory, "Settings", _settings.NoSettings), settings, owner=name)
    obj = factory(values)
    obj.name = name
    obj.settings = values
    obj.spec = spec
    return obj


def plant(name: str, **settings: Any) -> Any:
    """A ready plant by name (a dataset name still works, with a deprecation warning)."""
    reg = registry()
    if ("plant", name) not in reg and ("dataset", name) in reg:
        warnings.warn(f"bench.plant({name!r}) builds a dataset; use bench.dataset({name!r})",
                      DeprecationWarning, stacklevel=2)
        return build("dataset", name, **settings)
    reg.get_any(("plant",), name, "plant")
    return build("plant", name, **settings)


def controller(name: str, **settings: Any) -> Any:
    """A ready controller, learner or classifier by name."""
    return build("controller", name, **settings)


def task(name: str, **settings: Any) -> Any:
    """A ready task by name."""
    return build("task", name, **settings)


def dataset(name: str, **settings: Any) -> Any:
    """A ready dataset by name."""
    return build("dataset", name, **settings)


def build_all(resolved: Resolved) -> tuple[Any, Any, Any]:
    """The three components of a :func:`resolve` d triple, built."""
    return tuple(build(s.kind, s.name, **resolved.settings[s.name]) for s in resolved.specs)  # type: ignore[return-value]


def stand_ins(resolved: Resolved) -> tuple[SimpleNamespace, ...]:
    """Objects with ``name``, built ``settings`` and whether they train: enough to describe a run without
    building it (the same settings and hash as the run, :func:`bench.api.trains`)."""
    marks = ({}, {"trained": resolved.train}, {"TRAINS": resolved.task_trains})
    return tuple(SimpleNamespace(name=s.name, settings=_settings.build(settings_class(s), resolved.settings[s.name],
                                                                       owner=s.name), **mark)
                 for s, mark in zip(resolved.specs, marks))


def train_first(resolved: Resolved, plant: Any, controller: Any, task: Any, *, seed: int,
                train_dir: str | Path | None = None, log: Any = None) -> None:
    """With :attr:`Resolved.train` (``bench run --train``), train ``controller`` before its run.

    From scratch (``fresh``), with the run's ``seed``, checkpoints in
    ``train_dir``; the same seed gives the same learner, and its
    ``train_only`` settings are then recorded with the run.  Nothing
    happens otherwise.
    """
    if not resolved.train:
        return
    if callable(getattr(controller, "bind", None)):
        controller.bind(plant)
    train_learner(controller, plant, task, seed=seed, fresh=True, workdir=train_dir, log=log)


#: Seconds between two partial results of a training run (:func:`train_run`): the curve a stopped training keeps
#: is at most this old (a learner's own checkpoints, ahf's, hold every iteration).
PROGRESS_S = 1.0


class _Throttle:
    """Hands ``sink`` the partial result ``make(curve)`` of the newest curve, at most every ``every`` seconds
    (the first at once); :meth:`flush` hands the newest one not yet handed."""

    def __init__(self, sink: Any, make: Any, every: float) -> None:
        import time

        self.sink, self.make, self.every, self.clock = sink, make, every, time.monotonic
        self.latest: Any = None
        self.sent_at: float | None = None

    def __call__(self, curve: Any) -> None:
        self.latest = curve
        if self.sent_at is None or self.clock() - self.sent_at >= self.every:
            self.flush()

    def flush(self) -> None:
        if self.latest is None:
            return
        curve, self.latest = self.latest, None
        self.sent_at = self.clock()
        self.sink(self.make(curve))


def train_run(resolved: Resolved, seed: int, *, train_dir: str | Path, fresh: bool = False, progress: Any = None,
              log: Any = None, suite: str | None = None, every: float = PROGRESS_S) -> Any:
    """One training run: the learner of ``resolved`` trained with ``seed``, as a :class:`~bench.api.Result` of
    task ``TASK:train`` (:func:`bench.runner.training_result`: the curve as the frame ``training``, its
    metrics, the saved weights as the artifact ``weights``).

    Checkpoints and the weights go to ``train_dir``.  A learner that resumes
    (:attr:`bench.api.Learner.RESUMES`: ``ahf``) continues from its checkpoints there unless ``fresh``; any
    other starts over (from new weights, without checkpoints).  ``progress(result)`` gets a
    partial result (the curve so far) at most every ``every`` seconds while the learner trains, and the
    newest one not yet handed when training stops with an exception (Ctrl-C included), which is re-raised.
    """
    import time

    from .capabilities import Saves
    from .runner import TRAIN_SUFFIX, provenance, run_name, training_result

    plant, learner, task = build_all(resolved)
    if callable(getattr(learner, "bind", None)):
        learner.bind(plant)
    learner.trained = True  # as train_learner sets it: its train_only settings shape the run (and its key)
    meta = provenance(plant, learner, task, seed, task_name=f"{task.name}{TRAIN_SUFFIX}", suite=suite)
    train_dir = Path(train_dir)
    t0, c0 = time.perf_counter(), time.process_time()

    def partial(curve: Any) -> Any:
        return training_result(plant, learner, task, seed, curve, time.perf_counter() - t0,
                               time.process_time() - c0, meta=meta)

    throttle = _Throttle(progress, partial, every) if progress is not None else None
    resumes = bool(getattr(learner, "RESUMES", False))
    try:  # a learner that does not resume starts over, and needs no checkpoints
        curve = train_learner(learner, plant, task, seed=seed, fresh=fresh or not resumes,
                              workdir=train_dir if resumes else None, log=log, progress=throttle)
    except BaseException:
        if throttle is not None:
            with contextlib.suppress(Exception):  # what stopped the training matters more than its last curve
                throttle.flush()
        raise
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    weights = None
    if isinstance(learner, Saves):  # the weights, for --set LEARNER.weights=run:ID
        name = run_name(plant.name, learner.name, f"{task.name}-train", meta["settings_hash"], seed)
        weights = learner.save(train_dir / f"{name}.npz")
    return training_result(plant, learner, task, seed, curve, wall, cpu, weights, meta=meta)


def learners() -> list[Spec]:
    """Every registered controller that provides ``learn``."""
    return [s for s in registry().specs("controller") if "learn" in s.provides]


# -- running -------------------------------------------------------------------
def run_one(resolved: Resolved, seed: int, store: Any, db: Path, *, suite: str | None = None,
            sink: list[Any] | None = None) -> Any:
    """Build, run and store one seed of ``resolved``; returns the stored :class:`~bench.api.Result`.

    With ``sink``, the stored result is also appended to it, in one step with
    storing it that an interrupt cannot split (so a caller's count of stored
    runs is right even after Ctrl-C).

    The run is claimed in the store first (:mod:`bench.claims`; while another
    live process holds the same experiment and seed, this waits for it), and
    then replaces the stored run of its experiment and seed, if any (its id is
    then ``result.meta["replaced"]``): the store keeps one run per seed.  The
    run works in ``<db folder>/runs/<run name>`` (removed when it wrote
    nothing).  An exception is logged under ``<db folder>/logs`` (its path set
    as ``exc.bench_log``), the run stored as failed when its components could
    be built (``exc.bench_run_id``), and re-raised.
    """
    from .claims import Claims
    from .npzfile import recording
    from .provenance import add_reads
    from .runner import failed_result, provenance, run, run_name, write_log

    db = Path(db).resolve()  # work folders and logs are stored as absolute paths
    built, workdir, claim = None, None, None
    with Claims(store) as claims:  # leaving it releases the claim of a run that did not complete
        try:
            built = build_all(resolved)
            if resolved.train:
                built[1].trained = True  # its train_only settings shape the run (and its key)
            meta = provenance(*built, seed, suite=suite)
            claim = claims.wait_claim(meta, rerun=True)
            train_first(resolved, *built, seed=seed, train_dir=db.parent / "train")  # only with --train
            workdir = db.parent / "runs" / run_name(*(c.name for c in built), meta["settings_hash"], seed)
            workdir.mkdir(parents=True, exist_ok=True)
            with recording() as reads:
                result = run(*built, seed=seed, workdir=workdir, suite=suite)
            add_reads(result.meta.setdefault("provenance", {}), reads)
            if claim.previous is not None:
                result.meta["replaced"] = claim.run_id
            with uninterrupted():
                claims.complete(claim, result)
                if sink is not None:
                    sink.append(result)
            return result
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            log = write_log(db.parent / "logs", f"{'-'.join(s.name for s in resolved.specs)}-seed{seed}")
            exc.bench_log = log  # type: ignore[attr-defined]
            if built is not None:  # a run that could be built is stored as failed
                failed = failed_result(*built, seed, log, suite=suite)
                claims.complete(claim, failed, status="failed", error=f"{type(exc).__name__}: {exc}")
                exc.bench_run_id = failed.run_id  # type: ignore[attr-defined]
            raise
        finally:
            if workdir is not None:
                try:
                    workdir.rmdir()  # only if the run wrote nothing there
                except OSError:
                    pass
