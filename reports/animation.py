"""Animated GIFs of an arm doing its task, drawn from a stored run's ``arm`` frame.

Every arm task (``reach``, ``postural``, ``random_movements``, ``write``)
stores an ``arm`` frame: the arm's joint positions over time, downsampled,
with the target in force (:func:`bench.tasks.episode.arm_frame`).  This
module draws it with matplotlib (Agg, off-screen) and writes the GIF with
Pillow: no other dependency, nothing shown on screen.

* :func:`animate` - one frame table to one GIF;
* :func:`animate_run` - a stored run to a GIF (``bench show RUN --animate out.gif``);
* :func:`report_animations` - one GIF per arm task of a report (the HTML report).

The number of pictures is bounded (``max_frames``, evenly spaced over the
run), so a GIF stays small however long the run was.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.tasks.episode import ARM_FRAME  # the frame the arm tasks store for the animation

if TYPE_CHECKING:
    import pandas as pd

MAX_FRAMES = 120
FRAME_MS = 50  # display time of one picture (ms)


@dataclasses.dataclass
class Animation:
    """One GIF written for a report."""

    title: str
    path: Path
    caption: str = ""
    task: str = ""


def _joint_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    xs = sorted((c for c in frame.columns if re.fullmatch(r"px\d+", str(c))), key=lambda c: int(c[2:]))
    ys = sorted((c for c in frame.columns if re.fullmatch(r"py\d+", str(c))), key=lambda c: int(c[2:]))
    if len(xs) < 2 or len(xs) != len(ys):
        raise ValueError("an arm frame needs joint position columns px0..pxJ and py0..pyJ (J >= 1)")
    return xs, ys


def _limits(px: np.ndarray, py: np.ndarray, targets: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """Square axis limits holding every joint and target, with a margin."""
    xs = np.concatenate([px.ravel(), targets[:, 0][np.isfinite(targets[:, 0])]])
    ys = np.concatenate([py.ravel(), targets[:, 1][np.isfinite(targets[:, 1])]])
    cx, cy = 0.5 * (xs.min() + xs.max()), 0.5 * (ys.min() + ys.max())
    half = 0.55 * max(xs.max() - xs.min(), ys.max() - ys.min(), 1e-3)
    return (cx - half, cx + half), (cy - half, cy + half)


def animate(frame: pd.DataFrame, out: str | Path, *, title: str = "", max_frames: int = MAX_FRAMES,
            size_px: int = 320, frame_ms: int = FRAME_MS) -> Path:
    """Draw the ``arm`` frame ``frame`` to the GIF ``out``; returns its path.

    Each picture shows the arm (grey base square, blue links), the target
    in force (red cross), the hand's recent path (the ``pen``-down ink for
    the write task) and the run time.  At most ``max_frames`` pictures of
    ``size_px`` × ``size_px`` pixels, ``frame_ms`` ms each.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    if frame is None or len(frame) == 0:
        raise ValueError("the arm frame is empty: nothing to animate")
    if max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    xs, ys = _joint_columns(frame)
    frame = frame.reset_index(drop=True)
    px, py = frame[xs].to_numpy(float), frame[ys].to_numpy(float)
    targets = frame[["target_x", "target_y"]].to_numpy(float) if "target_x" in frame else np.full((len(frame), 2),
                                                                                                   np.nan)
    trial = frame["trial"].to_numpy() if "trial" in frame else np.zeros(len(frame), dtype=int)
    t = frame["t"].to_numpy(float) if "t" in frame else np.arange(len(frame), dtype=float)
    pen = frame["pen"].to_numpy(float) > 0.5 if "pen" in frame else None
    xlim, ylim = _limits(px, py, targets)
    finite = targets[np.all(np.isfinite(targets), axis=1)]
    every = np.unique(finite.round(6), axis=0) if pen is None and len(finite) else np.empty((0, 2))
    picks = np.unique(np.linspace(0, len(frame) - 1, min(len(frame), max_frames)).round().astype(int))

    dpi = 80
    fig = Figure(figsize=(size_px / dpi, size_px / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.9))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if pen is None and 0 < len(every) <= 64:   # the task's targets, faintly (not a random run's hundreds)
        ax.plot(every[:, 0], every[:, 1], "x", color="0.75", ms=5, mew=1)
    path_line, = ax.plot([], [], color="0.8", lw=1, zorder=0)                  # write: the strokes so far
    trail, = ax.plot([], [], color="0.1" if pen is not None else "tab:green", lw=1.5 if pen is not None else 1,
                     alpha=1.0 if pen is not None else 0.6)                       # ink, or the hand's path
    arm_line, = ax.plot([], [], "-o", color="tab:blue", lw=3, ms=4)
    base, = ax.plot([], [], "s", color="0.3", ms=7)
    cross, = ax.plot([], [], "x", color="tab:red", ms=9, mew=2)
    caption = fig.text(0.5, 0.97, "", ha="center", va="top", fontsize=8)
    several = np.unique(trial).size > 1
    rows = np.arange(len(frame))
    images = []
    for i in picks:
        same = np.flatnonzero((trial == trial[i]) & (rows <= i))
        if pen is not None:   # ink: pen-down hand positions, broken where the pen lifts
            ink = np.where(pen[same], 1.0, np.nan)
            trail.set_data(px[same, -1] * ink, py[same, -1] * ink)
            path_line.set_data(targets[same, 0], targets[same, 1])
        else:
            trail.set_data(px[same, -1], py[same, -1])
        arm_line.set_data(px[i], py[i])
        base.set_data([px[i, 0]], [py[i, 0]])
        cross.set_data(*(([targets[i, 0]], [targets[i, 1]]) if np.all(np.isfinite(targets[i])) else ([], [])))
        label = f"t = {t[i]:.2f} s" + (f"   trial {int(trial[i])}" if several else "")
        caption.set_text(f"{title}\n{label}" if title else label)
        canvas.draw()
        rgb = np.asarray(canvas.buffer_rgba())[:, :, :3]
        images.append(Image.fromarray(rgb).convert("P", palette=Image.Palette.WEB, dither=Image.Dither.NONE))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=int(frame_ms), loop=0,
                   optimize=True)
    return out


