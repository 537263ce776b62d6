"""The ``bench`` command line (``python run.py ...`` is ``bench run ...``).

This module only parses: each sub-command's arguments become explicit
arguments of a function in :mod:`bench.commands`.

Exit codes: 0 success; 2 usage error (one line, never a traceback); 1 a run
failed (one line plus the path of a log with the traceback); 130 interrupted
(every completed run is kept).  Standard output closed early (``bench list |
head -1``) drops the rest of the output quietly: the command finishes (nothing
it computes is lost) and exits with its own code.

``-v``/``--verbose`` (before or after the command) lets TensorFlow's own log
lines through (:mod:`bench.controllers.tfcompat` reads ``BENCH_VERBOSE``);
without it TensorFlow and absl print nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import BenchError, UsageError

PROG = "bench"
#: The environment variable ``-v`` sets for the command (read by bench.controllers.tfcompat, inherited by workers).
VERBOSE_ENV = "BENCH_VERBOSE"


class _Parser(argparse.ArgumentParser):
    """argparse that raises one-line :class:`UsageError` instead of exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


# -- arguments ----------------------------------------------------------------------
def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", type=Path, default=None, help="results store (default .bench/results.sqlite)")


def _add_run_arguments(p: argparse.ArgumentParser, lists: bool = False) -> None:
    """The options shared by ``run``, ``train`` and ``sweep`` (``lists``: comma lists, as sweep takes)."""
    p.add_argument("plant", help="plants or datasets, a comma list (arm2,arm3)" if lists
                   else "plant or dataset name (bench list)")
    p.add_argument("controller", help="controllers, a comma list" if lists else "controller name")
    p.add_argument("task", help="tasks, a comma list" if lists else "task name")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--seed", type=str, default=None, help="one seed (default 0)")
    g.add_argument("--seeds", type=str, default=None, help="N (seeds 0..N-1) or a list 1,4,9")
    p.add_argument("--dt", type=str, default=None,
                   help="the plants' integration step(s), seconds, a comma list" if lists
                   else "the plant's integration step, seconds")
    _add_db(p)
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting and its values, a comma list (osc.kp=100,200); every --set multiplies the "
                        "sweep; ';' separates the items of one tuple value" if lists
                   else "a plugin or task setting; qualify as osc.kp=200 or reach.targets=64")


def _add_train(p: argparse.ArgumentParser) -> None:
    """``--train`` (run and sweep): train the learner first, with the run's seed."""
    p.add_argument("--train", action="store_true",
                   help="train the learner first (from scratch, seed = the run's seed, checkpoints in the store's "
                        "train/ folder), then run the task with it; settings used only when training need it")


def _add_execution(p: argparse.ArgumentParser, rerun: bool = True, jobs: str = "one per core") -> None:
    """``--jobs``, ``--executor``, ``--scheduler``, ``--rerun`` (unless not ``rerun``), ``-q`` (sweep, ci, train)."""
    p.add_argument("-j", "--jobs", type=int, default=None,
                   help=f"worker processes for the local executor (default: {jobs}; 1 runs here)")
    p.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="local processes or a Dask cluster")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT", help="the Dask scheduler")
    if rerun:
        p.add_argument("--rerun", action="store_true", help="run again what is already stored")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _add_where(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE",
                   help=f"only runs with this {what} (repeatable; v1,v2 for several)")


