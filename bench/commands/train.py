"""``bench train PLANT LEARNER TASK``: train a learner, store its learning curve as a run."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..api import train_learner
from ..capabilities import Saves
from ..errors import BenchError
from ..runner import run_name, training_result, write_log
from ..session import build_all, db_path, resolve
from ..store import Store
from . import Printer

PROG = "bench"


def train(plant: str, controller: str, task: str, *, seed: int, sets: Mapping[str, Any], dt: str | None,
          db: str | Path | None, fresh: bool, out: Printer, err: Printer) -> int:
    """Train ``controller`` on ``plant`` for ``task``; checkpoints go to ``<db folder>/train``."""
    import pandas as pd

    resolved = resolve(plant, controller, task, sets, dt, train=True, db=db)  # refuses a controller that does not learn
    the_plant, learner, the_task = build_all(resolved)
    learner.bind(the_plant)
    path = db_path(db)
    store = Store.open_writable(path)  # refuse a bad --db (or one that cannot be written) before training
    workdir = path.parent / "train"
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        curve = train_learner(learner, the_plant, the_task, seed=seed, fresh=fresh, workdir=workdir, log=out)
    except KeyboardInterrupt:
        err(f"{PROG}: training interrupted; checkpoints kept in {workdir}")
        return 130
    except Exception as exc:  # inside the training: one line and a log, exit 1 (bad input was refused above)
        log = write_log(path.parent.resolve() / "logs", f"{plant}-{controller}-{task}-train-seed{seed}")
        what = str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}"
        err(f"{PROG}: training {controller} on {plant} for {task} failed: {what} (traceback in {log})")
        return 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    out(f"trained {controller} on {plant} in {wall:.1f} s")
    if isinstance(curve, pd.DataFrame) and len(curve):
        result = training_result(the_plant, learner, the_task, seed, curve, wall, cpu)
        if isinstance(learner, Saves):  # the weights, for --set LEARNER.weights=run:ID
            name = run_name(the_plant.name, learner.name, f"{the_task.name}-train", result.meta["settings_hash"], seed)
            result.artifacts["weights"] = Path(learner.save(workdir / f"{name}.npz")).resolve()
        run_id = store.save(result)
        out(f"training curve stored as run {run_id} (task {the_task.name}:train) in {path}")
        if "weights" in result.artifacts:
            out(f"weights saved to {result.artifacts['weights']} (evaluate them with "
                f"--set {learner.name}.weights=run:{run_id})")
        out(curve.tail(5).to_string(index=False))
    elif curve is not None:
        out(str(curve))
    return 0
