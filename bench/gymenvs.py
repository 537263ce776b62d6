"""Gymnasium ids: every arm plant × arm task, registered on ``import bench``.

An arm task's environment id is ``bench/<plant>-<task>-v0`` (:func:`env_id`),
e.g. ``bench/arm2-reach-v0`` or ``bench/arm3-postural-v0``; its entry point
is the task's environment class in :mod:`bench.plants.envs` with the
plant's registered name as the ``plant`` keyword.  Besides those, the first
three ids stay: ``bench/Arm2Reach-v0``, ``bench/Arm3Reach-v0`` and
``bench/CartPole-v0`` (:data:`ENVS`).

Only names are registered (``"module:Class"`` strings), so nothing of the
environments, nor any plugin, is imported until ``gymnasium.make`` is
called.  On ``import bench`` the built-in arms are registered
(:data:`BUILTIN_ARMS`, without loading the plugin registry).  A plugin's
arm gets its ids from one of these calls, which its users or the plugin
itself make::

    import bench.gymenvs
    bench.gymenvs.register_plant_envs("myarm")       # one registered plant, every arm task
    bench.gymenvs.register_envs(plugins=True)       # every registered plant that provides "kinematics"

Calling them again is harmless.
"""

from __future__ import annotations

import re
import warnings

#: (Gymnasium id, entry point, max_episode_steps): the first ids, kept as they were.
ENVS = (
    ("bench/Arm2Reach-v0", "bench.plants.envs:Arm2ReachEnv", 200),
    ("bench/Arm3Reach-v0", "bench.plants.envs:Arm3ReachEnv", 200),
    ("bench/CartPole-v0", "bench.plants.envs:CartPoleEnv", 500),
)

#: Arm task → (entry point, max_episode_steps with the default 10 ms environment step).
ARM_TASKS: dict[str, tuple[str, int]] = {
    "reach": ("bench.plants.envs:ArmReachEnv", 200),
    "postural": ("bench.plants.envs:ArmPosturalEnv", 200),
    "random_movements": ("bench.plants.envs:ArmRandomMovementsEnv", 500),
    "write": ("bench.plants.envs:ArmWriteEnv", 1000),
}

#: The built-in arm plants (registered without loading any plugin).
BUILTIN_ARMS = ("arm1", "arm1_python", "arm2", "arm2_python", "arm2_python_todorov", "arm3", "arm3_rods")

_NAME = re.compile(r"^[A-Za-z0-9_.]+(-[A-Za-z0-9_.]+)*$")


def env_id(plant: str, task: str) -> str:
    """The Gymnasium id of ``plant`` doing ``task``: ``bench/<plant>-<task>-v0``."""
    return f"bench/{plant}-{task}-v0"


def _register(env: str, entry_point: str, steps: int, kwargs: dict | None = None) -> bool:
    import gymnasium

    if env in gymnasium.registry:
        return False
    gymnasium.register(id=env, entry_point=entry_point, max_episode_steps=steps, kwargs=kwargs or {})
    return True


def register_plant_envs(plant: str, tasks: tuple[str, ...] | None = None) -> list[str]:
    """Register ``bench/<plant>-<task>-v0`` for every arm task (or ``tasks``); returns the ids.

    ``plant`` is a registered plant name (a plugin's included); nothing is
    imported until ``gymnasium.make``.  A name Gymnasium cannot take in an id
    gives one warning and no ids.
    """
    try:
        import gymnasium  # noqa: F401
    except ImportError:  # pragma: no cover - gymnasium is a core dependency
        return []
    if not _NAME.match(plant):
        warnings.warn(f"plant {plant!r}: no Gymnasium ids (a name for an id holds letters, digits, '_', '.', '-')",
                      stacklevel=2)
        return []
    ids = []
    for task in tasks or tuple(ARM_TASKS):
        entry_point, steps = ARM_TASKS[task]
        env = env_id(plant, task)
        _register(env, entry_point, steps, {"plant": plant})
        ids.append(env)
    return ids


def arm_plants() -> list[str]:
    """Every registered plant that provides ``kinematics`` (loads the plugin registry)."""
    from .plugins import registry

    return [s.name for s in registry().specs("plant") if "kinematics" in s.provides]


def register_envs(plugins: bool = False) -> list[str]:
    """Register :data:`ENVS` and every built-in arm × arm task; with ``plugins`` also every registered
    arm plant (which loads the plugin registry).  Idempotent; a no-op without Gymnasium.  Returns the
    arm ids."""
    try:
        import gymnasium  # noqa: F401
    except ImportError:  # pragma: no cover - gymnasium is a core dependency
        return []
    for env, entry_point, steps in ENVS:
        _register(env, entry_point, steps)
    names = list(BUILTIN_ARMS)
    if plugins:
        names += [n for n in arm_plants() if n not in names]
    return [env for name in names for env in register_plant_envs(name)]