def parser() -> argparse.ArgumentParser:
    """The whole ``bench`` argument parser."""
    p = _Parser(prog=PROG, description="Benchmark learned controllers and spiking networks.")
    p.add_argument("-v", "--verbose", dest="loud", action="store_true",
                   help="also show TensorFlow's and absl's log lines (quiet otherwise)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    ls = sub.add_parser("list", help="list plants, datasets, controllers and tasks")
    ls.add_argument("-v", "--verbose", action="store_true",
                    help="show each component's provides, needs, target kinds and settings")
    run = sub.add_parser("run", help="run one benchmark: PLANT CONTROLLER TASK")
    _add_run_arguments(run)
    run.add_argument("-q", "--quiet", action="store_true", help="print no table")
    _add_train(run)
    train = sub.add_parser("train", help="train learners, one stored run per setting and seed: PLANT CONTROLLER "
                                         "TASK (comma lists)")
    _add_run_arguments(train, lists=True)
    train.add_argument("--fresh", action="store_true",
                       help="train again from new weights (ignore checkpoints, replace the stored runs)")
    _add_execution(train, rerun=False, jobs="1: wall-clock training times are what the runs measure")
    show = sub.add_parser("show", help="show one stored run")
    show.add_argument("run_id", help="run id (bench run prints it)")
    show.add_argument("--animate", metavar="OUT.gif", default=None,
                      help="also draw the arm doing its task into this GIF (arm tasks only)")
    _add_db(show)
    verify = sub.add_parser("verify", help="re-run stored runs from their recorded settings and seed; "
                                           "exit 1 if a metric differs")
    verify.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="run ids (bench run prints them)")
    _add_db(verify)
    verify.add_argument("--timing-tolerance", default=None, metavar="PCT",
                        help="how far a wall-clock timing may move, e.g. 50%% or off (default 300%%)")
    sweep = sub.add_parser("sweep", help="run PLANTS CONTROLLERS TASKS (comma lists) x --set lists x seeds")
    _add_run_arguments(sweep, lists=True)
    _add_train(sweep)
    _add_execution(sweep)
    report = sub.add_parser("report", help="summary tables with bootstrap CIs, figures, "
                                           "index.html / summary.md / csv")
    _add_db(report)
    _add_where(report, "plant, controller, task, suite, git_commit, ...")
    report.add_argument("--format", choices=("md", "html", "csv"), default=None,
                        help="md (default; printed without --out), csv (printed without --out) or html "
                             "(index.html + summary.md + csv + figures; default --out .bench/report)")
    report.add_argument("--out", type=Path, default=None, help="folder to write the report files in")
    report.add_argument("--latest", action="store_true",
                        help="only the runs of the code version (commit) of the newest matching run, "
                             "e.g. the last bench ci")
    ci = sub.add_parser("ci", help="run a fixed, versioned suite (records the git commit with every run)")
    ci.add_argument("--suite", default="quick", help="built-in suite name or a .toml file (default quick)")
    _add_db(ci)
    ci.add_argument("--summary", type=Path, default=None, metavar="FILE",
                    help="also write this commit's summary table (markdown) to FILE")
    _add_execution(ci)
    hist = sub.add_parser("history", help="each metric across the stored commits (oldest first); flags the "
                                          "significant steps between consecutive commits")
    _add_db(hist)
    hist.add_argument("--metric", action="append", default=[], metavar="M",
                      help="only this metric (repeatable, or a comma list; default every metric)")
    hist.add_argument("--suite", default=None,
                      help="only this suite's runs (its current version), with its per-metric thresholds")
    hist.add_argument("--threshold", default=None, metavar="PCT",
                      help="smallest relative change that is a step, e.g. 5%% or off (default: the suite's "
                           "max_regression, else 5%%)")
    _add_where(hist, "plant, controller, task, ...")
    hist.add_argument("--format", choices=("text", "md"), default="text")
    cmp = sub.add_parser("compare", help="compare BASE and HEAD (commits, run ids or store files); "
                                         "exit 1 on a significant regression")
    cmp.add_argument("base", help="store file, run ids (12,13 or 12-20) or commit")
    cmp.add_argument("head", help="store file, run ids or commit")
    cmp.add_argument("--db", type=Path, default=None,
                     help="store for run ids and commits (default .bench/results.sqlite)")
    cmp.add_argument("--suite", default=None,
                     help="compare this suite's runs only and use its per-metric thresholds (name or .toml)")
    cmp.add_argument("--max-regression", default=None, metavar="PCT",
                     help="largest tolerated worsening, e.g. 5%% (default: the suite's, else 5%%)")
    _add_where(cmp, "plant, controller, task, ...")
    cmp.add_argument("--format", choices=("text", "md"), default="text")
    cmp.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    for name, command in sub.choices.items():
        if name != "list":  # list's -v shows more (and is loud too)
            command.add_argument("-v", "--verbose", dest="loud", action="store_true", default=argparse.SUPPRESS,
                                 help="also show TensorFlow's and absl's log lines (quiet otherwise)")
    return p


