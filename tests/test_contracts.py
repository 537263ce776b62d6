"""The contracts are enforced: abstract methods, settings on construction, capability Protocols,
one train signature, and the conformance fixtures (passing and failing components)."""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

import bench
from bench import api
from bench.api import train_learner
from bench.capabilities import (
    PROTOCOLS,
    DiscreteActions,
    Dynamics,
    Kinematics,
    Learns,
    check_provides,
    lacks,
)
from bench.errors import ConformanceError, Incompatible, InvalidArgument, SettingError
from bench.registry import Registry, Spec, check_compatible
from bench.settings import setting, validate

# -- abstract methods ---------------------------------------------------------------
INTERFACES = [
    (api.PlantModel, {"initial_state", "step"}),
    (api.ArmModel, {"step", "joint_positions", "hand_jacobian", "inertia", "inverse_kinematics"}),
    (api.Controller, {"act"}),
    (api.Learner, {"act", "train", "save", "load"}),
    (api.Classifier, {"fit", "predict"}),
    (api.Dataset, {"load"}),
    (api.Task, {"run"}),
]


@pytest.mark.parametrize("base, abstract", INTERFACES, ids=lambda v: getattr(v, "__name__", ""))
def test_a_subclass_missing_an_abstract_method_cannot_be_instantiated(base, abstract):
    assert set(base.__abstractmethods__) == abstract
    bare = type("Bare", (base,), {})
    with pytest.raises(TypeError, match="abstract") as e:
        bare()
    assert all(name in str(e.value) for name in abstract)
    complete = type("Complete", (base,), {name: lambda self, *a, **k: None for name in abstract})
    assert isinstance(complete(), base)


def test_the_learner_abstract_method_was_the_gap_of_issue_10():
    class L(bench.Learner):
        pass

    with pytest.raises(TypeError, match="train"):
        L()


# -- settings are validated on construction -------------------------------------------
@dataclass
class GainSettings:
    kp: float = setting(1.0, "gain", unit="1/s", gt=0)
    lo: int = setting(0, ge=0)
    hi: int = setting(10, ge=0)
    shape: tuple[int, ...] = setting((2,), ge=1)

    def check(self) -> None:
        if self.lo > self.hi:
            raise ValueError(f"lo ({self.lo}) must not exceed hi ({self.hi})")


class Gain(bench.Controller):
    Settings = GainSettings

    def act(self, observation, target):
        return self.settings.kp * observation


def test_component_settings_are_checked_on_construction():
    with pytest.raises(SettingError, match=r"setting 'gain.kp' must be > 0 1/s; got -1.0"):
        Gain(GainSettings(kp=-1.0))
    with pytest.raises(SettingError, match=r"^gain: lo \(5\) must not exceed hi \(1\)$"):
        Gain(GainSettings(lo=5, hi=1))
    with pytest.raises(SettingError, match=r"'gain.shape' must be >= 1"):
        Gain(GainSettings(shape=(2, 0)))
    g = Gain(GainSettings(kp=2, shape=[3, 4]))  # converted to the declared types
    assert g.settings.kp == 2.0 and isinstance(g.settings.kp, float) and g.settings.shape == (3, 4)
    assert Gain().settings == GainSettings()


def test_settings_build_runs_the_cross_field_check_too():
    from bench.settings import build

    with pytest.raises(SettingError, match=r"^gain: lo \(5\) must not exceed hi \(1\)$"):
        build(GainSettings, {"lo": "5", "hi": "1"}, owner="gain")


def test_validate_leaves_other_objects_alone_and_warns_about_a_bad_default():
    assert validate(None) is None and validate({"a": 1}) == {"a": 1}

    @dataclass
    class Sloppy:
        kv: float = setting(None, "a default that is not a float")

    with pytest.warns(DeprecationWarning, match="default of setting 'kv'"):
        assert validate(Sloppy(), owner="x").kv is None
    with pytest.raises(SettingError, match=r"'x\.kv' expects float"):
        validate(Sloppy(kv=[1]), owner="x")


