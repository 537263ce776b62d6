"""Issue 11, items 4 and 6: the task that ran is the task recorded; checks in the runner, not in each task.

* every task refuses a plant ``dt`` that does not divide its durations,
  through one shared check (:func:`bench.guards.check_dt`): exit 2, naming the
  nearest valid steps, for run, sweep, train and the Python API;
* the runner checks every controller output (shape ``(n, U)``, finite) and
  every plant observation (shape ``(n, observation_size)``), naming the step
  and the component; ``bench_check_plant`` checks observation size and dtype;
* any failure inside a run exits 1 with the log path, never 2.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import numpy as np
import pytest

import bench
from bench.errors import ConformanceError, Diverged, SettingError
from bench.guards import check_dt, guarded, nearest_dts
from bench.store import Store
from bench.sweep import plan


# -- item 4: dt against the task's durations -------------------------------------------------
@pytest.mark.parametrize("dt, nearest", [("0.3", "0.2 or 0.4 s"), ("0.5", "0.4 s"), ("1", "0.4 s"),
                                         ("0.003", "0.0025 or 0.0032 s"), ("0.15", "0.1 or 0.2 s")])
def test_run_refuses_a_dt_that_does_not_divide_the_reach_naming_the_nearest(cli, dt, nearest):
    code, _, err = cli("run", "arm2", "osc", "reach", "--dt", dt)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "does not divide reach.duration = 0.4 s" in err and f"nearest valid dt: {nearest}" in err
    assert not Path(".bench/results.sqlite").exists() or Store(".bench/results.sqlite").count() == 0


def test_the_suggested_steps_are_valid_and_close():
    for dt in (0.3, 0.003, 0.0007, 0.013, 0.41):
        got = nearest_dts(dt, {"d": 0.4})
        assert got and all(math.isclose(0.4 / v, round(0.4 / v), rel_tol=1e-9) for v in got)
        assert all(dt / 2 <= v <= 2 * dt or v == 0.4 for v in got)
        check_dt(got[0], {"d": 0.4})  # as printed, with 12 significant digits
    assert nearest_dts(0.07, {"a": 0.4, "b": 0.3}) == [0.05, 0.1]  # divides both
    check_dt(0.001, {"reach.duration": 0.4, "hold": 0.25})
    with pytest.raises(SettingError, match=r"does not divide hold = 0\.25 s"):
        check_dt(0.1, {"reach.duration": 0.4, "hold": 0.25})


def test_a_changed_duration_is_checked_too(cli):
    code, _, err = cli("run", "arm2", "osc", "reach", "--dt", "0.02", "--set", "duration=0.25", "-q")
    assert code == 2 and "does not divide reach.duration = 0.25 s (12.5 steps)" in err
    code, _, err = cli("run", "arm2", "osc", "reach", "--dt", "0.05", "--set", "duration=0.25",
                       "--set", "osc.kp=20", "-q")
    assert code == 0, err


def test_sweep_and_train_refuse_it_before_anything_runs(cli):
    code, _, err = cli("sweep", "arm2", "osc", "reach", "--dt", "0.001,0.3", "--db", "s.sqlite", "-j", "1")
    assert code == 2 and "nearest valid dt: 0.2 or 0.4 s" in err
    assert not Path("s.sqlite").exists() or Store("s.sqlite").count() == 0
    code, _, err = cli("train", "arm2", "ahf", "reach", "--dt", "0.3")
    assert code == 2 and "nearest valid dt: 0.2 or 0.4 s" in err and not Path(".bench/train").exists()


def test_the_python_api_refuses_it_too():
    with pytest.raises(SettingError, match=r"arm2.dt 0.3 s does not divide reach.duration = 0.4 s .*0.2 or 0.4 s"):
        bench.run(bench.plant("arm2", dt=0.3), bench.controller("osc"), bench.task("reach"), seed=0)
    with pytest.raises(SettingError):
        plan("arm2", "osc", "reach", dt="0.5")


# -- item 6: the runner's guards -----------------------------------------------------------
class Wide(bench.Controller):
    """Returns one input too many."""

    def act(self, observation, target):
        return np.zeros((observation.shape[0], 3))


class Nan(bench.Controller):
    """Fine for four steps, then NaN."""

    def reset(self, n, rng):
        self.k = 0

    def act(self, observation, target):
        self.k += 1
        return np.full((observation.shape[0], 2), np.nan if self.k > 4 else 0.0)


def named(obj, name):
    obj.name = name
    return obj


def test_a_wrong_shaped_output_names_the_step_the_component_and_the_shapes():
    with pytest.raises(ConformanceError, match=r"controller 'wide': act\(\) at step 1 returned shape \(4, 3\); "
                                               r"plant 'arm2' takes inputs of shape \(4, 2\)"):
        bench.run(bench.plant("arm2"), named(Wide(), "wide"), bench.task("reach", targets=4))


def test_a_non_finite_output_names_the_step():
    with pytest.raises(Diverged, match=r"controller 'nan': act\(\) at step 5 returned non-finite inputs "
                                       r"\(8 of 8 values\)"):
        bench.run(bench.plant("arm2"), named(Nan(), "nan"), bench.task("reach", targets=4))


def test_the_guards_leave_the_components_as_they_were():
    arm, osc = bench.plant("arm2"), bench.controller("osc")
    before = inspect.signature(osc.act)
    with guarded(arm, osc):
        assert "act" in vars(osc) and "observation" in vars(arm)
        assert inspect.signature(osc.act) == before and type(arm).__name__ == "Arm2"
    assert "act" not in vars(osc) and "observation" not in vars(arm)
    wide = named(Wide(), "wide")
    with pytest.raises(ConformanceError, match="at step 1"), guarded(arm, wide):
        wide.act(np.zeros((2, 4)), None)
    assert "act" not in vars(wide) and wide.act(np.zeros((2, 4)), None).shape == (2, 3)  # unguarded again


POINT = """
import numpy as np
import bench


