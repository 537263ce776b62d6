"""Perturbations an arm task applies to the simulated arm, never to the controller's model.

* :func:`force_matrix` and :class:`ForceField` - studywolf's velocity-dependent
  joint force field (``--force``, after Shadmehr & Mussa-Ivaldi 1994): the
  simulation adds ``τ_ff = scale · F dq`` (N·m) to the commanded torques;
* :data:`POSTURAL_FORCES` - studywolf's eight constant torque directions of
  the postural task (scaled by the arm's postural force).

A task wraps the plant for stepping (``sim = ForceField(plant, scale)``) and
leaves the controller bound to the plant itself: the controller's model does
not know the field, as in a force-field adaptation experiment.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: studywolf's force-field matrix F (N·m·s/rad), rows: joint torque, columns: joint velocity.
FORCE_MATRIX = np.array([[-10.1, -11.1, -10.1],
                         [-11.2, 11.1, 10.1],
                         [-11.2, 11.1, -10.1]])

#: studywolf's eight postural perturbation directions (one row per target index; unitless).
POSTURAL_FORCES = np.array([[-0.90937641, -0.64614133, -0.89626731],
                            [0.56228211, 0.80956427, -0.47827398],
                            [0.77974938, -0.5750045, 0.17895108],
                            [-0.25071541, 0.54737452, -0.92822244],
                            [0.19228047, 0.034985, -0.37703873],
                            [-0.7975092, -0.56974833, 0.31316189],
                            [-0.52069927, 0.44450567, -0.55619732],
                            [-0.65013087, -0.88908786, 0.07065782]])


def _cyclic(table: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``table`` read cyclically: entry (i, j) is ``table[i % R, j % C]`` (arms with more than 3 joints)."""
    r, c = table.shape
    return table[np.arange(rows)[:, None] % r, np.arange(cols)[None, :] % c]


def force_matrix(n_joints: int, scale: float = 1.0) -> np.ndarray:
    """``(J, J)`` the field's matrix for an arm of ``n_joints`` (N·m·s/rad): ``scale`` × the top-left
    block of :data:`FORCE_MATRIX` (repeated cyclically beyond three joints)."""
    return float(scale) * _cyclic(FORCE_MATRIX, n_joints, n_joints)


def postural_force(n_joints: int, index: int, scale: float) -> np.ndarray:
    """``(J,)`` the constant postural torque (N·m): row ``index`` of :data:`POSTURAL_FORCES` × ``scale``."""
    return float(scale) * _cyclic(POSTURAL_FORCES[index % len(POSTURAL_FORCES)][None, :], 1, n_joints)[0]


class ForceField:
    """``plant`` with ``scale · F dq`` (N·m) added to every input torque; everything else delegated.

    ``step(x, u) = plant.step(x, u + dq Fᵀ)`` and its exact Jacobians
    ``A = A_p + B_p F`` (on the ``dq`` columns), ``B = B_p``, where
    ``A_p, B_p = plant.jacobians(x, u + dq Fᵀ)``.  ``dq`` is the state's
    ``[n_joints, 2·n_joints)`` columns.
    """

    def __init__(self, plant: Any, scale: float) -> None:
        self.plant = plant
        self.scale = float(scale)
        nj = int(plant.n_joints)
        if plant.input_size != nj:
            raise ValueError(f"a joint force field needs one torque per joint; {plant.name!r} takes "
                             f"{plant.input_size} inputs for {nj} joints")
        self.matrix = force_matrix(nj, scale)
        self._cols = slice(nj, 2 * nj)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.plant, name)

    def torques(self, x: np.ndarray) -> np.ndarray:
        """``(n, J)`` the field's torques (N·m) at states ``x``."""
        x = np.asarray(x)
        return x[:, self._cols] @ self.matrix.T.astype(x.dtype, copy=False)

    def step(self, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        return self.plant.step(x, np.asarray(u) + self.torques(x))

    def jacobians(self, x: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x)
        a, b = self.plant.jacobians(x, np.asarray(u) + self.torques(x))
        a = a.copy()
        a[:, :, self._cols] += b @ self.matrix.astype(b.dtype, copy=False)
        return a, b


def with_force_field(plant: Any, scale: float) -> Any:
    """``plant`` itself when ``scale`` is 0, else :class:`ForceField` ``(plant, scale)``."""
    return ForceField(plant, scale) if scale else plant