def animate_run(store: Any, run_id: int, out: str | Path, **kwargs: Any) -> Path:
    """The GIF of stored run ``run_id`` (its ``arm`` frame) at ``out``.

    Raises :class:`~bench.errors.StoreError` when the run stored no ``arm``
    frame (only the arm tasks store one).
    """
    from bench.errors import StoreError

    run = store.run(int(run_id))
    if ARM_FRAME not in run["frames"]:
        stored = ", ".join(run["frames"]) or "none"
        raise StoreError(f"run {run_id} ({run['plant']} {run['controller']} {run['task']}) has no {ARM_FRAME!r} "
                         f"frame to animate (frames: {stored}); the arm tasks (reach, postural, "
                         f"random_movements, write) store one")
    kwargs.setdefault("title", f"run {run_id}: {run['plant']} · {run['controller']} · {run['task']}")
    return animate(store.frame(int(run_id), ARM_FRAME), out, **kwargs)


def report_animations(store: Any, df: pd.DataFrame, out: Path, *, max_frames: int = 60,
                      size_px: int = 240) -> list[Animation]:
    """One small GIF per task of ``df`` whose runs stored an ``arm`` frame (the first plant, controller and
    seed in order), written under ``out``."""
    if df.empty:
        return []
    runs = (df.drop_duplicates("run_id")[["run_id", "plant", "controller", "task", "seed"]]
            .sort_values(["task", "plant", "controller", "seed", "run_id"]))
    made = []
    names = store.frame_names(runs["run_id"])  # one query: no run is read whole
    for task, group in runs.groupby("task", sort=False):
        for row in group.itertuples(index=False):
            if ARM_FRAME not in names.get(int(row.run_id), ()):
                continue
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{task}-{row.plant}-{row.controller}-run{row.run_id}")
            path = animate_run(store, int(row.run_id), out / f"{slug}.gif", max_frames=max_frames, size_px=size_px,
                               title=f"{row.plant} · {row.controller} · {task}")
            made.append(Animation(f"{task} on {row.plant}: {row.controller}, animated", path,
                                  f"run {row.run_id} (seed {row.seed}): the arm (blue), its target (red), "
                                  f"{max_frames} pictures at most", str(task)))
            break
    return made
