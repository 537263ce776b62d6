"""Statistics for reports and comparisons: percentile bootstrap CIs, seeded.

Every function takes ``n_resamples`` (default 3000) and ``seed`` (default 0)
so the same data always give the same interval.  Non-finite values (a metric
that "never happened") are dropped before resampling.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

N_RESAMPLES = 3000
LEVEL = 0.95
KEYS = ["plant", "controller", "task", "settings_hash"]


def _finite(values: Iterable[float]) -> np.ndarray:
    a = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float).ravel()
    return a[np.isfinite(a)]


def bootstrap_ci(values: Iterable[float], *, n_resamples: int = N_RESAMPLES, level: float = LEVEL,
                 seed: int = 0, stat: str = "mean") -> tuple[float, float]:
    """``(low, high)`` percentile bootstrap CI of the mean (or median) of ``values``.

    One value gives a zero-width interval; none gives ``(nan, nan)``.
    """
    a = _finite(values)
    if a.size == 0:
        return math.nan, math.nan
    if a.size == 1:
        return float(a[0]), float(a[0])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(n_resamples, a.size))
    f = np.median if stat == "median" else np.mean
    boot = f(a[idx], axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha])
    return float(lo), float(hi)


#: Largest groups × resamples × values array :func:`bootstrap_cis` draws at once.
CHUNK = 2_000_000


def bootstrap_cis(arrays: Sequence[Iterable[float]], *, n_resamples: int = N_RESAMPLES, level: float = LEVEL,
                  seed: int = 0) -> list[tuple[float, float]]:
    """:func:`bootstrap_ci` of the mean of each of ``arrays``, the same numbers, vectorised: the arrays of one
    size share their resample indices (as ``bootstrap_ci`` with one ``seed`` draws them), so they go at once."""
    finite = [_finite(a) for a in arrays]
    out: list[tuple[float, float]] = [(math.nan, math.nan)] * len(finite)
    by_size: dict[int, list[int]] = {}
    for i, a in enumerate(finite):
        if a.size == 1:
            out[i] = (float(a[0]), float(a[0]))
        elif a.size > 1:
            by_size.setdefault(a.size, []).append(i)
    alpha = (1 - level) / 2
    for n, which in by_size.items():
        idx = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
        step = max(1, CHUNK // (n_resamples * n))
        for start in range(0, len(which), step):
            part = which[start:start + step]
            boot = np.stack([finite[i] for i in part])[:, idx].mean(axis=2)   # (groups, resamples)
            lo, hi = np.quantile(boot, [alpha, 1 - alpha], axis=1)
            for j, i in enumerate(part):
                out[i] = (float(lo[j]), float(hi[j]))
    return out


def bootstrap_change(base: Sequence[float], head: Sequence[float], *, paired: bool = False,
                     n_resamples: int = N_RESAMPLES, level: float = LEVEL, seed: int = 0) -> dict[str, float]:
    """Change of the mean from ``base`` to ``head`` with bootstrap CIs.

    ``paired`` resamples (base, head) pairs together (same seeds on both
    sides), otherwise each side independently.  Returns ``diff`` (head - base
    mean), ``diff_low``/``diff_high`` and the same relative to ``|base mean|``
    as ``rel``, ``rel_low``, ``rel_high`` (inf when the base mean is 0 and the
    head differs).
    """
    b = np.asarray(base, dtype=float)
    h = np.asarray(head, dtype=float)
    if paired:
        keep = np.isfinite(b) & np.isfinite(h)
        b, h = b[keep], h[keep]
    else:
        b, h = _finite(b), _finite(h)
    if b.size == 0 or h.size == 0:
        nan = math.nan
        return {"base": nan, "head": nan, "diff": nan, "diff_low": nan, "diff_high": nan,
                "rel": nan, "rel_low": nan, "rel_high": nan}
    rng = np.random.default_rng(seed)
    if paired:
        idx = rng.integers(0, b.size, size=(n_resamples, b.size))
        mb, mh = b[idx].mean(axis=1), h[idx].mean(axis=1)
    else:
        mb = b[rng.integers(0, b.size, size=(n_resamples, b.size))].mean(axis=1)
        mh = h[rng.integers(0, h.size, size=(n_resamples, h.size))].mean(axis=1)
    alpha = (1 - level) / 2
    q = [alpha, 1 - alpha]
    d_lo, d_hi = np.quantile(mh - mb, q)
    base_mean, head_mean = float(b.mean()), float(h.mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_boot = np.where(mh == mb, 0.0, (mh - mb) / np.abs(mb))
        r_lo, r_hi = np.quantile(rel_boot, q, method="inverted_cdf")  # no interpolation: inf stays inf
    if head_mean == base_mean:
        rel = 0.0
    elif base_mean == 0:
        rel = math.copysign(math.inf, head_mean - base_mean)
    else:
        rel = (head_mean - base_mean) / abs(base_mean)
    return {"base": base_mean, "head": head_mean, "diff": head_mean - base_mean, "diff_low": float(d_lo),
                "diff_high": float(d_hi), "rel": float(rel), "rel_low": float(r_lo), "rel_high": float(r_hi)}


def band(curves: np.ndarray, *, n_resamples: int = N_RESAMPLES, level: float = LEVEL,
         seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise mean and bootstrap CI over seeds of ``(n_seeds, n_points)`` curves.

    NaN marks a point a seed does not have; returns ``(mean, low, high)``,
    each ``(n_points,)``.  The seeds are resampled once for all points.
    """
    c = np.asarray(curves, dtype=float)
    if c.ndim != 2 or c.shape[0] == 0:
        raise ValueError(f"band expects (n_seeds, n_points) curves, got shape {c.shape}")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN points stay NaN
        mean = np.nanmean(c, axis=0)
        if c.shape[0] == 1:
            return mean, mean.copy(), mean.copy()
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, c.shape[0], size=(n_resamples, c.shape[0]))
        boot = np.nanmean(c[idx], axis=1)  # (n_resamples, n_points)
        alpha = (1 - level) / 2
        lo, hi = np.nanquantile(boot, [alpha, 1 - alpha], axis=0)
    return mean, lo, hi


