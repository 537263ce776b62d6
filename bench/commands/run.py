"""``bench run PLANT CONTROLLER TASK``: one benchmark, each seed stored as a run."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import BenchError
from ..session import check_train_first, db_path, resolve, run_one
from ..store import Store
from . import Printer

PROG = "bench"


def format_table(results: Sequence[Any]) -> str:
    """Metrics (rows) × seeds (columns), with unit, direction, and mean and std over several seeds."""
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


def run(plant: str, controller: str, task: str, *, seeds: Sequence[int], sets: Mapping[str, Any],
        dt: str | None, db: str | Path | None, quiet: bool, out: Printer, err: Printer, train: bool = False) -> int:
    """Run each seed in turn and store it; a failing seed is reported and the next goes on.

    Bad input is refused before anything runs (a :class:`BenchError`, exit 2).
    Anything that goes wrong inside a run, a :class:`BenchError` included,
    is one line with the path of its log and exit 1.  With ``train`` the
    learner is first trained with each run's seed (checkpoints in
    ``<db folder>/train``).
    """
    resolved = resolve(plant, controller, task, sets, dt, train=train, db=db)  # db: for weights=run:ID
    check_train_first(resolved)
    path = db_path(db)
    store = Store.open_writable(path)  # a store that cannot be written is refused before anything runs
    results, code = [], 0
    try:
        for seed in seeds:
            try:
                run_one(resolved, seed, store, path, sink=results)  # appended as it is stored
            except Exception as exc:  # inside a run: logged and stored as failed by run_one
                what = str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}"
                err(f"{PROG}: run {plant} {controller} {task} seed {seed} failed: {what} "
                    f"(traceback in {getattr(exc, 'bench_log', '?')})")
                code = 1
    except KeyboardInterrupt:
        err(f"{PROG}: interrupted; {len(results)} completed run(s) kept in {path}")
        return 130
    if results and not quiet:
        ids = ", ".join(str(r.run_id) for r in results)
        out(f"{plant} · {controller} · {task}   settings {results[0].meta['settings_hash'][:8]}"
            f"   run id {ids} in {path}")
        replaced = [str(r.run_id) for r in results if r.meta.get("replaced") is not None]
        if replaced:
            out(f"replaced stored run(s) {', '.join(replaced)}: the same experiment and seed ran again "
                "(one run per experiment and seed is kept)")
        out(format_table(results))
    return code
