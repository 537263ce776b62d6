"""Figures of a report (matplotlib, Agg backend, PNG files).

Each figure function takes the store and the tidy table of the runs to show
and returns the :class:`Figure` files it wrote (none when the runs lack the
frames it needs: a report degrades, it never fails for a missing frame).

* :func:`against_settings` - each task's headline metrics against every
  numeric setting swept, one line per value of the other swept settings,
  with 95% bootstrap CI bands;
* :func:`learning_curves` - every per-batch / per-step frame (``curve`` of
  the balance task, accuracy over time of the classifier, any plugin's frame
  with a step-like first column): the mean over seeds with a shaded 95%
  bootstrap CI band, one line per controller;
* :func:`training_curves` - training runs (task ``TASK:train``): the error
  against iteration and against wall time, mean over seeds with a 95%
  bootstrap CI band, one line per settings variant;
* :func:`reach_paths` - reach trajectories drawn on the arm at its start
  posture, one panel per controller;
* :func:`pareto` - each run's (accuracy, latency) point and the front of the
  runs no other run beats on both;
* :func:`run_images` - PNG artifacts runs saved themselves (the spiking
  classifier's raster and accuracy-over-time plots).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.runner import TRAIN_SUFFIX

from .animation import ARM_FRAME
from .stats import band, bootstrap_cis, flat_settings, pareto_front, pick_headline, swept

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
    wide: bool = False  # several panels side by side: shown at full width


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:80]


def frames_by_run(store: Any, run_ids: Sequence[int]) -> dict[int, list[str]]:
    """Names of the frames each run stored (one query for all: no frame is read)."""
    names = store.frame_names([int(i) for i in run_ids])
    return {int(i): names.get(int(i), []) for i in run_ids}


def _runs(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop_duplicates("run_id")[["run_id", "plant", "controller", "task", "seed", "settings_hash",
                                         "settings"]]


def _label(row: Any, variants: dict[str, str]) -> str:
    v = variants.get(row.settings_hash, "")
    return row.controller + (f" ({v})" if v else "")


def _legend_outside(ax: Any) -> Any:
    """The legend to the right of the axes, never over the curves (``savefig(bbox_inches="tight")`` keeps it)."""
    return ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)


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


#: Lines drawn in one learning-curve figure at most (settings variants beyond it are left out, every controller
#: keeping one line first), and runs (the lowest seeds) averaged in one line: a report reads no more frames.
MAX_LINES = 10
MAX_SEEDS = 20


def _pick_lines(lines: dict[str, Any], controllers: dict[str, str], limit: int) -> list[str]:
    """At most ``limit`` of the ``lines`` (label → runs), taking each controller's first line in turn."""
    queues: dict[str, list[str]] = {}
    for label in lines:
        queues.setdefault(controllers[label], []).append(label)
    picked: list[str] = []
    while len(picked) < min(limit, len(lines)):
        for queue in queues.values():
            if queue and len(picked) < limit:
                picked.append(queue.pop(0))
    return [label for label in lines if label in picked]


