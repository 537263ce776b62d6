"""The ``reach`` task: centre-out reaches of a planar arm, batched or as studywolf's sequence.

``mode="batch"`` (the default)
    ``targets`` points evenly on a circle of radius ``radius`` (default: the
    sum of the link lengths / 8, i.e. (l1+l2)/8 for arm2) around the start
    hand position (or ``centre``).  Every trial starts from the arm's start
    posture at rest and lasts ``duration`` seconds; all trials run as one
    batch, so the controller sees ``(targets, S)`` observations and
    ``(targets, 2)`` hand targets (metres).  With ``return_phase`` the target
    then moves back to the start hand position for another ``duration``; the
    ``return_*`` metrics measure the way back (the other metrics still
    describe the outward reach).  ``tolerance`` defaults to the arm's
    threshold (:func:`~bench.plants.geometry.task_geometry`): 0.01 m for the
    two-link arms, 0.02 m for the three-link ones (studywolf's; a 3.9 m arm
    under critically damped OSC needs the whole 0.4 s to come within 1 cm
    of a target 0.49 m away).

``mode="sequence"`` (studywolf/control's ``tasks/reach.py``)
    One arm, starting at its start posture, first moves to the centre, then
    centre-out-and-back to each of ``targets`` points in turn: centre, target
    0, centre, target 1, ..., target n-1, centre.  The next target appears as
    soon as ``|hand - target|₁ + |dq|₁ < tolerance`` (studywolf's rule, m
    plus rad/s).  The centre, radius and tolerance default to the arm's
    :func:`~bench.plants.geometry.task_geometry`: studywolf's (0, 0.35) m,
    0.075 m and 0.01 for two-link arms, (0, 2) m, 0.4 m and 0.02 for
    three-link ones.  A movement that takes longer than ``timeout`` seconds
    ends as not reached; a return that times out puts the arm back at rest
    at the centre posture and starts a fresh trial of the controller
    (``controller.reset``; ``hard_reset``) so that a controller that cannot
    come back still gets every outward reach.

Targets outside the arm's reachable annulus (a one-link arm's circle) are
pulled radially into it (:func:`~bench.plants.geometry.into_workspace`).
``force`` adds studywolf's velocity-dependent joint force field to the
simulated arm in both modes.  Besides its metrics, the task stores the
``trajectory`` frame (batch mode: hand paths per target, ``frame_points``
time points per target, 50 by default, evenly spaced; ``full_trajectory``
keeps every step) and the ``arm`` frame (postures over time, for the
animation).  The metrics are always computed from every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bench.plants.geometry import centre_out, into_workspace, start_hand, task_geometry

from ..api import Metric, Result, Task
from ..errors import InvalidArgument
from ..settings import setting
from .episode import ARM_FRAME, ArmTaskSettings, Episode, arm_frame, check_point, posture_at

METRICS = {
    "final_distance_mean": Metric("m", "lower", "mean hand-target distance at the end of each reach"),
    "final_distance_max": Metric("m", "lower", "largest hand-target distance at the end of a reach"),
    "within_tolerance": Metric("", "higher", "batch: fraction of targets within tolerance at the end"),
    "time_to_tolerance": Metric("s", "lower", "batch: mean time to first enter the tolerance (targets that do)"),
    "entered_tolerance": Metric("", "higher", "batch: fraction of targets whose hand ever entered the tolerance"),
    "time_within_tolerance": Metric("", "higher", "batch: fraction of the reach the hand spent within tolerance"),
    "path_ratio": Metric("", "lower", "hand path length / straight-line distance, mean over outward reaches"),
    "effort": Metric("N²·m²·s", "lower", "sum of |u|²·dt, mean over reaches (batch: targets; sequence: "
                                          "movements)"),
    "final_speed": Metric("m/s", "lower", "hand speed at the end of each reach, mean"),
    "latency_us_per_call": Metric("µs", "lower", "wall time of one batched act() call"),
    "latency_us_per_arm": Metric("µs", "lower", "wall time of act() per arm"),
    "return_distance_mean": Metric("m", "lower", "return phase: mean hand-start distance at the end"),
    "return_distance_max": Metric("m", "lower", "return phase: largest hand-start distance at the end"),
    "return_within_tolerance": Metric("", "higher", "return phase: fraction back within tolerance at the end"),
    "targets_reached": Metric("", "higher", "sequence: outward targets reached before the timeout (count)"),
    "returns_reached": Metric("", "higher", "sequence: returns to the centre reached before the timeout (count)"),
    "reached": Metric("", "higher", "sequence: fraction of the out and back movements reached"),
    "movement_time": Metric("s", "lower", "sequence: mean time of the reached movements"),
    "resets": Metric("", "lower", "sequence: hard resets after a return that timed out (count)"),
    "sequence_time": Metric("s", "lower", "sequence: simulated time of the whole sequence"),
}


@dataclass
class ReachSettings(ArmTaskSettings):
    mode: Literal["batch", "sequence"] = setting("batch", "batch: every target at once for `duration`; "
                                                 "sequence: studywolf's centre-out-and-back, one target after "
                                                 "the other, switching on `tolerance`")
    targets: int = setting(8, "number of targets on the circle (64 in the AHF write-up)", ge=1, le=100000)
    radius: float | None = setting(None, "circle radius (default: batch, the sum of link lengths / 8; "
                                         "sequence, the arm's: 0.075 two links, 0.4 three links)", unit="m", gt=0)
    centre: tuple[float, ...] | None = setting(None, "circle centre (default: batch, the start hand; sequence, "
                                                     "the arm's: (0, 0.35) two links, (0, 2) three links)",
                                               unit="m")
    duration: float = setting(0.4, "batch: length of each reach", unit="s", gt=0)
    tolerance: float | None = setting(None, "batch: distance that counts as reached; sequence: the switching "
                                            "threshold on |hand - target|₁ + |dq|₁ (default: the arm's, 0.01 "
                                            "for two links, 0.02 for three)", unit="m", gt=0)
    timeout: float = setting(2.0, "sequence: longest time a movement may take", unit="s", gt=0)
    hard_reset: bool = setting(True, "sequence: a return that times out puts the arm at rest at the centre")
    frame_points: int = setting(50, "batch: time points per target kept in the trajectory table, evenly spaced "
                                    "over the reach (about 30 KB a run of 64 targets in the store)", ge=2)
    full_trajectory: bool = setting(False, "batch: keep every step in the trajectory table (frame_points is then "
                                           "unused; about 0.2 MB per 64-target run of 400 steps)")
    return_phase: bool = setting(False, "batch: after the reach, the target moves back to the start for another "
                                        "`duration` (adds the return_* metrics)")

    def __post_init__(self) -> None:
        check_point("centre", self.centre)


class Reach(Task):
    """Centre-out reaching; metrics in :data:`METRICS`."""

    Settings = ReachSettings
    METRICS = METRICS
    HEADLINE = ("final_distance_mean", "within_tolerance", "time_to_tolerance", "reached", "movement_time", "effort")
    SCORE = ("within_tolerance", "reached")  # batch mode reports the first, sequence mode the second

    def durations(self) -> dict[str, float]:
        """The reach (and its return phase, as long) or the sequence's timeout: whole numbers of plant steps."""
        if self.settings.mode == "sequence":
            return {"reach.timeout": self.settings.timeout}
        return {"reach.duration": self.settings.duration}

    BATCH = "reach.targets"

    def batch(self) -> int:
        """Targets reached side by side (twice with the return phase); a sequence goes out and back to each."""
        s = self.settings
        return s.targets * (2 if s.mode == "sequence" or s.return_phase else 1)

    def run(self, plant: Any, controller: Any, seed: int, *, workdir: Path | None = None) -> Result:
        if self.settings.mode == "sequence":
            return self._sequence(plant, controller, seed)
        return self._batch(plant, controller, seed)

    # -- batch -------------------------------------------------------------
    def _batch(self, plant: Any, controller: Any, seed: int) -> Result:
        s = self.settings
        rng = np.random.default_rng(seed)
        tolerance = s.tolerance if s.tolerance is not None else task_geometry(plant).threshold
        start = start_hand(plant)
        centre = start if s.centre is None else np.asarray(s.centre, dtype=float)
        radius = s.radius if s.radius is not None else float(np.sum(plant.link_lengths)) / 8
        targets = into_workspace(plant, centre_out(centre, radius, s.targets))
        n = s.targets
        steps = round(s.duration / plant.dt)  # whole: the runner checked dt against durations()
        if steps < 1:
            raise InvalidArgument(f"reach: duration {s.duration} s is shorter than one step of {plant.dt} s")
        total = 2 * steps if s.return_phase else steps
        home = np.tile(start, (n, 1))
        ep = Episode("reach", plant, controller, n, rng, force=s.force)
        hands = np.empty((total + 1, n, 2))
        hands[0] = ep.hand()
        for k in range(total):
            hands[k + 1] = ep.step(targets if k < steps else home, total=total)
            if k + 1 == steps:
                speed = ep.hand_speed()
        current = np.broadcast_to(targets, hands.shape).copy()  # the target at each step
        current[steps + 1:] = home
        dist_all = np.linalg.norm(hands - current, axis=2)  # (total+1, n)
        dist = dist_all[: steps + 1]
        final = dist[-1]
        inside = dist <= tolerance
        entered = inside.any(axis=0)
        first = np.where(entered, inside.argmax(axis=0), -1)
        t_first = first[entered] * plant.dt
        path = np.linalg.norm(np.diff(hands[: steps + 1], axis=0), axis=2).sum(axis=0)
        straight = np.linalg.norm(targets - start, axis=1)
        metrics = {
            "final_distance_mean": final.mean(),
            "final_distance_max": final.max(),
            "within_tolerance": np.mean(final <= tolerance),
            "time_to_tolerance": t_first.mean() if t_first.size else np.nan,
            "entered_tolerance": entered.mean(),
            "time_within_tolerance": inside[1:].mean(),
            "path_ratio": np.mean(path / np.maximum(straight, 1e-12)),
            "effort": ep.effort.mean(),
            "final_speed": speed.mean(),
            **ep.latency(),
        }
        if s.return_phase:
            back = dist_all[-1]
            metrics.update(return_distance_mean=back.mean(), return_distance_max=back.max(),
                           return_within_tolerance=np.mean(back <= tolerance))
        qs, tg = ep.record()
        frames = {"trajectory": self._frame(hands, dist_all, current, plant.dt),
                  ARM_FRAME: arm_frame(plant, qs, tg, plant.dt, s.animation_points, trials=8)}
        return self.result(metrics, frames=frames)

    def _frame(self, hands: np.ndarray, dist: np.ndarray, targets: np.ndarray, dt: float):
        """``targets``: ``(steps+1, n, 2)``, the target in force at each step."""
        import pandas as pd

        steps = hands.shape[0]
        points = steps if self.settings.full_trajectory else min(steps, self.settings.frame_points)
        keep = np.unique(np.linspace(0, steps - 1, points).round().astype(int))
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

    # -- sequence ----------------------------------------------------------
    def plan(self, plant: Any) -> tuple[np.ndarray, np.ndarray, float]:
        """``(centre (2,), targets (n, 2), tolerance)`` of the sequence on ``plant`` (metres)."""
        s = self.settings
        geo = task_geometry(plant)
        centre = into_workspace(plant, np.asarray(s.centre if s.centre is not None else geo.centre, float))[0]
        radius = s.radius if s.radius is not None else geo.radius
        targets = into_workspace(plant, centre_out(centre, radius, s.targets))
        tolerance = s.tolerance if s.tolerance is not None else geo.threshold
        return centre, targets, float(tolerance)

    def _sequence(self, plant: Any, controller: Any, seed: int) -> Result:
        s = self.settings
        rng = np.random.default_rng(seed)
        centre, targets, tolerance = self.plan(plant)
        home = posture_at(plant, centre)
        limit = round(s.timeout / plant.dt)
        if limit < 1:
            raise InvalidArgument(f"reach: timeout {s.timeout} s is shorter than one step of {plant.dt} s")
        ep = Episode("reach", plant, controller, 1, rng, force=s.force)
        moves = [("approach", centre)]
        for t in targets:
            moves += [("out", t), ("back", centre)]
        rows = []
        resets = 0
        hand = ep.hand()
        for kind, goal in moves:
            goal = goal[None, :]
            begin, effort0 = ep.steps, ep.effort[0]
            origin = hand[0].copy()
            reached, path = ep.move(goal, tolerance, limit)
            hand = ep.hand()
            rows.append({"kind": kind, "reached": reached, "duration": (ep.steps - begin) * plant.dt,
                         "distance": float(np.hypot(*(hand[0] - goal[0]))), "speed": float(ep.hand_speed()[0]),
                         "effort": ep.effort[0] - effort0,
                         "path_ratio": path / max(float(np.hypot(*(goal[0] - origin))), 1e-12)})
            if not reached and kind == "back" and s.hard_reset:
                ep.set_state(home)
                hand = ep.hand()
                resets += 1
        scored = [r for r in rows if r["kind"] != "approach"]
        done = [r for r in scored if r["reached"]]
        out = [r for r in scored if r["kind"] == "out"]
        dist = np.array([r["distance"] for r in scored])
        metrics = {
            "targets_reached": sum(r["reached"] for r in out),
            "returns_reached": sum(r["reached"] for r in scored if r["kind"] == "back"),
            "reached": len(done) / len(scored),
            "movement_time": np.mean([r["duration"] for r in done]) if done else np.nan,
            "final_distance_mean": dist.mean(),
            "final_distance_max": dist.max(),
            "path_ratio": np.mean([r["path_ratio"] for r in out]),
            "effort": np.mean([r["effort"] for r in scored]),
            "final_speed": np.mean([r["speed"] for r in scored]),
            "resets": resets,
            "sequence_time": ep.steps * plant.dt,
            **ep.latency(),
        }
        qs, tg = ep.record()
        return self.result(metrics, frames={ARM_FRAME: arm_frame(plant, qs, tg, plant.dt, s.animation_points),
                                            "movements": _movements(rows)})


def _movements(rows: list[dict]) -> Any:
    """One row per movement of the sequence: kind, reached, duration (s), distance (m), speed (m/s),
    effort (N²·m²·s), path_ratio."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    frame.insert(0, "movement", np.arange(len(frame)))
    return frame
