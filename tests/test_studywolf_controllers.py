"""studywolf/control's controllers in ctrlbench (``gc``, ``lqr``, ``ilqr``, ``dmp``), its original
``ahf`` weights format, and its ``run.py`` options.  Small budgets keep each test to a few seconds."""

from __future__ import annotations

import hessianfree as hf
import numpy as np
import pytest

import bench
from bench.cli import studywolf_options
from bench.controllers.ahf import checkpoints as ckpt
from bench.controllers.ahf.net import STUDYWOLF_SHAPE, studywolf_parameter_count
from bench.controllers.dmp import DMP, minimum_jerk
from bench.controllers.lqr import lqr_gain, solve_dare
from bench.errors import CheckpointError, InvalidArgument, UsageError
from bench.plugins import registry
from bench.testing import check_controller

CONTROLLERS = ("gc", "lqr", "ilqr", "dmp")
#: the arms of studywolf's reach that are registered (the others join as they are added)
ARMS = tuple(p for p in ("arm2", "arm2_python_todorov", "arm3") if p in registry().names("plant"))
#: every arm: the conformance checks also run on the one-link arms, whose workspace is a circle
ALL_ARMS = tuple(p for p in ("arm1", "arm1_python", "arm2", "arm2_python_todorov", "arm3", "arm3_rods")
                 if p in registry().names("plant"))


def reach_run(plant: str, controller: str, dt: float = 1e-3, **settings):
    arm = bench.plant(plant, dt=dt)
    return bench.run(arm, bench.controller(controller, **settings), bench.task("reach"), seed=0)


# -- conformance and reaching ----------------------------------------------------------------------
@pytest.mark.parametrize("plant", ALL_ARMS)
@pytest.mark.parametrize("name", CONTROLLERS)
def test_controller_conforms(name, plant):
    check_controller(bench.controller(name), bench.plant(plant))


@pytest.mark.parametrize("name", ["gc", "lqr", "ilqr", "dmp", "osc"])
def test_reaches_every_arm2_target(name):
    settings = {"iterations": 8} if name == "ilqr" else {}
    r = reach_run("arm2", name, dt=0.01 if name == "ilqr" else 1e-3, **settings)
    assert r.metrics["within_tolerance"] == 1.0, r.metrics


@pytest.mark.parametrize("plant", ARMS)
@pytest.mark.parametrize("name", ["osc", "ilqr", "lqr"])
def test_reaches_every_target_of_studywolfs_reach_sequence(name, plant):
    """studywolf's reach: centre, then out to each of 8 targets and back, switching on |e|₁ + |dq|₁ < 0.01
    (two links, 7.5 cm around (0, 0.35) m) or 0.02 (three links, 0.4 m around (0, 2) m); dt = 0.01 s."""
    r = bench.run(bench.plant(plant, dt=0.01), bench.controller(name), bench.task("reach", mode="sequence"), seed=0)
    m = r.metrics
    assert (m["targets_reached"], m["returns_reached"], m["resets"]) == (8, 8, 0), m
    assert m["movement_time"] < 0.7


def test_controllers_refuse_a_plant_without_kinematics():
    for name in CONTROLLERS:
        with pytest.raises(InvalidArgument, match=f"^{name} needs an arm plant with"):
            bench.controller(name).bind(bench.plant("cartpole"))


def test_controllers_need_hand_targets():
    arm = bench.plant("arm2")
    for name in ("gc", "lqr", "ilqr", "dmp"):
        c = bench.controller(name)
        c.bind(arm)
        c.reset(2, np.random.default_rng(0))
        with pytest.raises(InvalidArgument, match="targets"):
            c.act(np.tile(arm.start_state, (2, 1)), None)


# -- LQR ---------------------------------------------------------------------------------------------
def random_system(rng, n=3, s=4, u=2):
    a = np.eye(s) + 0.1 * rng.standard_normal((n, s, s))
    b = rng.standard_normal((n, s, u))
    q = np.broadcast_to(np.eye(s), (n, s, s)).copy()
    r = np.broadcast_to(0.5 * np.eye(u), (n, u, u)).copy()
    return a, b, q, r


