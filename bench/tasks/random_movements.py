"""The ``random_movements`` task: a new random target every ``period`` seconds (studywolf's task).

``arms`` arms (one batch), each from its start posture, chase ``movements``
targets in turn, each shown for ``period`` seconds (studywolf: 1 s).  The
targets are drawn from the run's seed, uniformly in ``box`` (default
studywolf's ``[0, 0.75·L] × [0, 0.75·L]`` m, ``L`` the summed link lengths),
and drawn again when they fall outside the reachable annulus (studywolf did
not check; an unreachable target would score every controller alike).
Metrics (:data:`METRICS`) measure how close and how long within
``tolerance`` (default: the arm's threshold, 0.01 m for two links, 0.02 m
for three) the hand stays; the ``arm`` frame holds the postures of the
first arm for the animation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.plants.geometry import random_targets, task_geometry

from ..api import Metric, Result, Task
from ..errors import InvalidArgument
from ..settings import setting
from .episode import ARM_FRAME, ArmTaskSettings, Episode, arm_frame

METRICS = {
    "error_mean": Metric("m", "lower", "hand-target distance averaged over time and arms"),
    "final_distance_mean": Metric("m", "lower", "mean hand-target distance at the end of each period"),
    "time_within_threshold": Metric("", "higher", "fraction of the time the hand was within tolerance"),
    "time_to_threshold": Metric("s", "lower", "mean time to first come within tolerance (targets that do)"),
    "entered_threshold": Metric("", "higher", "fraction of targets the hand came within tolerance of"),
    "effort": Metric("N²·m²·s", "lower", "sum of |u|²·dt per target, mean"),
    "final_speed": Metric("m/s", "lower", "hand speed at the end of each period, mean"),
    "latency_us_per_call": Metric("µs", "lower", "wall time of one batched act() call"),
    "latency_us_per_arm": Metric("µs", "lower", "wall time of act() per arm"),
}


@dataclass
class RandomMovementsSettings(ArmTaskSettings):
    movements: int = setting(8, "targets per arm, one after the other", ge=1, le=10000)
    period: float = setting(1.0, "how long each target is shown (studywolf's t_target)", unit="s", gt=0)
    arms: int = setting(1, "independent arms, each with its own targets, simulated as one batch", ge=1,
                        le=10000)
    box: tuple[float, ...] | None = setting(None, "(x0, x1, y0, y1) the targets are drawn in (default "
                                                  "[0, 0.75 L]², L the summed link lengths)", unit="m")
    tolerance: float | None = setting(None, "distance that counts as on target (default: the arm's threshold)",
                                      unit="m", gt=0)

    def __post_init__(self) -> None:
        if self.box is not None and len(self.box) != 4:
            raise ValueError(f"box must hold 4 values (x0, x1, y0, y1), got {len(self.box)}")


class RandomMovements(Task):
    """Chase random targets; metrics in :data:`METRICS`."""

    Settings = RandomMovementsSettings
    METRICS = METRICS
    HEADLINE = ("error_mean", "time_within_threshold", "time_to_threshold", "effort")
    SCORE = ("time_within_threshold",)

    def durations(self) -> dict[str, float]:
        return {"random_movements.period": self.settings.period}

    BATCH = "random_movements.movements × arms"

    def batch(self) -> int:
        """Movements one after the other, of ``arms`` arms side by side."""
        return self.settings.movements * self.settings.arms

    def targets(self, plant: Any, seed: int) -> np.ndarray:
        """``(movements, arms, 2)`` the targets (m) of the run with ``seed``."""
        s = self.settings
        reach = float(np.sum(plant.link_lengths))
        box = s.box if s.box is not None else (0.0, 0.75 * reach, 0.0, 0.75 * reach)
        rng = np.random.default_rng([seed, 0x7A5])   # targets: a stream of their own
        flat = random_targets(plant, rng, s.movements * s.arms, box)
        return flat.reshape(s.movements, s.arms, 2)

    def run(self, plant: Any, controller: Any, seed: int, *, workdir: Path | None = None) -> Result:
        s = self.settings
        steps = round(s.period / plant.dt)
        if steps < 1:
            raise InvalidArgument(f"random_movements: period {s.period} s is shorter than one step of {plant.dt} s")
        goals = self.targets(plant, seed)
        tolerance = float(s.tolerance if s.tolerance is not None else task_geometry(plant).threshold)
        ep = Episode("random_movements", plant, controller, s.arms, np.random.default_rng(seed), force=s.force)
        total = steps * s.movements
        dist = np.empty((s.movements, steps, s.arms))
        final_speed = np.empty((s.movements, s.arms))
        effort = np.empty((s.movements, s.arms))
        for m in range(s.movements):
            before = ep.effort.copy()
            for k in range(steps):
                hand = ep.step(goals[m], total=total)
                dist[m, k] = np.hypot(*(hand - goals[m]).T)
            final_speed[m] = ep.hand_speed()
            effort[m] = ep.effort - before
        inside = dist <= tolerance
        entered = inside.any(axis=1)
        first = inside.argmax(axis=1)
        metrics = {
            "error_mean": dist.mean(),
            "final_distance_mean": dist[:, -1].mean(),
            "time_within_threshold": inside.mean(),
            "time_to_threshold": ((first[entered] + 1) * plant.dt).mean() if entered.any() else np.nan,
            "entered_threshold": entered.mean(),
            "effort": effort.mean(),
            "final_speed": final_speed.mean(),
            **ep.latency(),
        }
        qs, tg = ep.record()
        return self.result(metrics, frames={ARM_FRAME: arm_frame(plant, qs, tg, plant.dt, s.animation_points,
                                                                 trials=1)})
