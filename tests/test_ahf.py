"""The Hessian-free recurrent arm controller ``ahf``: derivatives, training,
checkpoints, shipped weights, bad input.  Small networks keep it quick."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import hessianfree as hf
import numpy as np
import pytest

import bench
from bench.api import PlantModel
from bench.controllers.ahf import AHF
from bench.controllers.ahf import checkpoints as ckpt
from bench.controllers.ahf.arm_layer import ArmPlantLayer, squash
from bench.controllers.ahf.net import Policy, build_network, make_losses
from bench.controllers.ahf.training import Trainer, make_problem
from bench.errors import CheckpointError, Diverged, Incompatible, OutOfReach, SettingError
from bench.plants.arm2 import Arm2, Arm2Settings
from bench.plants.geometry import task_geometry

SMALL = {"hidden": 6, "targets": 4, "cg_iter": 12}


def small_ahf(**kw) -> AHF:
    return bench.controller("ahf", **{**SMALL, **kw})


def arm(dt: float = 0.01):
    return bench.plant("arm2", dt=dt)


def reach(**kw):
    return bench.task("reach", **kw)


def train(ctrl, plant, workdir, seed=0, fresh=False, task=None):
    lines: list[str] = []
    curve = ctrl.train(plant, task or reach(), seed=seed, fresh=fresh,
                       workdir=workdir, log=lines.append)
    return curve, lines


# -- derivatives -----------------------------------------------------------------------------
def tiny_net(step_cost=0.0, effort_cost=0.0, steps=5):
    a = arm()
    s = small_ahf().settings
    problem = make_problem(a, reach(duration=steps * 0.01), s)
    layer = ArmPlantLayer(a, problem.target_state, a.start_state, problem.steps,
                          input_center=a.start_state, input_scale=0.2)
    net = build_network(4, 3, plant_layer=layer, seed=3, init_coeff=1.0,
                        losses=make_losses(problem.q_target, step_cost, effort_cost))
    net.cache_minibatch(layer, None)
    return net


def fd_gradient(f, w, fixed, eps=1e-6):
    g = np.zeros_like(w)
    for i in np.flatnonzero(~fixed):
        d = np.zeros_like(w)
        d[i] = eps
        g[i] = (f(w + d) - f(w - d)) / (2 * eps)
    return g


@pytest.mark.parametrize("costs", [(0.0, 0.0), (0.5, 0.1)])
def test_gradient_and_gauss_newton_product_match_finite_differences(costs):
    """calc_grad and calc_G with the plant layer's Jacobians, against central differences
    of the same fixed-input objective (G = Jᵀ H J with H the loss curvature)."""
    net = tiny_net(*costs)
    w0 = net.W.copy()
    grad = net.calc_grad()
    fd = fd_gradient(lambda w: net.error(w), w0, net.fixed)
    assert np.abs(grad - fd).max() <= 1e-6 * np.abs(fd).max()
    assert np.all(grad[net.fixed] == 0)

    v = np.random.default_rng(0).standard_normal(w0.size)
    v[net.fixed] = 0
    gv = net.calc_G(v.copy(), damping=0.0)
    eps = 1e-6

    def acts(w):
        return net.forward(net.inputs, w)

    jv = [(p - m) / (2 * eps) for p, m in zip(acts(w0 + eps * v), acts(w0 - eps * v))]
    h = net.loss.d2_loss(net.activations, net.targets)

    def hjv_dot(w):
        return sum(np.sum(hl * jl * al) for hl, jl, al in zip(h, jv, acts(w)) if hl is not None)

    expected = fd_gradient(hjv_dot, w0, net.fixed) / net.inputs.shape[0]
    assert np.abs(gv - expected).max() <= 1e-5 * np.abs(expected).max()


def test_hessianfree_squared_error_curvature_ignores_nan_targets_ours_does_not():
    """Why ahf has its own loss: hf's SquaredError puts curvature on steps without a target."""
    y = np.zeros((2, 3, 4))
    t = np.full_like(y, np.nan)
    t[:, -1] = 1.0
    theirs = hf.loss_funcs.SquaredError().d2_loss([y], t)[-1]
    ours = make_losses(np.zeros((2, 2))).d2_loss([y], t)[-1]
    assert theirs[:, 0].sum() > 0
    assert ours[:, :-1].sum() == 0 and np.all(ours[:, -1] == 1)


