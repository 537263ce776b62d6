"""Gymnasium environments over the plants: every arm × arm task, and CartPole.

Registered on ``import bench`` (see :mod:`bench.gymenvs`): one id per arm
plant and arm task, ``bench/<plant>-<task>-v0`` (``bench/arm2-reach-v0``,
``bench/arm3-postural-v0``, ``bench/arm1-random_movements-v0``,
``bench/arm2_python_todorov-write-v0``, ...), plus the three first ids
``bench/Arm2Reach-v0``, ``bench/Arm3Reach-v0`` (now on ``arm3_rods``, the
arm it always used) and ``bench/CartPole-v0``::

    import bench, gymnasium
    env = gymnasium.make("bench/arm2-reach-v0", render_mode="rgb_array")
    obs, info = env.reset(seed=0)

The arm environments take their plant by registered name (``plant="arm2"``,
a plugin's plants included), as a class (``arm_class`` of a subclass) or as
a built arm.  Each takes its randomness only from ``self.np_random``
(seeded by ``reset(seed=...)``) and draws with matplotlib's Agg backend for
``render_mode="rgb_array"`` (matplotlib is imported on the first render).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .arm2 import Arm2
from .arm3 import Arm3Rods
from .cartpole import CartPole
from .forcefield import POSTURAL_FORCES, postural_force, with_force_field
from .geometry import (
    along,
    centre_out,
    glyphs,
    into_workspace,
    random_targets,
    start_hand,
    task_geometry,
    write_strokes,
)

RENDER_SIZE = (400, 400)  # pixels (width, height)
#: Default torque limit of an arm without one: this angular acceleration (rad/s²) × the largest
#: diagonal entry of M(start_q) (arm2: 4.8 N·m; studywolf's arm3: 9.7 kN·m).
TORQUE_ACCELERATION = 25.0


class _AggCanvas:
    """A matplotlib figure drawn off-screen (Agg) into an RGB array."""

    def __init__(self, size: tuple[int, int] = RENDER_SIZE, dpi: int = 100) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        self.axes = self.figure.add_axes((0.0, 0.0, 1.0, 1.0))

    def clear(self, xlim: tuple[float, float], ylim: tuple[float, float]):
        ax = self.axes
        ax.clear()
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_aspect("equal")
        ax.set_axis_off()
        return ax

    def rgb(self) -> np.ndarray:
        self.canvas.draw()
        return np.asarray(self.canvas.buffer_rgba())[:, :, :3].copy()


def build_arm(plant: Any, dt: float) -> Any:
    """An arm from a registered plant name, a plant class (built with ``dt`` s if it has that
    setting) or a built arm (kept as it is)."""
    if hasattr(plant, "step") and hasattr(plant, "joint_positions") and not isinstance(plant, type):
        return plant
    name = ""
    factory = plant
    if isinstance(plant, str):
        from bench.plugins import registry

        name = plant
        factory = registry().get("plant", plant).load()
    settings_cls = getattr(factory, "Settings", None)
    if settings_cls is not None and dataclasses.is_dataclass(settings_cls):
        has_dt = "dt" in {f.name for f in dataclasses.fields(settings_cls)}
        arm = factory(settings_cls(dt=float(dt)) if has_dt else settings_cls())
    else:
        arm = factory()
    if not (hasattr(arm, "joint_positions") and hasattr(arm, "n_joints")):
        raise gym.error.Error(f"plant {name or factory!r} is not an arm (no joint_positions / n_joints)")
    arm.name = getattr(arm, "name", "") or name
    return arm


class ArmEnv(gym.Env):
    """What the arm environments share (see each task's environment for its rules).

    Action Space
        ``Box(-1, 1, (U,), float32)``: joint torques as a fraction of
        ``max_torque`` (N·m); actions outside are clipped.

    Observation Space
        ``Box((S + 4,), float32)``: the arm's state (joint angles in rad,
        joint velocities in rad/s, then any other state such as actuator
        torques in N·m; unbounded), the hand position (m) and the target
        position (m).  Positions lie within the arm's reach: the box is
        ``±(summed link lengths)`` and every target is pulled into the
        reachable workspace (:func:`~bench.plants.geometry.into_workspace`),
        so a plugin's arm, however long or bent, passes ``check_env``.

    Rewards
        Minus the hand-target distance (m) after the step.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 50}
    #: The arm of a subclass that names its class (``plant=None``).
    arm_class: type | None = Arm2
    #: Torque limit (N·m) of a subclass; None: ``TORQUE_ACCELERATION`` × the largest start inertia.
    default_max_torque: float | None = None

    def __init__(self, render_mode: str | None = None, *, plant: Any = None, dt: float = 1e-3,
                 frame_skip: int = 10, max_torque: float | None = None, force: float = 0.0) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise gym.error.Error(f"render_mode must be one of {self.metadata['render_modes']} or None, "
                                  f"got {render_mode!r}")
        if int(frame_skip) < 1:
            raise gym.error.Error(f"frame_skip must be >= 1, got {frame_skip!r}")
        self.render_mode = render_mode
        self.arm = build_arm(plant if plant is not None else self.arm_class, dt)
        self.sim = with_force_field(self.arm, force)
        self.geometry = task_geometry(self.arm)
        self.frame_skip = int(frame_skip)
        if max_torque is None:
            max_torque = self.default_max_torque
        if max_torque is None:
            inertia = self.arm.inertia(np.asarray(self.arm.start_q, dtype=float)[None])[0]
            max_torque = TORQUE_ACCELERATION * float(np.max(np.diag(inertia)))
        self.max_torque = float(max_torque)
        self.metadata = {**self.metadata, "render_fps": max(1, round(1.0 / (self.arm.dt * self.frame_skip)))}
        self.nj = int(self.arm.n_joints)
        self.reach = float(np.sum(self.arm.link_lengths))
        self.action_space = spaces.Box(-1.0, 1.0, shape=(int(self.arm.input_size),), dtype=np.float32)
        bound = np.float32(self.reach * (1 + 1e-5))
        low = np.concatenate([np.full(int(self.arm.state_size), -np.inf), np.full(4, -bound)]).astype(np.float32)
        self.observation_space = spaces.Box(low, -low, dtype=np.float32)
        self.start_hand = start_hand(self.arm)
        self.state = self.arm.start_state[None].copy()
        self.target = self.start_hand.copy()
        self.path: list[np.ndarray] = []     # drawn faintly by render() (the write task's strokes)
        self._canvas: _AggCanvas | None = None

    # -- helpers -------------------------------------------------------------
    def _rest_at(self, xy: np.ndarray) -> np.ndarray:
        """``(1, S)`` a resting state with the hand at ``xy``."""
        q = self.arm.inverse_kinematics(np.asarray(xy, float)[None], q0=np.asarray(self.arm.start_q)[None])
        x = np.zeros((1, int(self.arm.state_size)))
        x[0, : self.nj] = q[0]
        return x

    def _hand(self) -> np.ndarray:
        return self.arm.hand(self.state[:, : self.nj])[0]

    def _obs(self) -> np.ndarray:
        return np.concatenate([self.state[0], self._hand(), self.target]).astype(np.float32)

    def _distance(self) -> float:
        return float(np.hypot(*(self._hand() - self.target)))

    def _speed(self) -> float:
        jac = self.arm.hand_jacobian(self.state[:, : self.nj])[0]
        return float(np.linalg.norm(jac @ self.state[0, self.nj: 2 * self.nj]))

    def _advance(self, action: Any, extra: np.ndarray | None = None) -> None:
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(1, -1), -1.0, 1.0)
        if a.shape[1] != self.action_space.shape[0]:
            raise gym.error.InvalidAction(f"action must have shape {self.action_space.shape}, got {np.shape(action)}")
        u = a * self.max_torque
        if extra is not None:
            u = u + extra
        x = self.state
        for _ in range(self.frame_skip):
            x = self.sim.step(x, u)
        self.state = x

    # -- rendering -----------------------------------------------------------
    def render(self):
        if self.render_mode != "rgb_array":
            gym.logger.warn("render() needs render_mode='rgb_array'; returning None")
            return None
        if self._canvas is None:
            self._canvas = _AggCanvas()
        reach = self.reach * 1.05
        ax = self._canvas.clear((-reach, reach), (-reach, reach))
        for stroke in self.path:
            ax.plot(stroke[:, 0], stroke[:, 1], color="0.75", lw=2)
        pts = self.arm.joint_positions(self.state[:, : self.nj])[0]
        ax.plot(pts[:, 0], pts[:, 1], "-o", color="tab:blue", lw=4, ms=8)
        ax.plot(*self.target, "x", color="tab:red", ms=14, mew=3)
        ax.plot(0, 0, "s", color="black", ms=10)
        return self._canvas.rgb()

    def close(self) -> None:
        self._canvas = None


