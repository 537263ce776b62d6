"""Gymnasium environments over the built-in plants.

Registered on ``import bench`` (see :mod:`bench.gymenvs`) as
``bench/Arm2Reach-v0``, ``bench/Arm3Reach-v0`` and ``bench/CartPole-v0``::

    import bench, gymnasium
    env = gymnasium.make("bench/Arm2Reach-v0", render_mode="rgb_array")
    obs, info = env.reset(seed=0)

Every environment takes its randomness only from ``self.np_random`` (seeded
by ``reset(seed=...)``) and draws with matplotlib's Agg backend for
``render_mode="rgb_array"`` (matplotlib is imported on the first render).
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .arm2 import Arm2
from .arm3 import Arm3
from .cartpole import CartPole

RENDER_SIZE = (400, 400)  # pixels (width, height)


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


class ArmReachEnv(gym.Env):
    """Reaching with a planar arm (base class of the two arm environments).

    Description
        The arm starts at rest in its start posture; a target is drawn on a
        circle of radius (sum of link lengths) / 8 around the start hand
        position, as in the ``reach`` task.  The agent applies joint torques
        for ``frame_skip`` model steps of ``dt`` per environment step.

    Action Space
        ``Box(-1, 1, (J,), float32)``: joint torques as a fraction of
        ``max_torque`` (N·m); actions outside are clipped.

    Observation Space
        ``Box((3J + 4,), float32)``: joint angles (rad), joint velocities
        (rad/s), hand position (m), target position (m).  Angles and
        velocities are unbounded; positions lie within the arm's reach.

    Rewards
        Minus the hand-target distance (m) after the step.

    Starting State
        Start posture at rest; target angle uniform in [0, 2π) from
        ``self.np_random``.  ``reset(options={"target": (x, y)})`` fixes the
        target instead.

    Episode End
        Termination: the hand is within ``tolerance`` (m) of the target and
        moves slower than ``tolerance`` per second.  Truncation: 200 steps
        (2 s with the defaults), set by the registration.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 50}
    arm_class: type = Arm2
    default_max_torque: float = 5.0

    def __init__(self, render_mode: str | None = None, *, dt: float = 1e-3, frame_skip: int = 10,
                 max_torque: float | None = None, tolerance: float = 0.01) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise gym.error.Error(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        if int(frame_skip) < 1:
            raise gym.error.Error(f"frame_skip must be >= 1, got {frame_skip!r}")
        self.render_mode = render_mode
        self.arm = self.arm_class(self.arm_class.Settings(dt=dt))
        self.frame_skip = int(frame_skip)
        self.max_torque = float(max_torque if max_torque is not None else self.default_max_torque)
        self.tolerance = float(tolerance)
        self.metadata = {**self.metadata, "render_fps": round(1.0 / (self.arm.dt * self.frame_skip))}
        nj = self.arm.n_joints
        reach = float(np.sum(self.arm.link_lengths))
        self.radius = reach / 8
        self.action_space = spaces.Box(-1.0, 1.0, shape=(nj,), dtype=np.float32)
        low = np.concatenate([np.full(2 * nj, -np.inf), np.full(4, -reach)]).astype(np.float32)
        self.observation_space = spaces.Box(low, -low, dtype=np.float32)
        self.start_hand = self.arm.hand(self.arm.start_q[None])[0]
        self.state = self.arm.start_state[None].copy()
        self.target = self.start_hand.copy()
        self._canvas: _AggCanvas | None = None

    def _obs(self) -> np.ndarray:
        hand = self.arm.hand(self.state[:, : self.arm.n_joints])[0]
        return np.concatenate([self.state[0], hand, self.target]).astype(np.float32)

    def _distance(self) -> float:
        hand = self.arm.hand(self.state[:, : self.arm.n_joints])[0]
        return float(np.hypot(*(hand - self.target)))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.state = self.arm.start_state[None].copy()
        if options and "target" in options:
            target = np.asarray(options["target"], dtype=np.float64).reshape(2)
            self.arm.inverse_kinematics(target[None])  # raises OutOfReach for an unreachable target
            self.target = target
        else:
            angle = self.np_random.uniform(0.0, 2 * np.pi)
            self.target = self.start_hand + self.radius * np.array([np.cos(angle), np.sin(angle)])
        return self._obs(), {"distance": self._distance()}

    def step(self, action):
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(1, self.arm.n_joints), -1.0, 1.0)
        u = a * self.max_torque
        x = self.state
        for _ in range(self.frame_skip):
            x = self.arm.step(x, u)
        self.state = x
        distance = self._distance()
        jac = self.arm.hand_jacobian(x[:, : self.arm.n_joints])[0]
        speed = float(np.linalg.norm(jac @ x[0, self.arm.n_joints:]))
        terminated = distance <= self.tolerance and speed <= self.tolerance
        return self._obs(), -distance, terminated, False, {"distance": distance}

    def render(self):
        if self.render_mode != "rgb_array":
            gym.logger.warn("render() needs render_mode='rgb_array'; returning None")
            return None
        if self._canvas is None:
            self._canvas = _AggCanvas()
        reach = float(np.sum(self.arm.link_lengths)) * 1.05
        ax = self._canvas.clear((-reach, reach), (-reach, reach))
        pts = self.arm.joint_positions(self.state[:, : self.arm.n_joints])[0]
        ax.plot(pts[:, 0], pts[:, 1], "-o", color="tab:blue", lw=4, ms=8)
        ax.plot(*self.target, "x", color="tab:red", ms=14, mew=3)
        ax.plot(0, 0, "s", color="black", ms=10)
        return self._canvas.rgb()

    def close(self) -> None:
        self._canvas = None


class Arm2ReachEnv(ArmReachEnv):
    __doc__ = (ArmReachEnv.__doc__ or "").replace(
        "Reaching with a planar arm (base class of the two arm environments).",
        "Reaching with the two-link arm :class:`bench.plants.arm2.Arm2` (``max_torque`` 5 N·m).")
    arm_class = Arm2
    default_max_torque = 5.0


class Arm3ReachEnv(ArmReachEnv):
    __doc__ = (ArmReachEnv.__doc__ or "").replace(
        "Reaching with a planar arm (base class of the two arm environments).",
        "Reaching with the three-link arm :class:`bench.plants.arm3.Arm3` (``max_torque`` 200 N·m).")
    arm_class = Arm3
    default_max_torque = 200.0


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
            raise gym.error.Error(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
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