def test_state_guard_is_identity_inside_and_smooth_at_the_limit():
    x = np.array([[0.0, 6.0, -6.2, 7.0, -100.0]])
    y, dy = squash(x, 2 * np.pi)
    assert np.array_equal(y[0, :3], x[0, :3]) and np.all(dy[0, :3] == 1)
    assert np.all(np.abs(y) <= 2 * np.pi + 1) and 0 < dy[0, 3] < 1 and dy[0, 4] < 1e-12
    e = 1e-7
    lim = 2 * np.pi
    above, _ = squash(np.array([[lim + e]]), lim)
    assert abs(above[0, 0] - (lim + e)) < 1e-12


def test_plant_layer_jacobians_are_the_plants_for_the_whole_batch():
    a = arm()
    layer = ArmPlantLayer(a, np.tile(a.start_state, (3, 1)), a.start_state, 4)
    u = np.array([[0.1, -0.2, 9.0, 9.0], [0.0, 0.3, 0.0, 0.0], [-0.5, 0.5, 1.0, 1.0]])
    x0 = layer.state.copy()
    out = layer.activation(u)
    d = layer.d_activation(u, out)
    dx, du = a.jacobians(x0, u[:, :2])
    assert np.allclose(out, a.step(x0, u[:, :2]))
    assert np.allclose(d[..., 1], dx) and np.allclose(d[:, :, :2, 0], du)
    assert np.all(d[:, :, 2:, 0] == 0)  # the unused layer inputs do nothing
    assert np.array_equal(d[..., 2], np.broadcast_to(np.eye(4), (3, 4, 4)))


# -- training, act and checkpoints -------------------------------------------------------------
@pytest.mark.parametrize("return_phase", [False, True])
def test_act_reproduces_the_training_rollout(tmp_path, return_phase):
    """The reach task driving ahf one act() per step ends where training's closed loop ends
    (with a return phase: at both ends)."""
    plant = arm()
    ctrl = small_ahf(iterations=2, return_phase=return_phase)
    ctrl.bind(plant)
    task = reach(targets=4, return_phase=return_phase)
    curve, _ = train(ctrl, plant, tmp_path, task=task)
    assert list(curve["iteration"]) == [0, 1, 2]
    trainer = Trainer(plant, make_problem(plant, task, ctrl.settings), ctrl.settings, 0)
    trainer.net.W[:] = ctrl.W
    _, dist = trainer.evaluate()
    assert dist.shape == ((8,) if return_phase else (4,))
    m = bench.run(plant, ctrl, task, seed=0).metrics
    assert m["final_distance_mean"] == pytest.approx(dist[:4].mean(), rel=1e-9)
    assert m["final_distance_max"] == pytest.approx(dist[:4].max(), rel=1e-9)
    if return_phase:
        assert m["return_distance_mean"] == pytest.approx(dist[4:].mean(), rel=1e-9)
    assert ctrl.meta["distance_mean"] == pytest.approx(dist.mean(), rel=1e-9)


def test_training_lowers_the_error(tmp_path):
    plant = arm()
    ctrl = small_ahf(iterations=6, hidden=8, targets=8)
    curve, lines = train(ctrl, plant, tmp_path)
    assert curve["error"].iloc[-1] < 0.9 * curve["error"].iloc[0]
    assert any("best: iteration" in line for line in lines)


