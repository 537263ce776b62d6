"""Figures of a report (matplotlib, Agg backend, PNG files).

Each figure function takes the store and the tidy table of the runs to show
and returns the :class:`Figure` files it wrote (none when the runs lack the
frames it needs: a report degrades, it never fails for a missing frame).

* :func:`learning_curves` - every per-batch / per-step frame (``curve`` of
  the balance task, AHF training curves, accuracy over time of the
  classifier, any plugin's frame with a step-like first column): the mean
  over seeds with a shaded 95% bootstrap CI band, one line per controller;
* :func:`reach_paths` - reach trajectories drawn on the arm at its start
  posture, one panel per controller;
* :func:`rasters` - spike rasters (frames with ``t`` and ``neuron`` columns);
* :func:`pareto` - each run's (accuracy, latency) point and the front of the
  runs no other run beats on both;
* :func:`run_images` - PNG artifacts runs saved themselves (the spiking
  classifier's raster and accuracy-over-time plots).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .stats import band, pareto_front

if TYPE_CHECKING:
    import pandas as pd

#: First column names that make a frame a curve over that column.
X_COLUMNS = ("batch", "epoch", "iteration", "update", "step", "t", "time")
#: Columns never drawn as a curve.
SKIP_Y = {"seed", "target", "trial", "neuron", "label", "class", "target_x", "target_y", "hand_x", "hand_y"}
#: Frames drawn by a dedicated figure, not as generic curves, and their preferred columns.
PREFERRED_Y = {"curve": ("max_reward", "mean_reward"), "trajectory": ("distance",),
               "accuracy": ("accuracy", "synops_spiking")}
#: (accuracy-like, latency-like) metric names for the Pareto figure, in order of preference.
PARETO_ACCURACY = ("spiking_accuracy", "accuracy", "test_accuracy", "auto_accuracy")
PARETO_LATENCY = ("latency_steps", "latency_ms", "settle_steps", "auto_n_steps", "latency_us_per_call")
#: Columns worth a curve in a frame of unknown name (e.g. AHF training: iteration, error, distance_mean).
GOOD_Y = ("max_reward", "mean_reward", "accuracy", "distance_mean", "distance_max", "error", "loss", "reward",
          "distance")
#: Wall-clock columns, not drawn from frames of unknown name.
TIMING = r"(^|_)(wall|cpu)(_|$)|_(s|ms|us)$"
MAX_CURVES_PER_FRAME = 3


@dataclasses.dataclass
class Figure:
    """One PNG of a report."""

    title: str
    path: Path
    caption: str = ""
    task: str = ""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:80]


def frames_by_run(store: Any, run_ids: Sequence[int]) -> dict[int, list[str]]:
    """Names of the frames each run stored."""
    return {int(i): store.run(int(i))["frames"] for i in run_ids}


def _runs(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop_duplicates("run_id")[["run_id", "plant", "controller", "task", "seed", "settings_hash",
                                         "settings"]]


def _label(row: Any, variants: dict[str, str]) -> str:
    v = variants.get(row.settings_hash, "")
    return row.controller + (f" ({v})" if v else "")


def _save(fig: Any, out: Path, name: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{_slug(name)}.png"
    fig.savefig(path, dpi=90, bbox_inches="tight")
    _pyplot().close(fig)
    return path


# -- learning curves -------------------------------------------------------------
def _x_column(frame: pd.DataFrame) -> str | None:
    for c in frame.columns:
        if str(c).lower() in X_COLUMNS:
            return str(c)
    return None


def _y_columns(name: str, frame: pd.DataFrame, x: str) -> list[str]:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    numeric = [str(c) for c in frame.columns if c != x and str(c) not in SKIP_Y
               and is_numeric_dtype(frame[c].dtype) and not is_bool_dtype(frame[c].dtype)
               and str(c).lower() not in X_COLUMNS]
    preferred = [c for c in PREFERRED_Y.get(name, GOOD_Y) if c in numeric]
    plain = [c for c in numeric if not re.search(TIMING, c)]
    return (preferred or plain)[:MAX_CURVES_PER_FRAME]


def learning_curves(store: Any, df: pd.DataFrame, out: Path, variants: dict[str, str] | None = None,
                    frames: dict[int, list[str]] | None = None) -> list[Figure]:
    """Mean over seeds with a 95% bootstrap CI band, one line per controller (and settings variant)."""
    plt = _pyplot()
    runs = _runs(df)
    variants = variants or {}
    frames = frames if frames is not None else frames_by_run(store, runs["run_id"])
    figures = []
    for (plant, task), group in runs.groupby(["plant", "task"], sort=False):
        names = sorted({n for i in group["run_id"] for n in frames.get(int(i), [])})
        for name in names:
            loaded = {int(i): store.frame(int(i), name) for i in group["run_id"] if name in frames.get(int(i), [])}
            sample = next(iter(loaded.values()))
            x = _x_column(sample)
            if x is None or "neuron" in sample.columns:
                continue
            for y in _y_columns(name, sample, x):
                fig, ax = plt.subplots(figsize=(6.4, 3.6))
                drawn = 0
                for label, lines in group.groupby(group.apply(lambda r: _label(r, variants), axis=1), sort=False):
                    curves = []
                    for i in lines["run_id"]:
                        f = loaded.get(int(i))
                        if f is not None and x in f.columns and y in f.columns:
                            curves.append(f.groupby(x)[y].mean())
                    if not curves:
                        continue
                    table = np.asarray(_align(curves))
                    xs = np.asarray(sorted(set().union(*(c.index for c in curves))), dtype=float)
                    mean, lo, hi = band(table)
                    line, = ax.plot(xs, mean, label=f"{label} (n={len(curves)})")
                    ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.25, linewidth=0)
                    drawn += 1
                if not drawn:
                    plt.close(fig)
                    continue
                ax.set_xlabel(x)
                ax.set_ylabel(y)
                ax.set_title(f"{task} on {plant}: {y} per {x}, mean over seeds", fontsize=10)
                ax.grid(alpha=0.3)
                ax.legend(fontsize=8)
                path = _save(fig, out, f"{task}-{plant}-{name}-{y}")
                figures.append(Figure(f"{task} on {plant}: {y} per {x}", path,
                                      f"mean over seeds, shaded: 95% bootstrap CI ({name} frame)", task))
    return figures


def _align(curves: list[pd.Series]) -> np.ndarray:
    """``(n_seeds, n_x)`` with NaN where a seed lacks an x."""
    import pandas as pd

    return pd.concat(curves, axis=1).sort_index().to_numpy().T


# -- reach ------------------------------------------------------------------------------
def _plant_from_settings(settings_json: str) -> Any:
    """The arm a run used, rebuilt from its stored settings (None if it cannot be)."""
    import bench

    try:
        part = dict(json.loads(settings_json)["plant"])
        name = part.pop("name")
        arm = bench.plant(name, **part)
        return arm if hasattr(arm, "joint_positions") and hasattr(arm, "start_q") else None
    except Exception:  # noqa: BLE001 - a plant that cannot be rebuilt is drawn without its arm
        return None


def reach_paths(store: Any, df: pd.DataFrame, out: Path, variants: dict[str, str] | None = None,
                frames: dict[int, list[str]] | None = None, max_panels: int = 6) -> list[Figure]:
    """Hand paths of the first seed of each controller, on the arm at its start posture."""
    plt = _pyplot()
    runs = _runs(df)
    variants = variants or {}
    frames = frames if frames is not None else frames_by_run(store, runs["run_id"])
    runs = runs[[("trajectory" in frames.get(int(i), [])) for i in runs["run_id"]]]
    figures = []
    for plant, group in runs.groupby("plant", sort=False):
        panels = group.sort_values("seed").drop_duplicates(["controller", "settings_hash", "task"])[:max_panels]
        fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4), squeeze=False)
        for ax, row in zip(axes[0], panels.itertuples(index=False)):
            f = store.frame(int(row.run_id), "trajectory")
            arm = _plant_from_settings(row.settings)
            if arm is not None:
                joints = arm.joint_positions(arm.start_q[None, :])[0]
                ax.plot(joints[:, 0], joints[:, 1], "-o", color="0.45", lw=3, ms=4, zorder=1)
            for _, tr in f.groupby("target"):
                ax.plot(tr["hand_x"], tr["hand_y"], lw=1, zorder=2)
            targets = f.drop_duplicates("target")
            ax.scatter(targets["target_x"], targets["target_y"], marker="x", color="k", s=20, zorder=3)
            ax.set_aspect("equal")
            ax.set_title(f"{_label(row, variants)}\n{row.task}, seed {row.seed}", fontsize=9)
            ax.tick_params(labelsize=7)
        path = _save(fig, out, f"reach-paths-{plant}")
        figures.append(Figure(f"reach trajectories on {plant}", path,
                              "hand paths (coloured) to the targets (x), arm at its start posture (grey)",
                              str(panels["task"].iloc[0])))
    return figures


# -- spiking classifier -------------------------------------------------------------------
def rasters(store: Any, df: pd.DataFrame, out: Path, variants: dict[str, str] | None = None,
            frames: dict[int, list[str]] | None = None, max_points: int = 20000) -> list[Figure]:
    """Spike rasters: any frame with ``t`` (or ``step``) and ``neuron`` columns, first seed per controller."""
    plt = _pyplot()
    runs = _runs(df)
    variants = variants or {}
    frames = frames if frames is not None else frames_by_run(store, runs["run_id"])
    figures = []
    for row in runs.sort_values("seed").drop_duplicates(["plant", "controller", "task", "settings_hash"]).itertuples():
        for name in frames.get(int(row.run_id), []):
            f = store.frame(int(row.run_id), name)
            tcol = next((c for c in ("t", "time", "step") if c in f.columns), None)
            if "neuron" not in f.columns or tcol is None:
                continue
            f = f.iloc[:max_points]
            fig, ax = plt.subplots(figsize=(6.4, 3.0))
            ax.scatter(f[tcol], f["neuron"], s=1, marker="|", color="k")
            ax.set_xlabel(tcol)
            ax.set_ylabel("neuron")
            ax.set_title(f"{row.task} on {row.plant}: {_label(row, variants)} spikes (seed {row.seed})")
            path = _save(fig, out, f"raster-{row.plant}-{row.controller}-{row.task}-{name}")
            figures.append(Figure(f"spike raster: {_label(row, variants)} on {row.plant}", path, f"{name} frame",
                                  row.task))
    return figures


def pareto(store: Any, df: pd.DataFrame, out: Path, variants: dict[str, str] | None = None,
           frames: dict[int, list[str]] | None = None) -> list[Figure]:
    """Accuracy against latency per run, with the Pareto front, for tasks reporting both."""
    plt = _pyplot()
    variants = variants or {}
    figures = []
    for (plant, task), g in df.groupby(["plant", "task"], sort=False):
        metrics = sorted(set(g["metric"]))
        acc = next((m for m in PARETO_ACCURACY if m in metrics), None)
        lat = next((m for m in PARETO_LATENCY if m in metrics), None)
        if acc is None or lat is None:
            continue
        wide = g.pivot_table(index=["run_id", "controller", "settings_hash"], columns="metric", values="value",
                             aggfunc="first").reset_index()
        better = [g.loc[g["metric"] == lat, "better"].iloc[0] or "lower",
                  g.loc[g["metric"] == acc, "better"].iloc[0] or "higher"]
        pts = wide[[lat, acc]].to_numpy(dtype=float)
        if len(pts) < 2:
            continue
        front = pareto_front(pts, better)
        fig, ax = plt.subplots(figsize=(5.2, 3.6))
        for (ctrl, shash), rows in wide.groupby(["controller", "settings_hash"], sort=False):
            v = variants.get(shash, "")
            ax.scatter(rows[lat], rows[acc], s=18, label=ctrl + (f" ({v})" if v else ""))
        order = np.argsort(pts[front, 0])
        ax.plot(pts[front, 0][order], pts[front, 1][order], "k--", lw=1, label="Pareto front")
        ax.set_xlabel(lat)
        ax.set_ylabel(acc)
        ax.set_title(f"{task} on {plant}: {acc} vs {lat}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        path = _save(fig, out, f"pareto-{plant}-{task}")
        figures.append(Figure(f"{task} on {plant}: accuracy/latency Pareto front", path,
                              f"one point per run; dashed: runs no other run beats on both {acc} and {lat}", task))
    return figures


def run_images(store: Any, df: pd.DataFrame, out: Path, variants: dict[str, str] | None = None,
               frames: dict[int, list[str]] | None = None) -> list[Figure]:
    """PNG artifacts a run saved itself (e.g. the classifier's raster and accuracy plots), first seed of each
    combination; artifacts whose files are gone are skipped."""
    import shutil

    variants = variants or {}
    figures = []
    runs = _runs(df).sort_values("seed").drop_duplicates(["plant", "controller", "task", "settings_hash"])
    for row in runs.itertuples(index=False):
        for name, path in store.run(int(row.run_id))["artifacts"].items():
            src = Path(path)
            if src.suffix.lower() != ".png" or not src.is_file():
                continue
            out.mkdir(parents=True, exist_ok=True)
            dest = out / f"{_slug(f'run{row.run_id}-{name}')}.png"
            shutil.copyfile(src, dest)
            figures.append(Figure(f"{row.task} on {row.plant}: {_label(row, variants)}: {name.replace('_', ' ')}",
                                  dest, f"saved by run {row.run_id} (seed {row.seed})", row.task))
    return figures


ALL: tuple[Callable[..., list[Figure]], ...] = (reach_paths, learning_curves, pareto, rasters, run_images)


def make_all(store: Any, df: pd.DataFrame, out: Path, variants: dict[str, str] | None = None) -> list[Figure]:
    """Every figure the runs in ``df`` support, written under ``out``."""
    if df.empty:
        return []
    frames = frames_by_run(store, df["run_id"].unique())
    figures: list[Figure] = []
    for make in ALL:
        figures += make(store, df, out, variants=variants, frames=frames)
    return figures
