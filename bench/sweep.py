"""Sweeps: many runs from comma lists, ``--set`` value lists and seeds.

``bench sweep arm2 osc,pd reach --set osc.kp=100,200 --seeds 5`` is the
cartesian product of plants × controllers × tasks × every ``--set`` value list
× seeds.  :func:`plan` expands it and checks everything a user can get wrong
before anything runs: an unknown name or setting, a bad value, or an empty
product is one :class:`~bench.errors.BenchError` (exit 2); a combination that
cannot work (a task needing a capability the plant lacks, a plugin whose
dependencies are missing) is refused with one line and the rest still run.

:func:`run_sweep` executes the plan on an executor that follows the
``concurrent.futures`` interface:

* ``local`` - one process per core (``ProcessPoolExecutor`` with the
  ``forkserver`` start method: TensorFlow is not fork-safe), or in this
  process when ``jobs == 1``;
* ``dask`` - a ``dask.distributed`` cluster through ``Client.get_executor()``.

Workers only compute: each returns its :class:`~bench.api.Result` (or the
error of a run that raised) and the coordinator alone writes the store, one
transaction per run, as results arrive.  So a Ctrl-C or a worker that dies
keeps every completed run, and rerunning the same command runs only what is
missing: a run already stored with the same settings hash, seed and code
version is skipped unless ``rerun`` is set.

A value that itself holds commas (a tuple setting such as ``hidden=32,32``)
is written with ``;`` inside a sweep: ``--set hidden=32;32,64;64`` sweeps the
two tuples ``(32, 32)`` and ``(64, 64)``.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import platform
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from . import settings as _settings
from .errors import BenchError, Incompatible, SettingError, SweepError, Unavailable

EXECUTORS = ("local", "dask")


# -- planning ----------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Job:
    """One run of a sweep: everything a worker needs, as plain picklable values.

    sets : tuple of (key, value) strings
        The ``--set`` pairs of this combination, already restricted to the
        keys its components declare.
    settings_hash : str
        Hash of the full settings (defaults included), as the runner records it.
    workroot : str
        Folder under which the run gets its own working directory.
    """

    plant: str
    controller: str
    task: str
    sets: tuple[tuple[str, str], ...]
    dt: str | None
    seed: int
    settings_hash: str
    suite: str | None = None
    workroot: str = ".bench/runs"

    @property
    def label(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in self.sets) + (f" dt={self.dt}" if self.dt else "")
        return f"{self.plant} {self.controller} {self.task}{extra} seed {self.seed}"


@dataclasses.dataclass
class Plan:
    """An expanded sweep: the jobs to run and the combinations refused up front."""

    jobs: list[Job]
    refused: list[str]
    combinations: int


def split_names(text: str, what: str) -> list[str]:
    """``"osc,pd"`` → ``["osc", "pd"]`` (order kept, duplicates dropped)."""
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise SweepError(f"empty sweep: no {what} name in {text!r}")
    return names


def split_values(key: str, text: str) -> list[str]:
    """``"100,200"`` → ``["100", "200"]``; ``;`` stays inside one value (tuples)."""
    values = list(dict.fromkeys(v.strip() for v in str(text).split(",") if v.strip()))
    if not values:
        raise SweepError(f"empty sweep: --set {key}= has no value")
    return values


def _components(specs: Sequence[Any]) -> dict[str, tuple[str, type]]:
    return {s.name: (s.kind, getattr(s.load(), "Settings", _settings.NoSettings)) for s in specs}


def _describe(specs: Sequence[Any], routed: dict[str, dict[str, Any]]) -> tuple[SimpleNamespace, ...]:
    """Stand-ins with ``name`` and built ``settings``, enough for :func:`bench.runner.describe`."""
    comps = _components(specs)
    return tuple(SimpleNamespace(name=s.name, settings=_settings.build(comps[s.name][1], routed[s.name], owner=s.name))
                 for s in specs)


def plan(plants: str | Iterable[str], controllers: str | Iterable[str], tasks: str | Iterable[str],
         sets: Sequence[str] | dict[str, Any] = (), seeds: Sequence[int] = (0,), dt: str | None = None,
         suite: str | None = None, workroot: str | os.PathLike = ".bench/runs") -> Plan:
    """Expand a sweep into jobs, checking names, settings and compatibility first.

    ``plants``, ``controllers``, ``tasks`` are comma lists (or lists of names);
    ``sets`` is ``["key=v1,v2", ...]`` (or a mapping of key to a comma list or
    a list of values); ``dt`` a comma list of seconds.  Raises
    :class:`~bench.errors.UnknownName` / :class:`SettingError` /
    :class:`SweepError` for bad input; incompatible combinations are listed in
    :attr:`Plan.refused` instead.
    """
    from .cli import resolve
    from .plugins import registry
    from .runner import describe

    def names(value: str | Iterable[str], what: str) -> list[str]:
        return split_names(value if isinstance(value, str) else ",".join(value), what)

    plist, clist, tlist = names(plants, "plant"), names(controllers, "controller"), names(tasks, "task")
    reg = registry()
    for n in plist:
        reg.get_any(("plant", "dataset"), n, "plant or dataset")
    for n in clist:
        reg.get("controller", n)
    for n in tlist:
        reg.get("task", n)
    if isinstance(sets, dict):
        pairs = {k: (list(map(str, v)) if isinstance(v, (list, tuple)) else split_values(k, v)) for k, v in sets.items()}
    else:
        pairs = {k: split_values(k, v) for k, v in _settings.parse_pairs(list(sets)).items()}
    pairs = {k: [v.replace(";", ",") for v in vs] for k, vs in pairs.items()}
    dts: list[str | None] = split_values("dt", dt) if dt is not None else [None]
    seeds = list(dict.fromkeys(int(s) for s in seeds))
    if not seeds:
        raise SweepError("empty sweep: no seeds")

    refused: list[str] = []
    applies: dict[str, list[bool]] = {k: [] for k in pairs}
    first_error: dict[str, BenchError] = {}
    triples = []
    for p, c, t in itertools.product(plist, clist, tlist):
        try:
            specs, _ = resolve(p, c, t, {}, None)
        except (Incompatible, Unavailable) as exc:
            refused.append(str(exc))
            continue
        comps = _components(specs)
        keep = []
        for key, values in pairs.items():
            try:
                _settings.route({key: values[0]}, comps)
                keep.append(key)
                applies[key].append(True)
            except SettingError as exc:
                if "ambiguous" in str(exc):
                    raise
                first_error.setdefault(key, exc)
                applies[key].append(False)
        has_dt = "dt" in _settings.fields(comps[specs[0].name][1])
        triples.append((p, c, t, keep, has_dt))
    for key, flags in applies.items():
        if flags and not any(flags):
            raise first_error[key]
    if dt is not None and triples and not any(has for *_, has in triples):
        raise SettingError(f"--dt: no plant in {', '.join(plist)} has a dt setting")

    jobs: list[Job] = []
    combos = 0
    for p, c, t, keep, has_dt in triples:
        seen: set[str] = set()
        for values in itertools.product(*(pairs[k] for k in keep), dts if has_dt else [None]):
            chosen = tuple(zip(keep, values[:-1]))
            step = values[-1]
            specs, routed = resolve(p, c, t, dict(chosen), step)
            _, shash = describe(*_describe(specs, routed))
            if shash in seen:
                continue
            seen.add(shash)
            combos += 1
            jobs.extend(Job(p, c, t, chosen, step, s, shash, suite, str(workroot)) for s in seeds)
    if not jobs:
        why = f"every combination was refused ({len(refused)})" if refused else "the product is empty"
        raise SweepError(f"empty sweep: nothing to run; {why}")
    return Plan(jobs, refused, combos)


# -- the work a worker does ----------------------------------------------------
@dataclasses.dataclass
class Outcome:
    """What a worker sends back: the result, or the error of a run that raised."""

    job: Job
    result: Any = None
    error: str | None = None
    traceback: str | None = None
    worker: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def execute(job: Job) -> Outcome:
    """Build and run one job; never raises for a failing run (its error is returned).

    Runs inside a worker process (local pool or Dask); writes nothing but the
    run's own working directory.
    """
    from .cli import build_all, resolve
    from .runner import run, run_name

    worker = f"{platform.node()}:{os.getpid()}"
    t0 = time.perf_counter()
    workdir = Path(job.workroot) / run_name(job.plant, job.controller, job.task, job.settings_hash, job.seed)
    try:
        specs, routed = resolve(job.plant, job.controller, job.task, dict(job.sets), job.dt)
        plant, controller, task = build_all(specs, routed)
        workdir.mkdir(parents=True, exist_ok=True)
        result = run(plant, controller, task, seed=job.seed, workdir=workdir, suite=job.suite)
        result.meta["worker"] = worker
        return Outcome(job, result=result, worker=worker, seconds=time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - a failing run is data, the sweep goes on
        return Outcome(job, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(),
                       worker=worker, seconds=time.perf_counter() - t0)
    finally:
        try:
            workdir.rmdir()  # only when the run wrote nothing there
        except OSError:
            pass


# -- progress --------------------------------------------------------------------
class Progress:
    """Completed / failed / remaining and ETA: a rich bar on a terminal, one line per run otherwise."""

    def __init__(self, total: int, *, quiet: bool = False, stream: Any = None) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.t0 = time.perf_counter()
        self._bar = None
        if not quiet and getattr(self.stream, "isatty", lambda: False)():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as Bar

            self._bar = Bar(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("[green]{task.fields[ok]} ok [red]{task.fields[failed]} failed "
                                       "[/]{task.fields[left]} left"),
                            TextColumn("ETA"), TimeRemainingColumn(), TimeElapsedColumn(),
                            console=Console(file=self.stream), transient=False)
            self._task = self._bar.add_task("sweep", total=total, ok=0, failed=0, left=total)
            self._bar.start()

    def update(self, outcome: Outcome | None, status: str) -> None:
        """Count one finished job (``status``: ok, failed or lost)."""
        self.done += 1
        self.failed += status != "ok"
        left = self.total - self.done
        if self._bar is not None:
            self._bar.update(self._task, advance=1, ok=self.done - self.failed, failed=self.failed, left=left)
        elif not self.quiet:
            elapsed = time.perf_counter() - self.t0
            eta = elapsed / self.done * left
            what = outcome.job.label if outcome is not None else "?"
            extra = f": {outcome.error}" if outcome is not None and outcome.error else ""
            print(f"[{self.done}/{self.total}] {status:<6} {what}{extra}   "
                  f"({self.failed} failed, {left} left, ETA {eta:.0f} s)", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


# -- executing -------------------------------------------------------------------
@dataclasses.dataclass
class SweepReport:
    """What a sweep did: stored run ids by status, skipped and lost jobs."""

    ok: list[int] = dataclasses.field(default_factory=list)
    failed: list[int] = dataclasses.field(default_factory=list)
    skipped: list[Job] = dataclasses.field(default_factory=list)
    skipped_ids: list[int] = dataclasses.field(default_factory=list)
    lost: list[tuple[Job, str]] = dataclasses.field(default_factory=list)
    interrupted: bool = False

    @property
    def run_ids(self) -> list[int]:
        """Ids of every stored run of the sweep: run now (ok or failed) or skipped as already stored."""
        return sorted(self.ok + self.failed + self.skipped_ids)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed or self.lost else 0

    def line(self) -> str:
        parts = [f"{len(self.ok)} ok", f"{len(self.failed)} failed", f"{len(self.skipped)} skipped (already stored)"]
        if self.lost:
            parts.append(f"{len(self.lost)} lost (worker died; rerun the same command to complete them)")
        if self.interrupted:
            parts.append("interrupted (completed runs kept; rerun to resume)")
        return ", ".join(parts)


def default_jobs() -> int:
    """Worker processes by default: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class _InProcess:
    """The ``concurrent.futures`` interface, running each job here when asked for its result."""

    def submit(self, fn: Callable[..., Any], *args: Any):
        import concurrent.futures as cf

        fut: cf.Future = cf.Future()
        fut._bench_call = (fn, args)  # type: ignore[attr-defined]
        return fut

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def _executor(kind: str, jobs: int, scheduler: str | None, client: Any):
    """(executor, closer) for ``local`` or ``dask``."""
    if kind == "local":
        if jobs <= 1:
            return _InProcess(), lambda: None
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context(method))
        return pool, lambda: pool.shutdown(wait=False, cancel_futures=True)
    if kind == "dask":
        try:
            from dask.distributed import Client
        except ImportError:
            raise SweepError("--executor dask needs dask.distributed; install ctrlbench[dist]") from None
        own = client is None
        if own:
            if not scheduler:
                raise SweepError("--executor dask needs --scheduler tcp://HOST:PORT")
            import dask
            from dask.utils import parse_timedelta

            # at most 10 s, less when dask's connect timeout says so
            timeout = min(10.0, parse_timedelta(dask.config.get("distributed.comm.timeouts.connect")))
            try:
                client = Client(scheduler, timeout=timeout)
            except (OSError, TimeoutError, ValueError) as exc:
                raise SweepError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        ex = client.get_executor(pure=False)

        def close() -> None:
            ex.shutdown(wait=False)
            if own:
                client.close()

        return ex, close
    raise SweepError(f"unknown executor {kind!r}; choose one of {', '.join(EXECUTORS)}")