class ArmReachEnv(ArmEnv):
    """Reaching with a planar arm (the ``reach`` task, one target per episode).

    Description
        The arm starts at rest in its start posture; a target is drawn on a
        circle around the arm's centre (its :func:`task_geometry
        <bench.plants.geometry.task_geometry>`: studywolf's (0, 0.35) m and
        0.075 m for two links, (0, 2) m and 0.4 m for three) and pulled
        into the workspace.  The agent applies joint torques for
        ``frame_skip`` model steps of ``dt`` per environment step; ``force``
        adds studywolf's velocity-dependent joint force field.
        ``Arm2ReachEnv`` and ``Arm3ReachEnv`` keep the first ids' rule: a
        circle of radius (summed link lengths) / 8 around the start hand,
        tolerance 0.01 m.

    Action Space
        ``Box(-1, 1, (U,), float32)``: joint torques as a fraction of
        ``max_torque`` (N·m); actions outside are clipped.

    Observation Space
        ``Box((S + 4,), float32)``: the arm's state (rad, rad/s, ...), hand
        position (m), target position (m); positions within the arm's reach.

    Rewards
        Minus the hand-target distance (m) after the step.

    Starting State
        Start posture at rest; target angle uniform in [0, 2π) from
        ``self.np_random``.  ``reset(options={"target": (x, y)})`` fixes the
        target instead (an unreachable one raises OutOfReach).

    Episode End
        Termination: the hand is within ``tolerance`` (m; default the arm's
        threshold) of the target and moves slower than ``tolerance`` per
        second.  Truncation: 200 steps (2 s with the defaults), set by the
        registration.
    """

    #: Targets on a circle of (summed link lengths) / 8 around the start hand, tolerance 0.01 m (first ids).
    around_start: bool = False

    def __init__(self, render_mode: str | None = None, *, plant: Any = None, dt: float = 1e-3,
                 frame_skip: int = 10, max_torque: float | None = None, force: float = 0.0,
                 tolerance: float | None = None, radius: float | None = None,
                 centre: tuple[float, float] | None = None) -> None:
        super().__init__(render_mode, plant=plant, dt=dt, frame_skip=frame_skip, max_torque=max_torque, force=force)
        if self.around_start:
            default_centre, default_radius, default_tol = self.start_hand, self.reach / 8, 0.01
        else:
            default_centre, default_radius, default_tol = (np.asarray(self.geometry.centre), self.geometry.radius,
                                                           self.geometry.threshold)
        self.centre = np.asarray(centre if centre is not None else default_centre, dtype=float)
        self.radius = float(radius if radius is not None else default_radius)
        self.tolerance = float(tolerance if tolerance is not None else default_tol)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.state = self.arm.start_state[None].copy()
        if options and "target" in options:
            target = np.asarray(options["target"], dtype=np.float64).reshape(2)
            self.arm.inverse_kinematics(target[None])  # raises OutOfReach for an unreachable target
            self.target = target
        else:
            angle = self.np_random.uniform(0.0, 2 * np.pi)
            point = self.centre + self.radius * np.array([np.cos(angle), np.sin(angle)])
            self.target = into_workspace(self.arm, point[None])[0]
        return self._obs(), {"distance": self._distance()}

    def step(self, action):
        self._advance(action)
        distance = self._distance()
        terminated = distance <= self.tolerance and self._speed() <= self.tolerance
        return self._obs(), -distance, terminated, False, {"distance": distance}


