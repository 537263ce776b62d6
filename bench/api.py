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
built object by :func:`bench.build`.  The settings are checked when the
component is created (:func:`bench.settings.validate`), so a component never
re-checks a declared range by hand.

Every interface is an abstract base class: a subclass that leaves one of its
abstract methods out cannot be instantiated (``TypeError`` naming them).  The
optional capabilities a component registers (``provides={...}``) are the
typing Protocols of :mod:`bench.capabilities`.

Callers train a learner through :func:`train_learner`, which also accepts
learners written against the old ``train(plant, task, *, rng)`` signature.
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from .settings import NoSettings, validate

if TYPE_CHECKING:
    import pandas as pd


class Component(abc.ABC):  # noqa: B024 - an ABC so that its subclasses can declare the abstract methods
    """What every built component has: a registered name and its settings.

    ``__init__`` checks the settings against their declaration
    (:func:`bench.settings.validate`): ``Arm2(Arm2Settings(dt=-1))`` raises
    :class:`~bench.errors.SettingError` naming ``arm2.dt``.
    """

    Settings: ClassVar[type] = NoSettings
    name: str = ""
    settings: Any = None

    def __init__(self, settings: Any = None) -> None:
        settings = settings if settings is not None else self.Settings()
        self.settings = validate(settings, owner=self.name or type(self).__name__.lower())

    def input_files(self) -> list[Path]:
        """The weights, model and data files this component will read, known from its settings alone.

        Called before the component runs (and before ``bind``), so the answer
        may depend only on the settings.  Each file is recorded with a content
        digest in the run's provenance and is part of its experiment key: a
        changed file makes a sweep run again.  Default: none.
        """
        return []


class PlantModel(Component):
    """A batched discrete-time dynamical system ``x_next = step(x, u)``.

    Attributes
    ----------
    dt : float, seconds
        Integration step.
    state_size, input_size : int
        ``S`` and ``U``: a state batch is ``(n, S)``, an input batch ``(n, U)``.
    observation_size : int
        ``O``: :meth:`observation` returns ``(n, O)``; ``S`` unless a plant
        declares otherwise (a class attribute, or set on the instance).
        The runner checks every observation against it.
    """

    dt: float
    state_size: int
    input_size: int

    @property
    def observation_size(self) -> int:
        return int(self.__dict__.get("_observation_size", self.state_size))

    @observation_size.setter
    def observation_size(self, value: int) -> None:
        self.__dict__["_observation_size"] = int(value)

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
        """``(n, O)``: what a controller observes of ``(n, S)`` states ``x`` (default: all of it, ``O = S``)."""
        return x


class ArmModel(PlantModel):
    """A planar arm: state ``[q..., dq...]`` (rad, rad/s), then any further states (an actuator's
    torques, N·m), input torques (N·m).

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

    @abc.abstractmethod
    def act(self, observation: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        """``(n, U)`` inputs for ``(n, ·)`` observations and task targets."""


class Learner(Controller):
    """A controller that is trained: ``train`` then ``act``; ``save``/``load`` as ``.npz``.

    Call :func:`train_learner` rather than ``train`` directly: it also
    handles learners written against the old signature, and sets
    :attr:`trained`.

    Mark the settings that only training reads ``train_only``
    (:func:`bench.settings.setting`): a run that does not train the learner
    refuses them and does not record them.
    """

    #: Set by :func:`train_learner`: this learner's ``train_only`` settings shaped what it does.
    trained: bool = False
    #: ``train`` continues an interrupted training from the checkpoints in its ``workdir``, the curve so far
    #: included (``ahf``), so a stopped training run (``bench train``) resumes; otherwise it starts over.
    RESUMES: ClassVar[bool] = False
    #: The metrics :meth:`training_metrics` reports for a training run (``TASK:train``), with unit and
    #: direction (``bench compare`` gates on them; a time to a threshold is ``lower`` and NaN when never).
    TRAINING_METRICS: ClassVar[Mapping[str, Metric]] = {}
    #: The training metrics a report shows first (names of :attr:`TRAINING_METRICS`).
    TRAINING_HEADLINE: ClassVar[tuple[str, ...]] = ()

    @abc.abstractmethod
    def train(self, plant: Any, task: Any, *, seed: int, fresh: bool = False,
              workdir: str | Path | None = None, log: Callable[[str], None] | None = None) -> pd.DataFrame:
        """Train on ``plant`` for ``task``; returns the learning curve, one row per iteration or batch.

        seed : int
            All randomness derives from it (``np.random.default_rng(seed)``):
            the same seed gives the same curve (timing columns aside).
        fresh : bool
            Start from new random weights even if ``workdir`` holds a
            checkpoint; otherwise continue from that checkpoint, or from the
            current (e.g. loaded) weights.
        workdir : path or None
            Where checkpoints go (none if None).
        log : callable or None
            Receives a few progress lines (nothing if None).

        A learner may also accept ``progress`` (a callable or None): it is
        then called with the curve so far (a DataFrame, the same columns as
        the returned one) after every iteration or batch, so that a training
        run keeps its curve when it is stopped (:func:`train_learner` passes
        it to a ``train`` that declares the parameter).

        Budgets (batches, iterations, episode caps) come from ``task``'s
        settings or the learner's own, never from extra keywords.
        """

    def training_metrics(self, curve: pd.DataFrame, task: Any) -> dict[str, float]:
        """Metrics of a training run from its learning curve (the frame ``training``): e.g. the wall seconds
        and iterations until the error first fell below a threshold (NaN: never).  Declared in
        :attr:`TRAINING_METRICS`; default none."""
        return {}

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
    capability needs and the kind of target it hands the controller are
    declared in its registration (``needs=``, ``target=``) so that an
    impossible combination is refused before anything is imported.

    ``TRAINS``: the task trains the controller as part of every run (the
    ``balance`` task trains its learner, ``classify`` fits its classifier), so
    the controller's ``train_only`` settings shape the run.

    :meth:`durations` lists the simulated times the task is made of; every
    plant ``dt`` must divide each of them (checked before a run by
    :func:`bench.guards.check_dt`).
    """

    METRICS: ClassVar[Mapping[str, Metric]] = {}
    TRAINS: ClassVar[bool] = False
    #: The metrics a reader looks at first, in order: the columns of the report's headline table and the
    #: metrics drawn against swept settings.  Names of :attr:`METRICS`; a run need not report them all
    #: (the reach task's batch and sequence modes report different ones).  Empty: the report picks the
    #: first four metrics with a direction.
    HEADLINE: ClassVar[tuple[str, ...]] = ()
    #: The normalised score of a run for the aggregate statistics across tasks (IQM, performance
    #: profiles): the first of these metrics the run reports, each on [0, 1] with 1 the best.  Empty: the
    #: task is left out of the aggregates.
    SCORE: ClassVar[tuple[str, ...]] = ()

    def durations(self) -> dict[str, float]:
        """``{"reach.duration": 0.4}``: each simulated time (s) the run steps through; none by default."""
        return {}

    def steps(self) -> dict[str, int]:
        """``{"balance.max_steps": 200}``: step counts the task runs that are no :meth:`durations` (a task
        that counts steps itself); none by default."""
        return {}

    def batch(self) -> int:
        """How many trials the run simulates (side by side or one after the other; 1 by default): its
        longest trial (a duration in plant steps, or one of :meth:`steps`) × this is checked against
        ``BENCH_MAX_STEPS_X_BATCH`` (:mod:`bench.limits`) before the run.  :attr:`BATCH` names the
        settings it counts, for the message."""
        return 1

    #: The settings :meth:`batch` counts, as a message names them (``"reach.targets"``).
    BATCH: ClassVar[str] = ""

    @abc.abstractmethod
    def run(self, plant: Any, controller: Any, seed: int, *, workdir: Path | None = None) -> Result:
        """Run one seed of the experiment; randomness only from ``seed``."""

    def result(self, metrics: Mapping[str, float], **kwargs: Any) -> Result:
        """A :class:`Result` carrying this task's metric declarations."""
        info = {k: self.METRICS[k] for k in metrics if k in self.METRICS}
        return Result(metrics={k: float(v) for k, v in metrics.items()}, info=info, **kwargs)


