"""The ``postural`` task: hold each of eight targets against a constant push (studywolf's ``postural``).

One arm, from its start posture, moves to each of ``targets`` points on a
circle (the arm's centre and radius, as ``reach`` in sequence mode) in
turn.  Once there (``|hand - target|₁ + |dq|₁ < tolerance``, studywolf's
rule) a constant joint torque pushes on the arm for ``hold`` seconds while
the controller keeps the hand on the target; the push stops when the arm
moves on.  The push is row ``perturbation`` of studywolf's eight directions
(:data:`bench.plants.forcefield.POSTURAL_FORCES`) times ``perturbation_scale``
N·m (default: the arm's postural force, studywolf's 400 N·m on the
three-link arm; see :func:`bench.plants.geometry.task_geometry`).  A target
not reached within ``timeout`` seconds is a miss: the arm is put at rest on
it (a hard reset) and the hold is measured all the same.

Metrics measure the holds (:data:`METRICS`); the ``holds`` frame has one row
per target and the ``arm`` frame the postures for the animation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.plants.forcefield import postural_force
from bench.plants.geometry import centre_out, into_workspace, task_geometry

from ..api import Metric, Result, Task
from ..errors import InvalidArgument
from ..settings import setting
from .episode import ARM_FRAME, ArmTaskSettings, Episode, arm_frame, check_point, posture_at

METRICS = {
    "hold_error_mean": Metric("m", "lower", "mean hand-target distance while holding against the push"),
    "hold_error_max": Metric("m", "lower", "largest hand-target distance while holding"),
    "time_within_threshold": Metric("", "higher", "fraction of the hold time the hand stayed within tolerance"),
    "final_distance_mean": Metric("m", "lower", "mean hand-target distance at the end of each hold"),
    "reached": Metric("", "higher", "fraction of targets reached before the timeout"),
    "movement_time": Metric("s", "lower", "mean time to reach a target (reached ones)"),
    "effort": Metric("N²·m²·s", "lower", "sum of |u|²·dt per target (moving and holding), mean"),
    "final_speed": Metric("m/s", "lower", "hand speed at the end of each hold, mean"),
    "resets": Metric("", "lower", "targets missed and put in place by a hard reset (count)"),
    "latency_us_per_call": Metric("µs", "lower", "wall time of one act() call"),
}


@dataclass
class PosturalSettings(ArmTaskSettings):
    targets: int = setting(8, "number of targets on the circle", ge=1, le=1000)
    radius: float | None = setting(None, "circle radius (default: the arm's, 0.075 two links, 0.4 three links)",
                                   unit="m", gt=0)
    centre: tuple[float, ...] | None = setting(None, "circle centre (default: the arm's, (0, 0.35) two links, "
                                                     "(0, 2) three links)", unit="m")
    tolerance: float | None = setting(None, "threshold on |hand - target|₁ + |dq|₁ that starts a hold; also the "
                                            "distance counted as holding (default: the arm's, 0.0075 two links, "
                                            "0.015 three links)", unit="m", gt=0)
    hold: float = setting(2.0, "how long each target is held against the push", unit="s", gt=0)
    timeout: float = setting(2.0, "longest time the arm may take to reach a target", unit="s", gt=0)
    perturbation: int = setting(7, "which of studywolf's eight push directions (0-7; his default 7)", ge=0, le=7)
    perturbation_scale: float | None = setting(None, "size of the push (default: the arm's postural force)",
                                               unit="N·m", ge=0)

    def __post_init__(self) -> None:
        check_point("centre", self.centre)


class Postural(Task):
    """Hold targets against a constant push; metrics in :data:`METRICS`."""

    Settings = PosturalSettings
    METRICS = METRICS
    HEADLINE = ("hold_error_mean", "time_within_threshold", "reached", "effort")
    SCORE = ("time_within_threshold",)

    def durations(self) -> dict[str, float]:
        return {"postural.hold": self.settings.hold, "postural.timeout": self.settings.timeout}

    BATCH = "postural.targets"

    def batch(self) -> int:
        """The targets, held one after the other."""
        return self.settings.targets

    def run(self, plant: Any, controller: Any, seed: int, *, workdir: Path | None = None) -> Result:
        s = self.settings
        rng = np.random.default_rng(seed)
        geo = task_geometry(plant)
        centre = into_workspace(plant, np.asarray(s.centre if s.centre is not None else geo.centre, float))[0]
        targets = into_workspace(plant, centre_out(centre, s.radius if s.radius is not None else geo.radius,
                                                   s.targets))
        tolerance = float(s.tolerance if s.tolerance is not None else geo.postural_threshold)
        scale = s.perturbation_scale if s.perturbation_scale is not None else geo.postural_force
        push = postural_force(plant.n_joints, s.perturbation, scale)[None, :]
        hold, limit = round(s.hold / plant.dt), round(s.timeout / plant.dt)
        if min(hold, limit) < 1:
            raise InvalidArgument(f"postural: hold and timeout must be at least one step of {plant.dt} s")
        ep = Episode("postural", plant, controller, 1, rng, force=s.force)
        pushed = np.zeros(1)
        pushing: list[np.ndarray] = [pushed]
        rows = []
        for i, target in enumerate(targets):
            goal = target[None, :]
            begin, effort0 = ep.steps, ep.effort[0]
            reached, _ = ep.move(goal, tolerance, limit)
            moved = ep.steps - begin
            if not reached:
                ep.set_state(posture_at(plant, target))
            pushing += [np.zeros(1)] * moved
            dist = np.empty(hold)
            for k in range(hold):
                hand = ep.step(goal, push)
                dist[k] = np.hypot(*(hand[0] - target))
            pushing += [np.ones(1)] * hold
            rows.append({"target": i, "reached": reached, "movement_duration": moved * plant.dt,
                         "hold_error_mean": dist.mean(), "hold_error_max": dist.max(),
                         "time_within_threshold": np.mean(dist <= tolerance), "final_distance": dist[-1],
                         "final_speed": float(ep.hand_speed()[0]), "effort": ep.effort[0] - effort0})
        done = [r["movement_duration"] for r in rows if r["reached"]]
        metrics = {
            "hold_error_mean": np.mean([r["hold_error_mean"] for r in rows]),
            "hold_error_max": np.max([r["hold_error_max"] for r in rows]),
            "time_within_threshold": np.mean([r["time_within_threshold"] for r in rows]),
            "final_distance_mean": np.mean([r["final_distance"] for r in rows]),
            "reached": np.mean([r["reached"] for r in rows]),
            "movement_time": np.mean(done) if done else np.nan,
            "effort": np.mean([r["effort"] for r in rows]),
            "final_speed": np.mean([r["final_speed"] for r in rows]),
            "resets": sum(not r["reached"] for r in rows),
            "latency_us_per_call": ep.latency()["latency_us_per_call"],
        }
        import pandas as pd

        qs, tg = ep.record()
        frame = arm_frame(plant, qs, tg, plant.dt, s.animation_points, extra={"push": np.stack(pushing)})
        return self.result(metrics, frames={ARM_FRAME: frame, "holds": pd.DataFrame(rows)})