class Arm2ReachEnv(ArmReachEnv):
    __doc__ = (ArmReachEnv.__doc__ or "").replace(
        "Reaching with a planar arm (the ``reach`` task, one target per episode).",
        "Reaching with the two-link arm :class:`bench.plants.arm2.Arm2` (``max_torque`` 5 N·m; first id).")
    arm_class = Arm2
    default_max_torque = 5.0
    around_start = True


class Arm3ReachEnv(ArmReachEnv):
    __doc__ = (ArmReachEnv.__doc__ or "").replace(
        "Reaching with a planar arm (the ``reach`` task, one target per episode).",
        "Reaching with the three-rod arm :class:`bench.plants.arm3.Arm3Rods` (``max_torque`` 200 N·m; first id).")
    arm_class = Arm3Rods
    default_max_torque = 200.0
    around_start = True


class ArmPosturalEnv(ArmEnv):
    """Holding a target against a constant push (the ``postural`` task, one target per episode).

    Description
        The arm starts at rest with its hand on one of the eight centre-out
        targets of its task geometry; a constant joint torque (one of
        studywolf's eight directions × the arm's postural force, N·m) pushes
        on it for the whole episode while the agent holds the hand there.

    Action Space
        ``Box(-1, 1, (U,), float32)``: joint torques as a fraction of
        ``max_torque`` (N·m), added to the push; actions outside are clipped.

    Observation Space
        ``Box((S + 4,), float32)``: the arm's state, hand position (m), target
        position (m); the push is not observed.

    Rewards
        Minus the hand-target distance (m) after the step.

    Starting State
        Target and push direction each uniform over the eight from
        ``self.np_random``; ``reset(options={"target": k, "push": j})`` picks
        them (0-7).

    Episode End
        No termination; truncation after 200 steps (2 s, studywolf's hold
        time, with the defaults), set by the registration.
    """

    def __init__(self, render_mode: str | None = None, *, plant: Any = None, dt: float = 1e-3,
                 frame_skip: int = 10, max_torque: float | None = None, force: float = 0.0,
                 perturbation_scale: float | None = None) -> None:
        super().__init__(render_mode, plant=plant, dt=dt, frame_skip=frame_skip, max_torque=max_torque, force=force)
        self.targets = into_workspace(self.arm, centre_out(self.geometry.centre, self.geometry.radius, 8))
        self.perturbation_scale = float(perturbation_scale if perturbation_scale is not None
                                        else self.geometry.postural_force)
        self.push = np.zeros((1, int(self.arm.input_size)))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        k = int(options["target"]) if "target" in options else int(self.np_random.integers(len(self.targets)))
        j = int(options["push"]) if "push" in options else int(self.np_random.integers(len(POSTURAL_FORCES)))
        self.target = self.targets[k % len(self.targets)]
        self.push = postural_force(self.nj, j, self.perturbation_scale)[None, :]
        self.state = self._rest_at(self.target)
        return self._obs(), {"distance": self._distance()}

    def step(self, action):
        self._advance(action, self.push)
        distance = self._distance()
        return self._obs(), -distance, False, False, {"distance": distance}