def _train_parameters(train: Any) -> tuple[dict[str, inspect.Parameter], bool]:
    try:
        params = dict(inspect.signature(train).parameters)
    except (TypeError, ValueError):  # a builtin or an odd callable: assume the current signature
        return {}, True
    return params, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def train_learner(learner: Any, plant: Any, task: Any, *, seed: int, fresh: bool = False,
                  workdir: str | Path | None = None, log: Callable[[str], None] | None = None,
                  progress: Callable[[pd.DataFrame], None] | None = None) -> pd.DataFrame:
    """Train ``learner`` on ``plant`` for ``task``: the one way every caller trains a learner.

    Calls ``learner.train(plant, task, seed=seed, fresh=fresh, workdir=workdir,
    log=log)`` (see :meth:`Learner.train`) and returns the curve as a
    DataFrame; sets ``learner.trained`` first (see :func:`trains`).  ``progress``
    (the curve so far, after each iteration or batch) is passed on to a
    ``train`` that declares a ``progress`` parameter, and left out otherwise.
    A learner written against the old signature ``train(plant, task, *, rng, ...)`` (an ``rng`` parameter, no ``seed``)
    still trains: one :class:`DeprecationWarning` line, then it is called with
    ``rng=np.random.default_rng(seed)`` and, where its signature takes them,
    ``fresh``, ``workdir``, ``log`` and the task's ``batches`` and
    ``max_steps`` (what the ``balance`` task used to pass).
    """
    import pandas as pd

    train = learner.train
    params, var_kw = _train_parameters(train)
    try:  # from now on its training settings shape what it does, even if training stops half-way
        learner.trained = True
    except AttributeError:  # a learner that takes no attributes: describe() then sees it as untrained
        pass
    if "rng" in params and "seed" not in params:
        who = getattr(learner, "name", "") or type(learner).__name__
        warnings.warn(f"learner {who}: train(plant, task, *, rng) is deprecated; accept seed=... "
                      f"(see bench.api.Learner.train)", DeprecationWarning, stacklevel=2)
        kwargs: dict[str, Any] = {"rng": np.random.default_rng(seed)}
        for key, value in (("fresh", fresh), ("workdir", workdir), ("log", log)):
            if key in params or var_kw:
                kwargs[key] = value
        task_settings = getattr(task, "settings", None)
        for key in ("batches", "max_steps"):
            if (key in params or var_kw) and hasattr(task_settings, key):
                kwargs[key] = getattr(task_settings, key)
        curve = train(plant, task, **kwargs)
    else:
        extra = {"progress": progress} if progress is not None and "progress" in params else {}
        curve = train(plant, task, seed=seed, fresh=fresh, workdir=workdir, log=log, **extra)
    return curve if isinstance(curve, pd.DataFrame) else pd.DataFrame(curve)


def trains(controller: Any, task: Any) -> bool:
    """Whether ``controller`` is trained for a run of ``task``: the task trains it (:attr:`Task.TRAINS`) or it
    went through :func:`train_learner` (``bench train``, ``bench run --train``).  Then its ``train_only``
    settings shaped the run."""
    return bool(getattr(task, "TRAINS", False) or getattr(controller, "trained", False))


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