# -- summary tables ------------------------------------------------------------
def _flatten(settings_json: str) -> dict[str, Any]:
    parts = json.loads(settings_json) if isinstance(settings_json, str) else (settings_json or {})
    out = {}
    for part in parts.values():
        name = part.get("name", "?")
        out.update({f"{name}.{k}": v for k, v in part.items() if k != "name"})
    return out


def variants(df: pd.DataFrame) -> dict[str, str]:
    """settings_hash → a short label of the settings that differ within its (plant, controller, task)."""
    labels: dict[str, str] = {}
    first = df.drop_duplicates("settings_hash")
    for _, group in first.groupby(["plant", "controller", "task"], sort=False):
        flat = {h: _flatten(s) for h, s in zip(group["settings_hash"], group["settings"])}
        keys = sorted({k for f in flat.values() for k in f})
        differ = [k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flat.values()}) > 1]
        for h, f in flat.items():
            labels[h] = ", ".join(f"{k}={f.get(k)}" for k in differ)
    return labels


def _groups(df: pd.DataFrame, keys: list[str]) -> Iterator[tuple[tuple, Any, Any, np.ndarray]]:
    """``(key, unit, better, values)`` of each group of ``df`` by ``keys``, in order of first appearance (as
    ``groupby(keys, sort=False)``, rows with a missing key left out), without building a frame per group."""
    if df.empty:
        return
    codes = df.groupby(keys, sort=False).ngroup().to_numpy()
    order = np.argsort(codes, kind="stable")
    order = order[codes[order] >= 0]
    if not order.size:
        return
    sorted_codes = codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1]
    values = np.split(df["value"].to_numpy(dtype=float)[order], starts[1:])
    first = order[starts]
    cols = [df[k].to_numpy(dtype=object)[first] for k in (*keys, "unit", "better")]
    for i, v in enumerate(values):
        yield tuple(c[i] for c in cols[:-2]), cols[-2][i], cols[-1][i], v


