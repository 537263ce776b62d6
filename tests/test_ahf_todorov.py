"""``ahf`` on Todorov's arm (``arm2_python_todorov``, an actuator lag in its state): the shipped
weights, trained with the final-velocity and path costs (``controllers/ahf/losses.py``), reach
every one of 64 targets within the task's threshold with a path ratio within 10% of ``osc``'s."""

from __future__ import annotations

import pytest

import bench
from bench.plants.geometry import task_geometry

PLANT = "arm2_python_todorov"


def reach64(controller):
    return bench.run(bench.plant(PLANT, dt=0.01), controller, bench.task("reach", targets=64), seed=0)


def test_shipped_todorov_weights_reach_every_target_with_a_straight_path():
    ctrl = bench.controller("ahf")  # no weights setting: the shipped file for this plant is found
    ahf = reach64(ctrl).metrics
    osc = reach64(bench.controller("osc")).metrics
    threshold = task_geometry(bench.plant(PLANT, dt=0.01)).threshold
    assert threshold == pytest.approx(0.01)
    assert ctrl.meta["plant"] == PLANT and ctrl.meta["dt"] == pytest.approx(0.01)
    assert ahf["final_distance_max"] < threshold and ahf["within_tolerance"] == 1
    assert abs(ahf["path_ratio"] - osc["path_ratio"]) <= 0.1 * osc["path_ratio"]
    trained = ctrl.meta["settings"]  # with the new costs, not the plain final-state cost
    assert trained["final_velocity_cost"] != 1 or trained["step_cost"] > 0 or trained["step_velocity_cost"] > 0
