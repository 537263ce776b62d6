"""Cart-pole: Gymnasium's ``CartPole-v1`` physics as a batched model.

Description
    A pole hinged on a cart that moves along a frictionless track (Barto,
    Sutton & Anderson 1983).  Constants, equations, force magnitude, Euler
    integrator and termination bounds are those of Gymnasium's
    ``CartPole-v1``, evaluated in the same order, so a batch stepped here
    equals Gymnasium's float64 state to rounding (tested to 1e-12).  The
    Gymnasium adapter lives in :mod:`bench.plants.envs`.

Action Space
    A horizontal force on the cart ``u = [F]`` in N (any real value), or,
    through :meth:`CartPole.action_force` / :meth:`CartPole.step_action`,
    Gymnasium's discrete actions {0, 1}: ``F = (2a - 1) · force_mag``
    (±10 N by default).

Observation Space
    The state ``[x, x_dot, theta, theta_dot]``: cart position (m), cart
    velocity (m/s), pole angle from upright (rad, positive clockwise as in
    Gymnasium), pole angular velocity (rad/s).

Starting State
    Every state variable uniform in ``(-0.05, 0.05)``.

Episode End
    :meth:`CartPole.terminated`: ``|x| > 2.4`` m or ``|theta| > 12°``
    (0.2095 rad).  The time limit (500 steps) belongs to the environment.

Dynamics
    ``temp = (F + m_p l theta_dot² sin theta) / (m_c + m_p)``;
    ``theta_acc = (g sin theta - cos theta · temp) /
    (l (4/3 - m_p cos² theta / (m_c + m_p)))``;
    ``x_acc = temp - m_p l theta_acc cos theta / (m_c + m_p)``, with
    ``g = 9.8`` m/s², ``m_c = 1.0`` kg, ``m_p = 0.1`` kg, ``l = 0.5`` m (half
    the pole), ``dt = 0.02`` s.  Explicit Euler (Gymnasium's default: positions
    move with the old velocities) or, with ``integrator="semi-implicit"``,
    velocities first.  :meth:`CartPole.jacobians` differentiates these
    expressions exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bench.api import PlantModel
from bench.errors import InvalidArgument
from bench.settings import setting

from .validation import diagnose, input_batch, state_batch

GRAVITY = 9.8
MASS_CART = 1.0
MASS_POLE = 0.1
HALF_LENGTH = 0.5
X_THRESHOLD = 2.4
THETA_THRESHOLD = 12 * 2 * math.pi / 360


@dataclass
class CartPoleSettings:
    dt: float = setting(0.02, "integration step (Gymnasium's tau)", unit="s", gt=0, le=1.0)
    force_mag: float = setting(10.0, "force of a discrete action", unit="N", gt=0)
    integrator: Literal["euler", "semi-implicit"] = setting(
        "euler", "Gymnasium's kinematics_integrator", choices=("euler", "semi-implicit"))


class CartPole(PlantModel):
    """Batched cart-pole; see the module docstring for the equations.

    dt : float, seconds
    force_mag : float, newtons
    """

    Settings = CartPoleSettings
    state_size = 4
    input_size = 1
    n_actions = 2

    def __init__(self, settings: CartPoleSettings | None = None) -> None:
        super().__init__(settings)
        s = self.settings
        self.dt = float(s.dt)  # settings are checked on construction (bench.api.Component)
        self.force_mag = float(s.force_mag)
        self.euler = s.integrator == "euler"
        self.gravity = GRAVITY
        self.masscart = MASS_CART
        self.masspole = MASS_POLE
        self.total_mass = self.masspole + self.masscart
        self.length = HALF_LENGTH
        self.polemass_length = self.masspole * self.length
        self.x_threshold = X_THRESHOLD
        self.theta_threshold = THETA_THRESHOLD
        self._bounds = np.array([self.x_threshold, self.theta_threshold])
        base = np.eye(4)
        base[0, 1] = base[2, 3] = self.dt
        self._base = {np.dtype(t): base.astype(t) for t in (np.float32, np.float64)}

    @property
    def who(self) -> str:
        return self.name or "cartpole"

    def initial_state(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, 4)`` states uniform in ``(-0.05, 0.05)`` (Gymnasium's reset)."""
        return rng.uniform(low=-0.05, high=0.05, size=(int(n), 4))

    # -- actions -----------------------------------------------------------
    def action_force(self, a: np.ndarray, dtype: np.dtype | type = np.float64) -> np.ndarray:
        """``(n, 1)`` forces (N) ``(2a - 1)·force_mag`` for discrete actions ``a`` in {0, 1}.

        ``a`` is ``(n,)`` or ``(n, 1)`` integers (or bools).
        """
        a = np.asarray(a)
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        if a.ndim != 1:
            raise InvalidArgument(f"{self.who}.action_force: a must have shape (n,) or (n, 1), got {a.shape}")
        if a.dtype.kind not in "biu" or (a.dtype.kind != "b" and a.size and (a.min() < 0 or a.max() > 1)):
            raise InvalidArgument(f"{self.who}.action_force: actions must be integers in {{0, 1}}, "
                                  f"got {a[:8].tolist()}")
        force = a * (2.0 * self.force_mag) - self.force_mag   # exactly ±force_mag
        return force.astype(dtype, copy=False)[:, None]

    def step_action(self, x: np.ndarray, a: np.ndarray) -> np.ndarray:
        """``(n, 4)`` next states for discrete actions ``a`` in {0, 1}."""
        x = state_batch(x, 4, f"{self.who}.step_action")
        return self.step(x, self.action_force(a, x.dtype))

    def terminated(self, x: np.ndarray) -> np.ndarray:
        """``(n,)`` bool: the cart left ``±2.4`` m or the pole passed ``±12°``."""
        x = state_batch(x, 4, f"{self.who}.terminated")
        return (np.abs(x[:, 0::2]) > self._bounds).any(axis=1)

    # -- dynamics ----------------------------------------------------------
    def step(self, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``(n, 4)`` next states for ``(n, 1)`` forces (N); Gymnasium's arithmetic, batched."""
        x = state_batch(x, 4, f"{self.who}.step")
        u = input_batch(u, x.shape[0], 1, x.dtype, f"{self.who}.step")
        xt = x.T
        _, x_dot, theta, theta_dot = xt
        force = u[:, 0]
        costheta = np.cos(theta)
        sintheta = np.sin(theta)
        temp = (force + self.polemass_length * (theta_dot * theta_dot) * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * (costheta * costheta) / self.total_mass))
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        out = np.empty_like(x)
        ot = out.T
        dt = self.dt
        if self.euler:
            np.add(xt[0::2], dt * xt[1::2], out=ot[0::2])
            np.add(x_dot, dt * xacc, out=ot[1])
            np.add(theta_dot, dt * thetaacc, out=ot[3])
        else:
            np.add(x_dot, dt * xacc, out=ot[1])
            np.add(theta_dot, dt * thetaacc, out=ot[3])
            np.add(xt[0::2], dt * ot[1::2], out=ot[0::2])
        flat = out.reshape(-1)
        if not np.isfinite(flat @ flat):
            diagnose(f"{self.who}.step", out, x=x, u=u)
        return out

    def jacobians(self, x: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact ``(n, 4, 4)`` d x'/d x and ``(n, 4, 1)`` d x'/d u of :meth:`step`."""
        x = state_batch(x, 4, f"{self.who}.jacobians")
        u = input_batch(u, x.shape[0], 1, x.dtype, f"{self.who}.jacobians")
        n = x.shape[0]
        theta, theta_dot = x[:, 2], x[:, 3]
        c, s = np.cos(theta), np.sin(theta)
        mt, mp, pml, l_, g = self.total_mass, self.masspole, self.polemass_length, self.length, self.gravity
        temp = (u[:, 0] + pml * (theta_dot * theta_dot) * s) / mt
        den = l_ * (4.0 / 3.0 - mp * (c * c) / mt)
        thetaacc = (g * s - c * temp) / den
        # d temp / d(theta, theta_dot, F)
        dt_th = (pml / mt) * (theta_dot * theta_dot) * c
        dt_thd = (2 * pml / mt) * theta_dot * s
        # d theta_acc
        inv_den = 1.0 / den
        da_th = (g * c + s * temp - c * dt_th - thetaacc * (2 * l_ * mp / mt) * c * s) * inv_den
        da_thd = -c * dt_thd * inv_den
        da_f = -c * inv_den / mt
        # d x_acc
        k = pml / mt
        dx_th = dt_th - k * (da_th * c - thetaacc * s)
        dx_thd = dt_thd - k * c * da_thd
        dx_f = 1.0 / mt - k * c * da_f
        dt = self.dt
        a = np.empty((n, 4, 4), dtype=x.dtype)
        a[:] = self._base[x.dtype]
        a[:, 1, 2] = dt * dx_th
        a[:, 1, 3] = dt * dx_thd
        a[:, 3, 2] = dt * da_th
        a[:, 3, 3] += dt * da_thd
        b = np.zeros((n, 4, 1), dtype=x.dtype)
        b[:, 1, 0] = dt * dx_f
        b[:, 3, 0] = dt * da_f
        if not self.euler:  # positions move with the new velocities
            a[:, 0::2] = np.eye(4, dtype=x.dtype)[0::2] + dt * a[:, 1::2]
            b[:, 0::2] = dt * b[:, 1::2]
        if not np.isfinite(a.sum() + b.sum() + x.sum()):
            diagnose(f"{self.who}.jacobians", a, x=x, u=u)
        return a, b