def test_a_built_in_plant_built_directly_names_the_setting():
    from bench.plants.arm2 import Arm2, Arm2Settings

    with pytest.raises(SettingError, match=r"setting 'arm2.dt' must be > 0 s; got -1"):
        Arm2(Arm2Settings(dt=-1))


# -- capabilities ---------------------------------------------------------------------
def test_every_token_has_a_protocol_and_the_built_ins_satisfy_theirs():
    assert set(PROTOCOLS) == {"dynamics", "kinematics", "jacobians", "discrete-actions", "act", "learn",
                              "classify", "images"}
    reg = bench.registry()
    for kind in ("plant", "controller", "dataset"):
        for spec in reg.specs(kind):
            if spec.available():
                check_provides(spec, spec.load())
    arm, cart = bench.plant("arm2"), bench.plant("cartpole")
    assert isinstance(arm, Kinematics) and isinstance(arm, Dynamics) and not isinstance(arm, DiscreteActions)
    assert isinstance(cart, DiscreteActions) and not isinstance(cart, Kinematics)


class HalfArm(api.PlantModel):
    """Claims kinematics but has only part of it."""

    n_joints = 2
    link_lengths = np.ones(2)
    start_q = np.zeros(2)
    start_state = np.zeros(4)
    dt, state_size, input_size = 0.01, 4, 2

    def initial_state(self, n, rng):
        return np.zeros((n, 4))

    def step(self, x, u):
        return x

    def joint_positions(self, q):
        return np.zeros((len(q), 3, 2))

    def hand(self, q):
        return np.zeros((len(q), 2))

    def inverse_kinematics(self, xy, q0=None):
        return np.zeros((len(xy), 2))

    def bias_torques(self, q, dq):
        return np.zeros_like(q)


def test_a_plugin_claiming_a_capability_it_lacks_is_refused_before_running():
    reg = bench.registry()
    spec = Spec("halfarm", HalfArm, provides=frozenset({"dynamics", "kinematics"}), kind="plant", plugin="half")
    osc, reach = reg.get("controller", "osc"), reg.get("task", "reach")
    check_compatible(spec, osc, reach)  # the specs alone agree
    with pytest.raises(Incompatible) as e:
        check_compatible(spec, osc, reach, factories={"plant": spec.load(), "controller": osc.load()})
    msg = str(e.value)
    assert msg == ("cannot run halfarm osc reach: plant 'halfarm' (plugin 'half') claims 'kinematics' but lacks "
                   "hand_jacobian, inertia")
    with pytest.raises(Incompatible, match=r"^plant 'halfarm' \(plugin 'half'\) claims 'kinematics' but lacks "
                                           r"hand_jacobian, inertia$"):
        check_provides(spec, HalfArm())  # a built object: the same rule
    with pytest.raises(ValueError, match="factories keys"):
        check_compatible(spec, osc, reach, factories={"arm": HalfArm})


def test_protocol_checks_of_a_class_see_attributes_declared_for_init():
    class Lazy(api.PlantModel):
        def __init__(self, settings=None):
            super().__init__(settings)
            self.dt, self.state_size, self.input_size = 0.1, 1, 1

        def initial_state(self, n, rng):
            return np.zeros((n, 1))

        def step(self, x, u):
            return x + u

    assert lacks(Dynamics, Lazy) == []  # dt & co. are declared (annotated) by PlantModel
    assert lacks(Learns, Lazy) == ["save", "train", "load"]
    assert lacks(Learns, lambda settings: None) == []  # a factory function can only be checked once built


# -- one train signature ----------------------------------------------------------------
class Recorder(bench.Learner):
    def act(self, observation, target):
        return np.zeros((len(observation), 1))

    def train(self, plant, task, *, seed, fresh=False, workdir=None, log=None):
        self.called = {"seed": seed, "fresh": fresh, "workdir": workdir, "log": log}
        return [{"batch": 1}]

    def save(self, path):
        return Path(path)

    def load(self, path):
        pass