class ArmRandomMovementsEnv(ArmEnv):
    """Chasing random targets (the ``random_movements`` task).

    Description
        The arm starts at rest in its start posture; every ``period``
        seconds (studywolf: 1 s) the target jumps to a new point drawn
        uniformly in ``box`` (default ``[0, 0.75 L]²`` m, L the summed link
        lengths) within the reachable workspace.

    Action Space
        ``Box(-1, 1, (U,), float32)``: joint torques as a fraction of
        ``max_torque`` (N·m); actions outside are clipped.

    Observation Space
        ``Box((S + 4,), float32)``: the arm's state, hand position (m), target
        position (m).

    Rewards
        Minus the hand-target distance (m) after the step.

    Starting State
        Start posture at rest; every target from ``self.np_random``.

    Episode End
        No termination; truncation after 500 steps (five targets with the
        defaults), set by the registration.
    """

    def __init__(self, render_mode: str | None = None, *, plant: Any = None, dt: float = 1e-3,
                 frame_skip: int = 10, max_torque: float | None = None, force: float = 0.0,
                 period: float = 1.0, box: tuple[float, float, float, float] | None = None) -> None:
        super().__init__(render_mode, plant=plant, dt=dt, frame_skip=frame_skip, max_torque=max_torque, force=force)
        self.period_steps = max(1, round(float(period) / (self.arm.dt * self.frame_skip)))
        self.box = tuple(box) if box is not None else (0.0, 0.75 * self.reach, 0.0, 0.75 * self.reach)
        self._count = 0

    def _draw(self) -> np.ndarray:
        return random_targets(self.arm, self.np_random, 1, self.box)[0]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.state = self.arm.start_state[None].copy()
        self.target = self._draw()
        self._count = 0
        return self._obs(), {"distance": self._distance()}

    def step(self, action):
        self._advance(action)
        distance = self._distance()
        self._count += 1
        if self._count % self.period_steps == 0:   # the next step chases a new target
            self.target = self._draw()
        return self._obs(), -distance, False, False, {"distance": distance}


