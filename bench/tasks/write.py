"""The ``write`` task: trace the strokes of a text with the hand (studywolf's ``write``).

The text (default ``"hello"``, studywolf's) is laid out in the arm's writing
box (studywolf's (-0.1, 0.1, 0.2, 0.25) m for two links, (-0.25, 0.25,
1.65, 2.0) m for three; :func:`bench.plants.geometry.write_strokes`) from
the letter and digit paths ctrlbench ships (``bench/plants/glyphs.json``).
For each stroke the pen is up while the hand moves to the stroke's start
(until ``|hand - start|₁ + |dq|₁ < tolerance``, or ``timeout`` seconds, after
which the arm is put at rest there: a hard reset); then the pen is down and
the target slides along the stroke at constant speed, taking
``stroke_time`` seconds, the controller seeing only the current point.
(studywolf's trace shell rolled a letter out in 200 control steps, 0.2 s at
1 ms, behind a stiff gain-1000 tracker; 1 s per stroke lets a plain
reaching controller follow.)

Metrics (:data:`METRICS`) measure the pen-down tracking; the ``arm`` frame
(postures, targets and ``pen``) lets the animation draw the ink.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.plants.geometry import along, glyphs, into_workspace, task_geometry, write_strokes

from ..api import Metric, Result, Task
from ..errors import InvalidArgument
from ..settings import setting
from .episode import ARM_FRAME, ArmTaskSettings, Episode, arm_frame, posture_at

METRICS = {
    "tracking_error_mean": Metric("m", "lower", "mean hand-path distance while the pen is down"),
    "tracking_error_max": Metric("m", "lower", "largest hand-path distance while the pen is down"),
    "time_within_threshold": Metric("", "higher", "fraction of the pen-down time within tolerance of the path"),
    "final_distance": Metric("m", "lower", "hand distance from the last point of the text at the end"),
    "strokes_started": Metric("", "higher", "fraction of strokes whose start the hand reached before the timeout"),
    "effort": Metric("N²·m²·s", "lower", "sum of |u|²·dt over the whole text"),
    "final_speed": Metric("m/s", "lower", "hand speed at the end of the last stroke"),
    "writing_time": Metric("s", "lower", "simulated time to write the text"),
    "latency_us_per_call": Metric("µs", "lower", "wall time of one act() call"),
}


@dataclass
class WriteSettings(ArmTaskSettings):
    text: str = setting("hello", "what to write: letters a b c d e h l n o r s t u w, digits, spaces")
    box: tuple[float, ...] | None = setting(None, "(x0, x1, y0, y1) the text is written in (default: the arm's "
                                                  "writing box)", unit="m")
    stroke_time: float = setting(1.0, "time to trace one stroke", unit="s", gt=0)
    tolerance: float | None = setting(None, "threshold on |hand - start|₁ + |dq|₁ before the pen goes down, and "
                                            "the distance counted as on the path (default: the arm's, 0.01 two "
                                            "links, 0.05 three links)", unit="m", gt=0)
    timeout: float = setting(2.0, "longest time the hand may take to reach a stroke's start", unit="s", gt=0)

    def __post_init__(self) -> None:
        if self.box is not None and len(self.box) != 4:
            raise ValueError(f"box must hold 4 values (x0, x1, y0, y1), got {len(self.box)}")
        if not str(self.text).strip():
            raise ValueError("text must hold at least one character to write")
        known = set(glyphs()) | {" "}
        unknown = sorted({ch for ch in str(self.text) if ch not in known})
        if unknown:
            raise ValueError(f"text: no path for {', '.join(map(repr, unknown))}; "
                             f"the characters are {''.join(glyphs())} and space")


class Write(Task):
    """Trace a text's strokes; metrics in :data:`METRICS`."""

    Settings = WriteSettings
    METRICS = METRICS
    HEADLINE = ("tracking_error_mean", "time_within_threshold", "strokes_started", "effort")
    SCORE = ("time_within_threshold",)

    def durations(self) -> dict[str, float]:
        return {"write.stroke_time": self.settings.stroke_time, "write.timeout": self.settings.timeout}

    BATCH = "write.text, its characters"

    def batch(self) -> int:
        """The characters, written one after the other (each one stroke or more)."""
        return max(1, len(self.settings.text))

    def strokes(self, plant: Any) -> list[np.ndarray]:
        """The text's strokes on ``plant`` (each ``(k, 2)``, metres), pulled into its workspace."""
        box = self.settings.box if self.settings.box is not None else task_geometry(plant).writebox
        return [into_workspace(plant, s) for s in write_strokes(self.settings.text, box)]

    def run(self, plant: Any, controller: Any, seed: int, *, workdir: Path | None = None) -> Result:
        s = self.settings
        strokes = self.strokes(plant)
        if not strokes:
            raise InvalidArgument(f"write: nothing to write in {s.text!r}")
        tolerance = float(s.tolerance if s.tolerance is not None else task_geometry(plant).write_threshold)
        steps, limit = round(s.stroke_time / plant.dt), round(s.timeout / plant.dt)
        if min(steps, limit) < 1:
            raise InvalidArgument(f"write: stroke_time and timeout must be at least one step of {plant.dt} s")
        ep = Episode("write", plant, controller, 1, np.random.default_rng(seed), force=s.force)
        pen: list[np.ndarray] = [np.zeros(1)]
        dist, started = [], 0
        for stroke in strokes:
            begin = ep.steps
            ok, _ = ep.move(stroke[:1], tolerance, limit)
            started += ok
            if not ok:
                ep.set_state(posture_at(plant, stroke[0]))
            pen += [np.zeros(1)] * (ep.steps - begin)
            ref = along(stroke, np.arange(1, steps + 1) / steps)
            for point in ref:
                hand = ep.step(point[None, :])
                dist.append(float(np.hypot(*(hand[0] - point))))
            pen += [np.ones(1)] * steps
        dist_a = np.asarray(dist)
        metrics = {
            "tracking_error_mean": dist_a.mean(),
            "tracking_error_max": dist_a.max(),
            "time_within_threshold": np.mean(dist_a <= tolerance),
            "final_distance": dist_a[-1],
            "strokes_started": started / len(strokes),
            "effort": ep.effort[0],
            "final_speed": float(ep.hand_speed()[0]),
            "writing_time": ep.steps * plant.dt,
            "latency_us_per_call": ep.latency()["latency_us_per_call"],
        }
        qs, tg = ep.record()
        frame = arm_frame(plant, qs, tg, plant.dt, s.animation_points, extra={"pen": np.stack(pen)})
        return self.result(metrics, frames={ARM_FRAME: frame})
