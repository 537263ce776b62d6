"""The Gymnasium environments registered by ``import bench``: every arm × arm task, the first ids, CartPole,
and the ids of a plugin's arm (``bench.gymenvs.register_plant_envs``)."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import bench
from bench.errors import OutOfReach
from bench.gymenvs import ARM_TASKS, BUILTIN_ARMS, ENVS, env_id, register_envs, register_plant_envs
from bench.plants import envs as bench_envs
from bench.plants.arm2 import Arm2, Arm2Settings

FIRST_IDS = [env for env, _, _ in ENVS]
ARM_IDS = register_envs(plugins=True)
IDS = FIRST_IDS + ARM_IDS


def test_ids_are_registered_on_import_and_registration_is_idempotent():
    import subprocess
    import sys

    code = ("import bench, gymnasium; print(sorted(i for i in gymnasium.registry if i.startswith('bench/')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for plant in BUILTIN_ARMS:
        for task in ARM_TASKS:
            assert f"'bench/{plant}-{task}-v0'" in out
    for env in IDS:
        assert env in gymnasium.registry
    assert env_id("arm2", "reach") == "bench/arm2-reach-v0" and len(ARM_IDS) >= 4 * len(BUILTIN_ARMS)
    assert register_envs(plugins=True) == ARM_IDS
    assert gymnasium.spec("bench/arm3-postural-v0").kwargs == {"plant": "arm3"}
    assert gymnasium.spec("bench/arm3-postural-v0").entry_point == "bench.plants.envs:ArmPosturalEnv"
    assert gymnasium.spec("bench/CartPole-v0").max_episode_steps == 500
    assert gymnasium.spec("bench/Arm2Reach-v0").entry_point == "bench.plants.envs:Arm2ReachEnv"


@pytest.mark.parametrize("env_id", IDS)
def test_check_env_passes(env_id):
    env = gymnasium.make(env_id, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*infinity")   # unbounded velocities, as in CartPole-v1
        check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize("env_id", IDS)
def test_seeding_reproduces_episodes(env_id):
    def episode(seed):
        env = gymnasium.make(env_id)
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for _ in range(20):
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            out.append(np.append(obs, reward))
            if terminated or truncated:
                break
        return out

    first, again, other = episode(3), episode(3), episode(4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize("env_id", IDS)
def test_render_draws_an_rgb_image(env_id):
    env = gymnasium.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    image = env.render()
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.min() < 100 < image.max()          # something dark drawn on white
    push = 1 if env_id == "bench/CartPole-v0" else np.ones(env.action_space.shape, dtype=np.float32)
    for _ in range(5):
        env.step(push)
    assert not np.array_equal(env.render(), image)           # the drawing follows the state
    env.close()


def test_cartpole_env_equals_gymnasium_cartpole_v1():
    ours, ref = gymnasium.make("bench/CartPole-v0"), gymnasium.make("CartPole-v1")
    for seed in (0, 1):
        o1, _ = ours.reset(seed=seed)
        o2, _ = ref.reset(seed=seed)
        np.testing.assert_array_equal(o1, o2)
        rng = np.random.default_rng(seed)
        for _ in range(500):
            a = int(rng.integers(2))
            r1, r2 = ours.step(a), ref.step(a)
            np.testing.assert_array_equal(r1[0], r2[0])
            assert r1[1:4] == r2[1:4]
            np.testing.assert_allclose(ours.unwrapped.state[0], ref.unwrapped.state, rtol=0, atol=1e-12)
            if r1[2] or r1[3]:
                break


def test_cartpole_continuous_force():
    env = gymnasium.make("bench/CartPole-v0", continuous=True)
    assert isinstance(env.action_space, gymnasium.spaces.Box)
    env.reset(seed=0)
    x0 = env.unwrapped.state.copy()
    env.step(np.array([1.0], dtype=np.float32))
    plant = env.unwrapped.plant
    np.testing.assert_array_equal(env.unwrapped.state, plant.step(x0, [[10.0]]))


def test_cartpole_refuses_bad_discrete_action():
    env = gymnasium.make("bench/CartPole-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(gymnasium.error.InvalidAction):
        env.step(2)


@pytest.mark.parametrize("env_id", ["bench/Arm2Reach-v0", "bench/Arm3Reach-v0"])
def test_arm_env_targets_and_termination(env_id):
    env = gymnasium.make(env_id).unwrapped
    obs, _ = env.reset(seed=0)
    nj = env.arm.n_joints
    np.testing.assert_allclose(np.linalg.norm(env.target - env.start_hand), env.radius)
    np.testing.assert_allclose(obs[2 * nj: 2 * nj + 2], env.start_hand, rtol=1e-6)
    # a target at the start hand position: resting there terminates at once
    obs, _ = env.reset(options={"target": env.start_hand})
    _, reward, terminated, truncated, _ = env.step(np.zeros(nj, dtype=np.float32))
    assert terminated and not truncated and reward == pytest.approx(0.0, abs=1e-12)
    # pushing moves the hand away and costs reward
    env.reset(options={"target": env.start_hand})
    for _ in range(5):
        _, reward, terminated, _, _ = env.step(np.ones(nj, dtype=np.float32))
    assert reward < -1e-3 and not terminated
    with pytest.raises(OutOfReach):
        env.reset(options={"target": (100.0, 0.0)})


def test_arm_env_time_limit():
    env = gymnasium.make("bench/Arm2Reach-v0")
    env.reset(seed=1)
    steps, truncated = 0, False
    while not truncated:
        _, _, terminated, truncated, _ = env.step(np.zeros(2, dtype=np.float32))
        assert not terminated
        steps += 1
    assert steps == 200


def test_importing_bench_does_not_import_the_environments():
    import subprocess
    import sys

    code = "import sys, bench; print('bench.plants.envs' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
    assert bench.__name__ == "bench"


# -- the arm tasks' environments --------------------------------------------------------
def test_postural_env_holds_under_a_push():
    env = gymnasium.make("bench/arm2-postural-v0").unwrapped
    obs, _ = env.reset(seed=0, options={"target": 3, "push": 7})
    nj = env.arm.n_joints
    np.testing.assert_allclose(obs[2 * nj: 2 * nj + 2], env.target, atol=1e-6)     # starts on its target
    assert np.abs(env.push).max() > 0
    for _ in range(5):
        _, reward, terminated, _, _ = env.step(np.zeros(nj, dtype=np.float32))
    assert reward < -1e-4 and not terminated                                           # the push moved it off


def test_random_movements_env_moves_its_target_every_period():
    env = gymnasium.make("bench/arm2-random_movements-v0", period=0.05).unwrapped    # 5 steps of 10 ms
    env.reset(seed=1)
    seen = [env.target.copy()]
    for _ in range(10):
        env.step(np.zeros(2, dtype=np.float32))
        seen.append(env.target.copy())
    changes = [k for k in range(1, 11) if not np.array_equal(seen[k], seen[k - 1])]
    assert changes == [5, 10]
    inner, outer = env.arm.reach
    assert all(inner <= np.linalg.norm(t) <= outer for t in seen)


def test_write_env_follows_the_strokes_then_terminates():
    env = gymnasium.make("bench/arm2-write-v0", text="1", stroke_time=0.1).unwrapped   # 10 steps per stroke
    _, info = env.reset(seed=0)
    assert info["text"] == "1" and len(env.path) == 1
    targets, terminated, steps = [env.target.copy()], False, 0
    while not terminated:
        _, _, terminated, _, _ = env.step(np.zeros(2, dtype=np.float32))
        targets.append(env.target.copy())
        steps += 1
    assert steps == 10
    np.testing.assert_allclose(targets[-1], env.path[0][-1])
    other = gymnasium.make("bench/arm2-write-v0").unwrapped
    texts = {other.reset(seed=s)[1]["text"] for s in range(8)}
    assert len(texts) > 1                                                  # a character drawn per seed


def test_arm_envs_take_the_force_field_and_the_arm_torque_limit():
    plain = gymnasium.make("bench/arm3-reach-v0").unwrapped
    field = gymnasium.make("bench/arm3-reach-v0", force=1.0).unwrapped
    assert plain.max_torque == pytest.approx(25.0 * plain.arm.inertia(plain.arm.start_q[None])[0].max())
    for env in (plain, field):
        env.reset(seed=0)
        for _ in range(3):
            env.step(np.full(3, 0.5, dtype=np.float32))
    assert not np.allclose(plain.state, field.state)


# -- a plugin's arm -----------------------------------------------------------------------
class LongArm(Arm2):
    """A plugin's arm: a long forearm, nearly stretched at the start (its reach circle leaves the workspace)."""

    def __init__(self, settings=None):
        settings = settings or Arm2Settings()
        settings.l1, settings.l2 = 0.3, 0.6
        super().__init__(settings)
        self.start_q = np.array([0.3, 0.15])


