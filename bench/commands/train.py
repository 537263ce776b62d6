"""``bench train PLANT LEARNER TASK``: training runs, one per (settings, seed), each with its learning curve.

``bench train arm2 ahf reach --dt 0.01 --seeds 3 --set ahf.regime=rollout,fixed,switch`` is the sweep
``bench sweep arm2 ahf reach:train ...`` (:mod:`bench.sweep`, task ``TASK:train``): the same planner,
claims, executors and store, so each (settings, seed) is stored exactly once, ``-j N`` trains N at once and
a training already stored is skipped.  Each run stores the learner's curve as the frame ``training`` while
it trains (status ``partial``), so a training stopped by Ctrl-C or killed keeps its curve, and the same
command resumes it (``ahf`` from its checkpoints in ``<db folder>/train``; ``pg`` and ``npg`` start over) and
completes it in place.  ``--fresh`` trains again from new weights, replacing the stored runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..runner import TRAIN_SUFFIX, training_task
from ..session import db_path, resolve, weights_from_runs_items
from ..store import Store
from ..storecheck import check_writable
from ..sweep import plan, split_names
from . import Printer
from .sweep import Execution, execute_plan

PROG = "bench"
#: Rows of the learning curve printed after a single training.
TAIL = 5


def train(plants: str, controllers: str, tasks: str, *, seeds: Sequence[int], sets: Sequence[str],
          dt: str | None, db: str | Path | None, fresh: bool, out: Printer, err: Printer,
          execution: Execution | None = None) -> int:
    """Train each learner for each task on each plant, for every ``--set`` combination and seed.

    Every name is checked first: a controller that does not learn is refused (exit 2).  Checkpoints and
    weights go to ``<db folder>/train``; each stored run prints its id and weights file.  Exit 130 when
    interrupted (the curves so far are kept, status ``partial``; rerun the command to resume).
    """
    execution = execution or Execution(jobs=1)
    path = db_path(db)
    check_writable(path)  # a store that cannot be written is refused before anything is planned
    plist, clist = split_names(plants, "plant"), split_names(controllers, "controller")
    tlist = [training_task(t)[0] for t in split_names(tasks, "task")]
    for p in plist:  # each triple refused in one line (a controller that does not learn) before planning
        for c in clist:
            for t in tlist:
                resolve(p, c, t, train=True, steps=False)
    sets = weights_from_runs_items(sets, path, plants=plist, controllers=clist)
    the_plan = plan(plist, clist, [t + TRAIN_SUFFIX for t in tlist], sets, seeds, dt,
                    workroot=(path.parent / "runs").resolve(), fresh=fresh)
    many = len(the_plan.jobs) > 1
    if many:
        out(f"train: {the_plan.combinations} combination(s) x {len(seeds)} seed(s) = {len(the_plan.jobs)} "
            f"training runs")
    run_all = dataclasses.replace(execution, rerun=fresh, quiet=execution.quiet or not many)
    store = Store(path)
    stored: list[int] = []

    def stored_one(outcome: Any, run_id: int | None) -> None:
        if not outcome.ok or run_id is None:
            return
        stored.append(run_id)
        result = outcome.result
        out(f"training curve stored as run {run_id} (task {result.meta['task']}) in {path}")
        if "weights" in result.artifacts:
            out(f"weights saved to {result.artifacts['weights']} (evaluate them with "
                f"--set {result.meta['controller']}.weights=run:{run_id})")

    report = execute_plan(the_plan, run_all, path, out, err, log=out, on_outcome=stored_one)
    for job in report.skipped:
        found = store.lookup(job.experiment, job.seed)
        out(f"already stored as run {found['id'] if found else '?'}: {job.label} (--fresh trains it again)")
    if len(stored) == 1 and not many:
        curve = store.frame(stored[0], "training")
        out(curve.tail(TAIL).to_string(index=False))
    if report.interrupted:
        kept = [f["id"] for job in the_plan.jobs
                if (f := store.lookup(job.experiment, job.seed)) is not None and f["status"] == "partial"]
        err(f"{PROG}: training interrupted: "
            + (f"the curve so far is kept in run(s) {', '.join(map(str, kept))} (status partial); " if kept else "")
            + f"checkpoints in {path.parent / 'train'}; the same command resumes (learners that cannot resume "
              f"start over)")
    return report.exit_code