class OldStyle(Recorder):
    def train(self, plant, task=None, *, rng, batches=None, **kwargs):
        self.called = {"draw": rng.random(), "batches": batches, **kwargs}
        return pd.DataFrame({"batch": [1]})


def test_train_learner_calls_the_one_signature():
    learner = Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        curve = train_learner(learner, None, None, seed=3, fresh=True, workdir="w")
    assert isinstance(curve, pd.DataFrame) and list(curve["batch"]) == [1]
    assert learner.called == {"seed": 3, "fresh": True, "workdir": "w", "log": None}


def test_an_old_style_learner_still_trains_with_one_deprecation_line():
    learner = OldStyle()
    learner.name = "old"
    task = bench.task("balance", batches=7)
    with pytest.warns(DeprecationWarning) as record:
        train_learner(learner, None, task, seed=5, log=print)
    assert [str(w.message) for w in record] == [
        "learner old: train(plant, task, *, rng) is deprecated; accept seed=... (see bench.api.Learner.train)"]
    assert learner.called == {"draw": np.random.default_rng(5).random(), "batches": 7, "max_steps": 200,
                              "fresh": False, "workdir": None, "log": print}


# -- the registry -----------------------------------------------------------------------
def test_register_function_always_collects_into_the_sink():
    reg, sink = Registry(), []
    spec = reg.register_function("plant", "p", sink)("x", "m:X")
    assert sink == [spec] and reg.names("plant") == []


# -- conformance fixtures -----------------------------------------------------------------
class Hill(bench.Learner):
    """Hill climbing on a linear policy for discrete-action plants: a numpy-only learner."""

    def __init__(self, settings=None):
        super().__init__(settings)
        self.w = np.zeros(4)

    def act(self, observation, target=None):
        a = (np.asarray(observation) @ self.w > 0).astype(np.int64)
        return self.plant.action_force(a, np.asarray(observation).dtype)

    def _lengths(self, w, rng, max_steps):
        x = self.plant.initial_state(4, rng)
        alive, lengths = np.ones(4, bool), np.zeros(4)
        for _ in range(max_steps):
            a = (self.plant.observation(x) @ w > 0).astype(np.int64)
            x = self.plant.step(x, self.plant.action_force(a, x.dtype))
            lengths += alive
            alive &= ~self.plant.terminated(x)
            if not alive.any():
                break
        return lengths

    def _noise(self, rng):
        return rng.standard_normal(4)

    def train(self, plant, task, *, seed, fresh=False, workdir=None, log=None):
        rng = np.random.default_rng(seed)
        self.bind(plant)
        if fresh:
            self.w = np.zeros(4)
        s = task.settings
        best, rows = -1.0, []
        for b in range(1, s.batches + 1):
            t0 = time.perf_counter()
            candidate = self.w + 0.5 * self._noise(rng)
            lengths = self._lengths(candidate, rng, s.max_steps)
            if lengths.mean() >= best:
                self.w, best = candidate, lengths.mean()
            rows.append({"batch": b, "max_reward": lengths.max(), "mean_reward": lengths.mean(),
                         "episodes": len(lengths), "rollout_ms": (time.perf_counter() - t0) * 1e3,
                         "update_ms": 0.0})
            if log is not None:
                log(f"batch {b}: mean {lengths.mean():.1f}")
        return pd.DataFrame(rows)

    def save(self, path):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, w=self.w)
        return path

    def load(self, path):
        with np.load(path) as f:
            self.w = f["w"]


class Unseeded(Hill):
    """Draws from a process-wide counter, not from its seed: two trainings with one seed always differ."""

    calls = 0

    def _noise(self, rng):
        Unseeded.calls += 1
        return np.array([1.0, -1.0, 1.0, -1.0]) * (-1.0) ** Unseeded.calls


