"""The interfaces every plugin implements.

Arrays are batched: the first axis is the batch (``n`` arms, carts or
images), so one call simulates or controls many trials without a Python loop.

* :class:`PlantModel` - a dynamical system: ``step`` and ``jacobians``.
* :class:`ArmModel` - a planar arm: a plant with kinematics.
* :class:`Controller` - ``reset`` then batched ``act``.
* :class:`Learner` - a controller that trains, saves and loads.
* :class:`Classifier` - ``fit`` / ``predict`` over time steps.
* :class:`Dataset` - train and test arrays for a classifier.
* :class:`Task` - runs one seed of an experiment and returns a :class:`Result`.

Every component has a ``Settings`` dataclass (possibly empty) and is built by
its factory from an instance of it; ``name`` and ``settings`` are set on the
built object by :func:`bench.build`.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from .settings import NoSettings

if TYPE_CHECKING:
    import pandas as pd


class Component:
    """What every built component has: a registered name and its settings."""

    Settings: ClassVar[type] = NoSettings
    name: str = ""
    settings: Any = None

    def __init__(self, settings: Any = None) -> None:
        self.settings = settings if settings is not None else self.Settings()


class PlantModel(Component, abc.ABC):
    """A batched discrete-time dynamical system ``x_next = step(x, u)``.

    Attributes
    ----------
    dt : float, seconds
        Integration step.
    state_size, input_size : int
        ``S`` and ``U``: a state batch is ``(n, S)``, an input batch ``(n, U)``.
    """

    dt: float
    state_size: int
    input_size: int

    @abc.abstractmethod
    def initial_state(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, S)`` start states; randomness only from ``rng``."""

    @abc.abstractmethod
    def step(self, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``(n, S)`` next states from ``(n, S)`` states and ``(n, U)`` inputs (pure)."""

    def jacobians(self, x: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(dx_next/dx (n, S, S), dx_next/du (n, S, U))`` at ``(x, u)``.

        The default is central finite differences over the whole batch; plants
        that provide ``"jacobians"`` override it with the exact derivatives.
        """
        return finite_difference_jacobians(self.step, x, u)

    def observation(self, x: np.ndarray) -> np.ndarray:
        """What a controller observes of state ``x`` (default: all of it)."""
        return x


class ArmModel(PlantModel):
    """A planar arm: state ``[q..., dq...]`` (rad, rad/s), input torques (N·m).

    Attributes
    ----------
    n_joints : int
    link_lengths : ndarray, metres
    start_q : ndarray, rad
        The start posture of the reference experiments.
    """

    n_joints: int
    link_lengths: np.ndarray
    start_q: np.ndarray

    @abc.abstractmethod
    def joint_positions(self, q: np.ndarray) -> np.ndarray:
        """``(n, J+1, 2)`` positions (m) of the base, every joint and the hand."""

    def hand(self, q: np.ndarray) -> np.ndarray:
        """``(n, 2)`` hand position (m)."""
        return self.joint_positions(q)[:, -1, :]

    @abc.abstractmethod
    def hand_jacobian(self, q: np.ndarray) -> np.ndarray:
        """``(n, 2, J)``: d hand / d q (m/rad)."""

    @abc.abstractmethod
    def inertia(self, q: np.ndarray) -> np.ndarray:
        """``(n, J, J)`` joint-space inertia matrix M(q) (kg·m²)."""

    @abc.abstractmethod
    def inverse_kinematics(self, xy: np.ndarray, q0: np.ndarray | None = None) -> np.ndarray:
        """``(n, J)`` joint angles putting the hand at ``(n, 2)`` ``xy``.

        Raises :class:`bench.errors.OutOfReach` for a target outside the workspace.
        """

    def bias_torques(self, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
        """``(n, J)`` Coriolis, centrifugal and gravity torques h(q, dq) with
        ``M ddq + h = u``; default zero."""
        return np.zeros_like(q)

    @property
    def start_state(self) -> np.ndarray:
        """``(S,)`` the start posture at rest."""
        return np.concatenate([self.start_q, np.zeros_like(self.start_q)])

    def initial_state(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.tile(self.start_state, (n, 1))


class Controller(Component):
    """Maps a batch of observations (and task targets) to a batch of inputs.

    ``bind(plant)`` is called once before the first ``reset``; a controller
    that needs the plant's model (inertia, kinematics) keeps it then.
    """

    plant: Any = None

    def bind(self, plant: Any) -> None:
        """Attach the plant (or dataset) this controller will act on."""
        self.plant = plant

    def reset(self, n: int, rng: np.random.Generator) -> None:
        """Start ``n`` new trials (clear internal state); randomness only from ``rng``."""

    def act(self, observation: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        """``(n, U)`` inputs for ``(n, ·)`` observations and task targets."""
        raise NotImplementedError(f"{type(self).__name__} does not act")


class Learner(Controller):
    """A controller that is trained: ``train`` then ``act``; ``save``/``load`` as ``.npz``."""

    @abc.abstractmethod
    def train(self, plant: Any, task: Any = None, *, rng: np.random.Generator, **kwargs: Any) -> Any:
        """Train on ``plant``; returns task-specific training curves."""

    @abc.abstractmethod
    def save(self, path: str | Path) -> Path:
        """Write parameters to an ``.npz`` (no pickle); returns the path written."""

    @abc.abstractmethod
    def load(self, path: str | Path) -> None:
        """Read parameters written by :meth:`save` (``allow_pickle=False``)."""


class Classifier(Component):
    """Classifies inputs presented over time steps."""

    plant: Any = None

    def bind(self, plant: Any) -> None:
        self.plant = plant

    @abc.abstractmethod
    def fit(self, x: np.ndarray, y: np.ndarray, *, rng: np.random.Generator) -> Any:
        """Train on ``x`` (n, ...) and integer labels ``y`` (n,)."""

    @abc.abstractmethod
    def predict(self, x: np.ndarray, n_steps: int | None = None) -> np.ndarray:
        """``(n, T, classes)`` outputs at each of ``T`` time steps."""


class Dataset(Component):
    """Train and test arrays; ``load(seed)`` returns ``(x_train, y_train, x_test, y_test)``."""

    n_classes: int
    input_shape: tuple[int, ...]

    @abc.abstractmethod
    def load(self, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The split for ``seed``; labels are integers in ``[0, n_classes)``."""


@dataclasses.dataclass(frozen=True)
class Metric:
    """How to read a metric: unit and which direction is better."""

    unit: str = ""
    better: Literal["lower", "higher", ""] = ""
    help: str = ""


@dataclasses.dataclass
class Result:
    """What one run produced.

    metrics : dict of str to float
        Flat, one number each (NaN allowed for "never happened").
    frames : dict of str to DataFrame
        Optional tidy per-step / per-batch tables (e.g. ``"trajectory"``).
    info : dict of str to Metric
        Unit and direction of each metric.
    artifacts : dict of str to Path
        Files written by the run (plots, weights).
    meta : dict
        Filled by the runner: names, settings, seed, times, versions, commit.
    """

    metrics: dict[str, float]
    frames: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)
    info: dict[str, Metric] = dataclasses.field(default_factory=dict)
    artifacts: dict[str, Path] = dataclasses.field(default_factory=dict)
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    run_id: int | None = None

    @property
    def series(self) -> pd.Series:
        """The metrics as a pandas Series."""
        import pandas as pd

        return pd.Series(self.metrics, dtype=float, name=self.meta.get("label"))

    @property
    def frame(self) -> pd.DataFrame | None:
        """The first per-step frame, if any."""
        return next(iter(self.frames.values()), None)


class Task(Component):
    """One experiment: ``run(plant, controller, seed)`` returns a :class:`Result`.

    ``METRICS`` declares each metric's unit and direction.  The task's
    capability needs are declared in its registration (``needs=``) so that an
    impossible combination is refused before anything is imported.
    """

    METRICS: ClassVar[Mapping[str, Metric]] = {}

    def run(self, plant: Any, controller: Any, seed: int, *, workdir: Path | None = None) -> Result:
        raise NotImplementedError

    def result(self, metrics: Mapping[str, float], **kwargs: Any) -> Result:
        """A :class:`Result` carrying this task's metric declarations."""
        info = {k: self.METRICS[k] for k in metrics if k in self.METRICS}
        return Result(metrics={k: float(v) for k, v in metrics.items()}, info=info, **kwargs)


def finite_difference_jacobians(step: Any, x: np.ndarray, u: np.ndarray,
                                eps: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Central finite differences of ``step`` over a batch: ``(n,S,S)``, ``(n,S,U)``.

    All ``2·(S+U)`` perturbed copies of the batch go through ``step`` in one
    call.  ``eps`` defaults to ``cbrt(machine epsilon)`` of the dtype.
    """
    x = np.asarray(x)
    u = np.asarray(u)
    n, s = x.shape
    m = u.shape[1]
    dtype = np.result_type(x, u, np.float32)
    if eps is None:
        eps = float(np.cbrt(np.finfo(dtype).eps))
    k = s + m
    eye = np.eye(k, dtype=dtype) * eps
    dxu = np.concatenate([eye, -eye])  # (2k, k)
    xs = (x[None, :, :] + dxu[:, None, :s]).reshape(-1, s)
    us = (u[None, :, :] + dxu[:, None, s:]).reshape(-1, m)
    out = step(xs.astype(x.dtype, copy=False), us.astype(u.dtype, copy=False)).reshape(2, k, n, s)
    d = (out[0] - out[1]) / (2 * eps)  # (k, n, s)
    d = np.moveaxis(d, 0, 2)  # (n, s, k)
    return d[:, :, :s], d[:, :, s:]