def run_sweep(sweep: Plan, store: Any, *, executor: str = "local", jobs: int | None = None,
              scheduler: str | None = None, client: Any = None, rerun: bool = False, quiet: bool = False,
              log_dir: str | os.PathLike | None = None, stream: Any = None,
              on_outcome: Callable[[Outcome, int | None], None] | None = None) -> SweepReport:
    """Run ``sweep`` and store each run as it arrives; only this process writes ``store``.

    ``executor`` is ``"local"`` (``jobs`` processes, default one per core) or
    ``"dask"`` (``scheduler`` address, or a ready ``client``).  A job already
    stored (same plant, controller, task, settings hash, seed and code
    version, status ok) is skipped unless ``rerun``.  A run that raised is
    stored with status ``failed``, its error, and a log of its traceback under
    ``log_dir``.  A job whose worker died is reported as lost and not stored.
    ``on_outcome(outcome, run_id)`` is called after each stored run.
    """
    import concurrent.futures as cf

    from .runner import code_version, failed_result, run_name, write_log

    log_dir = Path(log_dir) if log_dir is not None else Path(store.path).parent / "logs"
    report = SweepReport()
    version = code_version()
    todo = []
    for job in sweep.jobs:
        found = None if rerun else store.find(job.plant, job.controller, job.task, job.settings_hash, job.seed,
                                               version)
        if found is not None:
            report.skipped.append(job)
            report.skipped_ids.append(found)
        else:
            todo.append(job)
    if not todo:
        return report
    progress = Progress(len(todo), quiet=quiet, stream=stream)
    workers = jobs if jobs is not None else default_jobs()
    pool, close = _executor(executor, min(workers, len(todo)), scheduler, client)

    def store_outcome(out: Outcome) -> None:
        if out.ok:
            run_id = store.save(out.result)
            report.ok.append(run_id)
        else:
            job = out.job
            log = write_log(log_dir, run_name(job.plant, job.controller, job.task, job.settings_hash, job.seed),
                            f"{job.label}\nworker {out.worker}\n\n{out.traceback}")
            from .cli import resolve

            specs, routed = resolve(job.plant, job.controller, job.task, dict(job.sets), job.dt)
            failed = failed_result(*_describe(specs, routed), job.seed, log, suite=job.suite)
            failed.meta["host"] = out.worker.rsplit(":", 1)[0] or failed.meta.get("host")
            run_id = store.save(failed, status="failed", error=out.error)
            report.failed.append(run_id)
        progress.update(out, "ok" if out.ok else "failed")
        if on_outcome is not None:
            on_outcome(out, report.ok[-1] if out.ok else report.failed[-1])

    futures: dict[Any, Job] = {}
    consumed: set[Any] = set()
    old_term = _term_as_interrupt()
    try:
        if isinstance(pool, _InProcess):
            for job in todo:
                store_outcome(execute(job))
        else:
            futures = {pool.submit(execute, job): job for job in todo}
            for fut in cf.as_completed(futures):
                consumed.add(fut)
                try:
                    out = fut.result()
                except Exception as exc:  # noqa: BLE001 - the worker died (BrokenProcessPool, KilledWorker)
                    report.lost.append((futures[fut], f"{type(exc).__name__}: {exc}"))
                    progress.update(Outcome(futures[fut], error=f"lost: {type(exc).__name__}"), "lost")
                    continue
                store_outcome(out)
    except KeyboardInterrupt:
        report.interrupted = True
        for fut in futures:
            fut.cancel()
        try:  # keep what finished while we were being interrupted
            for fut in futures:
                if fut not in consumed and fut.done() and not fut.cancelled() and fut.exception() is None:
                    consumed.add(fut)
                    store_outcome(fut.result())
        except KeyboardInterrupt:
            pass
    finally:
        progress.close()
        close()
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    return report