def summary(df: pd.DataFrame, runs: Sequence[Mapping[str, Any]] | None = None, *,
            n_resamples: int = N_RESAMPLES, seed: int = 0) -> pd.DataFrame:
    """One row per (plant, controller, task, settings, metric) of a tidy table (:func:`bench.reports.load`).

    Columns: plant, controller, task, variant, metric, unit, better, mean,
    std, median, ci_low, ci_high (95% bootstrap CI of the mean), n (seeds with
    a finite value), failures (failed runs, from ``runs``), best (the best mean
    for this plant, task and metric, by the metric's direction).
    """
    import pandas as pd

    table = pd.DataFrame(list(runs)) if runs else df
    labels = variants(table) if not table.empty else {}
    fails: dict[tuple, int] = {}
    for r in runs or ():
        if r.get("status") == "failed":
            key = (r["plant"], r["controller"], r["task"], r["settings_hash"])
            fails[key] = fails.get(key, 0) + 1
    rows = []
    groups = list(_groups(df, KEYS + ["metric"]))
    cis = bootstrap_cis([g[3] for g in groups], n_resamples=n_resamples, seed=seed)
    for (key, unit, better, values), (lo, hi) in zip(groups, cis):
        v = _finite(values)
        rows.append({"plant": key[0], "controller": key[1], "task": key[2], "variant": labels.get(key[3], ""),
                         "settings_hash": key[3], "metric": key[4], "unit": unit,
                         "better": better,
                         "mean": float(v.mean()) if v.size else math.nan,
                         "std": float(v.std(ddof=1)) if v.size > 1 else math.nan,
                         "median": float(np.median(v)) if v.size else math.nan,
                         "ci_low": lo, "ci_high": hi, "n": int(v.size),
                         "failures": fails.get(tuple(key[:4]), 0)})
    seen = {tuple(k) for k in df[KEYS].drop_duplicates().itertuples(index=False)} if not df.empty else set()
    for key, count in fails.items():
        if key not in seen:
            rows.append({"plant": key[0], "controller": key[1], "task": key[2], "variant": labels.get(key[3], ""),
                             "settings_hash": key[3], "metric": "(every run failed)",
                             "unit": "", "better": "", "mean": math.nan, "std": math.nan,
                             "median": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": 0, "failures": count})
    out = pd.DataFrame(rows, columns=["plant", "controller", "task", "variant", "settings_hash", "metric", "unit",
                                      "better", "mean", "std", "median", "ci_low", "ci_high", "n", "failures"])
    out["best"] = False
    for _, g in out.groupby(["plant", "task", "metric"], sort=False):
        better = g["better"].iloc[0]
        means = g["mean"]
        if better not in ("lower", "higher") or len(g) < 2 or means.isna().all():
            continue
        best = means.min() if better == "lower" else means.max()
        out.loc[g.index[means == best], "best"] = True
    return out


def fmt(x: Any) -> str:
    """A number with 4 significant digits; ``—`` for NaN."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "—"
    return f"{v:.4g}"


def table_rows(s: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and formatted cells of a :func:`summary` table (best marked ★)."""
    show_variant = bool((s["variant"] != "").any()) if not s.empty else False
    head = ["plant", "controller", "task"] + (["settings"] if show_variant else []) + [
        "metric", "unit", "better", "mean", "std", "median", "95% CI", "n", "failed"]
    rows = []
    for r in s.itertuples(index=False):
        ci = f"[{fmt(r.ci_low)}, {fmt(r.ci_high)}]" if r.n else "—"
        mean = fmt(r.mean) + (" ★" if r.best else "")
        cells = [r.plant, r.controller, r.task] + ([r.variant] if show_variant else []) + [
            r.metric, r.unit, r.better, mean, fmt(r.std), fmt(r.median), ci, str(r.n), str(r.failures)]
        rows.append([str(c) for c in cells])
    return head, rows


#: What :func:`md` replaces: markdown's (and HTML's) active characters in text that comes from a store.
_MD = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "`": "\\`", "[": "\\[", "]": "\\]",
                     "\n": " ", "\r": " "})