def learning_curves(store: Any, df: pd.DataFrame, out: Path, variants: dict[str, str] | None = None,
                    frames: dict[int, list[str]] | None = None, max_lines: int = MAX_LINES,
                    max_seeds: int = MAX_SEEDS) -> list[Figure]:
    """Mean over seeds with a 95% bootstrap CI band, one line per controller (and settings variant).

    At most ``max_lines`` lines per figure (each controller's first variant first) and the ``max_seeds``
    lowest seeds per line: only their frames are read, one at a time, each reduced to its curves at once.
    """
    plt = _pyplot()
    runs = _runs(df)
    variants = variants or {}
    frames = frames if frames is not None else frames_by_run(store, runs["run_id"])
    figures = []
    for (plant, task), group in runs.groupby(["plant", "task"], sort=False):
        labels = [_label(r, variants) for r in group.itertuples(index=False)]
        names = sorted({n for i in group["run_id"] for n in frames.get(int(i), [])})
        for name in names:
            if name == ARM_FRAME:   # arm postures: animated (bench.reports.animation), not drawn as curves
                continue
            if name == TRAINING_FRAME and str(task).endswith(TRAIN_SUFFIX):  # training_curves draws it
                continue
            lines: dict[str, Any] = {}   # label → its runs, lowest seed first
            controllers: dict[str, str] = {}
            for label, ctrl, seed, run_id in zip(labels, group["controller"], group["seed"], group["run_id"]):
                if name in frames.get(int(run_id), []):
                    lines.setdefault(label, []).append((int(seed), int(run_id)))
                    controllers[label] = str(ctrl)
            lines = {label: [i for _, i in sorted(pairs)] for label, pairs in lines.items()}
            drawn_labels = _pick_lines(lines, controllers, max_lines)
            sample = store.frame(lines[drawn_labels[0]][0], name)
            x = _x_column(sample)
            if x is None or "neuron" in sample.columns:
                continue
            ys = _y_columns(name, sample, x)
            if not ys:
                continue
            curves: dict[str, list[pd.DataFrame]] = {}
            for label in drawn_labels:
                for run_id in lines[label][:max_seeds]:
                    f = store.frame(run_id, name)
                    have = [y for y in ys if y in f.columns]
                    if x in f.columns and have:
                        curves.setdefault(label, []).append(f.groupby(x)[have].mean())
                    del f
            left_out = len(lines) - len(drawn_labels)
            for y in ys:
                fig, ax = plt.subplots(figsize=(6.4, 3.6))
                drawn = 0
                for label in drawn_labels:
                    mine = [c[y] for c in curves.get(label, []) if y in c.columns]
                    if not mine:
                        continue
                    table = np.asarray(_align(mine))
                    xs = np.asarray(sorted(set().union(*(c.index for c in mine))), dtype=float)
                    mean, lo, hi = band(table)
                    n_all = len(lines[label])
                    shown = f"n={len(mine)}" + (f" of {n_all}" if n_all > len(mine) else "")
                    line, = ax.plot(xs, mean, label=f"{label} ({shown})")
                    ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.25, linewidth=0)
                    drawn += 1
                if not drawn:
                    plt.close(fig)
                    continue
                ax.set_xlabel(x)
                ax.set_ylabel(y)
                ax.set_title(f"{task} on {plant}: {y} per {x}, mean over seeds", fontsize=10)
                ax.grid(alpha=0.3)
                _legend_outside(ax)
                path = _save(fig, out, f"{task}-{plant}-{name}-{y}")
                caption = f"mean over seeds, shaded: 95% bootstrap CI ({name} frame)"
                if left_out:
                    caption += (f"; {drawn} of {len(lines)} settings variants drawn (each controller's first "
                                f"variants)")
                if any(len(lines[label]) > max_seeds for label in drawn_labels):
                    caption += f"; at most the {max_seeds} lowest seeds per line"
                figures.append(Figure(f"{task} on {plant}: {y} per {x}", path, caption, task))
    return figures


# -- training runs ----------------------------------------------------------------------
#: The frame a training run (task ``TASK:train``, :data:`bench.runner.TRAIN_SUFFIX`) stores: its learning curve.
TRAINING_FRAME = "training"
#: The column a training curve is drawn with: the first of these it has (ahf: mean final distance, m; pg: reward).
TRAINING_Y = ("distance_mean", "mean_reward", "max_reward", "error", "loss", "accuracy")
#: The columns of its iteration and of its training wall time (s).
TRAINING_X = ("iteration", "batch", "epoch", "update", "step")
WALL = "wall_s"
#: Points of the wall-time grid every seed's curve is read at.
TIME_POINTS = 200