def test_riccati_solution_satisfies_the_equation_and_stabilises():
    a, b, q, r = random_system(np.random.default_rng(1))
    p = solve_dare(a, b, q, r)
    at, bt = np.swapaxes(a, 1, 2), np.swapaxes(b, 1, 2)
    rhs = at @ p @ a - at @ p @ b @ np.linalg.solve(r + bt @ p @ b, bt @ p @ a) + q
    assert np.allclose(p, rhs, rtol=1e-9, atol=1e-9)
    closed = a - b @ lqr_gain(a, b, q, r)
    assert np.max(np.abs(np.linalg.eigvals(closed))) < 1


def test_riccati_matches_scipy():
    linalg = pytest.importorskip("scipy.linalg")
    a, b, q, r = random_system(np.random.default_rng(2))
    p = solve_dare(a, b, q, r)
    for i in range(a.shape[0]):
        assert np.allclose(p[i], linalg.solve_discrete_are(a[i], b[i], q[i], r[i]), rtol=1e-8)


def test_riccati_refuses_an_unstabilisable_system():
    a = np.array([[[1.1, 0.0], [0.0, 1.0]]])
    b = np.array([[[0.0], [1.0]]])          # the unstable mode is not actuated
    with pytest.raises(InvalidArgument, match="did not converge"):
        solve_dare(a, b, np.eye(2)[None], np.eye(1)[None])


def test_lqr_gains_do_not_depend_much_on_dt():
    gains = []
    for dt in (1e-3, 1e-2):
        c = bench.controller("lqr")
        c.bind(bench.plant("arm2", dt=dt))
        k, u_star = c.gains_at(np.array([[0.8, 1.8]]))
        assert np.allclose(u_star, 0)      # horizontal arm: nothing to hold against
        gains.append(k[0])
    assert np.allclose(gains[0], gains[1], rtol=0.3)


def test_lqr_holds_a_gravity_arm_at_its_target():
    arm = bench.plant("arm3", gravity=9.81)
    c = bench.controller("lqr")
    c.bind(arm)
    c.reset(1, np.random.default_rng(0))
    target = arm.hand(arm.start_q[None, :])
    x = arm.start_state[None, :].copy()
    for _ in range(200):
        x = arm.step(x, c.act(x, target))
    assert np.linalg.norm(arm.hand(x[:, :3]) - target) < 1e-6


@pytest.mark.parametrize("plant, settings", [("arm3", {"gravity": 9.81}), ("arm2_python_todorov", {})])
def test_equilibrium_is_a_fixed_point_of_the_step(plant, settings):
    from bench.controllers.joint_targets import equilibrium

    if plant not in registry().names("plant"):
        pytest.skip(f"{plant} is not registered")
    arm = bench.plant(plant, **settings)
    q = np.tile(arm.start_q, (3, 1)) + [[0.0], [0.2], [-0.3]]
    x, u = equilibrium(arm, q)
    assert x.shape == (3, arm.state_size) and np.array_equal(x[:, : arm.n_joints], q)
    assert np.allclose(arm.step(x, u), x, atol=1e-12)


# -- iLQR ---------------------------------------------------------------------------------------------
def test_ilqr_interval_jacobians_are_exact():
    arm = bench.plant("arm3", dt=2e-3)
    c = bench.controller("ilqr", plan_dt=0.01, horizon=0.02)
    c.bind(arm)
    assert c.ratio == 5 and c.n_intervals == 2
    rng = np.random.default_rng(0)
    x0 = np.tile(arm.start_state, (2, 1)) + 0.1 * rng.standard_normal((2, 6))
    u = 50 * rng.standard_normal((2, 2, 3))
    states, _ = c._rollout(x0, u)
    fa, fb = c._interval_jacobians(states, u)

    def interval(x, v):
        for _ in range(c.ratio):
            x = arm.step(x, v)
        return x

    eps = 1e-6
    for j in range(6):
        dx = np.zeros(6)
        dx[j] = eps
        fd = (interval(states[:, 0] + dx, u[:, 0]) - interval(states[:, 0] - dx, u[:, 0])) / (2 * eps)
        assert np.allclose(fa[:, 0, :, j], fd, rtol=1e-5, atol=1e-7)
    for j in range(3):
        du = np.zeros(3)
        du[j] = eps
        fd = (interval(states[:, 0], u[:, 0] + du) - interval(states[:, 0], u[:, 0] - du)) / (2 * eps)
        assert np.allclose(fb[:, 0, :, j], fd, rtol=1e-5, atol=1e-9)