# -- dispatch -----------------------------------------------------------------------
Printer = Callable[[str], None]


def _execution(args: argparse.Namespace):
    from .commands.sweep import Execution

    execution = Execution(executor=args.executor, jobs=args.jobs, scheduler=args.scheduler,
                          rerun=getattr(args, "rerun", False), quiet=args.quiet)
    execution.check()  # --jobs, --executor, --scheduler (bench.commands.sweep.scheduler_address): before planning
    return execution


def dispatch(args: argparse.Namespace, out: Printer, err: Printer) -> int:
    """Call the command named by ``args.command`` with its arguments; its exit code."""
    from . import settings
    from .session import parse_seeds

    c = args.command
    if c == "list":
        from .commands.listing import list_components

        return list_components(verbose=args.verbose, out=out)
    if c == "run":
        from .commands.run import run

        return run(args.plant, args.controller, args.task, seeds=parse_seeds(args.seeds, args.seed),
                   sets=settings.parse_pairs(args.sets), dt=args.dt, db=args.db, quiet=args.quiet, out=out, err=err,
                   train=args.train)
    if c == "train":
        from .commands.train import train

        execution = _execution(args)
        if execution.jobs is None:
            execution = dataclasses.replace(execution, jobs=1)
        return train(args.plant, args.controller, args.task, seeds=parse_seeds(args.seeds, args.seed), sets=args.sets,
                     dt=args.dt, db=args.db, fresh=args.fresh, execution=execution, out=out, err=err)
    if c == "show":
        from .commands.show import show

        return show(args.run_id, db=args.db, out=out, animate=args.animate)
    if c == "verify":
        from .commands.verify import verify

        return verify(args.run_ids, db=args.db, timing_tolerance=args.timing_tolerance, out=out)
    if c == "sweep":
        from .commands.sweep import sweep

        return sweep(args.plant, args.controller, args.task, sets=args.sets,
                     seeds=parse_seeds(args.seeds, args.seed), dt=args.dt, db=args.db,
                     execution=_execution(args), out=out, err=err, train=args.train)
    if c == "report":
        from .commands.report import report

        return report(db=args.db, where=args.where, fmt=args.format, out_dir=args.out, latest=args.latest,
                      out=out)
    if c == "ci":
        from .commands.ci import ci

        return ci(args.suite, db=args.db, summary=args.summary, execution=_execution(args), out=out, err=err)
    if c == "history":
        from .commands.history import history

        return history(db=args.db, metrics=args.metric, suite=args.suite, where=args.where,
                       threshold=args.threshold, fmt=args.format, out=out)
    if c == "compare":
        from .commands.compare import compare

        return compare(args.base, args.head, db=args.db, suite=args.suite, max_regression=args.max_regression,
                       where=args.where, fmt=args.format, out_file=args.out, out=out)
    raise UsageError(f"{PROG}: unknown command {c!r}")  # pragma: no cover - argparse refuses it first


COMMANDS = ("list", "run", "train", "show", "verify", "sweep", "report", "ci", "history", "compare")


#: Control characters a line of output may not carry (a crafted store's names could hold terminal escapes):
#: every C0 and C1 control but tab and newline, shown escaped.
_CONTROLS = {c: repr(chr(c))[1:-1] for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if chr(c) not in "\t\n"}


def one_line(text: str) -> str:
    """``text`` with control characters (newlines too) escaped, so it stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _to_devnull() -> None:
    """Point standard output at /dev/null, so that nothing more (not even Python's flush at exit) complains."""
    with contextlib.suppress(OSError, ValueError, AttributeError):  # not a real file (a test's capture)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _stdout_closed() -> bool:
    """Whether standard output is a pipe whose reader is gone (``| head`` exited); if so it goes to /dev/null."""
    import select

    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        closed = any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture)
        return False
    if closed:
        _to_devnull()
    return closed


