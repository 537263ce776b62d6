"""The Gymnasium environments registered by ``import bench``."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import bench
from bench.errors import OutOfReach
from bench.gymenvs import ENVS, register_envs

IDS = [env_id for env_id, _, _ in ENVS]


def test_ids_are_registered_on_import_and_registration_is_idempotent():
    for env_id in IDS:
        assert env_id in gymnasium.registry
    register_envs()
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