def test_ilqr_plan_lowers_its_cost_and_respects_the_iteration_budget():
    arm = bench.plant("arm2", dt=0.01)
    x0 = np.tile(arm.start_state, (4, 1))
    target = arm.hand(arm.start_q[None, :]) + 0.07 * np.array([[1, 0], [0, 1], [-1, 0], [0, -1]])
    costs = []
    for iterations in (1, 3, 20):
        c = bench.controller("ilqr", iterations=iterations)
        c.bind(arm)
        plan = c.plan(x0, target)
        assert plan.iterations <= iterations
        costs.append(plan.cost)
    assert np.all(costs[1] < costs[0]) and np.all(costs[2] <= costs[1])
    hand = arm.hand(plan.states[:, -1, :2])
    assert np.max(np.linalg.norm(hand - target, axis=1)) < 1e-3


def test_ilqr_time_budget_stops_the_plan():
    arm = bench.plant("arm2", dt=1e-3)
    c = bench.controller("ilqr", iterations=1000, tolerance=0.0, time_budget=1e-9)
    c.bind(arm)
    plan = c.plan(np.tile(arm.start_state, (2, 1)), arm.hand(arm.start_q[None, :]) + [[0.05, 0], [0, 0.05]])
    assert plan.iterations == 1


def test_ilqr_replans_when_a_target_changes():
    arm = bench.plant("arm2", dt=0.01)
    c = bench.controller("ilqr", iterations=10)
    c.bind(arm)
    c.reset(2, np.random.default_rng(0))
    start = arm.hand(arm.start_q[None, :])
    targets = start + np.array([[0.05, 0.0], [0.0, 0.05]])
    x = np.tile(arm.start_state, (2, 1))
    for k in range(90):
        if k == 40:                        # the second trial gets a new target; the first keeps its plan
            targets = targets.copy()
            targets[1] = start[0] - [0.05, 0.0]
        x = arm.step(x, c.act(x, targets))
        if k == 40:
            assert list(c.step_index) == [41, 1]
    assert np.max(np.linalg.norm(arm.hand(x[:, :2]) - targets, axis=1)) < 0.01


def test_ilqr_follows_a_sliding_target_without_replanning():
    arm = bench.plant("arm2", dt=0.01)
    c = bench.controller("ilqr", iterations=10)
    c.bind(arm)
    c.reset(1, np.random.default_rng(0))
    start = arm.hand(arm.start_q[None, :])
    x = arm.start_state[None, :].copy()
    for k in range(120):
        target = start + [[0.05, 0.0]] + (max(k - 50, 0) * 0.0005) * np.array([[0.0, 1.0]])  # slides 5 cm/s
        x = arm.step(x, c.act(x, target))
    assert c.plans_made == 1
    assert np.linalg.norm(arm.hand(x[:, :2]) - target) < 0.005


# -- DMP ------------------------------------------------------------------------------------------------
def test_dmp_imitates_a_minimum_jerk_movement():
    d = DMP(DMP.Settings(movement_time=0.5))
    d.y, d.z, d.y0, d.goal, d.phase = np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 2)), np.ones((1, 2)), np.ones(1)
    path = []
    for _ in range(500):
        d._advance(1e-3)
        path.append(d.y[0, 0])
    assert np.max(np.abs(np.array(path) - minimum_jerk(np.arange(1, 501) / 500)[0])) < 0.01
    plain = DMP(DMP.Settings(demo="none"))
    assert not plain.weights.any()


def test_dmp_restarts_only_on_a_target_jump():
    arm = bench.plant("arm2")
    c = bench.controller("dmp")
    c.bind(arm)
    c.reset(1, np.random.default_rng(0))
    x = arm.start_state[None, :].copy()
    target = arm.hand(arm.start_q[None, :]) + [[0.05, 0.0]]
    for _ in range(100):
        x = arm.step(x, c.act(x, target))
    phase = c.phase.copy()
    c.act(x, target + [[0.001, 0.0]])      # a small move: the goal follows, the phase goes on
    assert c.phase[0] < phase[0] and c.goal[0, 0] == target[0, 0] + 0.001
    c.act(x, target + [[-0.1, 0.0]])       # a jump: a new movement from the hand
    assert c.phase[0] < 1 and np.allclose(c.y0, arm.hand(x[:, :2]))