class Jittery(Hill):
    def train(self, plant, task, *, seed, fresh=False, workdir=None, log=None):
        curve = super().train(plant, task, seed=seed, fresh=fresh)
        curve["loss"] = np.random.default_rng().random(len(curve))
        curve["wall_s"] = np.random.default_rng().random(len(curve))  # timings may differ
        return curve


class ListCurve(Hill):
    def train(self, plant, task, *, seed, fresh=False, workdir=None, log=None):
        return super().train(plant, task, seed=seed, fresh=fresh).to_dict("records")


class Forgetful(Hill):
    def load(self, path):
        pass


class Rng(Hill):
    def train(self, plant, task, *, rng, fresh=False, workdir=None, log=None):
        pass


def cartpole_and_balance():
    return bench.plant("cartpole"), bench.task("balance", batches=3, max_steps=30, eval_episodes=4)


def test_bench_check_learner_passes_a_good_learner(bench_check_learner):
    plant, task = cartpole_and_balance()
    learner = Hill()
    bench_check_learner(learner, plant, task)
    assert learner.settings == api.NoSettings()


@pytest.mark.parametrize("broken, rule", [
    (Unseeded, "same seed must give the same (learner; it acts differently|learning curve)"),
    (Jittery, "same seed must give the same learning curve .timings aside.; column 'loss' differs"),
    (ListCurve, "must return the learning curve as a pandas DataFrame, got list"),
    (Forgetful, "loads the saved weights must act as the trained one"),
    (Rng, r"train\(plant, task, \*, rng\) is the deprecated signature"),
])
def test_bench_check_learner_names_the_broken_rule(bench_check_learner, broken, rule):
    plant, task = cartpole_and_balance()
    learner = broken()
    learner.name = "hill"
    with pytest.raises(ConformanceError, match=f"^learner hill: .*{rule}"):
        bench_check_learner(learner, plant, task)


def test_bench_check_learner_checks_the_claimed_capabilities(bench_check_learner):
    plant, task = cartpole_and_balance()
    learner = Hill()
    learner.spec = Spec("hill", Hill, provides=frozenset({"act", "learn", "classify"}), kind="controller")
    with pytest.raises(ConformanceError, match="claims 'classify' but lacks fit, predict"):
        bench_check_learner(learner, plant, task)


def test_the_balance_task_trains_through_train_learner(bench_check_task):
    plant, task = cartpole_and_balance()
    bench_check_task(task, plant, Hill())
    a = task.run(plant, Hill(), seed=3)
    b = task.run(plant, Hill(), seed=3)
    pd.testing.assert_frame_equal(a.frames["curve"].drop(columns="rollout_ms"),
                                  b.frames["curve"].drop(columns="rollout_ms"))
    old = OldStyle()
    old.name = "old"
    with pytest.raises(InvalidArgument, match="returned a training curve without max_reward"), \
            pytest.warns(DeprecationWarning, match="learner old: train"):
        task.run(plant, old, seed=0)
    assert old.called["batches"] == 3 and old.called["max_steps"] == 30


def test_bench_check_task_passes_reach(bench_check_task):
    bench_check_task(bench.task("reach"), bench.plant("arm2"), bench.controller("osc"))


class Noisy(api.Task):
    METRICS: ClassVar = {"score": api.Metric("", "higher")}

    def run(self, plant, controller, seed, *, workdir=None):
        return self.result({"score": np.random.default_rng().random()})


class Undeclared(Noisy):
    def run(self, plant, controller, seed, *, workdir=None):
        return self.result({"score": 1.0, "other": 2.0})


class Textual(Noisy):
    def run(self, plant, controller, seed, *, workdir=None):
        return api.Result(metrics={"score": "high"})