def _crash(exc: BaseException, err: Printer) -> int:
    """An unexpected exception: one line naming it and the log that holds its traceback; exit 1."""
    from .runner import write_log
    from .store import DEFAULT_DB

    log = write_log(DEFAULT_DB.parent.resolve() / "logs", "bench")
    err(f"{PROG}: error: {type(exc).__name__}: {exc} (traceback in {log})")
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bench`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)

    closed = False

    def out(line: str) -> None:
        nonlocal closed
        if closed:
            return
        try:
            print(str(line).translate(_CONTROLS), flush=True)
        except BrokenPipeError:  # | head has read enough: the rest goes nowhere, the command goes on
            closed = True
            _to_devnull()

    def err(line: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # a closed stderr loses the line, not the command
            print(one_line(line), file=sys.stderr, flush=True)

    old_format = warnings.formatwarning
    warnings.formatwarning = lambda m, c, *a, **k: f"{PROG}: warning: {one_line(str(m))}\n"
    old_verbose = os.environ.get(VERBOSE_ENV)
    try:
        args = parser().parse_args(argv)
        if getattr(args, "loud", False) or (args.command == "list" and args.verbose):
            os.environ[VERBOSE_ENV] = "1"
        return dispatch(args, out, err)
    except BenchError as exc:
        err(f"{PROG}: error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        err(f"{PROG}: interrupted")
        return 130
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    except BrokenPipeError as exc:  # printed by argparse (--help | head)
        return 0 if _stdout_closed() else _crash(exc, err)
    except Exception as exc:
        return _crash(exc, err)
    finally:
        warnings.formatwarning = old_format
        if old_verbose is None:
            os.environ.pop(VERBOSE_ENV, None)
        else:
            os.environ[VERBOSE_ENV] = old_verbose


#: studywolf/control's ``run.py`` options that become a setting of the task: the setting names
#: tried in order (the first the task declares wins).  ``--dt=1e-2`` needs nothing: it is ``--dt``.
#: ``--sequence`` on a task with a ``mode`` that has a ``"sequence"`` choice (``reach``) selects it.
STUDYWOLF_SETTINGS = {
    "--end_time": ("end_time", "duration"),   # seconds
    "--force": ("force",),                    # scale of the velocity-dependent joint force field
    "--sequence": ("sequence", "text"),       # write: the characters; reach: the sequence mode
    "--scale": ("scale",),                    # write: size of the characters
}
#: studywolf/control options with nothing to set here: one line each says what ctrlbench does instead.
STUDYWOLF_NOTES = {
    "--use_pygame": "ctrlbench draws no live window; every run is stored: bench show RUN_ID prints it, "
                    "bench report --format html draws the trajectories",
    "--write_to_file": "ctrlbench always records every run (metrics, trajectory, settings) in "
                       ".bench/results.sqlite (--db FILE to choose); bench report --format csv exports it",
}
#: ``bench run`` options run.py passes on unchanged; the first four take a value.
RUN_OPTIONS = ("--seed", "--seeds", "--dt", "--db", "--set", "--quiet", "-q", "--help", "-h")
_TAKES_VALUE = ("--seed", "--seeds", "--dt", "--db", "--set")
_BOOLEAN_WORDS = ("True", "False", "true", "false", "1", "0")


def _task_settings(task: str) -> dict[str, str] | None:
    """``{setting: its type, as text}`` of task ``task`` (None for an unknown task: ``bench run`` reports it)."""
    import typing

    from . import settings
    from .errors import UnknownName
    from .session import registry

    try:
        cls = getattr(registry().get("task", task).load(), "Settings", settings.NoSettings)
    except UnknownName:
        return None
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        hints = {}
    return {name: str(hints.get(name, f.type)) for name, f in settings.fields(cls).items()}


def _positionals(argv: Sequence[str]) -> list[str]:
    """The words of ``argv`` that are neither options nor an option's value."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in _TAKES_VALUE or arg in STUDYWOLF_SETTINGS
        else:
            out.append(arg)
    return out


def studywolf_options(argv: Sequence[str], note: Printer) -> list[str]:
    """``argv`` of ``python run.py ...`` with studywolf/control's options translated for ``bench run``.

    ``--end_time=T``, ``--force=F``, ``--sequence=S`` and ``--scale=S`` (also
    as two words) become ``--set TASK.NAME=VALUE`` for the first of
    :data:`STUDYWOLF_SETTINGS` the task declares; ``--sequence`` on a task
    whose ``mode`` has a ``sequence`` choice (``reach``) sets that mode (a
    non-zero first target, studywolf's meaning there, gets one line: every
    target runs).  ``--use_pygame`` and ``--write_to_file`` (``=VALUE``
    optional) are dropped after one line each to ``note``.  An unknown
    ``--option`` raises :class:`UsageError` naming the closest valid one; so
    does a studywolf option the task has no setting for.
    """
    from .errors import suggestion

    positional = _positionals(argv)
    task = positional[2] if len(positional) >= 3 else None
    declared = _task_settings(task) if task else None
    known = (*RUN_OPTIONS, *STUDYWOLF_SETTINGS, *STUDYWOLF_NOTES)
    out: list[str] = []
    chosen: dict[str, str] = {}
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        if not arg.startswith("--"):
            out.append(arg)
            continue
        name, eq, value = arg.partition("=")
        if name in STUDYWOLF_NOTES:
            note(f"run.py: {name} is studywolf/control's; {STUDYWOLF_NOTES[name]}")
            if not eq and rest and rest[0] in _BOOLEAN_WORDS:
                rest.pop(0)  # --write_to_file True
            continue
        if name in STUDYWOLF_SETTINGS:
            if not eq:
                if not rest or rest[0].startswith("--"):
                    raise UsageError(f"run.py: {name} expects a value ({name}=VALUE)")
                value = rest.pop(0)
            if declared is None:
                out.append(f"{name}={value}")  # no or unknown task: bench run reports it
                continue
            key = next((k for k in STUDYWOLF_SETTINGS[name] if k in declared), None)
            if key is None and name == "--sequence" and "'sequence'" in declared.get("mode", ""):
                key = "mode"
                if value.strip() not in ("0", "None", ""):
                    note(f"run.py: --sequence={value} started studywolf's reach at target {value}; "
                         f"ctrlbench's sequence mode runs every target ({task}.targets sets how many)")
                value = "sequence"
            if key is None:
                raise UsageError(f"run.py: {name}: task {task!r} has no {' or '.join(STUDYWOLF_SETTINGS[name])} "
                                 f"setting (it has: {', '.join(declared) or 'none'})")
            chosen[key] = name
            out += ["--set", f"{task}.{key}={value}"]
            continue
        if name not in known and not any(k.startswith(name) for k in RUN_OPTIONS if k.startswith("--")):
            raise UsageError(f"run.py: unknown option {name}{suggestion(name, known)}")
        out.append(arg)
    if chosen.get("mode") == "--sequence" and chosen.get("duration") == "--end_time":
        raise UsageError(f"run.py: --end_time: {task}'s sequence mode runs until its last movement (each "
                         f"limited by {task}.timeout seconds); drop --end_time or --set {task}.timeout=T")
    return out


def run_py(argv: Sequence[str] | None = None) -> int:
    """``python run.py PLANT CONTROLLER TASK ...`` = ``bench run ...``; other commands pass through.

    studywolf/control's options are translated first (:func:`studywolf_options`).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help")):
        return main(argv)
    try:
        argv = studywolf_options(argv, lambda line: print(one_line(line), file=sys.stderr, flush=True))
    except BenchError as exc:
        print(one_line(f"{PROG}: error: {exc}"), file=sys.stderr, flush=True)
        return exc.exit_code
    return main(["run", *argv])
