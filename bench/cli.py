"""The ``bench`` command line (``python run.py ...`` is ``bench run ...``).

Exit codes: 0 success; 2 usage error (one line, never a traceback); 1 a run
failed (one line plus the path of a log with the traceback); 130 interrupted
(every completed run is kept).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import settings as _settings
from .errors import BenchError, SettingError, StoreError, UsageError

PROG = "bench"


class _Parser(argparse.ArgumentParser):
    """argparse that raises one-line :class:`UsageError` instead of exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


# -- argument helpers ---------------------------------------------------------
def _seeds(text: str) -> list[int]:
    """``"5"`` → seeds 0..4; ``"1,4,9"`` → those seeds."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise UsageError(f"--seeds expects a count (5) or a list of seeds (1,4,9), got {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise UsageError(f"--seeds expects a positive count or non-negative seeds, got {text!r}")
    if len(values) == 1:
        if values[0] < 1:
            raise UsageError(f"--seeds count must be at least 1, got {text!r}")
        return list(range(values[0]))
    return list(dict.fromkeys(values))  # a seed named twice runs once


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"--seed expects a non-negative integer, got {text!r}") from None
    if value < 0:
        raise UsageError(f"--seed expects a non-negative integer, got {text!r}")
    return value


def add_run_arguments(p: argparse.ArgumentParser, names: bool = True) -> None:
    """The options shared by ``run``, ``train`` and ``sweep``."""
    if names:
        p.add_argument("plant", help="plant or dataset name (bench list)")
        p.add_argument("controller", help="controller name")
        p.add_argument("task", help="task name")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--seed", type=str, default=None, help="one seed (default 0)")
    g.add_argument("--seeds", type=str, default=None, help="N (seeds 0..N-1) or a list 1,4,9")
    p.add_argument("--dt", type=str, default=None, help="the plant's integration step, seconds")
    p.add_argument("--db", type=Path, default=None, help="results store (default .bench/results.sqlite)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a plugin or task setting; qualify as osc.kp=200 or reach.targets=64")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Benchmark learned controllers and spiking networks.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    ls = sub.add_parser("list", help="list plants, datasets, controllers and tasks")
    ls.add_argument("-v", "--verbose", action="store_true", help="show each component's settings")
    run = sub.add_parser("run", help="run one benchmark: PLANT CONTROLLER TASK")
    add_run_arguments(run)
    run.add_argument("-q", "--quiet", action="store_true", help="print no table")
    train = sub.add_parser("train", help="train a learner: PLANT CONTROLLER TASK")
    add_run_arguments(train)
    train.add_argument("--fresh", action="store_true", help="ignore existing checkpoints and start over")
    show = sub.add_parser("show", help="show one stored run")
    show.add_argument("run_id", help="run id (bench run prints it)")
    show.add_argument("--db", type=Path, default=None)
    from . import compare, suite, sweep  # sweep, report, ci, compare (issue 7)
    from .reports import command as report_command

    for module in (sweep, report_command, suite, compare):
        module.add_parser(sub)
    return p


# -- building components ---------------------------------------------------
def db_path(arg: Path | None) -> Path:
    from .store import DEFAULT_DB

    return Path(arg) if arg is not None else DEFAULT_DB


def resolve(plant: str, controller: str, task: str, sets: dict[str, Any], dt: str | None = None):
    """Specs, factories and routed settings for a (plant, controller, task) triple.

    Everything a user can get wrong is checked here, before anything runs.
    """
    from .plugins import registry
    from .registry import check_compatible

    reg = registry()
    pspec = reg.get_any(("plant", "dataset"), plant, "plant or dataset")
    cspec = reg.get("controller", controller)
    tspec = reg.get("task", task)
    check_compatible(pspec, cspec, tspec)
    factories = {s.name: s.load() for s in (pspec, cspec, tspec)}
    if len(factories) < 3:
        raise UsageError(f"plant, controller and task need distinct names, got {plant} {controller} {task}")
    comps = {s.name: (s.kind, getattr(factories[s.name], "Settings", _settings.NoSettings))
             for s in (pspec, cspec, tspec)}
    sets = dict(sets)
    if dt is not None:
        if "dt" not in _settings.fields(comps[plant][1]):
            raise SettingError(f"--dt: {pspec.kind} {plant!r} has no dt setting")
        sets[f"{plant}.dt"] = dt
    routed = _settings.route(sets, comps)
    for name, (_, cls) in comps.items():  # check types and ranges now
        _settings.build(cls, routed[name], owner=name)
    return (pspec, cspec, tspec), routed


def build_all(specs, routed):
    from . import build

    p, c, t = specs
    return (build(p.kind, p.name, **routed[p.name]), build(c.kind, c.name, **routed[c.name]),
            build(t.kind, t.name, **routed[t.name]))


# -- commands ------------------------------------------------------------
def cmd_list(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    from .plugins import host

    h = host()
    reg = h.registry
    titles = {"plant": "plants", "dataset": "datasets", "controller": "controllers", "task": "tasks"}
    for kind, title in titles.items():
        specs = reg.specs(kind)
        if not specs:
            continue
        out(f"{title}:")
        width = max(len(s.name) for s in specs)
        for s in specs:
            src = "" if h.plugins[s.plugin].source == "builtin" else f"  [{h.plugins[s.plugin].source}]"
            state = "" if s.available() else f"  (unavailable, {s.install_hint()})"
            out(f"  {s.name:<{width}}  {s.summary}{src}{state}")
            if args.verbose and s.available():
                try:
                    cls = getattr(s.load(), "Settings", _settings.NoSettings)
                    for key, tp, default, helptext in _settings.describe(cls):
                        out(f"  {'':<{width}}    {s.name}.{key}: {tp} = {default!r}  {helptext}")
                except BenchError as exc:
                    out(f"  {'':<{width}}    (cannot load: {exc})")
    broken = [p for p in h.plugins.values() if p.error]
    for p in broken:
        out(f"plugin {p.name} ({p.source}) failed to load: {p.error}")
    return 0


def _format_table(results: list[Any]) -> str:
    import pandas as pd

    first = results[0]
    rows = {}
    for name in first.metrics:
        vals = [r.metrics.get(name, math.nan) for r in results]
        info = first.info.get(name)
        row = {"unit": info.unit if info else "", "better": info.better if info else ""}
        if len(results) > 1:
            s = pd.Series(vals, dtype=float)
            row["mean"], row["std"] = s.mean(), s.std(ddof=1)
        for r, v in zip(results, vals):
            row[f"seed {r.meta['seed']}"] = v
        rows[name] = row
    df = pd.DataFrame.from_dict(rows, orient="index")
    with pd.option_context("display.float_format", "{:.6g}".format, "display.width", 160,
                           "display.max_columns", 12):
        return df.to_string()


def _run_one(specs, routed, seed: int, store, db: Path, log_dir: Path) -> Any:
    """Build, run and store one seed; failures are logged, stored and re-raised."""
    from .runner import describe, failed_result, run_name
    from .runner import run as run_once

    built, workdir = None, None
    try:
        built = plant, controller, task = build_all(specs, routed)
        _, shash = describe(plant, controller, task)
        workdir = db.parent / "runs" / run_name(plant.name, controller.name, task.name, shash, seed)
        workdir.mkdir(parents=True, exist_ok=True)
        return run_once(plant, controller, task, seed=seed, store=store, workdir=workdir)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        from .runner import write_log

        log = write_log(log_dir, f"{'-'.join(sp.name for sp in specs)}-seed{seed}")
        exc.bench_log = log  # type: ignore[attr-defined]
        if built is not None:  # a run that could be built is stored as failed
            failed = failed_result(*built, seed, log)
            store.save(failed, status="failed", error=f"{type(exc).__name__}: {exc}")
            exc.bench_run_id = failed.run_id  # type: ignore[attr-defined]
        raise
    finally:
        if workdir is not None:
            try:
                workdir.rmdir()  # only if the run wrote nothing there
            except OSError:
                pass


def cmd_run(args: argparse.Namespace, out: Callable[[str], None], err: Callable[[str], None]) -> int:
    from .store import Store

    seeds = _seeds(args.seeds) if args.seeds else [_seed(args.seed) if args.seed is not None else 0]
    specs, routed = resolve(args.plant, args.controller, args.task, _settings.parse_pairs(args.sets), args.dt)
    db = db_path(args.db)
    store = Store(db)
    db_abs = db.resolve()  # work folders and logs are stored as absolute paths
    results, code = [], 0
    try:
        for seed in seeds:
            try:
                results.append(_run_one(specs, routed, seed, store, db_abs, db_abs.parent / "logs"))
            except BenchError as exc:
                err(f"{PROG}: run {args.plant} {args.controller} {args.task} seed {seed} failed: {exc}")
                code = max(code, exc.exit_code)
            except Exception as exc:  # noqa: BLE001 - reported with its log, next seed goes on
                err(f"{PROG}: run {args.plant} {args.controller} {args.task} seed {seed} failed: "
                    f"{type(exc).__name__}: {exc} (traceback in {getattr(exc, 'bench_log', '?')})")
                code = 1
    except KeyboardInterrupt:
        err(f"{PROG}: interrupted; {len(results)} completed run(s) kept in {db}")
        return 130
    if results and not args.quiet:
        ids = ", ".join(str(r.run_id) for r in results)
        out(f"{args.plant} · {args.controller} · {args.task}   settings {results[0].meta['settings_hash'][:8]}"
            f"   run id {ids} in {db}")
        out(_format_table(results))
    return code


def cmd_train(args: argparse.Namespace, out: Callable[[str], None], err: Callable[[str], None]) -> int:
    import numpy as np
    import pandas as pd

    from .runner import training_result
    from .store import Store

    specs, routed = resolve(args.plant, args.controller, args.task, _settings.parse_pairs(args.sets), args.dt)
    if "learn" not in specs[1].provides:
        raise UsageError(f"controller {args.controller!r} does not learn; learners: "
                         + ", ".join(s.name for s in _learners()))
    if args.seeds:
        raise UsageError("train takes one --seed")
    seed = _seed(args.seed) if args.seed is not None else 0
    plant, controller, task = build_all(specs, routed)
    controller.bind(plant)
    db = db_path(args.db)
    store = Store(db)  # refuse a bad --db before training, not after
    workdir = db.parent / "train"
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        summary = controller.train(plant, task, rng=np.random.default_rng(seed), seed=seed, fresh=args.fresh,
                                   workdir=workdir, log=out)
    except KeyboardInterrupt:
        err(f"{PROG}: training interrupted; checkpoints kept in {workdir}")
        return 130
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    out(f"trained {args.controller} on {args.plant} in {wall:.1f} s")
    if isinstance(summary, pd.DataFrame) and len(summary):
        run_id = store.save(training_result(plant, controller, task, seed, summary, wall, cpu))
        out(f"training curve stored as run {run_id} (task {task.name}:train) in {db}")
        out(summary.tail(5).to_string(index=False))
    elif summary is not None:
        out(str(summary))
    return 0


def _learners():
    from .plugins import registry

    return [s for s in registry().specs("controller") if "learn" in s.provides]


def cmd_show(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    from .store import Store

    try:
        run_id = int(args.run_id)
    except ValueError:
        raise UsageError(f"show expects a run id (an integer), got {args.run_id!r}") from None
    db = db_path(args.db)
    if not db.exists():
        raise StoreError(f"no results store at {db}")
    r = Store(db).run(run_id)
    out(f"run {r['id']}: {r['plant']} · {r['controller']} · {r['task']}   seed {r['seed']}   {r['status']}")
    if r["error"]:
        out(f"error: {r['error']}" + (f" (traceback in {r['log_path']})" if r["log_path"] else ""))
    out(f"started {r['started_at']}   wall {r['wall_s'] or 0:.3f} s   cpu {r['cpu_s'] or 0:.3f} s")
    out(f"code {r['code_version']}   commit {r['git_commit']}   settings {r['settings_hash']}")
    for part, values in r["settings"].items():
        out(f"  {part}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    width = max([len(n) for n in r["metrics"]] + [6])
    for name, m in r["metrics"].items():
        out(f"  {name:<{width}}  {m['value']:.6g} {m['unit']}")
    for name, path in r["artifacts"].items():
        out(f"  artifact {name}: {path}")
    return 0


COMMANDS: dict[str, Callable[..., int]] = {}


def _lazy_command(module: str, name: str) -> Callable[..., int]:
    """A command whose module is imported only when it runs."""
    def command(args: argparse.Namespace, out: Callable[[str], None], err: Callable[[str], None]) -> int:
        import importlib

        return getattr(importlib.import_module(module, __package__), name)(args, out, err)
    return command


COMMANDS.update(sweep=_lazy_command(".sweep", "cmd_sweep"), report=_lazy_command(".reports.command", "cmd_report"),
                ci=_lazy_command(".suite", "cmd_ci"), compare=_lazy_command(".compare", "cmd_compare"))


def one_line(text: str) -> str:
    """``text`` with control characters (newlines too) escaped, so it stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bench`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out = lambda s: print(s, flush=True)
    err = lambda s: print(one_line(s), file=sys.stderr, flush=True)
    old_format = warnings.formatwarning
    warnings.formatwarning = lambda m, c, *a, **k: f"{PROG}: warning: {one_line(str(m))}\n"
    try:
        args = parser().parse_args(argv)
        if args.command == "list":
            return cmd_list(args, out)
        if args.command == "run":
            return cmd_run(args, out, err)
        if args.command == "train":
            return cmd_train(args, out, err)
        if args.command == "show":
            return cmd_show(args, out)
        return COMMANDS[args.command](args, out, err)
    except BenchError as exc:
        err(f"{PROG}: error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        err(f"{PROG}: interrupted")
        return 130
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    except Exception as exc:  # noqa: BLE001 - a bug or a plugin's crash: one line, traceback in a log
        from .runner import write_log
        from .store import DEFAULT_DB

        log = write_log(DEFAULT_DB.parent.resolve() / "logs", "bench")
        err(f"{PROG}: error: {type(exc).__name__}: {exc} (traceback in {log})")
        return 1
    finally:
        warnings.formatwarning = old_format


def run_py(argv: Sequence[str] | None = None) -> int:
    """``python run.py PLANT CONTROLLER TASK ...`` = ``bench run ...``; other commands pass through."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"list", "run", "show", "train", *COMMANDS}
    if argv and (argv[0] in commands or argv[0] in ("-h", "--help")):
        return main(argv)
    return main(["run", *argv])