class LongReach(bench_envs.ArmReachEnv):
    """A subclassed environment, as a plugin writes one: its own arm class, the first ids' target rule."""

    arm_class = LongArm
    around_start = True


class LongArmPlugin:
    @staticmethod
    @bench.hookimpl
    def register_plants(register):
        register("longarm", LongArm, summary="a plugin arm with a long forearm",
                 provides={"dynamics", "kinematics", "jacobians"})


@pytest.fixture
def longarm(fresh_plugins):
    bench.register_plugin(LongArmPlugin, "longarm-test-plugin")
    yield register_plant_envs("longarm")


def _check(env):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*infinity")
        warnings.filterwarnings("ignore", message=".*not having a spec")
        check_env(env)


def test_a_subclassed_plugin_env_passes_check_env():
    env = LongReach()
    start, reach = env.start_hand, float(np.sum(env.arm.link_lengths))
    assert np.linalg.norm(start) + reach / 8 > reach            # the raw circle leaves the workspace and box
    _check(env)
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        assert env.observation_space.contains(obs)
        env.arm.inverse_kinematics(env.target[None])              # every target reachable


def test_a_plugin_plant_gets_every_arm_task_id(longarm):
    assert longarm == [f"bench/longarm-{task}-v0" for task in ARM_TASKS]
    for env in longarm:
        _check(gymnasium.make(env, render_mode="rgb_array").unwrapped)
    with pytest.warns(UserWarning, match="no Gymnasium ids"):
        assert register_plant_envs("bad/name") == []
