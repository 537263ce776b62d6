"""What the planar arms share: argument checks, serial-chain kinematics,
damped-least-squares inverse kinematics and energy.

Conventions (all arms)
    Joint ``i`` turns link ``i`` relative to link ``i-1``; the absolute angle
    of link ``i`` is ``phi_i = q_0 + ... + q_i`` (rad, counter-clockwise from
    +x).  The base joint sits at the origin; positions are in metres.

Integrator (all arms)
    Semi-implicit Euler with step ``dt`` (s): ``dq' = dq + dt·ddq(q, dq, u)``
    then ``q' = q + dt·dq'``.  Hence, with ``G = d ddq / d[x, u]``::

        d dq' / d[x, u] = [0, I, 0] + dt·G
        d q'  / d[x, u] = [I, 0, 0] + dt·(d dq' / d[x, u])

    which each arm's ``jacobians`` folds into constant tables.
"""

from __future__ import annotations

import numpy as np

from bench.api import ArmModel
from bench.errors import InvalidArgument, OutOfReach

from .validation import diagnose, input_batch, require_finite, state_batch


class PlanarArm(ArmModel):
    """A planar serial arm with ``n_joints`` revolute joints.

    Subclasses set ``n_joints``, ``link_lengths`` (m), ``start_q`` (rad),
    ``dt`` (s) and implement ``step``, ``jacobians``, ``inertia``,
    ``bias_torques`` and ``potential_energy``.
    """

    # -- argument checks ---------------------------------------------------
    def _batch(self, x: object, u: object, what: str) -> tuple[np.ndarray, np.ndarray]:
        """``x`` ``(n, S)`` float and ``u`` ``(n, U)`` of the same dtype."""
        who = f"{self.name or type(self).__name__.lower()}.{what}"
        x = state_batch(x, self.state_size, who)
        u = input_batch(u, x.shape[0], self.input_size, x.dtype, who)
        return x, u

    def _angles(self, q: object, what: str, name: str = "q") -> np.ndarray:
        """``q`` checked to be a finite ``(n, J)`` float batch."""
        who = f"{self.name or type(self).__name__.lower()}.{what}"
        q = state_batch(q, self.n_joints, who, name)
        require_finite(q, name, who)
        return q

    def _finish(self, out: np.ndarray, what: str, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``out`` if finite; otherwise blame ``x``, ``u`` or the simulation."""
        flat = out.reshape(-1)
        if not np.isfinite(flat @ flat):  # one cheap reduction; NaN / inf (or overflow) -> look closer
            diagnose(f"{self.name or type(self).__name__.lower()}.{what}", out, x=x, u=u)
        return out

    # -- kinematics --------------------------------------------------------
    def joint_positions(self, q: np.ndarray) -> np.ndarray:
        """``(n, J+1, 2)`` positions (m) of the base, every joint and the hand."""
        q = self._angles(q, "joint_positions")
        phi = np.cumsum(q, axis=1)
        out = np.zeros((q.shape[0], self.n_joints + 1, 2), dtype=q.dtype)
        lengths = self.link_lengths.astype(q.dtype)
        np.cumsum(lengths * np.cos(phi), axis=1, out=out[:, 1:, 0])
        np.cumsum(lengths * np.sin(phi), axis=1, out=out[:, 1:, 1])
        return out

    def hand(self, q: np.ndarray) -> np.ndarray:
        """``(n, 2)`` hand position (m)."""
        return self.joint_positions(q)[:, -1, :]

    def hand_jacobian(self, q: np.ndarray) -> np.ndarray:
        """``(n, 2, J)`` d hand / d q (m/rad): column k sums the links from k outwards."""
        q = self._angles(q, "hand_jacobian")
        phi = np.cumsum(q, axis=1)
        lengths = self.link_lengths.astype(q.dtype)
        jac = np.empty((q.shape[0], 2, self.n_joints), dtype=q.dtype)
        jac[:, 0, :] = -np.cumsum((lengths * np.sin(phi))[:, ::-1], axis=1)[:, ::-1]
        jac[:, 1, :] = np.cumsum((lengths * np.cos(phi))[:, ::-1], axis=1)[:, ::-1]
        return jac

    @property
    def reach(self) -> tuple[float, float]:
        """``(inner, outer)`` radii (m) of the annulus the hand can reach."""
        lengths = np.asarray(self.link_lengths, dtype=float)
        outer = float(lengths.sum())
        inner = max(0.0, float(2 * lengths.max() - outer))
        return inner, outer

    def _targets(self, xy: object, what: str) -> tuple[np.ndarray, np.dtype]:
        """``xy`` checked to be finite ``(n, 2)`` targets inside the reachable annulus,
        as float64, and the dtype the answer should have (that of ``xy``)."""
        who = f"{self.name or type(self).__name__.lower()}.{what}"
        xy = state_batch(xy, 2, who, "xy")
        dtype = xy.dtype
        xy = xy.astype(np.float64)
        require_finite(xy, "xy", who)
        r = np.hypot(xy[:, 0], xy[:, 1])
        inner, outer = self.reach
        bad = (r > outer * (1 + 1e-12)) | (r < inner * (1 - 1e-12))
        if bad.any():
            i = int(np.argmax(bad))
            raise OutOfReach(f"{who}: target {i} at {xy[i].tolist()} is {r[i]:.4f} m from the base; "
                             f"reachable distances are [{inner:.3f}, {outer:.3f}] m")
        return xy, dtype

    def inverse_kinematics(self, xy: np.ndarray, q0: np.ndarray | None = None, *,
                           tol: float = 1e-10, max_iter: int = 500, damping: float = 1e-3) -> np.ndarray:
        """``(n, J)`` angles putting the hand at ``xy`` by damped least squares.

        Iterates ``dq = Jᵀ (J Jᵀ + λ² I)⁻¹ e`` from ``q0`` (default: the start
        posture), ``λ`` = ``damping`` × total length (m), until every hand is
        within ``tol`` metres of its target.  Raises
        :class:`~bench.errors.OutOfReach` for a target outside the reachable
        annulus, or one the iteration cannot reach in ``max_iter`` steps.
        """
        who = f"{self.name or type(self).__name__.lower()}.inverse_kinematics"
        xy, dtype = self._targets(xy, "inverse_kinematics")
        n = xy.shape[0]
        if q0 is None:
            q = np.tile(np.asarray(self.start_q, dtype=np.float64), (n, 1))
        else:
            q = state_batch(q0, self.n_joints, who, "q0").astype(np.float64)
            if q.shape[0] != n:
                raise InvalidArgument(f"{who}: q0 must have shape ({n}, {self.n_joints}) to match xy, got {q.shape}")
            require_finite(q, "q0", who)
            q = q.copy()
        lam2 = (damping * float(np.sum(self.link_lengths))) ** 2
        eye = np.eye(2)
        for _ in range(max_iter):
            err = xy - self.hand(q)
            dist = np.hypot(err[:, 0], err[:, 1])
            if dist.max() <= tol:
                return q.astype(dtype, copy=False)
            jac = self.hand_jacobian(q)
            gram = jac @ np.swapaxes(jac, 1, 2) + lam2 * eye
            step = np.swapaxes(jac, 1, 2) @ np.linalg.solve(gram, err[:, :, None])
            q += step[:, :, 0]
        i = int(np.argmax(dist))
        raise OutOfReach(f"{who}: target {i} at {xy[i].tolist()} not reached within {tol:g} m after {max_iter} "
                         f"iterations (closest {dist[i]:.3g} m); it may sit on the workspace boundary")

    # -- energy ------------------------------------------------------------
    def kinetic_energy(self, x: np.ndarray) -> np.ndarray:
        """``(n,)`` kinetic energy (J) ``½ dqᵀ M(q) dq``."""
        x = state_batch(x, self.state_size, f"{self.name or type(self).__name__.lower()}.kinetic_energy")
        nj = self.n_joints
        q, dq = x[:, :nj], x[:, nj:2 * nj]
        return 0.5 * np.einsum("ni,nij,nj->n", dq, self.inertia(q), dq)

    def potential_energy(self, q: np.ndarray) -> np.ndarray:
        """``(n,)`` potential energy (J); zero for an arm without gravity."""
        return np.zeros(np.shape(q)[0])

    def energy(self, x: np.ndarray) -> np.ndarray:
        """``(n,)`` total mechanical energy (J)."""
        x = np.asarray(x)
        return self.kinetic_energy(x) + self.potential_energy(x[:, : self.n_joints])


class TwoLinkArm(PlanarArm):
    """A planar two-link arm (``l1``, ``l2`` in metres): studywolf's start posture and closed-form inverse
    kinematics, shared by ``arm2`` and ``arm2_python_todorov``."""

    n_joints = 2
    #: studywolf's two-link start posture (rad)
    START_Q = (0.75613, 1.8553)
    l1: float
    l2: float

    def inverse_kinematics(self, xy: np.ndarray, q0: np.ndarray | None = None) -> np.ndarray:
        """Closed form, elbow convention ``0 <= q1 <= pi`` (the start posture's branch).

        ``q0`` is accepted for interface compatibility and ignored.
        Raises :class:`~bench.errors.OutOfReach` outside ``|l1 - l2| <= r <= l1 + l2``.
        """
        xy, dtype = self._targets(xy, "inverse_kinematics")
        r2 = np.sum(xy**2, axis=1)
        c = (r2 - self.l1**2 - self.l2**2) / (2 * self.l1 * self.l2)
        q1 = np.arccos(np.clip(c, -1.0, 1.0))
        q0 = np.arctan2(xy[:, 1], xy[:, 0]) - np.arctan2(self.l2 * np.sin(q1), self.l1 + self.l2 * np.cos(q1))
        return np.stack([q0, q1], axis=1).astype(dtype, copy=False)