def _held(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """``y`` of the last point with ``x <= grid`` at each grid point (NaN before the first): a training's error
    at each moment, its last value held after it stopped."""
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    i = np.searchsorted(x, grid, side="right") - 1
    out = np.where(i >= 0, y[np.clip(i, 0, None)], np.nan)
    return out.astype(float)


def training_curves(store: Any, df: pd.DataFrame, out: Path, variants: dict[str, str] | None = None,
                    frames: dict[int, list[str]] | None = None, max_lines: int = MAX_LINES,
                    max_seeds: int = MAX_SEEDS) -> list[Figure]:
    """Training runs (task ``TASK:train``, ``bench train``): their error against iteration and against training
    wall time, side by side, one line per controller and settings variant (the swept settings: e.g. one per
    ``ahf.regime``), the mean over seeds with a shaded 95% bootstrap CI band.

    Each seed's curve is read at every iteration and on a common wall-time grid, its last value held after it
    stopped (a goal or budget reached), so every seed counts at every point.  Distances and errors are drawn on
    a log scale.  At most ``max_lines`` lines (each controller's first variants first) and ``max_seeds`` seeds
    per line.
    """
    plt = _pyplot()
    runs = _runs(df)
    runs = runs[runs["task"].astype(str).str.endswith(TRAIN_SUFFIX)]
    variants = variants or {}
    frames = frames if frames is not None else frames_by_run(store, runs["run_id"])
    figures = []
    for (plant, task), group in runs.groupby(["plant", "task"], sort=False):
        lines: dict[str, list[tuple[int, int]]] = {}
        controllers: dict[str, str] = {}
        for r in group.itertuples(index=False):
            if TRAINING_FRAME in frames.get(int(r.run_id), []):
                label = _label(r, variants)
                lines.setdefault(label, []).append((int(r.seed), int(r.run_id)))
                controllers[label] = str(r.controller)
        if not lines:
            continue
        drawn_labels = _pick_lines({k: [i for _, i in sorted(v)] for k, v in lines.items()}, controllers, max_lines)
        curves: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        y_name = x_name = None
        for label in drawn_labels:
            for _, run_id in sorted(lines[label])[:max_seeds]:
                f = store.frame(run_id, TRAINING_FRAME)
                x = next((c for c in TRAINING_X if c in f.columns), None)
                y = y_name if y_name in f.columns else next((c for c in TRAINING_Y if c in f.columns), None)
                if x is None or y is None or WALL not in f.columns or len(f) == 0:
                    continue
                x_name, y_name = x_name or x, y_name or y
                curves.setdefault(label, []).append((f[x].to_numpy(dtype=float), f[WALL].to_numpy(dtype=float),
                                                     f[y].to_numpy(dtype=float)))
                del f
        if not curves or y_name is None:
            continue
        log = not y_name.endswith("reward") and all(np.nanmin(c[2]) > 0 for cs in curves.values() for c in cs)
        fig, (by_it, by_time) = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
        end_it = max(float(np.nanmax(c[0])) for cs in curves.values() for c in cs)
        end_t = max(float(np.nanmax(c[1])) for cs in curves.values() for c in cs)
        its = np.arange(0.0, end_it + 1.0)
        times = np.linspace(0.0, end_t, TIME_POINTS)
        for label in drawn_labels:
            mine = curves.get(label, [])
            if not mine:
                continue
            n_all = len(lines[label])
            shown = f"n={len(mine)}" + (f" of {n_all}" if n_all > len(mine) else "")
            color = None
            for ax, grid, col in ((by_it, its, 0), (by_time, times, 1)):
                mean, lo, hi = band(np.vstack([_held(c[col], c[2], grid) for c in mine]))
                line, = ax.plot(grid, mean, color=color, label=f"{label} ({shown})")
                color = line.get_color()
                ax.fill_between(grid, lo, hi, color=color, alpha=0.25, linewidth=0)
        for ax, xlabel in ((by_it, x_name or "iteration"), (by_time, "training wall time [s]")):
            ax.set_xlabel(xlabel)
            ax.grid(alpha=0.3)
            if y_name.startswith("distance"):  # what train_s_to_1cm measures
                ax.axhline(0.01, color="grey", linestyle=":", linewidth=1)
            if log:
                ax.set_yscale("log")
        by_it.set_ylabel(y_name + (" [m]" if y_name.startswith("distance") else ""))
        base = str(task)[: -len(TRAIN_SUFFIX)]
        fig.suptitle(f"training for {base} on {plant}: {y_name}, mean over seeds", fontsize=10)
        _legend_outside(by_time)
        path = _save(fig, out, f"{task}-{plant}-training-{y_name}")
        caption = (f"left: per {x_name}, right: against training wall time; mean over seeds, shaded: 95% bootstrap "
                   f"CI; a training that stopped (goal or budget reached) keeps its last value")
        left_out = len(lines) - len(drawn_labels)
        if left_out:
            caption += f"; {len(drawn_labels)} of {len(lines)} settings variants drawn (each controller's first)"
        if any(len(lines[label]) > max_seeds for label in drawn_labels):
            caption += f"; at most the {max_seeds} lowest seeds per line"
        figures.append(Figure(f"training for {base} on {plant}: {y_name} per {x_name} and per second", path,
                              caption, str(task), wide=True))
    return figures


def _align(curves: list[pd.Series]) -> np.ndarray:
    """``(n_seeds, n_x)`` with NaN where a seed lacks an x."""
    import pandas as pd

    return pd.concat(curves, axis=1).sort_index().to_numpy().T


# -- reach ------------------------------------------------------------------------------
def _plant_from_settings(settings_json: str) -> Any:
    """The arm a run used, rebuilt from its stored settings (None if it cannot be)."""
    from bench.session import plant

    try:
        part = dict(json.loads(settings_json)["plant"])
        name = part.pop("name")
        arm = plant(name, **part)
        return arm if hasattr(arm, "joint_positions") and hasattr(arm, "start_q") else None
    except Exception:
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


def pareto(store: Any, df: pd.DataFrame, out: Path, variants: dict[str, str] | None = None,
           frames: dict[int, list[str]] | None = None, max_lines: int = MAX_LINES) -> list[Figure]:
    """Accuracy against latency per run, with the Pareto front, for tasks reporting both: every run a point,
    at most ``max_lines`` settings variants in colour (each controller's first in turn), the others grey."""
    import pandas as pd

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
        groups = dict(list(wide.groupby(["controller", "settings_hash"], sort=False)))
        labels = {key: key[0] + (f" ({variants[key[1]]})" if variants.get(key[1]) else "") for key in groups}
        owners = {labels[key]: str(key[0]) for key in groups}
        shown = set(_pick_lines(owners, owners, max_lines))
        rest = [rows for key, rows in groups.items() if labels[key] not in shown]
        if rest:   # every run is a point; the variants beyond max_lines share one grey legend entry
            other = pd.concat(rest)
            ax.scatter(other[lat], other[acc], s=10, color="0.7", label=f"{len(rest)} other settings variants")
        for key, rows in groups.items():
            if labels[key] in shown:
                ax.scatter(rows[lat], rows[acc], s=18, label=labels[key])
        order = np.argsort(pts[front, 0])
        ax.plot(pts[front, 0][order], pts[front, 1][order], "k--", lw=1, label="Pareto front")
        ax.set_xlabel(lat)
        ax.set_ylabel(acc)
        ax.set_title(f"{task} on {plant}: {acc} vs {lat}")
        ax.grid(alpha=0.3)
        _legend_outside(ax)
        path = _save(fig, out, f"pareto-{plant}-{task}")
        figures.append(Figure(f"{task} on {plant}: accuracy/latency Pareto front", path,
                              f"one point per run; dashed: runs no other run beats on both {acc} and {lat}"
                              + (f"; {len(groups) - len(rest)} of {len(groups)} settings variants in colour (each "
                                 f"controller's first in turn), the other {len(rest)} grey" if rest else ""), task))
    return figures


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def artifact_file(store: Any, path: str) -> tuple[Path | None, str]:
    """``(file, "")`` when an artifact's ``path`` is a PNG inside the store's own runs folder
    (``<store folder>/runs``, where every run works), after following links; else ``(None, why)`` (``why``
    empty for a file that is simply gone).  A store names its artifacts itself, so a crafted one could name
    any file: only its own runs' PNGs are ever copied into a report."""
    home = Path(store.path).resolve().parent
    runs = home / "runs"
    try:
        src = (home / str(path)).resolve()  # a relative path counts from the store's folder, not from here
    except (OSError, RuntimeError, ValueError):
        return None, "a path that cannot be resolved"
    if not src.is_relative_to(runs):
        return None, f"outside the store's runs folder {runs}"
    if src.suffix.lower() != ".png":
        return None, "not a .png file"
    try:
        with open(src, "rb") as fh:
            if fh.read(len(PNG_MAGIC)) != PNG_MAGIC:
                return None, "not a PNG image"
    except FileNotFoundError:
        return None, ""
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    return src, ""


def _image_artifacts(store: Any, df: pd.DataFrame) -> Iterator[tuple[Any, str, str, Path | None, str]]:
    """``(run row, name, stored path, file or None, why not)`` of each ``.png`` artifact of the first seed of
    each combination (the ones a report shows)."""
    runs = _runs(df).sort_values("seed").drop_duplicates(["plant", "controller", "task", "settings_hash"])
    for row in runs.itertuples(index=False):
        for name, path in store.run(int(row.run_id))["artifacts"].items():
            if str(path).lower().endswith(".png"):
                yield (row, name, str(path), *artifact_file(store, path))


def refused_artifacts(store: Any, df: pd.DataFrame) -> list[tuple[int, str, str, str]]:
    """``(run id, name, path, why)`` of each image artifact a report does not copy (:func:`artifact_file`)."""
    if df.empty:
        return []
    return [(int(row.run_id), name, path, why) for row, name, path, src, why in _image_artifacts(store, df)
            if src is None and why]


def run_images(store: Any, df: pd.DataFrame, out: Path, variants: dict[str, str] | None = None,
               frames: dict[int, list[str]] | None = None) -> list[Figure]:
    """PNG artifacts a run saved itself (e.g. the classifier's raster and accuracy plots), first seed of each
    combination; artifacts whose files are gone are skipped, and only PNGs inside the store's own runs folder
    are copied (:func:`artifact_file`; :func:`refused_artifacts` lists the others)."""
    import shutil

    variants = variants or {}
    figures = []
    for row, name, _, src, _ in _image_artifacts(store, df):
        if src is not None:
            out.mkdir(parents=True, exist_ok=True)
            dest = out / f"{_slug(f'run{row.run_id}-{name}')}.png"
            shutil.copyfile(src, dest)
            figures.append(Figure(f"{row.task} on {row.plant}: {_label(row, variants)}: {name.replace('_', ' ')}",
                                  dest, f"saved by run {row.run_id} (seed {row.seed})", row.task))
    return figures


# -- metrics against swept settings -------------------------------------------------------
def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


def _value_label(v: Any) -> str:
    from .stats import fmt

    return fmt(v) if _number(v) else str(v)


def _line_label(flat: dict[str, Any], controller: str, others: list[str], several: bool) -> str:
    """``osc, reach.force=0.03``: a line's legend entry (the controller when several share the figure)."""
    if len(others) == 1 and not several and others[0] in flat:   # the legend's title names the setting
        return _value_label(flat[others[0]])
    parts = [f"{k}={_value_label(flat.get(k))}" for k in others if k in flat]
    return ", ".join(([controller] if several or not parts else []) + parts)


def against_settings(store: Any, df: pd.DataFrame, out: Path, variants: dict[str, str] | None = None,
                     frames: dict[int, list[str]] | None = None, max_panels: int = 4,
                     max_lines: int = MAX_LINES) -> list[Figure]:
    """Each task's headline metrics against each numeric setting swept on a plant (x), one line per value of
    the other swept settings (and controller), mean over seeds with a shaded 95% bootstrap CI band.

    ``bench sweep digits snn classify --set snn.scale_firing_rates=1,5,20,100 --set snn.synapse=0,0.005,0.01``
    gives spiking accuracy (and the other headline metrics) against the scale, one line per synapse, and
    against the synapse, one line per scale.  One figure per (plant, task, setting), a panel per metric, of at
    most ``max_lines`` lines (each controller's first lines in turn; the caption says how many were left out).
    """
    plt = _pyplot()
    runs = _runs(df)
    figures = []
    for (plant, task), group in runs.groupby(["plant", "task"], sort=False):
        flat = flat_settings(group)
        keys = swept(group, flat)
        mine = df[df["run_id"].isin(group["run_id"])]
        better = dict(zip(mine["metric"], mine["better"]))
        units = dict(zip(mine["metric"], mine["unit"]))
        wide = mine.pivot_table(index="run_id", columns="metric", values="value", aggfunc="first", dropna=False)
        metrics = [m for m in pick_headline(str(task), list(dict.fromkeys(mine["metric"])), better)
                   if wide[m].notna().any()][:max_panels]
        if not metrics:
            continue
        for x in keys:
            values = {h: f[x] for h, f in flat.items() if x in f}
            if len({v for v in values.values() if _number(v)}) < 2 or not all(map(_number, values.values())):
                continue
            sub = group[group["settings_hash"].isin(values)]
            others = [k for k in swept(sub, flat) if k != x]
            several = sub["controller"].nunique() > 1
            sub = sub.assign(line=[_line_label(flat[r.settings_hash], r.controller, others, several)
                                   for r in sub.itertuples(index=False)],
                             x=[float(values[h]) for h in sub["settings_hash"]])
            owners = dict(zip(sub["line"], sub["controller"].astype(str)))
            shown = _pick_lines(owners, owners, max_lines)
            sub = sub[sub["line"].isin(shown)]
            fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.2), squeeze=False)
            handles: dict[str, Any] = {}
            for ax, m in zip(axes[0], metrics):
                drawn: list[tuple[str, list[float], list[np.ndarray]]] = []   # the CIs are bootstrapped at once
                for label, lines in sub.assign(v=sub["run_id"].map(wide[m])).groupby("line", sort=False):
                    points = []
                    for xv, rows in lines.groupby("x"):
                        v = rows["v"].to_numpy(dtype=float)
                        v = v[np.isfinite(v)]
                        if v.size:
                            points.append((float(xv), v))
                    drawn.append((str(label), [x_ for x_, _ in points], [v for _, v in points]))
                cis = iter(bootstrap_cis([v for _, _, vs in drawn for v in vs]))
                for label, xs, vs in drawn:
                    bounds = [next(cis) for _ in vs]
                    mean = [float(v.mean()) for v in vs]
                    lo, hi = [a for a, _ in bounds], [b for _, b in bounds]
                    if not xs:
                        continue
                    color = handles[label].get_color() if label in handles else None
                    line, = ax.plot(xs, mean, "-o", ms=3, lw=1.2, color=color, label=label)
                    ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
                    handles.setdefault(label, line)
                xv = sorted(set(sub["x"]))
                if xv[0] > 0 and xv[-1] / xv[0] >= 20:
                    ax.set_xscale("log")
                ax.set_xlabel(x, fontsize=8)
                arrow = {"lower": " (↓ better)", "higher": " (↑ better)"}.get(better.get(m, ""), "")
                ax.set_ylabel(m + (f" [{units[m]}]" if units.get(m) else ""), fontsize=8)
                ax.set_title(m + arrow, fontsize=9)
                ax.grid(alpha=0.3)
                ax.tick_params(labelsize=7)
            if not handles:
                plt.close(fig)
                continue
            if len(handles) > 1 or next(iter(handles)):
                fig.legend(list(handles.values()), list(handles), loc="upper left", bbox_to_anchor=(1.0, 0.92),
                           fontsize=7, frameon=False, title=", ".join(others) or None, title_fontsize=7)
            fig.suptitle(f"{task} on {plant}: headline metrics against {x}", fontsize=10)
            fig.subplots_adjust(left=0.1, right=0.95, wspace=0.45, top=0.8, bottom=0.18)  # not tight_layout (slow)
            path = _save(fig, out, f"{task}-{plant}-against-{x}")
            figures.append(Figure(f"{task} on {plant}: against {x}", path,
                                  f"mean over seeds at each {x}, shaded: 95% bootstrap CI"
                                  + (f"; one line per {', '.join(others)}" if others else "")
                                  + (f"; {len(shown)} of {len(owners)} lines drawn ({len(owners) - len(shown)} "
                                     f"left out: each controller's first lines in turn; the tables list every "
                                     f"variant)" if len(shown) < len(owners) else ""), str(task),
                                  wide=len(metrics) > 1))
    return figures