# -- studywolf's ahf weights -----------------------------------------------------------------------------
def studywolf_net(seed: int = 0, dtype=np.float32) -> hf.RNNet:
    """The network of studywolf/control's controllers/ahf.py, random weights."""
    return hf.RNNet(shape=list(STUDYWOLF_SHAPE),
                    layers=[hf.nl.Linear(), hf.nl.Tanh(), hf.nl.Tanh(), hf.nl.Linear(), hf.nl.Linear()],
                    rec_layers=[1, 2], conns={0: [1, 2], 1: [2], 2: [3], 3: [4]},
                    W_init_params={"coeff": 0.5}, W_rec_params={"coeff": 0.5},
                    rng=np.random.RandomState(seed), dtype=dtype)


def test_studywolf_parameter_count_matches_the_shape_listing():
    # [8, 32, 32, 4, 4]: 0→1, 0→2, 1→2, 2→3, 3→4 plus the recurrent 1→1 and 2→2, each with a bias
    by_hand = 9 * 32 + 9 * 32 + 33 * 32 + 33 * 4 + 5 * 4 + 2 * 33 * 32
    assert studywolf_parameter_count() == by_hand == 3896 == studywolf_net().W.size


def test_studywolf_weights_act_as_studywolfs_controller(tmp_path):
    net = studywolf_net(seed=3)
    path = tmp_path / "rnn_weights-trial1-err0.1.npz"
    np.savez(path, net.W)                  # what studywolf's training saved: one array, arr_0
    _, meta = ckpt.read_weights(path)
    assert meta["format"] == ckpt.STUDYWOLF_FORMAT and meta["dtype"] == "float32"
    arm = bench.plant("arm2", dt=0.01)
    c = bench.controller("ahf", weights=str(path))
    c.bind(arm)
    c.reset(1, np.random.default_rng(0))
    target = arm.hand(arm.start_q[None, :]) + [[0.05, 0.02]]
    q_target = arm.inverse_kinematics(target)[0]
    # studywolf's loop: identity 3→4 weights, one-step forward with the last activations, u_j = out_j + out_{j+2}
    start, w_end, _ = net.offsets[(3, 4)]
    net.W[start:w_end] = np.eye(4, dtype=np.float32).ravel()
    x = arm.start_state[None, :].copy()
    act = None
    for _ in range(5):
        inputs = np.concatenate([q_target, np.zeros(2), x[0, :2], x[0, 2:]])[None, None, :].astype(np.float32)
        act = [a[:, -1, :] for a in net.forward(inputs, init_activations=act)]
        out = act[-1][0]
        want = np.array([out[0] + out[2], out[1] + out[3]])
        got = c.act(x, target)[0]
        assert np.allclose(got, want, rtol=1e-5, atol=1e-6)
        x = arm.step(x, want[None, :].astype(float))


def test_studywolf_weights_run_from_run_py(cli, tmp_path):
    path = tmp_path / "any-name.npz"
    np.savez(path, studywolf_net(seed=1).W)
    code, out, err = cli("arm2", "ahf", "reach", "--dt=1e-2", "--set", f"ahf.weights={path}",
                         "--set", "reach.duration=0.1", run_py_style=True)
    assert code == 0, err
    assert "final_distance_mean" in out


@pytest.mark.parametrize("array, fragment", [
    (np.zeros(3895, dtype=np.float32), r"expected a flat vector of 3896 parameters .*found shape \[3895\]"),
    (np.zeros((2, 1948), dtype=np.float32), r"found shape \[2, 1948\]"),
    (np.zeros(3896, dtype=np.int32), "must hold float32 or float64 numbers, found dtype int32"),
])
def test_bad_studywolf_weights_are_one_line_and_exit_2(cli, tmp_path, array, fragment):
    path = tmp_path / "rnn_weights-trial13405-err0.00005.npz"
    np.savez(path, array)
    code, _, err = cli("arm2", "ahf", "reach", "--dt=1e-2", "--set", f"ahf.weights={path}", run_py_style=True)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert pytest.importorskip("re").search(fragment, err), err
    with pytest.raises(CheckpointError):
        ckpt.read_weights(path)


def test_the_format_is_told_by_content_not_by_name(tmp_path):
    named_like_studywolf = tmp_path / "rnn_weights-trial13405-err0.00005.npz"
    ckpt.write_weights(named_like_studywolf, {"W": np.arange(3.0)}, {"iteration": 2})
    _, meta = ckpt.read_weights(named_like_studywolf)
    assert meta["format"] == ckpt.FORMAT and meta["iteration"] == 2
    plain = tmp_path / "weights.npz"
    np.savez(plain, np.zeros(3896))
    assert ckpt.read_weights(plain)[1]["format"] == ckpt.STUDYWOLF_FORMAT