class ArmWriteEnv(ArmEnv):
    """Tracing letters and digits (the ``write`` task, one text per episode).

    Description
        The strokes of ``text`` (default: one character drawn at random
        from the shipped glyphs) are laid out in the arm's writing box.  The
        arm starts at rest at the first stroke's start; the target slides
        along each stroke in ``stroke_time`` seconds and jumps to the next
        stroke's start when one ends.

    Action Space
        ``Box(-1, 1, (U,), float32)``: joint torques as a fraction of
        ``max_torque`` (N·m); actions outside are clipped.

    Observation Space
        ``Box((S + 4,), float32)``: the arm's state, hand position (m),
        target position (m): the point of the path to be at now.

    Rewards
        Minus the hand-target distance (m) after the step.

    Starting State
        At rest at the first stroke's start; the character from
        ``self.np_random`` unless ``text`` is given or
        ``reset(options={"text": "..."})`` names one.

    Episode End
        Termination: the step that aimed at the last point of the last
        stroke (the observed target is always the point of the coming step).
        Truncation: 1000 steps, set by the registration.
    """

    def __init__(self, render_mode: str | None = None, *, plant: Any = None, dt: float = 1e-3,
                 frame_skip: int = 10, max_torque: float | None = None, force: float = 0.0,
                 text: str | None = None, stroke_time: float = 1.0,
                 box: tuple[float, float, float, float] | None = None) -> None:
        super().__init__(render_mode, plant=plant, dt=dt, frame_skip=frame_skip, max_torque=max_torque, force=force)
        self.text = text
        self.stroke_steps = max(1, round(float(stroke_time) / (self.arm.dt * self.frame_skip)))
        self.box = tuple(box) if box is not None else self.geometry.writebox
        self._ref = np.zeros((1, 2))
        self._i = 0
        if text is not None:
            write_strokes(text, self.box)  # an unknown character fails here, not at reset

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        text = (options or {}).get("text", self.text)
        if text is None:
            chars = glyphs()
            text = chars[int(self.np_random.integers(len(chars)))]
        self.path = [into_workspace(self.arm, s) for s in write_strokes(str(text), self.box)]
        fractions = np.arange(1, self.stroke_steps + 1) / self.stroke_steps
        self._ref = np.concatenate([along(s, fractions) for s in self.path])
        self._i = 0
        self.state = self._rest_at(self.path[0][0])
        self.target = self._ref[0]
        return self._obs(), {"distance": self._distance(), "text": str(text)}

    def step(self, action):
        self._advance(action)
        distance = self._distance()
        self._i += 1
        terminated = self._i >= len(self._ref)
        if not terminated:
            self.target = self._ref[self._i]
        return self._obs(), -distance, terminated, False, {"distance": distance}