def md(text: Any) -> str:
    """``text`` safe inside markdown, a table cell included: ``& < >`` as HTML entities (so ``<script>``
    stays text, as the HTML report escapes it), ``| ` [ ]`` backslash-escaped (no cell breaks, code spans
    or links), line breaks as spaces."""
    return str(text).translate(_MD)


def markdown(s: pd.DataFrame) -> str:
    """A :func:`summary` table as GitHub markdown (every cell through :func:`md`)."""
    head, rows = table_rows(s)

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(md(c) for c in cells) + " |"

    return "\n".join([line(head), "|" + "|".join("---" for _ in head) + "|", *map(line, rows)])


# -- headline tables -------------------------------------------------------------
#: Metric names that look like wall-clock timings (left out of the headline a task does not declare).
TIMING = re.compile(r"wall|(^|_)cpu(_|$)|_(s|ms|us)(_|$)")
ARROW = {"lower": "↓", "higher": "↑"}
MAX_FALLBACK_HEADLINE = 4


def declared(task: str, attr: str) -> tuple[str, ...]:
    """A task's class attribute ``HEADLINE`` or ``SCORE`` (:class:`bench.api.Task`); () when the task is
    unknown here (a plugin that is not installed) or declares none.  A training run's task (``TASK:train``)
    has no score; its headline is the learners' :attr:`bench.api.Learner.TRAINING_HEADLINE` (every
    registered learner's, in turn: a table keeps those its runs report)."""
    from bench.runner import TRAIN_SUFFIX

    if task.endswith(TRAIN_SUFFIX):
        return _training_headline() if attr == "HEADLINE" else ()
    try:
        from bench.plugins import registry

        cls = registry().get("task", task).load()
    except Exception:
        return ()
    value = getattr(cls, attr, ())
    return tuple(str(v) for v in value) if isinstance(value, (tuple, list)) else ()


def _training_headline() -> tuple[str, ...]:
    """Every registered learner's ``TRAINING_HEADLINE``, in registration order, each name once."""
    from bench.plugins import registry

    names: list[str] = []
    for spec in registry().specs("controller"):
        if "learn" not in spec.provides:
            continue
        try:
            names += [str(n) for n in getattr(spec.load(), "TRAINING_HEADLINE", ())]
        except Exception:  # a learner whose dependencies are missing here
            continue
    return tuple(dict.fromkeys(names))


def headline_metrics(task: str, s: pd.DataFrame) -> list[str]:
    """The headline metrics of ``task`` that its rows of the :func:`summary` table ``s`` report, in order.

    The task's ``HEADLINE`` (:class:`bench.api.Task`); without one, the first
    four metrics with a direction that are not wall-clock timings.
    """
    mine = s[(s["task"] == task) & (s["n"] > 0)]
    return pick_headline(task, list(dict.fromkeys(mine["metric"])), dict(zip(mine["metric"], mine["better"])))


def pick_headline(task: str, present: Sequence[str], better: Mapping[str, str]) -> list[str]:
    """The headline metrics of ``task`` among the metrics ``present`` (in their order), each with its direction
    in ``better`` (see :func:`headline_metrics`)."""
    wanted = declared(task, "HEADLINE")
    if wanted:
        return [m for m in wanted if m in present]
    return [m for m in present if better.get(m) in ARROW and not TIMING.search(m)][:MAX_FALLBACK_HEADLINE]