def test_resume_continues_exactly_where_it_stopped(tmp_path):
    plant = arm()
    straight = small_ahf(iterations=4)
    c_straight, _ = train(straight, plant, tmp_path / "a")
    first = small_ahf(iterations=2)
    train(first, plant, tmp_path / "b")
    second = small_ahf(iterations=4)
    c_resumed, lines = train(second, plant, tmp_path / "b")
    assert any(line.startswith("resuming from checkpoint") and "iteration 2" in line for line in lines)
    assert list(c_resumed["iteration"]) == [0, 1, 2, 3, 4]
    assert np.allclose(c_resumed["error"], c_straight["error"], rtol=1e-10)
    latest = ckpt.find(tmp_path / "b", role="latest")
    assert len(latest) == 1 and latest[0][1]["iteration"] == 4

    again, lines = train(small_ahf(iterations=1), plant, tmp_path / "b", fresh=True)
    assert list(again["iteration"]) == [0, 1] and not any("resuming" in line for line in lines)


def test_checkpoints_are_found_by_sidecar_metadata_not_file_names(tmp_path):
    plant = arm()
    train(small_ahf(iterations=1), plant, tmp_path)
    # another run's checkpoint under a name that sorts last and says "latest": ignored (other key)
    (path, meta), = ckpt.find(tmp_path, role="latest")
    arrays, _ = ckpt.read_weights(path)
    ckpt.write_weights(tmp_path / "zzzz-latest.npz", arrays, {**meta, "key": "other", "iteration": 99})
    # a different seed is a different run: starts fresh
    _, lines = train(small_ahf(iterations=1), plant, tmp_path, seed=5)
    assert not any("resuming" in line for line in lines)
    _, lines = train(small_ahf(iterations=2), plant, tmp_path)
    assert any("resuming" in line and "iteration 1" in line for line in lines)
    assert not list(tmp_path.glob("*.tmp"))
    best = ckpt.find(tmp_path, role="best", key=meta["key"])[0][1]
    assert best["distance_mean"] <= meta["distance_mean"]
    assert {"iteration", "error", "settings", "seed", "plant", "plant_settings"} <= set(best)


class FailingArm(Arm2):
    """A real arm2 whose simulation turns non-finite after ``fail_after`` step calls."""

    fail_after = 10**12
    calls = 0

    def step(self, x, u):
        self.calls += 1
        out = super().step(x, u)
        return out * np.nan if self.calls > self.fail_after else out


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    plant = FailingArm(Arm2Settings(dt=0.01))
    plant.name = "failing-arm2"
    train(small_ahf(iterations=2), plant, tmp_path)
    plant.fail_after = plant.calls
    with pytest.raises(Diverged, match=r"diverged at iteration 3 .*last good checkpoint \(iteration 2\)"):
        train(small_ahf(iterations=5), plant, tmp_path)
    (path, meta), = ckpt.find(tmp_path, role="latest")
    arrays, inner = ckpt.read_weights(path)
    assert meta["iteration"] == inner["iteration"] == 2 and np.all(np.isfinite(arrays["W"]))


def test_switch_regime_goes_from_fixed_inputs_to_rollouts_on_a_plateau(tmp_path):
    plant = arm()
    ctrl = small_ahf(iterations=5, regime="switch", fixed_iters=2, plateau=0.999)
    curve, lines = train(ctrl, plant, tmp_path)
    assert list(curve["phase"]) == ["fixed", "fixed", "fixed", "rollout", "rollout", "rollout"]
    assert any("switching to a rollout every iteration" in line for line in lines)
    fixed = small_ahf(iterations=3, regime="fixed", fixed_iters=2)
    assert set(train(fixed, plant, tmp_path / "f")[0]["phase"]) == {"fixed"}


def test_policy_matches_hessianfree_forward():
    """One act() step at a time equals RNNet.forward over the whole sequence."""
    a = arm()
    net = build_network(4, 5, seed=2, init_coeff=1.0)
    inputs = np.random.default_rng(1).standard_normal((3, 7, 8))
    ref = net.forward(inputs, net.W)[3][:, :, :2]
    pol = Policy(net.W, 4, 2, 5)
    steps = np.stack([pol.step(inputs[:, k]) for k in range(7)], axis=1)
    assert np.allclose(steps, ref, rtol=1e-12, atol=1e-12)
    pol.reset()
    assert np.allclose(pol.step(inputs[:, 0]), ref[:, 0])
    assert a.input_size == 2


