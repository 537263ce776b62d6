"""Metrics across commits, with their significant steps (``bench history``, the report's history page).

Every run records its git commit (:func:`bench.runner.git_commit`); ``bench
ci`` on each commit of main into one store (the GitHub workflow keeps it
between runs) makes a history.  :func:`history` reads it:

* **Commits** are ordered by when their first run started (the order they
  were benchmarked, which for CI is the order they landed).  Runs without a
  commit (outside a git checkout) are left out and counted.
* **Series**: one per (plant, controller, task, settings) and metric.  A
  (plant, controller, task) that ran with exactly one settings hash on every
  commit is one series even when that hash changes (a new default, a new
  setting), as ``bench compare`` matches them.
* **Points**: per commit, the mean over seeds with a 95% bootstrap CI.
* **Steps**: between each commit and the previous commit that ran the same
  series, the change of the mean gets a bootstrap CI
  (:func:`bench.reports.stats.bootstrap_change`, paired by seed when both
  ran the same seeds).  A step is *significant* when that CI excludes 0 and
  its relative change lies entirely beyond the threshold (default 5 %, the
  suite's ``max_regression`` and per-metric thresholds with ``--suite``; a
  threshold ``off`` never flags): the same rule as a ``bench compare``
  regression, applied in both directions and to every consecutive pair.
  A metric that stops being finite (finite on the previous commit, NaN on
  every seed now) is a step too (``now NaN``), as is the reverse (``was NaN``).
  The step names the commit that made it and the one before.  Consecutive
  comparisons catch an abrupt change at the commit that made it; a slow drift
  of small steps, each inside the threshold, is not flagged (it shows in the
  figures).  A change-point library (ruptures) was weighed and not used: its
  penalised segmentation of the means ignores the seeds' spread that the
  bootstrap uses, and would need a penalty tuned per metric.

The figures of the history page are drawn by :mod:`bench.reports.figures`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import UsageError, suggestion
from .reports.stats import bootstrap_change, bootstrap_cis, fmt, variants

if TYPE_CHECKING:
    import pandas as pd

SERIES = ["plant", "controller", "task", "series"]
DEFAULT_THRESHOLD = 0.05


@dataclasses.dataclass
class History:
    """What :func:`history` found.

    commits : DataFrame
        One row per commit in order: ``commit``, ``started`` (its first run),
        ``runs``.
    points : DataFrame
        One row per series, metric and commit: plant, controller, task,
        series, variant, metric, unit, better, commit, order (its index in
        ``commits``), mean, ci_low, ci_high, n (finite seeds), seeds.
    steps : DataFrame
        One row per compared consecutive pair: the point's keys, ``commit``,
        ``previous``, ``base``, ``head``, ``rel``, ``rel_low``,
        ``rel_high``, ``diff_low``, ``diff_high``, ``paired``, ``threshold``,
        ``step`` (significant), ``verdict`` (``worse``, ``better``,
        ``changed`` for a metric without a direction, or ``same``) and
        ``reason`` (``now NaN``, ``was NaN`` or empty).
    left_out : int
        Runs without a recorded commit.
    """

    commits: pd.DataFrame
    points: pd.DataFrame
    steps: pd.DataFrame
    left_out: int = 0

    @property
    def flagged(self) -> pd.DataFrame:
        """The significant steps only."""
        return self.steps[self.steps["step"]] if len(self.steps) else self.steps


def _series(df: pd.DataFrame) -> pd.Series:
    """Per row: the settings hash, or ``*`` where its (plant, controller, task) ran one hash on every commit."""
    per = df.groupby(["plant", "controller", "task", "commit"])["settings_hash"].nunique()
    single = per.groupby(level=[0, 1, 2]).max() == 1
    keep = {k for k, one in single.items() if one}
    triple = list(zip(df["plant"], df["controller"], df["task"]))
    return df["settings_hash"].where([t not in keep for t in triple], "*")


def history(df: pd.DataFrame, *, metrics: Sequence[str] | None = None, threshold: float | None = DEFAULT_THRESHOLD,
            thresholds: Callable[[str, str], float | None] | None = None, n_resamples: int = 2000,
            seed: int = 0) -> History:
    """The history of the tidy table ``df`` (:func:`bench.reports.load`; every commit's runs).

    ``metrics``: only these (default all).  ``thresholds(task, metric)``
    overrides ``threshold`` per metric (None: never flag).
    """
    import pandas as pd

    df = df[df["status"] == "ok"] if "status" in df else df
    known = df["commit"].notna() & (df["commit"].astype(str) != "")
    left_out = int(df.loc[~known, "run_id"].nunique())
    df = df[known].copy()
    if metrics:
        df = df[df["metric"].isin(list(metrics))]
    empty = History(pd.DataFrame(columns=["commit", "started", "runs"]), pd.DataFrame(), pd.DataFrame(), left_out)
    if df.empty:
        return empty
    df["commit"] = df["commit"].astype(str)
    first = df.groupby("commit").agg(started=("started_at", "min"), runs=("run_id", "nunique")).reset_index()
    commits = first.sort_values(["started", "commit"], kind="stable").reset_index(drop=True)
    order = {c: i for i, c in enumerate(commits["commit"])}
    df["series"] = _series(df)
    labels = variants(df)
    df["variant"] = [("" if s == "*" else labels.get(h, "")) for s, h in zip(df["series"], df["settings_hash"])]
    df["order"] = df["commit"].map(order)
    rows, steps, finite = [], [], []
    keys = [*SERIES, "metric"]
    # every point's per-seed means at once (one groupby, not one per series and commit)
    means = df.groupby([*keys, "commit", "seed"], sort=True)["value"].mean()
    by_point: dict[tuple, pd.Series] = {}
    commits_of: dict[tuple, list[str]] = {}
    for k, part in means.groupby(level=list(range(len(keys) + 1)), sort=False):
        by_point[k] = pd.Series(part.to_numpy(), index=part.index.get_level_values(-1), name="value")
        commits_of.setdefault(k[:-1], []).append(k[-1])
    last = df.drop_duplicates(keys, keep="last").set_index(keys)
    first_variant = df.drop_duplicates(keys, keep="first").set_index(keys)["variant"]
    for key in df[keys].drop_duplicates().itertuples(index=False, name=None):
        if key not in commits_of:
            continue
        unit, better, variant = last.at[key, "unit"], last.at[key, "better"], first_variant.at[key]
        limit = thresholds(key[2], key[-1]) if thresholds is not None else threshold
        prev: pd.Series | None = None
        prev_commit = ""
        for commit in sorted(commits_of[key], key=order.__getitem__):
            per_seed = by_point[(*key, commit)]
            v = per_seed.to_numpy(dtype=float)
            fin = v[np.isfinite(v)]
            point = dict(zip(SERIES, key[:4]), variant=variant, metric=key[-1], unit=unit, better=better,
                         commit=commit, order=order[commit], mean=float(fin.mean()) if fin.size else math.nan,
                         ci_low=math.nan, ci_high=math.nan, n=int(fin.size), seeds=len(v))
            rows.append(point)
            finite.append(fin)
            if prev is not None:
                steps.append({**{k: point[k] for k in (*SERIES, "variant", "metric", "unit", "better", "commit",
                                                        "order")},
                              "previous": prev_commit, **_step(prev, per_seed, better, limit, n_resamples, seed)})
            prev, prev_commit = per_seed, commit
    for point, (lo, hi) in zip(rows, bootstrap_cis(finite, n_resamples=n_resamples, seed=seed)):
        point["ci_low"], point["ci_high"] = lo, hi
    points = pd.DataFrame(rows)
    step_cols = [*SERIES, "variant", "metric", "unit", "better", "commit", "order", "previous", "base", "head",
                 "rel", "rel_low", "rel_high", "diff_low", "diff_high", "paired", "threshold", "step", "verdict",
                 "reason"]
    return History(commits, points, pd.DataFrame(steps, columns=step_cols), left_out)


def _step(prev: pd.Series, cur: pd.Series, better: str, limit: float | None, n_resamples: int,
          seed: int) -> dict[str, Any]:
    """The change from the previous commit's per-seed values to this one's, and whether it is a step."""
    paired = len(prev) > 1 and set(prev.index) == set(cur.index)
    b = prev.to_numpy(dtype=float)
    h = (cur.reindex(prev.index) if paired else cur).to_numpy(dtype=float)
    ch = bootstrap_change(b, h, paired=paired, n_resamples=n_resamples, seed=seed)
    fin_b, fin_h = np.isfinite(b).any(), np.isfinite(h).any()
    sign = 1.0 if better == "lower" else -1.0  # worse is a positive change for 'lower is better'
    reason = ""
    if limit is None:
        step = False
    elif fin_b and not fin_h:
        step, reason = True, "now NaN"
    elif fin_h and not fin_b:
        step, reason = True, "was NaN"
    elif math.isnan(ch["diff_low"]):
        step = False
    else:
        excludes_zero = ch["diff_low"] > 0 or ch["diff_high"] < 0
        beyond = ch["rel_low"] > limit or ch["rel_high"] < -limit
        step = bool(excludes_zero and beyond)
    if reason == "now NaN":
        verdict = "worse"
    elif reason == "was NaN":
        verdict = "better" if better else "changed"
    elif not step:
        verdict = "same"
    elif not better:
        verdict = "changed"
    else:
        verdict = "worse" if sign * ch["diff"] > 0 else "better"
    if reason:  # the means that are known
        ch["base"] = float(np.nanmean(b)) if fin_b else math.nan
        ch["head"] = float(np.nanmean(h)) if fin_h else math.nan
    return {"base": ch["base"], "head": ch["head"], "rel": ch["rel"], "rel_low": ch["rel_low"],
            "rel_high": ch["rel_high"], "diff_low": ch["diff_low"], "diff_high": ch["diff_high"],
            "paired": paired, "threshold": limit, "step": step, "verdict": verdict, "reason": reason}


def check_metrics(df: pd.DataFrame, metrics: Sequence[str]) -> None:
    """Refuse a metric name no run reports (one line, with the closest name)."""
    known = sorted(set(df["metric"])) if len(df) else []
    for m in metrics:
        if m not in known:
            raise UsageError(f"--metric {m}: no stored run reports it{suggestion(m, known)}"
                             + ("" if suggestion(m, known) else f" (metrics: {', '.join(known[:12])}"
                                + (", ..." if len(known) > 12 else "") + ")"))


# -- rendering ----------------------------------------------------------------------------
def short(commit: str) -> str:
    """``1a2b3c4d5e6f`` (+dirty kept)."""
    sha, plus, rest = str(commit).partition("+")
    return sha[:12] + (plus + rest if plus else "")


def pct(x: float) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "—"
    if math.isinf(x):
        return "+inf%" if x > 0 else "-inf%"
    return f"{x * 100:+.1f}%"


def _who(r: Any) -> str:
    return f"{r.plant} {r.controller} {r.task}" + (f" ({r.variant})" if r.variant else "")


def step_line(r: Any) -> str:
    """``reach.final_distance_mean of arm2 osc reach: worse by +25.0% [+24.1%, +26.0%] at bbbb (from aaaa)``."""
    change = r.reason or f"{pct(r.rel)} [{pct(r.rel_low)}, {pct(r.rel_high)}]"
    return (f"{r.metric} of {_who(r)}: {r.verdict}, {change}, at {short(r.commit)} "
            f"(from {short(r.previous)}; {fmt(r.base)} → {fmt(r.head)})")


def _steps_by_point(h: History) -> dict[tuple, Any]:
    return {(*(getattr(r, k) for k in SERIES), r.metric, r.commit): r for r in h.steps.itertuples(index=False)}


def render(h: History, *, fmt_: str = "text", source: str = "") -> str:
    """The history as aligned text (``text``) or GitHub markdown (``md``): the significant steps first, then
    every series and metric with one line per commit."""
    md = fmt_ == "md"
    flagged = list(h.flagged.itertuples(index=False)) if len(h.steps) else []
    head = (f"{len(h.commits)} commit(s)" + (f" in {source}" if source else "")
            + (f"; {h.left_out} run(s) without a commit left out" if h.left_out else "")
            + f": {len(flagged)} significant step(s)")
    lines = [f"### Benchmark history\n\n{head}\n" if md else head]
    for r in flagged:
        lines.append(("- " if md else "  STEP ") + step_line(r))
    if md and flagged:
        lines.append("")
    steps = _steps_by_point(h)
    cols = ["commit", "started", "mean", "95% CI", "n", "change vs previous", "step"]
    started = dict(zip(h.commits["commit"], h.commits["started"]))
    if h.points.empty:
        return "\n".join(lines)
    for key, g in h.points.groupby([*SERIES, "metric"], sort=False):
        r0 = g.iloc[0]
        title = (f"{_who(r0)}: {r0.metric}" + (f" [{r0.unit}]" if r0.unit else "")
                 + (f" ({r0.better} is better)" if r0.better else ""))
        body = []
        for p in g.sort_values("order").itertuples(index=False):
            s = steps.get((*key, p.commit))
            change = "" if s is None else (s.reason or f"{pct(s.rel)} [{pct(s.rel_low)}, {pct(s.rel_high)}]")
            flag = f"◀ {s.verdict}" if s is not None and s.step else ""
            body.append([short(p.commit), str(started.get(p.commit, ""))[:19], fmt(p.mean),
                         f"[{fmt(p.ci_low)}, {fmt(p.ci_high)}]" if p.n else "—", str(p.n), change, flag])
        if md:
            lines += [f"#### {title}", "", "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
            lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
            lines.append("")
        else:
            widths = [max(len(x) for x in col) for col in zip(cols, *body)]
            lines += ["", title] + ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
                                    for row in [cols, *body]]
    return "\n".join(lines).rstrip("\n")


def load(store: Any, *, where: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Every ok run × metric of ``store`` matching ``where`` (commit filters dropped: a history spans them)."""
    where = {k: v for k, v in (where or {}).items() if k not in ("code_version", "git_commit", "id")}
    return store.dataframe(where or None)