ALL: tuple[Callable[..., list[Figure]], ...] = (against_settings, reach_paths, training_curves, learning_curves, pareto,
                                               run_images)


def make_all(store: Any, df: pd.DataFrame, out: Path, variants: dict[str, str] | None = None) -> list[Figure]:
    """Every figure the runs in ``df`` support, written under ``out``."""
    if df.empty:
        return []
    frames = frames_by_run(store, df["run_id"].unique())
    figures: list[Figure] = []
    for make in ALL:
        figures += make(store, df, out, variants=variants, frames=frames)
    return figures


# -- across tasks: IQM and performance profiles ---------------------------------------------
AGGREGATE = "(across tasks)"


#: Rows (algorithms) of the across-tasks IQM figure at most.
MAX_ROWS = 30


def _best_per_controller(t: pd.DataFrame, limit: int) -> list[str]:
    """At most ``limit`` algorithms of the aggregate table ``t``: each controller's highest IQM first, in turn;
    in the table's order."""
    ranked = t.assign(_iqm=t["iqm"].fillna(-np.inf)).sort_values("_iqm", ascending=False, kind="stable")
    lines = {str(a): None for a in ranked["algorithm"]}
    owners = {str(a): str(a).partition(" (")[0] for a in ranked["algorithm"]}
    chosen = set(_pick_lines(lines, owners, limit))
    return [str(a) for a in t["algorithm"] if str(a) in chosen]


