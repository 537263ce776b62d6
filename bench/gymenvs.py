"""Gymnasium ids of the built-in plants, registered on ``import bench``.

Only names are registered (``"bench.plants.envs:ClassName"`` strings), so
nothing of the environments is imported until ``gymnasium.make`` is called.
Calling :func:`register_envs` again is harmless.
"""

from __future__ import annotations

#: (Gymnasium id, entry point, max_episode_steps)
ENVS = (
    ("bench/Arm2Reach-v0", "bench.plants.envs:Arm2ReachEnv", 200),
    ("bench/Arm3Reach-v0", "bench.plants.envs:Arm3ReachEnv", 200),
    ("bench/CartPole-v0", "bench.plants.envs:CartPoleEnv", 500),
)


def register_envs() -> None:
    """Register :data:`ENVS` with Gymnasium (idempotent; a no-op without Gymnasium)."""
    try:
        import gymnasium
    except ImportError:  # pragma: no cover - gymnasium is a core dependency
        return
    for env_id, entry_point, steps in ENVS:
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=entry_point, max_episode_steps=steps)