class Ghostly(Noisy):
    def run(self, plant, controller, seed, *, workdir=None):
        return self.result({"score": 1.0}, artifacts={"plot": Path(workdir) / "never-written.png"})


class Infinite(Noisy):
    def run(self, plant, controller, seed, *, workdir=None):
        return self.result({"score": float("inf")})


@pytest.mark.parametrize("broken, rule", [
    (Noisy, "run with the same seed must give the same metrics; 'score' was"),
    (Undeclared, "metric.s. other declared neither in METRICS nor in the result's info"),
    (Textual, "metric 'score' must be a number, got str"),
    (Ghostly, "artifact 'plot' must be the Path of a file the run wrote"),
    (Infinite, "metric 'score' is infinite"),
])
def test_bench_check_task_names_the_broken_rule(bench_check_task, broken, rule):
    with pytest.raises(ConformanceError, match=f"^task {broken.__name__.lower()}: {rule}"):
        task = broken()
        task.name = broken.__name__.lower()
        bench_check_task(task, bench.plant("arm2"), bench.controller("osc"))


def write_split(path, n=12, classes=3, shape=(4, 4)):
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.random((n, *shape)), y_train=np.arange(n) % classes,
             x_test=rng.random((n // 2, *shape)), y_test=np.arange(n // 2) % classes)
    return path


def test_bench_check_dataset_passes_the_npz_dataset(bench_check_dataset, tmp_path):
    bench_check_dataset(bench.dataset("npz", path=str(write_split(tmp_path / "d.npz"))))


def test_bench_check_dataset_passes_digits(bench_check_dataset):
    pytest.importorskip("sklearn")
    bench_check_dataset(bench.dataset("digits", max_train=50, max_test=20))


class Tiny(api.Dataset):
    n_classes = 2
    input_shape = (3,)

    def load(self, seed):
        rng = np.random.default_rng(seed)
        return rng.random((6, 3)), np.arange(6) % 2, rng.random((4, 3)), np.arange(4) % 2


class WrongShape(Tiny):
    input_shape = (3, 1)


class BadLabels(Tiny):
    n_classes = 1


class Shuffled(Tiny):
    def load(self, seed):
        return super().load(int(np.random.default_rng().integers(1 << 30)))


class FloatLabels(Tiny):
    def load(self, seed):
        x, y, xt, yt = super().load(seed)
        return x, y.astype(float), xt, yt


class Shapeless(api.Dataset):
    n_classes = 2
    load = Tiny.load


@pytest.mark.parametrize("broken, rule", [
    (WrongShape, r"input_shape must be the shape of one image, \(3,\), got \(3, 1\)"),
    (BadLabels, "n_classes must be an int >= 2, got 1"),
    (Shuffled, r"load\(seed\) must return the same arrays for the same seed"),
    (FloatLabels, r"load\(seed\): y_train must be 1-D integer labels, got dtype float64"),
    (Shapeless, "a dataset needs 'images' but lacks input_shape"),
])
def test_bench_check_dataset_names_the_broken_rule(bench_check_dataset, broken, rule):
    with pytest.raises(ConformanceError, match=f"^dataset {broken.__name__}: {rule}"):
        bench_check_dataset(broken())


def test_bench_check_plant_and_controller_check_the_claimed_capabilities(bench_check_plant, bench_check_controller):
    arm = bench.plant("arm2")
    arm.spec = dataclasses.replace(arm.spec, provides=arm.spec.provides | {"discrete-actions"})
    with pytest.raises(ConformanceError, match=r"^plant arm2: claims 'discrete-actions' but lacks n_actions, "
                                               r"action_force, terminated$"):
        bench_check_plant(arm)
    osc = bench.controller("osc")
    osc.spec = dataclasses.replace(osc.spec, provides=frozenset({"act", "learn"}))
    with pytest.raises(ConformanceError, match=r"^controller osc: claims 'learn' but lacks save, train, load$"):
        bench_check_controller(osc, bench.plant("arm2"))
