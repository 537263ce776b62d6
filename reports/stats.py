"""Statistics for reports and comparisons: percentile bootstrap CIs, seeded.

Every function takes ``n_resamples`` (default 3000) and ``seed`` (default 0)
so the same data always give the same interval.  Non-finite values (a metric
that "never happened") are dropped before resampling.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
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
        return {"base": nan, "head": nan, "diff": nan, "diff_low": nan, "diff_high": nan, "rel": nan, "rel_low": nan, "rel_high": nan}
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
    for key, g in df.groupby(KEYS + ["metric"], sort=False):
        v = _finite(g["value"].to_numpy())
        lo, hi = bootstrap_ci(v, n_resamples=n_resamples, seed=seed)
        rows.append({"plant": key[0], "controller": key[1], "task": key[2], "variant": labels.get(key[3], ""),
                         "settings_hash": key[3], "metric": key[4], "unit": g["unit"].iloc[0], "better": g["better"].iloc[0],
                         "mean": float(v.mean()) if v.size else math.nan,
                         "std": float(v.std(ddof=1)) if v.size > 1 else math.nan,
                         "median": float(np.median(v)) if v.size else math.nan, "ci_low": lo, "ci_high": hi, "n": int(v.size),
                         "failures": fails.get(tuple(key[:4]), 0)})
    seen = {tuple(k) for k in df[KEYS].drop_duplicates().itertuples(index=False)} if not df.empty else set()
    for key, count in fails.items():
        if key not in seen:
            rows.append({"plant": key[0], "controller": key[1], "task": key[2], "variant": labels.get(key[3], ""),
                             "settings_hash": key[3],
                             "metric": "(every run failed)", "unit": "", "better": "", "mean": math.nan, "std": math.nan,
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


def markdown(s: pd.DataFrame) -> str:
    """A :func:`summary` table as GitHub markdown."""
    head, rows = table_rows(s)

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(head), "|" + "|".join("---" for _ in head) + "|", *map(line, rows)])


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