def test_a_foreign_npz_names_both_formats(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, arr_0=np.zeros(3896, dtype=np.float32), arr_1=np.zeros(2))
    with pytest.raises(CheckpointError, match=r"neither a ctrlbench ahf weights file .* nor a studywolf"):
        ckpt.read_weights(path)


# -- run.py options -----------------------------------------------------------------------------------
def test_run_py_translates_studywolf_end_time():
    notes: list[str] = []
    argv = studywolf_options(["arm2", "osc", "reach", "--dt=1e-2", "--end_time=0.3"], notes.append)
    declared = {f.name for f in __import__("dataclasses").fields(bench.task("reach").Settings)}
    name = "end_time" if "end_time" in declared else "duration"
    assert argv == ["arm2", "osc", "reach", "--dt=1e-2", "--set", f"reach.{name}=0.3"]
    assert notes == []
    assert studywolf_options(["arm2", "osc", "reach", "--end_time", "2"], notes.append)[-1] == f"reach.{name}=2"


@pytest.mark.parametrize("option", ["--use_pygame", "--write_to_file=True"])
def test_run_py_explains_studywolf_display_options_in_one_line(option):
    notes: list[str] = []
    argv = studywolf_options(["arm2", "osc", "reach", option, "--seed", "1"], notes.append)
    assert argv == ["arm2", "osc", "reach", "--seed", "1"]
    assert len(notes) == 1 and option.split("=")[0] in notes[0] and "\n" not in notes[0]


def test_run_py_sequence_selects_reach_sequence_mode_and_text_for_write():
    notes: list[str] = []
    assert studywolf_options(["arm3", "osc", "reach", "--sequence=0"], notes.append) == [
        "arm3", "osc", "reach", "--set", "reach.mode=sequence"]
    assert notes == []
    studywolf_options(["arm3", "osc", "reach", "--sequence=3"], notes.append)
    assert len(notes) == 1 and "runs every target" in notes[0]
    assert studywolf_options(["arm2", "dmp", "write", "--sequence=hi", "--force=0.1"], notes.append) == [
        "arm2", "dmp", "write", "--set", "write.text=hi", "--set", "write.force=0.1"]
    with pytest.raises(UsageError, match="sequence mode runs until its last movement"):
        studywolf_options(["arm3", "osc", "reach", "--sequence=0", "--end_time=3"], notes.append)


def test_run_py_unknown_option_names_the_closest(cli):
    with pytest.raises(UsageError, match=r"unknown option --end_tme; did you mean '--end_time'\?"):
        studywolf_options(["arm2", "osc", "reach", "--end_tme=3"], print)
    code, _, err = cli("arm2", "osc", "reach", "--sed", "3", run_py_style=True)
    assert code == 2 and "did you mean '--seed'" in err and len(err.strip().splitlines()) == 1


def test_run_py_refuses_a_studywolf_option_the_task_cannot_take(cli):
    code, _, err = cli("cartpole", "pg", "balance", "--sequence=3", run_py_style=True)
    assert code == 2 and "--sequence: task 'balance' has no sequence or text setting" in err


# -- the README's studywolf table ---------------------------------------------------------------------
def readme_rows() -> list[tuple[str, str]]:
    """``(studywolf command, ctrlbench command)`` of every row of the README's studywolf table."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split("## Coming from studywolf/control", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(python run\.py [^`]+)` \| `(python run\.py [^`]+)` \|", section, re.M)


def test_the_readme_maps_studywolf_commands():
    rows = readme_rows()
    assert len(rows) >= 8
    assert ("python run.py arm2_python ahf reach --dt=1e-2" in {left for left, _ in rows})


@pytest.mark.parametrize("line", [c for row in readme_rows() for c in row])
def test_every_studywolf_table_command_parses_and_names_what_exists(line):
    import shlex

    from bench.cli import parser

    words = shlex.split(line)[2:]
    args = parser().parse_args(["run", *studywolf_options(words, lambda _note: None)])
    reg = registry()
    assert args.plant in reg.names("plant") and args.controller in reg.names("controller")
    assert args.task in reg.names("task")