def aggregate_figures(agg: Any, out: Path, max_rows: int = MAX_ROWS, max_lines: int = MAX_LINES) -> list[Figure]:
    """The aggregate statistics of :func:`bench.reports.aggregate.aggregate`: IQM and mean normalised score
    per algorithm with their 95% stratified bootstrap CIs, and the performance profiles with bands.

    At most ``max_rows`` algorithms in the IQM figure and ``max_lines`` profiles: each controller's best
    algorithms by IQM in turn (the table lists every one); the captions say how many were left out."""
    plt = _pyplot()
    t = agg.table
    if t.empty:
        return []
    figures = []
    every = [str(a) for a in t["algorithm"]]

    def left_out(n: int, what: str) -> str:
        return (f"; {n} of {len(every)} algorithms {what} ({len(every) - n} left out: each controller's highest "
                f"IQM first, in turn; the table lists every algorithm)" if n < len(every) else "")

    names = _best_per_controller(t, max_rows)
    t = t[t["algorithm"].astype(str).isin(names)]
    y = np.arange(len(names))[::-1]
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 0.6 + 0.42 * len(names)), sharey=True, squeeze=False)
    for ax, (stat, title) in zip(axes[0], (("iqm", "IQM"), ("mean", "mean"))):
        point = t[stat].to_numpy(dtype=float)
        low, high = t[f"{stat}_low"].to_numpy(dtype=float), t[f"{stat}_high"].to_numpy(dtype=float)
        err = np.vstack([point - low, high - point])
        ax.errorbar(point, y, xerr=err, fmt="o", ms=4, capsize=3, color="C0")
        ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel(f"{title} of the normalised score", fontsize=8)
        ax.grid(alpha=0.3, axis="x")
        ax.tick_params(labelsize=7)
    axes[0][0].set_yticks(y, names)
    fig.tight_layout()
    path = _save(fig, out, "aggregate-iqm")
    figures.append(Figure("across tasks: IQM and mean normalised score", path,
                          "dots: the statistic over every run of every task the algorithm ran; bars: 95% stratified "
                          "bootstrap CI (runs resampled within each task)" + left_out(len(names), "shown"),
                          AGGREGATE))
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    drawn = _best_per_controller(agg.table, max_lines)
    for name in drawn:
        frac, lo, hi = agg.profiles[name]
        line, = ax.plot(agg.taus, frac, lw=1.4, label=name)
        ax.fill_between(agg.taus, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel("normalised score τ", fontsize=8)
    ax.set_ylabel("fraction of runs with score > τ", fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=7)
    _legend_outside(ax)
    path = _save(fig, out, "aggregate-profiles")
    figures.append(Figure("across tasks: performance profiles", path,
                          "fraction of each algorithm's runs (over all its tasks) scoring above τ; shaded: 95% "
                          "stratified bootstrap band" + left_out(len(drawn), "drawn"), AGGREGATE))
    return figures


# -- history: metrics against commits ------------------------------------------------------
MAX_COMMIT_LABELS = 24


def _pick_series(keys: list[tuple], first: set[tuple], limit: int) -> list[tuple]:
    """At most ``limit`` of the series ``keys`` ((plant, controller, series, variant)): those in ``first``
    (a significant step) first, then each (plant, controller)'s first series in turn; in their own order."""
    picked = [k for k in keys if k in first][:limit]
    if len(picked) < limit:
        rest = {str(i): k for i, k in enumerate(keys) if k not in first}
        owners = {label: f"{k[0]} {k[1]}" for label, k in rest.items()}
        picked += [rest[label] for label in _pick_lines(rest, owners, limit - len(picked))]
    chosen = set(picked)
    return [k for k in keys if k in chosen]


def history_figures(h: Any, out: Path, metrics: dict[str, list[str]] | None = None,
                    max_lines: int = MAX_LINES) -> list[Figure]:
    """One figure per task and metric of a :class:`bench.history.History`: the mean over seeds at each commit
    (oldest left) with its 95% bootstrap CI, one line per plant, controller and settings; each significant
    step is circled in red and its commit named.  ``metrics``: task → the metrics to draw (default all).

    At most ``max_lines`` series per figure: those with a significant step first, then each plant and
    controller's first series in turn; the caption says how many were left out."""
    plt = _pyplot()
    pts = h.points
    if pts.empty:
        return []
    labels = [str(c).partition("+")[0][:8] + ("+" if "+" in str(c) else "") for c in h.commits["commit"]]
    flagged = h.flagged
    figures = []
    for task, tp in pts.groupby("task", sort=False):
        wanted = (metrics or {}).get(str(task)) or list(dict.fromkeys(tp["metric"]))
        for metric in wanted:
            g = tp[tp["metric"] == metric]
            if g.empty:
                continue
            steps = flagged[(flagged["task"] == task) & (flagged["metric"] == metric)] if len(flagged) else flagged
            series = dict(list(g.groupby(["plant", "controller", "series", "variant"], sort=False)))
            stepped = {(s.plant, s.controller, s.series, s.variant) for s in steps.itertuples(index=False)}
            shown = _pick_series(list(series), stepped, max_lines)
            fig, ax = plt.subplots(figsize=(7.2, 3.4))
            for (plant, ctrl, _series, variant) in shown:
                line = series[(plant, ctrl, _series, variant)].sort_values("order")
                x = line["order"].to_numpy()
                mean = line["mean"].to_numpy(dtype=float)
                drawn, = ax.plot(x, mean, "-o", ms=3, lw=1.2,
                                 label=f"{plant} {ctrl}" + (f" ({variant})" if variant else ""))
                ax.fill_between(x, line["ci_low"].to_numpy(dtype=float), line["ci_high"].to_numpy(dtype=float),
                                color=drawn.get_color(), alpha=0.2, linewidth=0)
            for s in steps.itertuples(index=False):
                if (s.plant, s.controller, s.series, s.variant) not in shown:
                    continue
                y = g.loc[(g["order"] == s.order) & (g["plant"] == s.plant) & (g["controller"] == s.controller)
                          & (g["series"] == s.series), "mean"]
                yv = float(y.iloc[0]) if len(y) and np.isfinite(y.iloc[0]) else float(np.nanmean(g["mean"]))
                ax.plot([s.order], [yv], "o", ms=11, mfc="none", mec="red", mew=1.6, zorder=5)
                ax.annotate(f"{s.verdict} at {labels[s.order]}", (s.order, yv), textcoords="offset points",
                            xytext=(4, 8), fontsize=7, color="red")
            ticks = np.arange(len(labels))
            every = max(1, int(np.ceil(len(labels) / MAX_COMMIT_LABELS)))
            ax.set_xticks(ticks[::every], [labels[i] for i in ticks[::every]], rotation=45, ha="right", fontsize=7)
            ax.set_xlim(-0.5, len(labels) - 0.5)
            unit, better = g["unit"].iloc[0], g["better"].iloc[0]
            ax.set_ylabel(metric + (f" [{unit}]" if unit else ""), fontsize=8)
            ax.set_xlabel("commit (oldest left)", fontsize=8)
            ax.set_title(f"{task}: {metric} across commits" + (f" ({better} is better)" if better else ""),
                         fontsize=9)
            ax.grid(alpha=0.3)
            ax.tick_params(axis="y", labelsize=7)
            _legend_outside(ax)
            path = _save(fig, out, f"history-{task}-{metric}")
            caption = (f"mean over seeds at each commit, shaded: 95% bootstrap CI; red circles: significant steps "
                       f"({len(steps)})")
            if len(shown) < len(series):
                caption += (f"; {len(shown)} of {len(series)} series drawn ({len(series) - len(shown)} left out: "
                            f"the series with a significant step first, then each plant and controller's first "
                            f"series in turn; the steps table lists every step)")
            figures.append(Figure(f"{task}: {metric} across commits", path, caption, str(task)))
    return figures