class Point(bench.PlantModel):
    '''A unit mass on a line: state [x, v], input force.'''

    state_size, input_size = 2, 1

    def __init__(self, settings=None):
        super().__init__(settings)
        self.dt = 0.01

    def initial_state(self, n, rng):
        return np.zeros((n, 2))

    def step(self, x, u):
        return np.stack([x[:, 0] + self.dt * x[:, 1], x[:, 1] + self.dt * u[:, 0]], axis=1).astype(x.dtype)

    def jacobians(self, x, u):
        n = x.shape[0]
        a = np.broadcast_to(np.array([[1.0, self.dt], [0.0, 1.0]]), (n, 2, 2)).copy()
        b = np.broadcast_to(np.array([[0.0], [self.dt]]), (n, 2, 1)).copy()
        return a, b


class Padded(Point):
    '''Observes [x, v, x]: three numbers for a state of two, without saying so.'''

    def observation(self, x):
        return np.concatenate([x, x[:, :1]], axis=1)


class Declared(Padded):
    observation_size = 3


class Single(Point):
    def observation(self, x):
        return x.astype(np.float32)


class Push(bench.Controller):
    def act(self, observation, target):
        return -observation[:, :1] - observation[:, 1:2]


class Hold(bench.Task):
    METRICS = {"final_x": bench.Metric("m", "lower")}

    def run(self, plant, controller, seed, *, workdir=None):
        x = plant.initial_state(3, np.random.default_rng(seed)) + 1.0
        controller.reset(3, np.random.default_rng(seed))
        for _ in range(10):
            x = plant.step(x, controller.act(plant.observation(x), None))
        return self.result({"final_x": float(np.abs(x[:, 0]).mean())})


@bench.hookimpl
def register_plants(register):
    register("point", "pointplug:Point", provides={"dynamics", "jacobians"})
    register("padded", "pointplug:Padded", provides={"dynamics", "jacobians"})


@bench.hookimpl
def register_controllers(register):
    register("push", "pointplug:Push", provides={"act"}, accepts={"none"})


@bench.hookimpl
def register_tasks(register):
    register("hold", "pointplug:Hold", needs={"controller:act"}, target="none")
"""


@pytest.fixture
def point(third_party):
    third_party("point-dist", {"pointplug": POINT}, {"point": "pointplug"})
    import pointplug

    return pointplug


def test_bench_check_plant_checks_the_observation_size_and_dtype(point, bench_check_plant):
    bench_check_plant(point.Point())
    with pytest.raises(ConformanceError, match=r"observation\(x\) .*must have shape \(5, 2\), got \(5, 3\)"):
        bench_check_plant(point.Padded())
    bench_check_plant(point.Declared())  # observation_size = 3 declared: fine
    with pytest.raises(ConformanceError, match=r"observation.* must keep the state dtype float64, returned float32"):
        bench_check_plant(point.Single())


def test_a_plant_observing_more_than_it_declares_fails_the_run_with_a_log(point, cli):
    assert cli("run", "point", "push", "hold", "-q")[0] == 0
    code, _, err = cli("run", "padded", "push", "hold")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "plant 'padded': observation() at step 1 returned shape (3, 3) for 3 states; its observation_size is 2" \
        in err
    log = Path(err.strip().rsplit("traceback in ", 1)[1].rstrip(")"))
    assert "Traceback" in log.read_text()
    (row,) = [r for r in Store(".bench/results.sqlite").runs() if r["plant"] == "padded"]
    assert row["status"] == "failed" and "observation()" in row["error"]


RAISES = """
import numpy as np
import bench
from bench.errors import InvalidArgument


class Picky(bench.Controller):
    def act(self, observation, target):
        raise InvalidArgument("picky: I do not like this observation")


class Wide(bench.Controller):
    def act(self, observation, target):
        return np.zeros((observation.shape[0], 3))


@bench.hookimpl
def register_controllers(register):
    register("picky", "raisesplug:Picky", provides={"act"}, accepts={"hand"})
    register("wide", "raisesplug:Wide", provides={"act"}, accepts={"hand"})
"""


def test_a_bench_error_inside_a_run_exits_1_with_the_log_never_2(cli, third_party):
    third_party("raises-dist", {"raisesplug": RAISES}, {"raises": "raisesplug"})
    code, _, err = cli("run", "arm2", "picky", "reach", "--set", "targets=2")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "failed: picky: I do not like this observation (traceback in " in err
    code, _, err = cli("run", "arm2", "wide", "reach", "--set", "targets=2")
    assert code == 1 and "act() at step 1 returned shape (2, 3)" in err and "(traceback in " in err
    assert {r["status"] for r in Store(".bench/results.sqlite").runs()} == {"failed"}


def test_a_diverging_run_in_a_sweep_is_one_line_with_its_log(cli):
    code, out, err = cli("sweep", "arm2", "osc", "reach", "--set", "osc.kp=1e6", "--dt", "0.01",
                         "--db", "f.sqlite", "-j", "1", "-q")
    assert code == 1 and "0 ok, 1 failed" in out
    (line,) = [x for x in err.strip().splitlines() if "failed:" in x]
    assert "non-finite" in line and "(traceback in " in line
    assert Path(line.rsplit("traceback in ", 1)[1].rstrip(")")).is_file()
