"""The reach task end to end: geometry, metrics that can fail, the OSC baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest

import bench
from bench.plants.geometry import circle_targets


class Still(bench.Controller):
    """Zero torque: the arm never moves."""

    def act(self, observation, target):
        return np.zeros((observation.shape[0], 2))


def test_targets_lie_on_the_circle_around_the_start_hand():
    arm = bench.plant("arm2")
    start, targets = circle_targets(arm, 64)
    assert np.allclose(np.linalg.norm(targets - start, axis=1), (0.31 + 0.27) / 8)
    assert np.allclose(start, arm.hand(arm.start_q[None])[0])


def test_a_controller_that_does_nothing_scores_as_it_should():
    arm = bench.plant("arm2")
    still = Still()
    still.name = "still"
    r = bench.task("reach", targets=8).run(arm, still, seed=0)
    m = r.metrics
    assert m["final_distance_mean"] == pytest.approx(0.0725) and m["final_distance_max"] == pytest.approx(0.0725)
    assert m["within_tolerance"] == 0 and m["entered_tolerance"] == 0 and math.isnan(m["time_to_tolerance"])
    assert m["path_ratio"] == 0 and m["effort"] == 0


def test_osc_reaches_all_64_targets():
    r = bench.run(bench.plant("arm2"), bench.controller("osc"), bench.task("reach", targets=64), seed=0)
    m = r.metrics
    assert m["final_distance_max"] < 0.01 and m["within_tolerance"] == 1.0
    assert 0 < m["time_to_tolerance"] < 0.4 and m["effort"] > 0
    assert 0.9 < m["path_ratio"] < 1.5
    traj = r.frames["trajectory"]
    assert set(traj["target"]) == set(range(64)) and traj["step"].max() == 400
    assert r.info["final_distance_mean"].unit == "m" and r.info["final_distance_mean"].better == "lower"


def test_a_weak_controller_is_seen_as_weak():
    r = bench.run(bench.plant("arm2"), bench.controller("osc", kp=5.0), bench.task("reach", targets=8), seed=0)
    assert r.metrics["within_tolerance"] < 1.0 and r.metrics["final_distance_mean"] > 0.01


def test_a_diverging_reach_names_the_step(cli):
    code, _, err = cli("run", "arm2", "osc", "reach", "--dt", "0.5", "--set", "osc.kp=1e6", "--set", "duration=10")
    assert code == 1 and "Diverged" not in err and "at step" in err and "Traceback" not in err