def _term_as_interrupt() -> Any:
    """Make SIGTERM stop the sweep like Ctrl-C (completed runs kept, workers shut down); the old handler."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


# -- bench sweep -------------------------------------------------------------------
def add_executor_arguments(p: Any) -> None:
    """``--jobs``, ``--executor``, ``--scheduler``, ``--rerun``, ``-q`` (shared by sweep and ci)."""
    p.add_argument("-j", "--jobs", type=int, default=None,
                   help="worker processes for the local executor (default: one per core; 1 runs here)")
    p.add_argument("--executor", choices=EXECUTORS, default="local", help="local processes or a Dask cluster")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT", help="the Dask scheduler")
    p.add_argument("--rerun", action="store_true", help="run again what is already stored")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def add_parser(sub: Any) -> None:
    from .cli import add_run_arguments

    p = sub.add_parser("sweep", help="run PLANTS CONTROLLERS TASKS (comma lists) x --set lists x seeds")
    add_run_arguments(p)
    add_executor_arguments(p)
    sweep_help = {
        "plant": "plants or datasets, a comma list (arm2,arm3)", "controller": "controllers, a comma list",
        "task": "tasks, a comma list",
        "sets": "a setting and its values, a comma list (osc.kp=100,200); every --set multiplies the sweep; "
                "';' separates the items of one tuple value",
        "dt": "the plants' integration step(s), seconds, a comma list",
    }
    for action in p._actions:
        action.help = sweep_help.get(action.dest, action.help)


def execute_plan(sweep: Plan, args: Any, db: Path, out: Callable[[str], None], err: Callable[[str], None],
                 prog: str = "bench") -> SweepReport:
    """Print the refused combinations, run the plan into ``db`` and print the outcome."""
    from .store import Store

    for line in sweep.refused:
        err(f"{prog}: refused: {line}")
    if args.jobs is not None and args.jobs < 1:
        raise SweepError(f"--jobs must be at least 1, got {args.jobs}")
    if args.executor == "local" and args.scheduler:
        raise SweepError("--scheduler needs --executor dask")
    store = Store(db)
    report = run_sweep(sweep, store, executor=args.executor, jobs=args.jobs, scheduler=args.scheduler,
                       rerun=args.rerun, quiet=args.quiet, log_dir=db.parent / "logs")
    for job, why in report.lost:
        err(f"{prog}: lost: {job.label}: {why}")
    out(f"sweep of {len(sweep.jobs)} runs: {report.line()}; store {db}")
    return report


def cmd_sweep(args: Any, out: Callable[[str], None], err: Callable[[str], None]) -> int:
    """``bench sweep PLANTS CONTROLLERS TASKS --seeds N --set key=v1,v2``."""
    from .cli import _seed, _seeds, db_path

    seeds = _seeds(args.seeds) if args.seeds else [_seed(args.seed) if args.seed is not None else 0]
    db = db_path(args.db)
    sweep = plan(args.plant, args.controller, args.task, args.sets, seeds, args.dt,
                 workroot=(db.parent / "runs").resolve())
    out(f"sweep: {sweep.combinations} combination(s) x {len(seeds)} seed(s) = {len(sweep.jobs)} runs"
        + (f", {len(sweep.refused)} combination(s) refused" if sweep.refused else ""))
    return execute_plan(sweep, args, db, out, err).exit_code
