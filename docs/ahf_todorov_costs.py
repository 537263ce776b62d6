"""Hand paths of ``ahf`` on Todorov's arm with two training costs, beside ``osc``.

    python docs/ahf_todorov_costs.py PLAIN.npz [NEW.npz] [-o docs/figures/ahf-todorov-costs.png]

Runs ``reach`` (64 targets, 0.4 s at dt = 0.01 s) on ``arm2_python_todorov``
with ``osc``, with ``ahf`` acting with ``PLAIN.npz`` (weights trained with the
plain final-state cost) and with ``NEW.npz`` (default: the shipped weights,
trained with the final-velocity and path costs of ``controllers/ahf/losses.py``),
and draws the 64 hand paths of each (metres) with the reach metrics in the
titles: mean and max final distance (mm), mean final hand speed (m/s), the
path ratio (hand path length / straight-line distance) and how far off the
straight start-target line the hand strays (largest distance, mean over reaches, mm).  The weights'
training commands are in ``controllers/ahf/weights/README.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import bench

PLANT, DT, TARGETS = "arm2_python_todorov", 0.01, 64


def reach(controller: str, **settings) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """``(metrics, hand paths (steps+1, n, 2) in m, targets (n, 2) in m)`` of one 64-target reach."""
    plant = bench.plant(PLANT, dt=DT)
    task = bench.task("reach", targets=TARGETS, full_trajectory=True)
    result = bench.run(plant, bench.controller(controller, **settings), task, seed=0)
    f = result.frames["trajectory"].sort_values(["step", "target"])
    steps = f["step"].nunique()
    hands = f[["hand_x", "hand_y"]].to_numpy().reshape(steps, TARGETS, 2)
    targets = f[["target_x", "target_y"]].to_numpy().reshape(steps, TARGETS, 2)[-1]
    return dict(result.metrics), hands, targets


def lateral_deviation(hands: np.ndarray, targets: np.ndarray) -> float:
    """Mean over reaches of the largest distance (m) of the hand from the straight start-target line."""
    start = hands[0]
    u = (targets - start) / np.linalg.norm(targets - start, axis=1, keepdims=True)
    rel = hands - start
    return float(np.abs(rel[..., 0] * u[:, 1] - rel[..., 1] * u[:, 0]).max(axis=0).mean())


def main(argv: list[str] | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("plain", help="ahf weights trained with the plain final-state cost (.npz)")
    p.add_argument("new", nargs="?", default=None, help="ahf weights trained with the new costs (default: shipped)")
    p.add_argument("-o", "--output", default="docs/figures/ahf-todorov-costs.png")
    a = p.parse_args(argv)
    panels = [("ahf, plain final-state cost", "ahf", {"weights": a.plain}),
              ("ahf, hand-space final-velocity + path cost", "ahf", {"weights": a.new} if a.new else {}),
              ("osc", "osc", {})]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 6.0), sharex=True, sharey=True)
    for ax, (title, name, settings) in zip(axes, panels):
        m, hands, targets = reach(name, **settings)
        ax.plot(hands[:, :, 0], hands[:, :, 1], lw=0.7, color="C0")
        ax.plot(targets[:, 0], targets[:, 1], "o", ms=3, mfc="none", color="C3")
        ax.plot(*hands[0, 0], "k+", ms=10)
        ax.set_title(f"{title}\nfinal distance mean {m['final_distance_mean'] * 1e3:.1f} mm, "
                     f"max {m['final_distance_max'] * 1e3:.1f} mm\nfinal speed {m['final_speed']:.3f} m/s, "
                     f"path ratio {m['path_ratio']:.3f}, off the line {lateral_deviation(hands, targets) * 1e3:.1f} mm",
                     fontsize=9)
        ax.set_aspect("equal")
        ax.set_xlabel("hand x (m)")
    axes[0].set_ylabel("hand y (m)")
    fig.suptitle(f"{PLANT}: 64 reaches of 0.4 s at dt = {DT} s (hand paths, targets as circles)")
    fig.tight_layout(rect=(0, 0.02, 1, 0.95))
    out = Path(a.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(out)
    return out


if __name__ == "__main__":
    main()
