"""Three-link planar arms: studywolf's ``arm3`` and the light-rod ``arm3_rods``.

Description
    Three rigid links joined by revolute joints, the first at the origin;
    torque-driven.  By default the arm moves in a horizontal plane (no
    gravity) without joint friction; ``gravity`` (m/s², pulling towards -y)
    and viscous joint ``damping`` (N·m·s/rad) can be switched on.  This
    module is the model (kinematics, dynamics, exact Jacobians of the step);
    the Gymnasium adapters live in :mod:`bench.plants.envs`.

Body parameters
    Both arms have links ``l`` = (2.0, 1.2, 0.7) m with each centre of mass
    half-way along its link (``r_i = l_i / 2``).

    ``arm3`` (:class:`Arm3`), studywolf/control's ``arms/three_link/arm.py``:
    masses ``m_i`` = 10 kg and moments of inertia about the centres of mass
    ``izz_i`` = 100 kg·m², start posture ``q = [π/5.5, π/1.7, π/6]`` rad (hand
    near (0.10, 2.01) m).  studywolf's MapleSim variants are settings:
    ``gravity=9.81`` (``arm3link_gravity``), ``damping=1.0``
    (``arm3link_damping``: 1 N·m·s/rad per joint), both
    (``arm3link_gravity_damping``), and ``mass_scale=0.001``
    (``arm3linksmallmass``: every mass and inertia × 0.001).

    ``arm3_rods`` (:class:`Arm3Rods`), the arm ctrlbench shipped as ``arm3``
    before: uniform slender rods with masses ``m_i`` (default (2.0, 1.2, 0.7)
    kg: 1 kg per metre of link) and ``I_i = m_i l_i² / 12``; start posture
    ``q = [0.5, 1.7, 0.8]`` rad (hand at about (0.36, 2.03) m).

Action Space
    Joint torques ``u = [u0, u1, u2]`` in N·m.

Observation Space
    The state ``[q0, q1, q2, dq0, dq1, dq2]``: relative joint angles (rad)
    then joint velocities (rad/s).

Starting State
    The arm's start posture (above) at rest, ``dq = 0``.

Dynamics (Lagrangian, derived in absolute link angles)
    With ``phi_i = q_0 + … + q_i``, ``w = dphi/dt``, ``M_i = Σ_{k>i} m_k``,
    ``b_i = m_i r_i + l_i M_i``, ``a_ii = I_i + m_i r_i² + l_i² M_i`` and
    ``a_ij = a_ji = l_i b_j`` (i < j), the kinetic energy is
    ``T = ½ Σ_ij a_ij cos(phi_i - phi_j) w_i w_j`` and the potential energy
    ``V = g Σ_i b_i sin phi_i``.  Lagrange's equations give::

        Q(phi) dw/dt + c(phi, w) + gv(phi) = tau_phi
        Q_ij = a_ij cos(phi_i - phi_j),  c_i = Σ_j a_ij sin(phi_i - phi_j) w_j²,
        gv_i = g b_i cos phi_i,  tau_phi_i = tau_i - tau_{i+1},  tau = u - damping·dq

    In joint coordinates (``phi = L q`` with L lower-triangular ones) this is
    ``M(q) ddq + h(q, dq) = u`` with ``M = Lᵀ Q L`` and
    ``h = Lᵀ (c + gv) + damping·dq``.  Integrated by semi-implicit Euler
    (:mod:`bench.plants.planar`).  studywolf's own simulation is a MapleSim
    export (explicit Euler at 10 µs) whose compiled bodies differ from the
    parameters its controllers use; here model and simulation are one.

Jacobians
    Differentiating ``Q dw/dt = r`` with ``P_ij = a_ij sin(phi_i - phi_j)``:
    ``Q d(dw/dt)/dphi = R - diag(R 1) + diag(g b sin phi)`` where
    ``R_ik = Q_ik w_k² - P_ik (dw/dt)_k``; ``dr/dw = -2 P diag(w)``;
    ``dr/du = L⁻ᵀ``; ``dr/d dq = -damping L⁻ᵀ``; then ``ddq = L⁻¹ dw/dt``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from bench.settings import setting

from .geometry import THREE_LINK
from .planar import PlanarArm
from .validation import diagnose

LINK_LENGTHS = (2.0, 1.2, 0.7)
#: studywolf's start posture of its three-link arm (rad).
START_Q = (math.pi / 5.5, math.pi / 1.7, math.pi / 6)
#: The start posture of ``arm3_rods`` (rad).
RODS_START_Q = (0.5, 1.7, 0.8)

# Entry (i, j) of a 3x3 matrix of link pairs -> row of [diag, (0,1), (0,2), (1,2)] / its sign.
_PAIR = np.array([[0, 1, 2], [1, 0, 3], [2, 3, 0]])
_PAIR_SIGN = np.array([[0.0, -1.0, -1.0], [1.0, 0.0, -1.0], [1.0, 1.0, 0.0]])  # sin(phi_i - phi_j)
# Cofactor (i, j) of a symmetric 3x3 matrix in flat indices: f[A] f[B] - f[C] f[D]
_COF = np.array([[[4, 8, 5, 5], [5, 6, 3, 8], [3, 7, 4, 6]],
                 [[5, 6, 3, 8], [0, 8, 2, 6], [2, 3, 0, 5]],
                 [[3, 7, 4, 6], [2, 3, 0, 5], [0, 4, 1, 3]]])
# L⁻ᵀ: joint torques -> torques on the absolute angles
_D = np.array([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0], [0.0, 0.0, 1.0]])
_DIAG = np.arange(3)


def _three(values: tuple[float, ...], what: str) -> None:
    if len(values) != 3:
        raise ValueError(f"{what} must hold 3 values (one per link), got {len(values)}")


@dataclass
class Arm3Settings:
    dt: float = setting(1e-3, "integration step", unit="s", gt=0, le=1.0)
    gravity: float = setting(0.0, "gravitational acceleration along -y (0: horizontal arm; studywolf's "
                                  "gravity variant: 9.81)", unit="m/s²", ge=0)
    damping: float = setting(0.0, "viscous friction of every joint (studywolf's damping variant: 1.0)",
                             unit="N·m·s/rad", ge=0)
    masses: tuple[float, ...] = setting((10.0, 10.0, 10.0), "link masses", unit="kg", gt=0)
    inertias: tuple[float, ...] = setting((100.0, 100.0, 100.0), "link moments of inertia about their centres "
                                          "of mass (z axis)", unit="kg·m²", gt=0)
    mass_scale: float = setting(1.0, "factor on every mass and inertia (studywolf's small-mass variant: 0.001)",
                                gt=0)

    def __post_init__(self) -> None:
        _three(self.masses, "masses")
        _three(self.inertias, "inertias")


@dataclass
class Arm3RodsSettings:
    dt: float = setting(1e-3, "integration step", unit="s", gt=0, le=1.0)
    gravity: float = setting(0.0, "gravitational acceleration along -y (0: horizontal arm)", unit="m/s²", ge=0)
    damping: float = setting(0.0, "viscous friction of every joint", unit="N·m·s/rad", ge=0)
    masses: tuple[float, ...] = setting((2.0, 1.2, 0.7), "link masses (uniform rods)", unit="kg", gt=0)

    def __post_init__(self) -> None:
        _three(self.masses, "masses")


class ThreeLinkArm(PlanarArm):
    """Batched three-link arm; see the module docstring for the model.

    Subclasses set ``Settings`` and :meth:`_body` (masses in kg, moments of
    inertia about the centres of mass in kg·m², start posture in rad).
    """

    n_joints = 3
    state_size = 6
    input_size = 3
    task_geometry = THREE_LINK

    def __init__(self, settings=None) -> None:
        super().__init__(settings)
        s = self.settings
        self.dt = float(s.dt)
        self.gravity = float(s.gravity)
        self.damping = float(s.damping)
        self.link_lengths = np.array(LINK_LENGTHS)
        m, inertia, start_q = self._body()
        self.start_q = np.array(start_q, dtype=float)
        lengths = self.link_lengths
        self.masses = m
        self.com = lengths / 2
        self.com_inertia = inertia
        beyond = np.array([m[1:].sum(), m[2:].sum(), 0.0])
        self.b = m * self.com + lengths * beyond
        a = np.empty((3, 3))
        for i in range(3):
            a[i, i] = self.com_inertia[i] + m[i] * self.com[i] ** 2 + lengths[i] ** 2 * beyond[i]
            for j in range(i + 1, 3):
                a[i, j] = a[j, i] = lengths[i] * self.b[j]
        self.a = a
        self.a_diag = a.diagonal().copy()
        self.a_pair = np.array([a[0, 1], a[0, 2], a[1, 2]])
        self._constants = {np.dtype(t): self._tables(t) for t in (np.float32, np.float64)}

    def _body(self) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
        """``(masses (3,) kg, inertias about the centres of mass (3,) kg·m², start q (3,) rad)``."""
        raise NotImplementedError

    def _tables(self, dtype: type) -> dict[str, np.ndarray]:
        """Constant matrices of the model in ``dtype`` (batch-first products).

        With ``cr = cos([0, phi1-phi0, phi2-phi0, phi2-phi1])`` (so ``cr[0] = 1``)
        and ``sr`` the sines: ``vec(Q) = cr @ Q_OF_COS``, ``vec(P) = sr @ P_OF_SIN``
        and the cofactors of ``Q`` are quadratic in ``cr``:
        ``vec(cof Q) = vec(cr crᵀ) @ COF_OF_COS``.
        """
        lower = np.tril(np.ones((3, 3)))                      # phi = L q
        inv_lower = np.linalg.inv(lower)
        dt = self.dt
        q_of_cos = np.zeros((4, 9))
        p_of_sin = np.zeros((4, 9))
        for i in range(3):
            for j in range(3):
                q_of_cos[_PAIR[i, j], 3 * i + j] = self.a[i, j]
                p_of_sin[_PAIR[i, j], 3 * i + j] = self.a[i, j] * _PAIR_SIGN[i, j]
        cof_of_cos = np.zeros((16, 9))
        for e in range(9):
            ia, ib, ic, id_ = _COF.reshape(9, 4)[e]
            cof_of_cos[:, e] = (np.outer(q_of_cos[:, ia], q_of_cos[:, ib])
                                - np.outer(q_of_cos[:, ic], q_of_cos[:, id_])).reshape(16)
        # rows of the step: dq' = dq + dt·ddq, q' = q + dt·dq'; ddq = L⁻¹ dw/dt
        to_rows = np.concatenate([dt * dt * inv_lower, dt * inv_lower])
        ident = np.eye(6, 9)
        ident[[0, 1, 2], [3, 4, 5]] = dt
        lower9 = np.eye(9)
        lower9[:3, :3] = lower9[3:6, 3:6] = lower                # d/d[q, dq, u] = d/d[phi, w, u] · this
        tables = {
            "q_of_cos": q_of_cos, "p_of_sin": p_of_sin, "cof_of_cos": cof_of_cos,
            "d": _D, "damp": -self.damping * _D @ inv_lower, "gb": self.gravity * self.b,
            "lower": lower, "lower_t": lower.T, "lower9": lower9, "eye": np.eye(3),
            "to_rows": to_rows, "ident": ident,
            "rel": np.array([[0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0]]),  # [q1, q2] -> rel angles
        }
        return {k: v.astype(dtype) for k, v in tables.items()}

    # -- model terms -------------------------------------------------------
    def _abs_matrices(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``Q`` and ``P`` as ``(n, 3, 3)`` (a_ij cos / sin (phi_i - phi_j)), and the cosines."""
        t = self._constants[q.dtype]
        n = q.shape[0]
        rel = q[:, 1:] @ t["rel"]                  # [0, phi1-phi0, phi2-phi0, phi2-phi1]
        cr = np.cos(rel)
        big_q = (cr @ t["q_of_cos"]).reshape(n, 3, 3)
        p = (np.sin(rel) @ t["p_of_sin"]).reshape(n, 3, 3)
        return big_q, p, cr

    def inertia(self, q: np.ndarray) -> np.ndarray:
        """``(n, 3, 3)`` joint-space inertia ``M = Lᵀ Q L`` (kg·m²)."""
        q = self._angles(q, "inertia")
        t = self._constants[q.dtype]
        big_q, _, _ = self._abs_matrices(q)
        return t["lower_t"] @ big_q @ t["lower"]

    def bias_torques(self, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
        """``(n, 3)`` h(q, dq) = Lᵀ (c + gv) + damping·dq (N·m): Coriolis,
        centrifugal, gravity and friction torques."""
        q = self._angles(q, "bias_torques")
        dq = self._angles(dq, "bias_torques", "dq").astype(q.dtype, copy=False)
        t = self._constants[q.dtype]
        _, p, _ = self._abs_matrices(q)
        w = dq @ t["lower_t"]
        c = (p @ (w * w)[:, :, None])[:, :, 0]
        if self.gravity:
            c += t["gb"] * np.cos(q @ t["lower_t"])
        return c @ t["lower"] + self.damping * dq

    def potential_energy(self, q: np.ndarray) -> np.ndarray:
        """``(n,)`` gravitational potential energy (J), zero at y = 0 for every link."""
        q = self._angles(q, "potential_energy")
        return self.gravity * (np.sin(np.cumsum(q, axis=1)) @ self.b)

    # -- dynamics ----------------------------------------------------------
    def step(self, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``(n, 6)`` next states; one fused semi-implicit Euler step of ``dt``."""
        x, u = self._batch(x, u, "step")
        xt, ut = x.T, u.T
        q1, q2 = xt[1], xt[2]
        w0 = xt[3]
        w1 = w0 + xt[4]
        w2 = w1 + xt[5]
        q12 = q1 + q2
        a0, a1, a2 = self.a_diag.tolist()  # Python floats keep float32 math in float32
        p01, p02, p12 = self.a_pair.tolist()
        d = p01 * np.cos(q1)
        e = p02 * np.cos(q12)
        f = p12 * np.cos(q2)
        s01 = p01 * np.sin(q1)
        s02 = p02 * np.sin(q12)
        s12 = p12 * np.sin(q2)
        w0s, w1s, w2s = w0 * w0, w1 * w1, w2 * w2
        if self.damping:
            tau = ut - self.damping * xt[3:]
        else:
            tau = ut
        # r = tau_phi - c - gv
        r0 = tau[0] - tau[1] + s01 * w1s + s02 * w2s
        r1 = tau[1] - tau[2] - s01 * w0s + s12 * w2s
        r2 = tau[2] - s02 * w0s - s12 * w1s
        if self.gravity:
            gb = (self.gravity * self.b).tolist()
            r0 = r0 - gb[0] * np.cos(xt[0])
            r1 = r1 - gb[1] * np.cos(xt[0] + q1)
            r2 = r2 - gb[2] * np.cos(xt[0] + q12)
        # Q⁻¹ r by cofactors of the symmetric Q = [[a0, d, e], [d, a1, f], [e, f, a2]]
        c00 = a1 * a2 - f * f
        c01 = e * f - d * a2
        c02 = d * f - a1 * e
        c11 = a0 * a2 - e * e
        c12 = d * e - a0 * f
        c22 = a0 * a1 - d * d
        dt_det = self.dt / (a0 * c00 + d * c01 + e * c02)
        v0 = (c00 * r0 + c01 * r1 + c02 * r2) * dt_det   # dt · dw/dt
        v1 = (c01 * r0 + c11 * r1 + c12 * r2) * dt_det
        v2 = (c02 * r0 + c12 * r1 + c22 * r2) * dt_det
        out = np.empty_like(x)
        ot = out.T
        np.add(xt[3], v0, out=ot[3])
        np.add(xt[4], v1 - v0, out=ot[4])
        np.add(xt[5], v2 - v1, out=ot[5])
        np.add(xt[:3], ot[3:] * self.dt, out=ot[:3])
        return self._finish(out, "step", x, u)

    def jacobians(self, x: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact ``(n, 6, 6)`` d x'/d x and ``(n, 6, 3)`` d x'/d u of :meth:`step`."""
        x, u = self._batch(x, u, "jacobians")
        t = self._constants[x.dtype]
        n = x.shape[0]
        q, dq = x[:, :3], x[:, 3:]
        big_q, p, cr = self._abs_matrices(q)
        w = dq @ t["lower_t"]                                     # absolute angular velocities
        w2 = w * w
        tau = u - self.damping * dq if self.damping else u
        r = tau @ t["d"].T - np.einsum("nij,nj->ni", p, w2)
        if self.gravity:
            phi = q @ t["lower_t"]
            r -= t["gb"] * np.cos(phi)
        cof = (cr[:, :, None] * cr[:, None, :]).reshape(n, 16) @ t["cof_of_cos"]
        qf = big_q.reshape(n, 9)
        qinv = (cof / (qf[:, :3] * cof[:, :3]).sum(axis=1)[:, None]).reshape(n, 3, 3)   # Q⁻¹
        acc = np.einsum("nij,nj->ni", qinv, r)                    # dw/dt
        rr = big_q * w2[:, None, :] - p * acc[:, None, :]          # R
        diag = rr.sum(axis=2)
        if self.gravity:
            diag -= t["gb"] * np.sin(phi)
        k = np.empty((n, 3, 9), dtype=x.dtype)                     # d r / d[phi, w, u]
        np.subtract(rr, diag[:, :, None] * t["eye"], out=k[:, :, :3])
        np.multiply(p, -2.0 * w[:, None, :], out=k[:, :, 3:6])
        if self.damping:
            k[:, :, 3:6] += t["damp"]                             # -damping·D, before the ·L below
        k[:, :, 6:] = t["d"]
        k = (k.reshape(3 * n, 9) @ t["lower9"]).reshape(n, 3, 9)     # d/d[q, dq, u] = d/d[phi, w, u] · L
        full = (t["to_rows"] @ qinv) @ k + t["ident"]                  # (n, 6, 9)
        a_, b_ = full[:, :, :6], full[:, :, 6:]
        check = full.reshape(-1)
        xv = x.reshape(-1)
        if not np.isfinite(check @ check + xv @ xv):
            diagnose(f"{self.name or type(self).__name__.lower()}.jacobians", full, x=x, u=u)
        return a_, b_


class Arm3(ThreeLinkArm):
    """studywolf's three-link arm: 10 kg links, 100 kg·m² about each centre of mass.

    dt : float, seconds
    gravity : float, m/s²
    damping : float, N·m·s/rad
    masses : three floats, kilograms
    inertias : three floats, kg·m² (about each link's centre of mass)
    mass_scale : float, factor on masses and inertias
    """

    Settings = Arm3Settings

    def _body(self) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
        s = self.settings
        scale = float(s.mass_scale)
        return (scale * np.array([float(v) for v in s.masses]),
                scale * np.array([float(v) for v in s.inertias]), START_Q)


class Arm3Rods(ThreeLinkArm):
    """Three uniform slender rods (1 kg per metre by default), ctrlbench's former ``arm3``.

    dt : float, seconds
    gravity : float, m/s²
    damping : float, N·m·s/rad
    masses : three floats, kilograms (each link a uniform rod: I = m l² / 12)
    """

    Settings = Arm3RodsSettings
    #: studywolf's three-link task geometry, with the postural push scaled to these light rods
    task_geometry = dataclasses.replace(THREE_LINK, postural_force=None)

    def _body(self) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
        m = np.array([float(v) for v in self.settings.masses])
        return m, m * self.link_lengths**2 / 12, RODS_START_Q