# -- shipped weights ---------------------------------------------------------------------------
def test_shipped_weights_are_package_data_of_the_ahf_package():
    from importlib import resources

    names = [p.name for p in (resources.files("bench.controllers.ahf") / "weights").iterdir()]
    assert any(n.startswith("ahf-arm2-") and n.endswith(".npz") for n in names)


def test_importing_ahf_and_listing_imports_neither_hessianfree_nor_tensorflow():
    import subprocess
    import sys

    code = ("import sys, bench, bench.controllers.ahf; bench.registry().get('controller', 'ahf'); "
            "bench.controller('ahf'); heavy = [m for m in ('hessianfree', 'tensorflow') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_shipped_arm2_weights_reach_the_target():
    """The issue's target: 64 targets, mean final distance < 1 cm, every one < 2 cm (dt 0.01, 40 steps)."""
    ctrl = bench.controller("ahf")
    result = bench.run(arm(0.01), ctrl, reach(targets=64), seed=0)
    assert result.metrics["final_distance_mean"] < 0.01
    assert result.metrics["final_distance_max"] < 0.02
    assert ctrl.meta["role"] == "best" and ctrl.meta["plant"] == "arm2"


def test_shipped_arm3_weights_reach_every_target_within_the_threshold():
    """Issue 14: studywolf's three-link arm, 64 targets on its reach circle, every one within the task's
    threshold (0.02 m) at dt 0.01; the shipped file is the best checkpoint of the documented command."""
    ctrl = bench.controller("ahf")
    plant = bench.plant("arm3", dt=0.01)
    task = reach(targets=64)
    result = bench.run(plant, ctrl, task, seed=0)
    assert task_geometry(plant).threshold == 0.02
    assert result.metrics["within_tolerance"] == 1.0 and result.metrics["final_distance_max"] < 0.02
    assert result.metrics["final_distance_max"] < 0.01 and result.metrics["path_ratio"] < 1.05
    m = ctrl.meta
    assert m["role"] == "best" and m["plant"] == "arm3" and m["seed"] == 1 and m["dt"] == 0.01
    assert m["settings"]["output_gain"] == 1000 and m["settings"]["min_damping"] == 1e-3
    assert m["settings"]["curriculum"] == 30


def test_shipped_weights_act_at_the_default_dt_by_holding_torques():
    """``python run.py arm2 ahf reach`` (dt 1 ms): the network steps every 10 ms and holds its torques."""
    ctrl = bench.controller("ahf")
    result = bench.run(arm(0.001), ctrl, reach(targets=64), seed=0)
    assert result.metrics["final_distance_mean"] < 0.01 and result.metrics["final_distance_max"] < 0.02
    x = np.tile(ctrl.plant.start_state, (2, 1))
    ctrl.reset(2, np.random.default_rng(0))
    target = ctrl.plant.hand(ctrl.plant.start_q[None].repeat(2, 0)) + 0.05
    torques = [ctrl.act(x, target) for _ in range(11)]
    assert all(np.array_equal(torques[0], t) for t in torques[1:10])  # held for 10 plant steps


def test_shipped_weights_refuse_a_dt_that_does_not_divide_the_training_step():
    # 0.004 s divides the 0.4 s reach (100 steps; bench.guards.check_dt) but not the 0.01 s training step
    with pytest.raises(Incompatible, match=r"trained at dt = 0.01 s .* dt = 0.004 s.*divided by a whole number"):
        bench.run(arm(0.004), bench.controller("ahf"), reach(), seed=0)


def test_no_shipped_weights_for_another_network_size():
    with pytest.raises(CheckpointError, match="no shipped ahf weights"):
        bench.run(arm(0.01), bench.controller("ahf", hidden=7), reach(), seed=0)


# -- bad input --------------------------------------------------------------------------------
def test_weights_file_for_another_network_shape(tmp_path):
    plant = arm()
    ctrl = small_ahf(iterations=1)
    train(ctrl, plant, tmp_path / "w")
    saved = ctrl.save(tmp_path / "small.npz")
    with pytest.raises(CheckpointError, match="hidden=6"):
        bench.controller("ahf", hidden=8, weights=str(saved)).load(saved)
    arrays, meta = ckpt.read_weights(saved)
    ckpt.write_weights(tmp_path / "cut.npz", {**arrays, "W": arrays["W"][:-3]}, meta)
    with pytest.raises(CheckpointError, match="do not fit"):
        small_ahf().load(tmp_path / "cut.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError):
        small_ahf().load(tmp_path / "junk.npz")
    assert json.loads(saved.with_suffix(".json").read_text())["hidden"] == 6


@dataclass
class _NoSettings:
    pass


class Integrator(PlantModel):
    """A 1-D integrator: a plant with dynamics but no kinematics."""

    dt, state_size, input_size = 0.01, 1, 1

    def initial_state(self, n, rng):
        return np.zeros((n, 1))

    def step(self, x, u):
        return x + self.dt * u


def test_a_plant_that_is_not_an_arm():
    with pytest.raises(Incompatible, match="not one"):
        small_ahf().bind(Integrator())
    with pytest.raises(Incompatible, match="not one"):
        small_ahf().train(Integrator(), None, seed=0)


def test_a_target_outside_the_workspace(tmp_path):
    plant = arm()
    ctrl = small_ahf(iterations=0)
    ctrl.bind(plant)
    train(ctrl, plant, tmp_path)
    ctrl.reset(2, np.random.default_rng(0))
    with pytest.raises(OutOfReach, match="reachable distances"):
        ctrl.act(np.tile(plant.start_state, (2, 1)), np.array([[0.2, 0.3], [1.0, 0.0]]))


@pytest.mark.parametrize("key,value", [("cg_iter", 0), ("init_damping", 0), ("init_damping", -5),
                                       ("fixed_iters", 0), ("plateau", 1.5), ("regime", "sometimes"),
                                       ("hidden", 0)])
def test_optimiser_settings_out_of_range(key, value):
    with pytest.raises(SettingError, match=key):
        bench.controller("ahf", **{key: value})


def test_training_on_a_finer_plant_trains_at_ahf_dt_and_acts_with_a_hold():
    ctrl, lines = small_ahf(iterations=2), []
    ctrl.train(arm(0.001), reach(), seed=0, log=lines.append)
    assert any("training at ahf.dt = 0.01 s" in line and "10 steps" in line for line in lines)
    assert ctrl.meta["dt"] == 0.01 and ctrl.meta["plant_settings"]["dt"] == 0.01 and ctrl._period == 10


def test_training_refuses_a_plant_dt_that_does_not_divide_ahf_dt():
    with pytest.raises(Incompatible, match="divided by a whole number"):
        small_ahf().train(arm(0.003), reach(), seed=0)


def test_weights_are_written_atomically_and_read_without_pickle(tmp_path):
    p = ckpt.write_weights(tmp_path / "w.npz", {"W": np.arange(3.0)}, {"iteration": 1})
    arrays, meta = ckpt.read_weights(p)
    assert meta["iteration"] == 1 and np.array_equal(arrays["W"], np.arange(3.0))
    assert sorted(x.name for x in tmp_path.iterdir()) == ["w.json", "w.npz"]
    np.savez(tmp_path / "obj.npz", W=np.array([object()], dtype=object), meta_json=np.array("{}"))
    with pytest.raises(CheckpointError):
        ckpt.read_weights(tmp_path / "obj.npz")
    assert isinstance(Path(p), Path)


def test_time_major_cache_gives_hessianfrees_own_products():
    """The re-laid-out cache changes speed, not results: same gradient and Gv as plain hf."""
    net = tiny_net(0.3, 0.05)
    v = np.random.default_rng(4).standard_normal(net.W.size)
    ours = net.calc_grad(), net.calc_G(v.copy(), damping=0.5).copy()
    assert net.activations[1][:, 2].flags.c_contiguous
    hf.RNNet.cache_minibatch(net, net.inputs, net.targets)
    assert not net.activations[1][:, 2].flags.c_contiguous
    g = hf.RNNet.calc_grad(net)
    gv = hf.RNNet.calc_G(net, v.copy(), damping=0.5)
    g[net.fixed] = 0
    gv[net.fixed] = 0
    assert np.allclose(ours[0], g, rtol=1e-12, atol=1e-15) and np.allclose(ours[1], gv, rtol=1e-12, atol=1e-15)


def test_output_gain_sets_the_fixed_output_to_plant_weights():
    net = build_network(6, 4, output_gain=30.0)
    w, b = net.get_weights(net.W, (3, 4))
    assert np.array_equal(w, 30.0 * np.eye(6)) and np.all(b == 0)
    assert net.fixed.sum() == w.size + b.size
    again = build_network(6, 4, weights=net.W)
    assert np.array_equal(again.get_weights(again.W, (3, 4))[0], 30.0 * np.eye(6))


def test_ahf_passes_the_learner_conformance_check(bench_check_learner):
    bench_check_learner(small_ahf(), arm(), reach())


def test_a_curriculum_grows_the_reach_radius_then_trains_on_the_task(tmp_path):
    plant = arm()
    ctrl = small_ahf(iterations=8, curriculum=6, goal=10.0)  # a goal met at once: only the whole radius counts
    curve, lines = train(ctrl, plant, tmp_path)
    stages = [line for line in lines if line.startswith("curriculum:")]
    assert stages == ["curriculum: training on 25% of the reach radius", "curriculum: training on 50% of the reach "
                      "radius", "curriculum: training on 75% of the reach radius",
                      "curriculum: training on 100% of the reach radius"]
    assert any(line.startswith("goal reached") for line in lines)
    assert list(curve["iteration"]) == list(range(8))  # stopped by the goal once on the whole radius (7 updates)
    best = ckpt.find(tmp_path, role="best")
    assert len(best) == 1 and best[0][1]["iteration"] in (0, 7)  # never a checkpoint of a smaller radius
    t = Trainer(plant, make_problem(plant, reach(), ctrl.settings), ctrl.settings, 0)
    assert [t.radius_fraction(i) for i in range(1, 9)] == [0.25, 0.25, 0.5, 0.5, 0.75, 0.75, 1.0, 1.0]
    t._use_radius(0.5)
    start = plant.hand(plant.start_q[None, :])[0]
    full = t.full_problem.targets_xy
    assert np.allclose(t.problem.targets_xy - start, 0.5 * (full - start))
    assert np.allclose(plant.hand(t.problem.q_target), t.problem.targets_xy)
    assert np.allclose(t.layer.target_state[:, -1, :2], t.problem.q_target)
    t._use_radius(1.0)
    assert t.problem is t.full_problem and np.allclose(t.layer.target_state[:, -1, :2], t.full_problem.q_target)


def test_curriculum_rows_do_not_count_for_the_time_to_threshold_metrics():
    import pandas as pd

    ctrl = small_ahf()
    ctrl.bind(arm())
    curve = pd.DataFrame({"iteration": [0, 1, 2, 3], "wall_s": [0.0, 1.0, 2.0, 3.0],
                          "distance_mean": [0.05, 0.001, 0.02, 0.005], "distance_max": [0.06, 0.002, 0.03, 0.009],
                          "phase": ["rollout", "curriculum", "rollout", "rollout"]})
    m = ctrl.training_metrics(curve, reach())
    assert (m["train_s_to_1cm"], m["iterations_to_1cm"]) == (3.0, 3.0)
    assert m["iterations_to_threshold_all"] == 3.0 and m["best_distance_mean"] == 0.005