def flat_settings(runs: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """settings_hash → its settings flattened to ``{"osc.kp": 200.0, ...}`` (rows with settings and settings_hash)."""
    first = runs.drop_duplicates("settings_hash")
    return {h: _flatten(j) for h, j in zip(first["settings_hash"], first["settings"])}


def swept(runs: pd.DataFrame, flat: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """The settings that vary between the runs of one plant and controller, over every (plant, controller)
    of ``runs`` (a task's runs): the row keys of its headline table, the x axes of its figures.

    A setting some runs lack (recorded by an older version, before it existed) does not count as varying
    for that: only different recorded values do."""
    flat = flat if flat is not None else flat_settings(runs)
    out: dict[str, None] = {}
    for _, g in runs.drop_duplicates("settings_hash").groupby(["plant", "controller"], sort=False):
        out.update(dict.fromkeys(differing([flat[h] for h in g["settings_hash"]])))
    return list(out)


def differing(flats: Sequence[Mapping[str, Any]], prefix: str = "") -> list[str]:
    """The keys (starting with ``prefix``) recorded with at least two different values among ``flats``."""
    keys = dict.fromkeys(k for f in flats for k in f if k.startswith(prefix))
    return [k for k in keys if len({json.dumps(f[k], sort_keys=True, default=str) for f in flats if k in f}) > 1]


def _sort_value(v: Any) -> tuple:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, float(v), "")
    return (1, 0.0, json.dumps(v, sort_keys=True, default=str))


@dataclasses.dataclass
class Headline:
    """One task's headline table (:func:`headlines`).

    ``rows``: one per plant, controller and swept settings (``settings_hash``),
    columns plant, controller, settings_hash, each of ``settings``, ``n``
    (seeds), ``failures``, and for each metric ``M``: ``M:mean``,
    ``M:low``, ``M:high`` (95% bootstrap CI of the mean) and ``M:best``.
    """

    task: str
    metrics: list[str]
    units: dict[str, str]
    better: dict[str, str]
    settings: list[str]
    rows: pd.DataFrame

    def header(self) -> list[str]:
        cols = [f"{m} [{self.units[m]}]" if self.units.get(m) else m for m in self.metrics]
        cols = [f"{c} {ARROW[self.better[m]]}" if self.better.get(m) in ARROW else c
                for c, m in zip(cols, self.metrics)]
        return ["plant", "controller", *self.settings, *cols, "n"]

    def cells(self) -> list[tuple[list[str], list[bool]]]:
        """Per row: its formatted cells and, per cell, whether it is the best of its column (bold)."""
        out = []
        for r in self.rows.to_dict("records"):
            keys = [str(r["plant"]), str(r["controller"])] + [
                "—" if r[k] is _MISSING else fmt(r[k]) for k in self.settings]
            vals, bold = [], []
            for m in self.metrics:
                mean, lo, hi = r[f"{m}:mean"], r[f"{m}:low"], r[f"{m}:high"]
                vals.append("—" if math.isnan(mean) else f"{fmt(mean)} [{fmt(lo)}, {fmt(hi)}]")
                bold.append(bool(r[f"{m}:best"]))
            n = str(r["n"]) + (f" ({r['failures']} failed)" if r["failures"] else "")
            out.append(([*keys, *vals, n], [False] * len(keys) + bold + [False]))
        return out


_MISSING = object()


def headlines(s: pd.DataFrame, runs: pd.DataFrame) -> list[Headline]:
    """One :class:`Headline` per task of the :func:`summary` table ``s``, in its order.

    ``runs``: rows with plant, controller, task, settings_hash and settings
    (the run rows, or the tidy table) to find what was swept.  Each cell is
    the mean over seeds with its 95% bootstrap CI (from ``s``); the best mean
    of each column among the rows of one plant (or dataset) is marked, by the
    metric's direction, when at least two rows have one: runs on different
    plants do not compete.
    """
    import pandas as pd

    out = []
    if s.empty:
        return out
    runs = runs.drop_duplicates("settings_hash") if len(runs) else runs
    for task in dict.fromkeys(s["task"]):
        mine = s[s["task"] == task]
        metrics = headline_metrics(task, s)
        task_runs = runs[runs["task"] == task] if len(runs) else runs
        flat = flat_settings(task_runs) if len(task_runs) else {}
        keys = swept(task_runs, flat) if len(task_runs) else []
        rows = []
        for (plant, ctrl, shash), g in mine.groupby(["plant", "controller", "settings_hash"], sort=False):
            row: dict[str, Any] = {"plant": plant, "controller": ctrl, "settings_hash": shash,
                                   "n": int(g["n"].max()), "failures": int(g["failures"].max())}
            f = flat.get(shash, {})
            row.update({k: f.get(k, _MISSING) for k in keys})
            by = g.set_index("metric")
            for m in metrics:
                have = m in by.index
                row[f"{m}:mean"] = float(by.at[m, "mean"]) if have else math.nan
                row[f"{m}:low"] = float(by.at[m, "ci_low"]) if have else math.nan
                row[f"{m}:high"] = float(by.at[m, "ci_high"]) if have else math.nan
                row[f"{m}:best"] = False
            rows.append(row)
        table = pd.DataFrame(rows)
        plants = list(dict.fromkeys(table["plant"]))
        ctrls = list(dict.fromkeys(table["controller"]))
        order = sorted(range(len(table)), key=lambda i: (
            plants.index(table.at[i, "plant"]), ctrls.index(table.at[i, "controller"]),
            *(_sort_value(None if table.at[i, k] is _MISSING else table.at[i, k]) for k in keys)))
        table = table.iloc[order].reset_index(drop=True)
        units = {m: str(mine.loc[mine["metric"] == m, "unit"].iloc[0]) for m in metrics}
        better = {m: str(mine.loc[mine["metric"] == m, "better"].iloc[0]) for m in metrics}
        for m in metrics:
            if better[m] not in ARROW:
                continue
            for _, g in table.groupby("plant", sort=False):
                means = g[f"{m}:mean"]
                if means.notna().sum() < 2 or means.min() == means.max():  # one row, or all alike: no best
                    continue
                best = means.min() if better[m] == "lower" else means.max()
                table.loc[g.index[means == best], f"{m}:best"] = True
        out.append(Headline(task, metrics, units, better, keys, table))
    return out


def _md_line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def headline_markdown(h: Headline) -> str:
    """A :class:`Headline` as GitHub markdown (best cells in bold; every cell through :func:`md`)."""
    head = h.header()
    lines = [_md_line([md(c) for c in head]), "|" + "|".join("---" for _ in head) + "|"]
    for cells, bold in h.cells():
        lines.append(_md_line([f"**{md(c)}**" if b else md(c) for c, b in zip(cells, bold)]))
    return "\n".join(lines)


HEADLINE_NOTE = ("mean [95% bootstrap CI of the mean] over seeds; **bold**: the best of its column among the "
                 "rows of one plant, by the metric's direction (↓ lower, ↑ higher is better)")


def report_markdown(s: pd.DataFrame, runs: pd.DataFrame, *, level: int = 2, fold: bool = False) -> str:
    """Each task's headline table, then the long table of every metric (``fold``: inside ``<details>``,
    for a pull-request comment)."""
    mark = "#" * level
    parts = [HEADLINE_NOTE, ""]
    for h in headlines(s, runs):
        parts += [f"{mark} {md(h.task)}", "", headline_markdown(h), ""]
    long = markdown(s)
    if fold:
        parts += [f"<details><summary>Every metric ({len(s)} rows)</summary>", "", long, "", "</details>"]
    else:
        parts += [f"{mark} Every metric", "", "★ best mean per plant, task and metric (by its direction).", "",
                  long]
    return "\n".join(parts)


def pareto_front(points: np.ndarray, better: Sequence[str]) -> np.ndarray:
    """Boolean mask of the points no other point beats on every axis.

    Points with a NaN coordinate are left out and beat nothing.

    ``points`` is ``(n, k)``; ``better[j]`` is ``"higher"`` or ``"lower"``.
    """
    p = np.asarray(points, dtype=float)
    sign = np.array([1.0 if b == "higher" else -1.0 for b in better])
    q = p * sign  # now higher is better on every axis
    ge = (q[:, None, :] >= q[None, :, :]).all(axis=2)  # ge[i, j]: i at least as good as j everywhere
    gt = (q[:, None, :] > q[None, :, :]).any(axis=2)
    dominated = (ge & gt).any(axis=0)
    return ~dominated & np.isfinite(p).all(axis=1)
