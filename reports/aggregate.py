"""Aggregate statistics across tasks and seeds, as rliable recommends (Agarwal et al., NeurIPS 2021).

For each *algorithm* (a controller, with the settings that vary between its
runs of a task: ``snn (snn.n_steps=10)``), the runs of every task it ran are
put on one scale, then summarised:

* **Normalised score.**  A task declares it (:attr:`bench.api.Task.SCORE`):
  a metric on [0, 1], 1 the best, 0 a failure (or, for a classifier,
  accuracy, chance being 1/classes).  The built-ins: ``reach``'s
  ``within_tolerance`` (sequence mode: ``reached``), ``postural``,
  ``random_movements`` and ``write``'s ``time_within_threshold``,
  ``balance``'s ``auc_max_reward_norm`` (the area under the max-reward
  learning curve over its largest possible: how fast and how high), and
  ``classify``'s ``spiking_accuracy``.  The scale is fixed by the task, never
  by the runs at hand, so adding a controller moves no one else's score.
  A task instance is a (plant or dataset, task) pair; a task without a
  score is left out.
* **IQM**: the interquartile mean of all the algorithm's run scores pooled
  over its tasks (the mean of the middle 50 %, ``scipy.stats.trim_mean(x,
  0.25)``): robust to a few outlying runs, far less noisy than the median.
* **Stratified bootstrap CI** (95 %, percentile): each resample draws runs
  with replacement *within each task* (tasks are fixed, seeds are the
  noise), pools them and takes the statistic.
* **Performance profile** (score distribution): for each threshold τ, the
  fraction of the algorithm's runs (over all its tasks) scoring above τ,
  with a pointwise bootstrap band of the same resamples.

Everything is seeded (same data, same numbers).  rliable itself is not a
dependency: it is an sdist that pins ``arch<8`` and pulls statsmodels,
patsy, formulaic and seaborn for what is the few lines below; the tests
check these lines against the published definitions on known inputs.
Caveat: algorithms that ran different tasks (``pg`` balances a pole, ``snn``
classifies digits) are compared only as far as the tasks' normalisations
are comparable; the table says which tasks each algorithm covers.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .stats import LEVEL, N_RESAMPLES, declared, differing, flat_settings, fmt, md

if TYPE_CHECKING:
    import pandas as pd

TAUS = np.linspace(0.0, 1.0, 101)


def iqm(scores: Any, axis: int | None = None) -> Any:
    """Interquartile mean: the mean of the middle 50 % (25 % cut from each end), as rliable's ``aggregate_iqm``
    (``scipy.stats.trim_mean(scores, 0.25, axis)``, its very steps, without its per-call overhead)."""
    a = np.asarray(scores, dtype=float)
    if axis is None:
        a, axis = a.ravel(), 0
    n = a.shape[axis]
    low = int(0.25 * n)
    high = n - low
    if low >= high:
        raise ValueError("Proportion too big.")
    part = np.partition(a, (low, high - 1), axis)
    return np.mean(np.take(part, np.arange(low, high), axis=axis), axis=axis)


#: Largest resamples × runs array drawn at once (the bootstrap goes in chunks of resamples beyond it).
CHUNK = 2_000_000


def _stratified(tasks: Sequence[np.ndarray], f: Any, n_resamples: int, seed: int) -> np.ndarray:
    """``(n_resamples,)`` values of ``f(sample, axis=1)``, each sample drawing every task's runs with
    replacement within the task and pooling them (in chunks, so memory stays bounded)."""
    rng = np.random.default_rng(seed)
    n = sum(a.size for a in tasks)
    chunk = max(1, min(n_resamples, CHUNK // max(n, 1)))
    out = []
    for start in range(0, n_resamples, chunk):
        k = min(chunk, n_resamples - start)
        out.append(f(np.concatenate([a[rng.integers(0, a.size, size=(k, a.size))] for a in tasks], axis=1), axis=1))
    return np.concatenate(out)


def _tasks(scores: Mapping[Any, Sequence[float]] | Sequence[Sequence[float]]) -> list[np.ndarray]:
    groups = scores.values() if isinstance(scores, Mapping) else scores
    out = [np.asarray(g, dtype=float).ravel() for g in groups]
    out = [a[np.isfinite(a)] for a in out]
    return [a for a in out if a.size]


def interval(scores: Mapping[Any, Sequence[float]] | Sequence[Sequence[float]], stat: str = "iqm", *,
             n_resamples: int = N_RESAMPLES, level: float = LEVEL, seed: int = 0) -> tuple[float, float, float]:
    """``(point, low, high)`` of ``stat`` (``iqm``, ``mean`` or ``median``) over the runs of every task,
    with a stratified bootstrap CI; ``scores`` holds one array of run scores per task."""
    tasks = _tasks(scores)
    if not tasks:
        return math.nan, math.nan, math.nan
    f = {"iqm": iqm, "mean": np.mean, "median": np.median}[stat]
    point = float(f(np.concatenate(tasks)))
    boot = _stratified(tasks, f, n_resamples, seed)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha])
    return point, float(lo), float(hi)


def profile(scores: Mapping[Any, Sequence[float]] | Sequence[Sequence[float]], taus: Sequence[float] = TAUS, *,
            n_resamples: int = N_RESAMPLES, level: float = LEVEL, seed: int = 0
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Performance profile: ``(fraction, low, high)`` per τ, the fraction of runs scoring above τ
    (rliable's ``score_distributions``: ``mean(scores > τ)`` over every run of every task) with a
    stratified bootstrap band."""
    taus = np.sort(np.asarray(taus, dtype=float))
    tasks = _tasks(scores)
    if not tasks:
        nan = np.full(taus.shape, np.nan)
        return nan, nan.copy(), nan.copy()
    pooled = np.concatenate(tasks)
    point = (pooled[:, None] > taus[None, :]).mean(axis=0)
    # a resample only matters through how many of each task's runs fall between consecutive τ: draw those
    # counts (multinomial, the same law as drawing the runs) instead of the runs, whatever their number
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_resamples, taus.size + 1))
    for a in tasks:
        bins = np.bincount(np.searchsorted(taus, a, side="left"), minlength=taus.size + 1)  # taus below each run
        counts += rng.multinomial(a.size, bins / a.size, size=n_resamples)
    above = counts[:, ::-1].cumsum(axis=1)[:, ::-1]  # above[:, j]: runs with at least j taus below them
    frac = above[:, 1:] / pooled.size  # (R, T): runs above taus[k]
    alpha = (1 - level) / 2
    lo, hi = np.quantile(frac, [alpha, 1 - alpha], axis=0)
    return point, lo, hi


