"""studywolf's arm tasks: reach in sequence mode, postural, random_movements, write, the force field.

Each task's metrics on the OSC baseline and on controllers that fail in a
known way (a still arm, a controller that cannot come back), the sequence
switching and the hard reset, the force field's effect, the glyph paths.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import bench
from bench.errors import InvalidArgument, SettingError
from bench.plants.geometry import (
    THREE_LINK,
    TWO_LINK,
    along,
    glyph_strokes,
    glyphs,
    into_workspace,
    random_targets,
    task_geometry,
    write_strokes,
)
from bench.tasks.episode import ARM_FRAME
from bench.testing import check_task

ARM_TASKS = ("reach", "postural", "random_movements", "write")


class Still(bench.Controller):
    """Zero torque: the arm never moves by itself."""

    def act(self, observation, target):
        return np.zeros((observation.shape[0], self.plant.input_size))


class OutOnly(bench.Controller):
    """OSC towards every target except the centre: it cannot come back."""

    def __init__(self, centre, settings=None):
        super().__init__(settings)
        self.centre = np.asarray(centre)
        self.osc = bench.controller("osc")
        self.trials = 0

    def reset(self, n, rng):
        self.trials += 1

    def bind(self, plant):
        super().bind(plant)
        self.osc.bind(plant)

    def act(self, observation, target):
        if np.allclose(target, self.centre):
            return np.zeros((observation.shape[0], self.plant.input_size))
        return self.osc.act(observation, target)


def run(plant, controller, task, seed=0, **plant_settings):
    arm = bench.plant(plant, **plant_settings) if isinstance(plant, str) else plant
    if isinstance(controller, str):
        controller = bench.controller(controller)
    controller.name = controller.name or type(controller).__name__.lower()
    controller.bind(arm)
    return task.run(arm, controller, seed)


# -- reach, sequence mode ------------------------------------------------------------
def test_sequence_goes_centre_out_and_back_switching_on_the_threshold():
    task = bench.task("reach", mode="sequence", targets=3)
    r = run("arm2", "osc", task, dt=0.002)
    moves = r.frames["movements"]
    assert moves["kind"].tolist() == ["approach", "out", "back", "out", "back", "out", "back"]
    assert moves["reached"].all() and r.metrics["targets_reached"] == 3 and r.metrics["returns_reached"] == 3
    assert r.metrics["reached"] == 1.0 and r.metrics["resets"] == 0
    assert 0.2 < r.metrics["movement_time"] < 1.0
    # each movement ended as soon as the L1 rule held: within the arm's 0.01 (distance alone is smaller)
    assert r.metrics["final_distance_max"] < 0.01
    centre, targets, tolerance = task.plan(bench.plant("arm2"))
    np.testing.assert_allclose(centre, TWO_LINK.centre)
    np.testing.assert_allclose(np.linalg.norm(targets - centre, axis=1), TWO_LINK.radius)
    assert tolerance == TWO_LINK.threshold
    frame = r.frames[ARM_FRAME]
    assert {"t", "trial", "target_x", "target_y", "q0", "q1", "px2", "py2"} <= set(frame.columns)
    assert len(frame) <= task.settings.animation_points and frame["t"].is_monotonic_increasing
    assert r.metrics["sequence_time"] == pytest.approx(moves["duration"].sum(), abs=1e-9)


def test_sequence_uses_studywolfs_three_link_defaults():
    task = bench.task("reach", mode="sequence", targets=2)
    centre, targets, tolerance = task.plan(bench.plant("arm3"))
    np.testing.assert_allclose(centre, (0.0, 2.0))
    np.testing.assert_allclose(np.linalg.norm(targets - centre, axis=1), 0.4)
    assert tolerance == 0.02 == THREE_LINK.threshold
    r = run("arm3", "osc", task, dt=0.002)
    assert r.metrics["targets_reached"] == 2 and r.metrics["returns_reached"] == 2


def test_hard_reset_rescues_a_controller_that_cannot_return():
    arm = bench.plant("arm2", dt=0.004)
    centre = TWO_LINK.centre
    settings = {"mode": "sequence", "targets": 3, "timeout": 1.0}
    controller = OutOnly(centre)
    with_reset = run(arm, controller, bench.task("reach", **settings))
    assert with_reset.metrics["targets_reached"] == 3 and with_reset.metrics["returns_reached"] == 0
    assert with_reset.metrics["resets"] == 3 and controller.trials == 1 + 3     # a fresh trial after each reset
    without = run(arm, OutOnly(centre), bench.task("reach", hard_reset=False, **settings))
    assert without.metrics["resets"] == 0 and without.metrics["returns_reached"] == 0
    # without the reset the arm drifts off after the first reach; the later ones start elsewhere
    assert without.metrics["path_ratio"] != pytest.approx(with_reset.metrics["path_ratio"], rel=1e-3)


def test_a_still_arm_reaches_nothing_in_sequence():
    """It sits at its start, 7 mm from the centre: it never reaches out, and 'returns' without moving."""
    r = run("arm2", Still(), bench.task("reach", mode="sequence", targets=2, timeout=0.2))
    assert r.metrics["targets_reached"] == 0 and r.metrics["returns_reached"] == 2 and r.metrics["reached"] == 0.5
    assert r.metrics["movement_time"] == pytest.approx(0.001) and r.metrics["resets"] == 0
    assert r.metrics["effort"] == 0 and r.metrics["final_distance_max"] == pytest.approx(0.075, abs=0.008)


def test_batch_mode_keeps_its_defaults_and_gains_speed_and_time_within():
    r = run("arm2", "osc", bench.task("reach", targets=8))
    assert r.metrics["final_distance_max"] < 0.01 and r.metrics["within_tolerance"] == 1.0
    assert 0 < r.metrics["time_within_tolerance"] < 1 and r.metrics["final_speed"] < 0.05
    frame = r.frames[ARM_FRAME]
    assert sorted(frame["trial"].unique()) == list(range(8))
    still = run("arm2", Still(), bench.task("reach", targets=8))
    assert still.metrics["time_within_tolerance"] == 0 and still.metrics["final_speed"] == 0


def test_one_link_targets_lie_on_its_circle():
    arm = bench.plant("arm1")
    task = bench.task("reach", mode="sequence", targets=8)
    _, targets, _ = task.plan(arm)
    np.testing.assert_allclose(np.linalg.norm(targets, axis=1), 0.8)
    arm.inverse_kinematics(targets)                        # every target reachable
    r = run(bench.plant("arm1", dt=0.004), "osc", task)
    assert r.metrics["targets_reached"] == 8


def test_reach_settings_are_checked():
    with pytest.raises(SettingError, match="centre must hold 2 values"):
        bench.task("reach", centre=(1.0,))
    with pytest.raises(SettingError, match=r"'reach\.mode' must be one of 'batch', 'sequence'"):
        bench.task("reach", mode="sequential")
    assert bench.task("reach", mode="sequence").durations() == {"reach.timeout": 2.0}


# -- the force field ---------------------------------------------------------------------
@pytest.mark.parametrize("task", ARM_TASKS)
def test_force_field_perturbs_every_arm_task(task):
    small = {"reach": {"targets": 2}, "postural": {"targets": 1, "hold": 0.3}, "random_movements": {"movements": 1},
             "write": {"text": "l"}}[task]
    plain = run("arm2", "osc", bench.task(task, **small))
    field = run("arm2", "osc", bench.task(task, force=0.05, **small))
    a, b = plain.frames[ARM_FRAME], field.frames[ARM_FRAME]
    n = min(len(a), len(b))
    assert np.abs(a["q0"].to_numpy()[:n] - b["q0"].to_numpy()[:n]).max() > 1e-4
    assert field.metrics["effort"] != pytest.approx(plain.metrics["effort"], rel=1e-6)


def test_force_field_slows_a_reach_and_is_not_seen_by_the_controller():
    plain = run("arm2", "osc", bench.task("reach", targets=4))
    field = run("arm2", "osc", bench.task("reach", targets=4, force=0.1))
    assert field.metrics["path_ratio"] > plain.metrics["path_ratio"] + 0.01
    assert field.metrics["final_distance_mean"] > plain.metrics["final_distance_mean"]


# -- postural ----------------------------------------------------------------------------
def test_postural_holds_against_the_push_and_a_bigger_push_costs_more():
    soft = run("arm2", "osc", bench.task("postural", targets=2, hold=0.5), dt=0.002)
    m = soft.metrics
    assert m["reached"] == 1 and m["resets"] == 0 and 0 < m["hold_error_mean"] <= m["hold_error_max"] < 0.01
    assert m["time_within_threshold"] > 0.5 and m["final_speed"] < 0.01
    hard = run("arm2", "osc", bench.task("postural", targets=2, hold=0.5, perturbation_scale=2.0), dt=0.002)
    assert hard.metrics["hold_error_mean"] > 3 * m["hold_error_mean"]
    assert hard.metrics["time_within_threshold"] < m["time_within_threshold"]
    assert set(soft.frames["holds"]["target"]) == {0, 1} and soft.frames[ARM_FRAME]["push"].max() == 1


def test_postural_still_arm_is_put_in_place_and_pushed_away():
    r = run("arm2", Still(), bench.task("postural", targets=2, hold=0.2, timeout=0.1))
    assert r.metrics["reached"] == 0 and r.metrics["resets"] == 2 and math.isnan(r.metrics["movement_time"])
    assert r.metrics["hold_error_max"] > 0.001 and r.metrics["effort"] == 0


def test_postural_force_defaults():
    assert task_geometry(bench.plant("arm3")).postural_force == 400.0
    inertia = bench.plant("arm2").inertia(bench.plant("arm2").start_q[None])[0]
    assert task_geometry(bench.plant("arm2")).postural_force == pytest.approx(inertia.max())


# -- random movements -----------------------------------------------------------------------
def test_random_targets_are_reachable_seeded_and_in_the_box():
    task = bench.task("random_movements", movements=20, arms=2)
    arm = bench.plant("arm2")
    a, again, other = task.targets(arm, 0), task.targets(arm, 0), task.targets(arm, 1)
    assert a.shape == (20, 2, 2)
    np.testing.assert_array_equal(a, again)
    assert not np.allclose(a, other)
    flat = a.reshape(-1, 2)
    assert flat.min() >= 0 and flat.max() <= 0.75 * 0.58
    arm.inverse_kinematics(flat)
    pts = random_targets(bench.plant("arm1"), np.random.default_rng(0), 5, (0, 0.6, 0, 0.6))
    np.testing.assert_allclose(np.linalg.norm(pts, axis=1), 0.8)


def test_random_movements_metrics():
    r = run("arm2", "osc", bench.task("random_movements", movements=3, period=0.5))
    m = r.metrics
    assert m["entered_threshold"] == 1 and 0.1 < m["time_within_threshold"] < 1 and 0 < m["time_to_threshold"] < 0.5
    assert m["error_mean"] > m["final_distance_mean"] and m["final_speed"] < 0.05
    still = run("arm2", Still(), bench.task("random_movements", movements=3, period=0.5))
    assert still.metrics["entered_threshold"] == 0 and math.isnan(still.metrics["time_to_threshold"])
    assert still.metrics["error_mean"] > 5 * m["error_mean"]


# -- write ---------------------------------------------------------------------------------
def test_glyphs_lie_in_their_em_box_and_lay_out_in_the_box():
    assert set("0123456789dehlorw") <= set(glyphs())
    for ch in glyphs():
        for stroke in glyph_strokes(ch):
            assert stroke.shape[1] == 2 and len(stroke) >= 2
            assert stroke.min() >= -1e-3 and stroke[:, 0].max() <= 0.601 and stroke[:, 1].max() <= 1.001
    strokes = write_strokes("he l", (-0.1, 0.1, 0.2, 0.25))
    pts = np.concatenate(strokes)
    assert pts[:, 0].min() >= -0.1 - 1e-9 and pts[:, 0].max() <= 0.1 + 1e-9
    assert pts[:, 1].min() >= 0.2 - 1e-9 and pts[:, 1].max() <= 0.25 + 1e-9
    with pytest.raises(InvalidArgument, match=r"no path for character 'x'.*available"):
        write_strokes("hex", (0, 1, 0, 1))
    np.testing.assert_allclose(along(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]), [0, 0.25, 0.75, 1]),
                               [[0, 0], [0.5, 0], [1, 0.5], [1, 1]])


def test_write_traces_the_text():
    task = bench.task("write", text="lo")
    r = run("arm2", "osc", task, dt=0.002)
    m = r.metrics
    assert m["strokes_started"] == 1 and m["tracking_error_mean"] < 0.01 and m["time_within_threshold"] > 0.5
    assert m["writing_time"] > 2 * task.settings.stroke_time
    frame = r.frames[ARM_FRAME]
    assert set(frame["pen"].unique()) == {0, 1}
    still = run("arm2", Still(), bench.task("write", text="lo", timeout=0.1))
    assert still.metrics["strokes_started"] == 0 and still.metrics["tracking_error_mean"] > m["tracking_error_mean"]
    with pytest.raises(SettingError, match=r"text: no path for 'O'; the characters are 0123"):
        bench.task("write", text="hellO")
    with pytest.raises(SettingError, match="at least one character"):
        bench.task("write", text="  ")


# -- every arm task on every arm -----------------------------------------------------------
@pytest.mark.parametrize("task", ARM_TASKS)
def test_check_task_with_osc(task):
    small = {"reach": {"mode": "sequence", "targets": 1, "timeout": 0.5}, "postural": {"targets": 1, "hold": 0.2},
             "random_movements": {"movements": 1, "period": 0.3}, "write": {"text": "1", "stroke_time": 0.3}}[task]
    arm = bench.plant("arm2", dt=0.002)
    check_task(bench.task(task, **small), arm, bench.controller("osc"))


@pytest.mark.parametrize("plant", ["arm1", "arm1_python", "arm2_python_todorov", "arm3", "arm3_rods"])
def test_every_arm_runs_every_task(plant):
    arm = bench.plant(plant, dt=0.005)
    for task, small in (("reach", {"mode": "sequence", "targets": 1}), ("postural", {"targets": 1, "hold": 0.2}),
                        ("random_movements", {"movements": 1, "period": 0.2}), ("write", {"text": "l"})):
        r = run(arm, "osc", bench.task(task, **small))
        assert all(np.isfinite(v) or math.isnan(v) for v in r.metrics.values())
        assert len(r.frames[ARM_FRAME]) > 2


def test_into_workspace_moves_only_what_is_out_of_reach():
    arm = bench.plant("arm2")
    inside = np.array([[0.1, 0.3], [-0.2, 0.1]])
    np.testing.assert_array_equal(into_workspace(arm, inside), inside)
    out = into_workspace(arm, np.array([[1.0, 0.0], [0.0, 0.0], [0.01, 0.0]]))
    r = np.linalg.norm(out, axis=1)
    inner, outer = arm.reach
    assert np.all(r <= outer) and np.all(r >= inner)
    arm.inverse_kinematics(out)