class CartPoleEnv(gym.Env):
    """Gymnasium's CartPole-v1 on :class:`bench.plants.cartpole.CartPole`.

    Description
        Balance a pole on a cart by pushing the cart left or right.  Same
        physics, start distribution, reward and bounds as Gymnasium's
        ``CartPole-v1``: with the same seed and actions the observations are
        identical.

    Action Space
        ``Discrete(2)``: 0 pushes left, 1 pushes right, with ``force_mag``
        (10 N).  With ``continuous=True``: ``Box(-1, 1, (1,), float32)``, the
        force as a fraction of ``force_mag`` (clipped).

    Observation Space
        ``Box((4,), float32)``: cart position (m, ±4.8), cart velocity (m/s),
        pole angle (rad, ±0.418), pole angular velocity (rad/s).

    Rewards
        +1 for every step, including the terminating one; 0 after that.

    Starting State
        Every state variable uniform in (-0.05, 0.05) from ``self.np_random``.

    Episode End
        Termination: ``|x| > 2.4`` m or ``|theta| > 12°``.  Truncation: 500
        steps, set by the registration.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, render_mode: str | None = None, *, continuous: bool = False) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise gym.error.Error(f"render_mode must be one of {self.metadata['render_modes']} or None, "
                                  f"got {render_mode!r}")
        self.render_mode = render_mode
        self.plant = CartPole()
        self.continuous = bool(continuous)
        if self.continuous:
            self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        else:
            self.action_space = spaces.Discrete(2)
        high = np.array([self.plant.x_threshold * 2, np.inf, self.plant.theta_threshold * 2, np.inf],
                        dtype=np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        self.state = np.zeros((1, 4))
        self._terminated_before = False
        self._canvas: _AggCanvas | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.state = self.np_random.uniform(low=-0.05, high=0.05, size=(4,))[None]
        self._terminated_before = False
        return self.state[0].astype(np.float32), {}

    def step(self, action):
        if self.continuous:
            f = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1.0, 1.0))
            u = np.array([[f * self.plant.force_mag]])
        else:
            if not self.action_space.contains(action):
                raise gym.error.InvalidAction(f"action must be 0 or 1, got {action!r}")
            u = self.plant.action_force(np.array([int(action)]))
        self.state = self.plant.step(self.state, u)
        terminated = bool(self.plant.terminated(self.state)[0])
        reward = 0.0 if self._terminated_before else 1.0
        self._terminated_before = self._terminated_before or terminated
        return self.state[0].astype(np.float32), reward, terminated, False, {}

    def render(self):
        if self.render_mode != "rgb_array":
            gym.logger.warn("render() needs render_mode='rgb_array'; returning None")
            return None
        if self._canvas is None:
            self._canvas = _AggCanvas(size=(600, 400))
        p = self.plant
        ax = self._canvas.clear((-p.x_threshold * 1.2, p.x_threshold * 1.2), (-0.8, 1.6))
        x, _, theta, _ = self.state[0]
        ax.axhline(0.0, color="black", lw=1)
        ax.add_patch(_rectangle((x - 0.25, -0.075), 0.5, 0.15))
        tip = (x + 2 * p.length * np.sin(theta), 2 * p.length * np.cos(theta))
        ax.plot([x, tip[0]], [0.0, tip[1]], color="tab:brown", lw=6, solid_capstyle="round")
        ax.plot(x, 0.0, "o", color="tab:purple", ms=8)
        return self._canvas.rgb()

    def close(self) -> None:
        self._canvas = None


def _rectangle(xy: tuple[float, float], width: float, height: float):
    from matplotlib.patches import Rectangle

    return Rectangle(xy, width, height, color="black")
