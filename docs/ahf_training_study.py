"""Learning curves of ``ahf`` training runs side by side: what holds training back on an arm.

Each argument is ``[GROUP|]LABEL=FOLDER`` (one row of panels per group), where FOLDER is the ``--db`` folder
of one ``bench train ... ahf ...`` run (its checkpoints are in ``FOLDER/train``); the curve is the history the
latest checkpoint carries (closed-loop mean and largest final hand distance and HF's damping, against training
wall time; a curriculum's updates on a smaller radius are left out of the distances)::

    .venv/bin/python docs/ahf_training_study.py --out docs/figures/ahf-arm3-study.png \\
        --threshold 0.02 "damping|no floor=/tmp/a3/g1000" "damping|floor 1e-3=/tmp/a3/g1000_md1e-3"

It prints one line per run: iterations, wall time, best mean and largest distance, and the wall time
when the mean first fell below 1 cm and when every target first came within ``--threshold``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def curve(folder: Path) -> dict[str, np.ndarray]:
    """The history arrays of the latest checkpoint in ``folder/train`` (one run per folder)."""
    from bench.controllers.ahf import checkpoints as ckpt

    found = ckpt.find(folder / "train", role="latest")
    if not found:
        raise SystemExit(f"{folder}: no ahf checkpoint in {folder / 'train'}")
    arrays, _ = ckpt.read_weights(found[0][0])
    return {k[len("history_"):]: np.asarray(v) for k, v in arrays.items() if k.startswith("history_")}


def first(wall: np.ndarray, mask: np.ndarray) -> float:
    hit = np.flatnonzero(mask)
    return float(wall[hit[0]]) if hit.size else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="[GROUP|]LABEL=FOLDER")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--threshold", type=float, default=0.02, help="the task's threshold, m")
    p.add_argument("--title", default="ahf training")
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[str, list[tuple[str, str]]] = {}
    for spec in args.runs:
        head, _, folder = spec.rpartition("=")
        group, _, label = head.rpartition("|")
        groups.setdefault(group, []).append((label, folder))
    fig, grid = plt.subplots(len(groups), 3, figsize=(16, 3.4 * len(groups)), squeeze=False,
                             constrained_layout=True)
    for axes, (group, runs) in zip(grid, groups.items()):
        for label, folder in runs:
            h = curve(Path(folder))
            wall, mean, worst = h["wall_s"].astype(float), h["distance_mean"].astype(float), \
                h["distance_max"].astype(float)
            smaller = h["phase"].astype(str) == "curriculum"  # a smaller radius: not the task's distances
            mean[smaller], worst[smaller] = np.nan, np.nan
            line, = axes[0].semilogy(wall, mean * 100, lw=1.2, label=label)
            axes[1].semilogy(wall, worst * 100, lw=1.2, color=line.get_color())
            axes[2].semilogy(wall, np.maximum(h["damping"].astype(float), 1e-16), lw=1.2, color=line.get_color())
            print(f"{group} {label}: {len(wall) - 1} iterations in {wall[-1]:.0f} s; best mean "
                  f"{np.nanmin(mean) * 100:.2f} cm, best largest {np.nanmin(worst) * 100:.2f} cm; mean < 1 cm at "
                  f"{first(wall, mean < 0.01):.1f} s, every target < {args.threshold * 100:g} cm at "
                  f"{first(wall, worst < args.threshold):.1f} s")
        for ax, what in zip(axes, ("mean final distance (cm)", "largest final distance (cm)", "HF damping")):
            ax.set_ylabel(what)
            ax.grid(True, which="both", alpha=0.3)
        axes[0].axhline(1.0, color="k", lw=0.8, ls=":")
        axes[1].axhline(args.threshold * 100, color="k", lw=0.8, ls=":")
        axes[0].set_title(group, loc="left", fontsize=10)
        axes[2].legend(*axes[0].get_legend_handles_labels(), loc="upper left", bbox_to_anchor=(1.02, 1.0),
                       fontsize=8, borderaxespad=0)
    for ax in grid[-1]:
        ax.set_xlabel("training wall time (s)")
    fig.suptitle(args.title)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
