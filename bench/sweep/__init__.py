"""Sweeps: many runs from comma lists, ``--set`` value lists and seeds.

``bench sweep arm2 osc,pd reach --set osc.kp=100,200 --seeds 5`` is the
cartesian product of plants × controllers × tasks × every ``--set`` value list
× seeds.

* :mod:`.planning` - :func:`plan` expands it into :class:`Job` s, each with
  its experiment key, and checks everything a user can get wrong before
  anything runs;
* :mod:`.executors` - where the jobs run (this process, a local process
  pool, a Dask cluster) and the work one job does (:func:`execute`);
* :mod:`.progress` - the progress display;
* :mod:`.coordinator` - :func:`run_sweep`: skip what is stored, claim and
  submit the rest, store each result as it arrives.

Workers only compute: each returns its :class:`~bench.api.Result` (or the
error of a run that raised) and the coordinator alone writes the store, one
transaction per run.  So a Ctrl-C or a worker that dies keeps every
completed run, rerunning the same command runs only what is missing, and
concurrent sweeps on one store never run one (experiment, seed) twice.
"""

from __future__ import annotations

from .coordinator import SweepReport, run_sweep
from .executors import EXECUTORS, Outcome, default_jobs, execute
from .planning import Job, Plan, plan, split_names, split_values
from .progress import Progress

__all__ = [
    "EXECUTORS",
    "Job",
    "Outcome",
    "Plan",
    "Progress",
    "SweepReport",
    "default_jobs",
    "execute",
    "plan",
    "run_sweep",
    "split_names",
    "split_values",
]