# -- from a store's runs ------------------------------------------------------------------
def run_scores(df: pd.DataFrame, score: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """One row per scored run: algorithm, controller, plant, task, seed, run_id, metric, score.

    ``df`` is the tidy table (:func:`bench.reports.load`).  ``score``: task →
    its score metrics (default: each task's ``SCORE``).  The algorithm is the
    controller plus the settings of its own that vary between its runs of a
    task (``snn (snn.n_steps=10)``).  A run whose score is NaN scores 0 (it
    did not do the task); a score outside [0, 1] is clipped to it.
    """
    import pandas as pd

    cols = ["algorithm", "controller", "plant", "task", "seed", "run_id", "metric", "score"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for task, g in df.groupby("task", sort=False):
        wanted = list(score[task]) if score is not None and task in score else list(declared(str(task), "SCORE"))
        if not wanted:
            continue
        flat = flat_settings(g)
        own = _own_swept(g, flat)
        # per run (in order of first appearance): its first wanted metric it reports, the last value of it
        rank = g["metric"].map({m: i for i, m in enumerate(reversed(wanted))})   # higher: wanted earlier
        sub = g.assign(_rank=rank.to_numpy(dtype=float))[rank.notna().to_numpy()]
        if sub.empty:
            continue
        sub = sub[sub["_rank"].to_numpy() == sub.groupby("run_id", sort=False)["_rank"].transform("max").to_numpy()]
        sub = sub.drop_duplicates("run_id", keep="last")
        first = {rid: i for i, rid in enumerate(g["run_id"].drop_duplicates())}
        sub = sub.iloc[np.argsort([first[rid] for rid in sub["run_id"]], kind="stable")]
        algos: dict[tuple[str, str], str] = {}
        for ctrl, h in zip(sub["controller"].astype(str), sub["settings_hash"]):
            if (ctrl, h) not in algos:
                f = flat.get(h, {})
                label = ", ".join(f"{k}={fmt(f[k]) if isinstance(f[k], float) else f[k]}"
                                  for k in own.get(ctrl, []) if k in f)
                algos[(ctrl, h)] = ctrl + (f" ({label})" if label else "")
        for ctrl, h, plant, seed, run_id, metric, value in zip(
                sub["controller"].astype(str), sub["settings_hash"], sub["plant"], sub["seed"], sub["run_id"],
                sub["metric"], sub["value"]):
            v = float(value)
            rows.append({"algorithm": algos[(ctrl, h)], "controller": ctrl, "plant": plant, "task": task,
                         "seed": int(seed), "run_id": int(run_id), "metric": metric,
                         "score": 0.0 if math.isnan(v) else min(max(v, 0.0), 1.0)})
    return pd.DataFrame(rows, columns=cols)


def _own_swept(g: pd.DataFrame, flat: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """controller → its own settings (``NAME.key``) that vary between its runs."""
    return {str(ctrl): differing([flat[h] for h in rows["settings_hash"]], f"{ctrl}.")
            for ctrl, rows in g.drop_duplicates("settings_hash").groupby("controller", sort=False)}


class Profiles(Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]):
    """algorithm → its :func:`profile`, computed when first read (a report draws a few of many)."""

    def __init__(self, by_task: Mapping[str, Mapping[Any, np.ndarray]], taus: np.ndarray, **kw: Any) -> None:
        self._by_task, self._taus, self._kw = dict(by_task), taus, kw
        self._done: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def __getitem__(self, algo: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if algo not in self._done:
            self._done[algo] = profile(self._by_task[algo], self._taus, **self._kw)
        return self._done[algo]

    def __iter__(self) -> Any:
        return iter(self._by_task)

    def __len__(self) -> int:
        return len(self._by_task)


@dataclasses.dataclass
class Aggregate:
    """The aggregate statistics of a report: ``table`` (one row per algorithm) and its profiles."""

    scores: pd.DataFrame
    table: pd.DataFrame
    taus: np.ndarray
    profiles: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]   # a :class:`Profiles`: computed when read


def aggregate(df: pd.DataFrame, *, n_resamples: int = N_RESAMPLES, seed: int = 0,
              score: Mapping[str, Sequence[str]] | None = None) -> Aggregate:
    """IQM, mean and median with stratified bootstrap CIs, and performance profiles, per algorithm.

    ``table`` columns: algorithm, tasks (``plant task`` names), runs, iqm,
    iqm_low, iqm_high, mean, mean_low, mean_high, median.
    """
    import pandas as pd

    sc = run_scores(df, score)
    rows, by_algo = [], {}
    for algo, g in sc.groupby("algorithm", sort=False):
        by_task = {k: grp["score"].to_numpy() for k, grp in g.groupby(["plant", "task"], sort=False)}
        q = interval(by_task, "iqm", n_resamples=n_resamples, seed=seed)
        m = interval(by_task, "mean", n_resamples=n_resamples, seed=seed)
        rows.append({"algorithm": algo, "tasks": ", ".join(f"{p} {t}" for p, t in by_task), "runs": len(g),
                     "iqm": q[0], "iqm_low": q[1], "iqm_high": q[2], "mean": m[0], "mean_low": m[1],
                     "mean_high": m[2], "median": float(np.median(g["score"]))})
        by_algo[str(algo)] = by_task
    table = pd.DataFrame(rows, columns=["algorithm", "tasks", "runs", "iqm", "iqm_low", "iqm_high", "mean",
                                        "mean_low", "mean_high", "median"])
    return Aggregate(sc, table, TAUS, Profiles(by_algo, TAUS, n_resamples=n_resamples, seed=seed))


def note(agg: Aggregate) -> str:
    """What the aggregate table shows, naming each task's score metric."""
    used = agg.scores.drop_duplicates(["task", "metric"]).groupby("task", sort=False)["metric"]
    scores = "; ".join(f"{task}: {' or '.join(m)}" for task, m in used)
    return ("Normalised score of a run: its task's declared score on [0, 1], 1 the best (" + scores + "). "
            "IQM: interquartile mean over every run of every task the algorithm ran; CI: 95% stratified "
            "bootstrap (runs resampled within each task).  Algorithms that ran different tasks compare only as "
            "far as those tasks' scores do.")


def rows(agg: Aggregate) -> tuple[list[str], list[list[str]]]:
    """Header and formatted cells of the aggregate table."""
    head = ["algorithm", "tasks", "runs", "IQM [95% CI]", "mean [95% CI]", "median"]
    out = [[r.algorithm, r.tasks, str(r.runs), f"{fmt(r.iqm)} [{fmt(r.iqm_low)}, {fmt(r.iqm_high)}]",
            f"{fmt(r.mean)} [{fmt(r.mean_low)}, {fmt(r.mean_high)}]", fmt(r.median)]
           for r in agg.table.itertuples(index=False)]
    return head, out


def markdown(agg: Aggregate) -> str:
    head, body = rows(agg)

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(md(c) for c in cells) + " |"

    return "\n".join([line(head), "|" + "|".join("---" for _ in head) + "|", *map(line, body)])
