"""The ``reach`` task: centre-out reaches of a planar arm.

``targets`` points evenly on a circle of radius ``radius`` (default: the sum
of the link lengths / 8, i.e. (l1+l2)/8 for arm2) around the start hand
position.  Every trial starts from the arm's start posture at rest and lasts
``duration`` seconds; all trials run as one batch, so the controller sees
``(targets, S)`` observations and ``(targets, 2)`` hand targets (metres).
With ``return_phase`` the target then moves back to the start hand position
for another ``duration``; the ``return_*`` metrics measure the way back (the
other metrics still describe the outward reach).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..api import Metric, Result, Task
from ..errors import Diverged, InvalidArgument
from ..settings import setting

METRICS = {
    "final_distance_mean": Metric("m", "lower", "mean hand-target distance at the end"),
    "final_distance_max": Metric("m", "lower", "largest hand-target distance at the end"),
    "within_tolerance": Metric("", "higher", "fraction of targets within tolerance at the end"),
    "time_to_tolerance": Metric("s", "lower", "mean time to first enter the tolerance (targets that do)"),
    "entered_tolerance": Metric("", "higher", "fraction of targets whose hand ever entered the tolerance"),
    "path_ratio": Metric("", "lower", "hand path length / straight-line distance, mean over targets"),
    "effort": Metric("N²·m²·s", "lower", "sum of |u|²·dt, mean over targets"),
    "latency_us_per_call": Metric("µs", "lower", "wall time of one batched act() call"),
    "latency_us_per_arm": Metric("µs", "lower", "wall time of act() per arm"),
    "return_distance_mean": Metric("m", "lower", "return phase: mean hand-start distance at the end"),
    "return_distance_max": Metric("m", "lower", "return phase: largest hand-start distance at the end"),
    "return_within_tolerance": Metric("", "higher", "return phase: fraction back within tolerance at the end"),
}


@dataclass
class ReachSettings:
    targets: int = setting(8, "number of targets on the circle (64 in the AHF write-up)", ge=1, le=100000)
    radius: float | None = setting(None, "circle radius (default: sum of link lengths / 8)", unit="m", gt=0)
    duration: float = setting(0.4, "length of each reach", unit="s", gt=0)
    tolerance: float = setting(0.01, "distance that counts as reached", unit="m", gt=0)
    frame_points: int = setting(100, "time points per target kept in the trajectory table", ge=2)
    return_phase: bool = setting(False, "after the reach, the target moves back to the start for another "
                                        "`duration` (adds the return_* metrics)")


def circle_targets(arm: Any, n: int, radius: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(start_hand (2,), targets (n, 2))``: n points on a circle around the start hand."""
    start = arm.hand(arm.start_q[None, :])[0]
    r = float(radius) if radius is not None else float(np.sum(arm.link_lengths)) / 8
    ang = 2 * np.pi * np.arange(n) / n
    return start, start + r * np.stack([np.cos(ang), np.sin(ang)], axis=1)


class Reach(Task):
    """Centre-out reaching; metrics in :data:`METRICS`."""

    Settings = ReachSettings
    METRICS = METRICS

    def run(self, plant: Any, controller: Any, seed: int, *, workdir: Path | None = None) -> Result:
        s = self.settings
        rng = np.random.default_rng(seed)
        start, targets = circle_targets(plant, s.targets, s.radius)
        n = s.targets
        steps = int(round(s.duration / plant.dt))
        if steps < 1:
            raise InvalidArgument(f"reach: duration {s.duration} s is shorter than one step of {plant.dt} s")
        total = 2 * steps if s.return_phase else steps
        home = np.tile(start, (n, 1))
        x = np.tile(plant.start_state, (n, 1))
        controller.reset(n, rng)
        hands = np.empty((total + 1, n, 2))
        hands[0] = plant.hand(x[:, : plant.n_joints])
        effort = np.zeros(n)
        act_time = 0.0
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked explicitly below
            for k in range(total):
                obs = plant.observation(x)
                t0 = time.perf_counter()
                u = controller.act(obs, targets if k < steps else home)
                act_time += time.perf_counter() - t0
                u = np.asarray(u)
                if u.shape != (n, plant.input_size):
                    raise InvalidArgument(f"controller {controller.name!r} returned shape {u.shape}, "
                                          f"expected ({n}, {plant.input_size})")
                if not np.all(np.isfinite(u)):
                    raise Diverged(f"reach: controller {controller.name!r} returned non-finite inputs at step "
                                   f"{k + 1} of {total} (largest |state| {np.max(np.abs(x)):.3g})")
                try:
                    x = plant.step(x, u)
                except Diverged as exc:  # the plant saw it; say which step of the reach
                    raise Diverged(f"reach: step {k + 1} of {total}: {exc}") from None
                if not np.all(np.isfinite(x)):
                    raise Diverged(f"reach: state not finite at step {k + 1} of {total}")
                effort += np.sum(u.astype(float) ** 2, axis=1) * plant.dt
                hands[k + 1] = plant.hand(x[:, : plant.n_joints])
        current = np.broadcast_to(targets, hands.shape).copy()  # the target at each step
        current[steps + 1:] = home
        dist_all = np.linalg.norm(hands - current, axis=2)  # (total+1, n)
        dist = dist_all[: steps + 1]
        final = dist[-1]
        inside = dist <= s.tolerance
        entered = inside.any(axis=0)
        first = np.where(entered, inside.argmax(axis=0), -1)
        t_first = first[entered] * plant.dt
        path = np.linalg.norm(np.diff(hands[: steps + 1], axis=0), axis=2).sum(axis=0)
        straight = np.linalg.norm(targets - start, axis=1)
        metrics = {
            "final_distance_mean": final.mean(),
            "final_distance_max": final.max(),
            "within_tolerance": np.mean(final <= s.tolerance),
            "time_to_tolerance": t_first.mean() if t_first.size else np.nan,
            "entered_tolerance": entered.mean(),
            "path_ratio": np.mean(path / straight),
            "effort": effort.mean(),
            "latency_us_per_call": act_time / total * 1e6,
            "latency_us_per_arm": act_time / total / n * 1e6,
        }
        if s.return_phase:
            back = dist_all[-1]
            metrics.update(return_distance_mean=back.mean(), return_distance_max=back.max(),
                           return_within_tolerance=np.mean(back <= s.tolerance))
        return self.result(metrics, frames={"trajectory": self._frame(hands, dist_all, current, plant.dt)})

    def _frame(self, hands: np.ndarray, dist: np.ndarray, targets: np.ndarray, dt: float):
        """``targets``: ``(steps+1, n, 2)``, the target in force at each step."""
        import pandas as pd

        steps = hands.shape[0]
        keep = np.unique(np.linspace(0, steps - 1, min(steps, self.settings.frame_points)).round().astype(int))
        n = targets.shape[1]
        return pd.DataFrame({
            "step": np.repeat(keep, n),
            "t": np.repeat(keep * dt, n),
            "target": np.tile(np.arange(n), keep.size),
            "target_x": targets[keep, :, 0].ravel(),
            "target_y": targets[keep, :, 1].ravel(),
            "hand_x": hands[keep, :, 0].ravel(),
            "hand_y": hands[keep, :, 1].ravel(),
            "distance": dist[keep].ravel(),
        })
