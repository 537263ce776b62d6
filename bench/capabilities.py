"""The optional capabilities, as typing Protocols tied to the ``provides`` tokens.

A plugin registers what its component can do (``provides={"kinematics"}``);
each token is a :func:`~typing.runtime_checkable` Protocol here, so a task
asks ``isinstance(plant, DiscreteActions)`` instead of probing attributes,
and a plugin that claims a token but lacks a member is refused before it
runs (:func:`check_provides`, called by
:func:`bench.registry.check_compatible` and by the conformance checks of
:mod:`bench.testing`).

===================  =====================  =================================================
token                Protocol               members
===================  =====================  =================================================
``dynamics``         :class:`Dynamics`      dt, state_size, input_size, initial_state, step,
                                            observation
``kinematics``       :class:`Kinematics`    n_joints, link_lengths, start_q, start_state,
                                            joint_positions, hand, hand_jacobian, inertia,
                                            bias_torques, inverse_kinematics
``jacobians``        :class:`Jacobians`     jacobians
``discrete-actions`` :class:`DiscreteActions`  n_actions, action_force, terminated
``act``              :class:`Acts`          reset, act
``learn``            :class:`Learns`        train, save, load
``classify``         :class:`Classifies`    fit, predict
``images``           :class:`Images`        n_classes, input_shape, load
===================  =====================  =================================================

A token not in :data:`PROTOCOLS` (a third party's own) is not checked.  The
Protocols at the end (:class:`Saves`, :class:`PredictsRate`,
:class:`Simulates`, :class:`CountsOperations`) are extras a task uses when
a component has them; no token claims them.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from .errors import BenchError, Incompatible

if TYPE_CHECKING:
    import pandas as pd


# -- plants ---------------------------------------------------------------------------
@runtime_checkable
class Dynamics(Protocol):
    """``dynamics``: a batched discrete-time system (see :class:`bench.api.PlantModel`)."""

    dt: float
    state_size: int
    input_size: int

    def initial_state(self, n: int, rng: np.random.Generator) -> np.ndarray: ...

    def step(self, x: np.ndarray, u: np.ndarray) -> np.ndarray: ...

    def observation(self, x: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class Kinematics(Protocol):
    """``kinematics``: a planar arm's geometry and inertia (see :class:`bench.api.ArmModel`)."""

    n_joints: int
    link_lengths: np.ndarray
    start_q: np.ndarray
    start_state: np.ndarray

    def joint_positions(self, q: np.ndarray) -> np.ndarray: ...

    def hand(self, q: np.ndarray) -> np.ndarray: ...

    def hand_jacobian(self, q: np.ndarray) -> np.ndarray: ...

    def inertia(self, q: np.ndarray) -> np.ndarray: ...

    def bias_torques(self, q: np.ndarray, dq: np.ndarray) -> np.ndarray: ...

    def inverse_kinematics(self, xy: np.ndarray, q0: np.ndarray | None = None) -> np.ndarray: ...


@runtime_checkable
class Jacobians(Protocol):
    """``jacobians``: exact ``(dx'/dx, dx'/du)`` of ``step`` (not finite differences)."""

    def jacobians(self, x: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class DiscreteActions(Protocol):
    """``discrete-actions``: ``n_actions`` integer actions, their inputs, and an episode end.

    ``action_force(a)`` maps ``(n,)`` integer actions to ``(n, U)`` plant
    inputs; ``terminated(x)`` is the ``(n,)`` bool episode end.
    """

    n_actions: int

    def action_force(self, a: np.ndarray, dtype: Any = ...) -> np.ndarray: ...

    def terminated(self, x: np.ndarray) -> np.ndarray: ...


# -- controllers ---------------------------------------------------------------------
@runtime_checkable
class Acts(Protocol):
    """``act``: ``reset(n, rng)`` then batched ``act(observation, target)``."""

    def reset(self, n: int, rng: np.random.Generator) -> None: ...

    def act(self, observation: np.ndarray, target: np.ndarray | None) -> np.ndarray: ...


@runtime_checkable
class Saves(Protocol):
    """A component whose parameters can be written to an ``.npz``."""

    def save(self, path: str | Path) -> Path: ...


@runtime_checkable
class Learns(Saves, Protocol):
    """``learn``: ``train`` (see :meth:`bench.api.Learner.train`), ``save`` and ``load``."""

    def train(self, plant: Any, task: Any, *, seed: int, fresh: bool = False,
              workdir: str | Path | None = None, log: Callable[[str], None] | None = None) -> pd.DataFrame: ...

    def load(self, path: str | Path) -> None: ...


@runtime_checkable
class Classifies(Protocol):
    """``classify``: ``fit(x, y, rng=...)`` then ``predict(x, n_steps)`` ``(n, T, classes)``."""

    def fit(self, x: np.ndarray, y: np.ndarray, *, rng: np.random.Generator) -> Any: ...

    def predict(self, x: np.ndarray, n_steps: int | None = None) -> np.ndarray: ...


# -- datasets ------------------------------------------------------------------------
@runtime_checkable
class Images(Protocol):
    """``images``: ``load(seed)`` gives ``(x_train, y_train, x_test, y_test)``.

    ``n_classes`` and ``input_shape`` may only be known after ``load``.
    """

    n_classes: int
    input_shape: tuple[int, ...]

    def load(self, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]: ...


# -- extras (no token) ------------------------------------------------------------------
@runtime_checkable
class PredictsRate(Protocol):
    """A classifier that also predicts in rate mode: ``(n, classes)`` outputs."""

    def predict_rate(self, x: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class Simulates(Protocol):
    """A spiking classifier that reports its activity: ``simulate(x, n_steps)``."""

    def simulate(self, x: np.ndarray, n_steps: int, **kwargs: Any) -> Any: ...


@runtime_checkable
class CountsOperations(Protocol):
    """A classifier that counts its synaptic operations: ``operation_counts(x)``."""

    def operation_counts(self, x: np.ndarray) -> Mapping[str, float]: ...


#: provides token -> the Protocol a component claiming it must satisfy.
PROTOCOLS: dict[str, type] = {
    "dynamics": Dynamics,
    "kinematics": Kinematics,
    "jacobians": Jacobians,
    "discrete-actions": DiscreteActions,
    "act": Acts,
    "learn": Learns,
    "classify": Classifies,
    "images": Images,
}


def members(protocol: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(attributes, methods)`` a Protocol declares, its bases' included, in declaration order."""
    attrs: list[str] = []
    methods: list[str] = []
    for klass in reversed(protocol.__mro__):
        if klass is object or klass is Protocol or not getattr(klass, "_is_protocol", False):
            continue
        for name in inspect.get_annotations(klass):
            if name not in attrs and not name.startswith("_"):
                attrs.append(name)
        for name, value in klass.__dict__.items():
            if callable(value) and not name.startswith("_") and name not in methods:
                methods.append(name)
    return tuple(attrs), tuple(methods)


def _declared(cls: type, name: str) -> bool:
    """Whether class ``cls`` has ``name`` or declares it (an annotation set in ``__init__``)."""
    return any(name in vars(k) or name in inspect.get_annotations(k) for k in cls.__mro__)


def lacks(protocol: type, obj: Any) -> list[str]:
    """The members of ``protocol`` that ``obj`` lacks (``[]``: it satisfies it).

    ``obj`` is a built component, or a class (a factory loaded by
    :meth:`bench.registry.Spec.load`): a class must define each method and
    define or declare (annotate) each attribute, since attributes may only be
    set in ``__init__``.  A method must be callable.  Any other factory (a
    function) cannot be checked before it runs: ``[]``.
    """
    attrs, methods = members(protocol)
    if isinstance(obj, type):
        missing = [a for a in attrs if not _declared(obj, a)]
        missing += [m for m in methods if not callable(getattr(obj, m, None))]
        return missing
    if isinstance(obj, _FUNCTIONS):
        return []
    missing = [a for a in attrs if not hasattr(obj, a)]
    missing += [m for m in methods if not callable(getattr(obj, m, None))]
    return missing


_FUNCTIONS = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, functools.partial)


def missing_capabilities(provides: Iterable[str], obj: Any) -> dict[str, list[str]]:
    """``{token: [missing members]}`` for every known token in ``provides`` that ``obj`` does not satisfy."""
    out: dict[str, list[str]] = {}
    for token in sorted(provides):
        protocol = PROTOCOLS.get(token)
        if protocol is not None:
            gaps = lacks(protocol, obj)
            if gaps:
                out[token] = gaps
    return out


def describe_missing(gaps: Mapping[str, list[str]]) -> str:
    """``"claims 'kinematics' but lacks hand_jacobian, inertia; claims 'jacobians' but lacks jacobians"``."""
    return "; ".join(f"claims {token!r} but lacks {', '.join(names)}" for token, names in gaps.items())


def check_provides(spec: Any, obj: Any, *, error: type[BenchError] = Incompatible) -> None:
    """Refuse ``obj`` (a loaded factory or a built component) that lacks what ``spec.provides`` claims.

    One line listing every missing member of every claimed token, e.g.
    ``controller 'mine' (plugin 'pkg') claims 'learn' but lacks train, load``.
    ``error`` is the :class:`~bench.errors.BenchError` raised
    (:class:`~bench.errors.Incompatible` by default; the conformance checks
    raise :class:`~bench.errors.ConformanceError`).
    """
    gaps = missing_capabilities(getattr(spec, "provides", ()), obj)
    if gaps:
        kind = getattr(spec, "kind", "") or "component"
        name = getattr(spec, "name", "") or getattr(obj, "__name__", type(obj).__name__)
        plugin = getattr(spec, "plugin", "")
        origin = f" (plugin {plugin!r})" if plugin else ""
        raise error(f"{kind} {name!r}{origin} {describe_missing(gaps)}")


__all__ = [
    "PROTOCOLS",
    "Acts",
    "Classifies",
    "CountsOperations",
    "DiscreteActions",
    "Dynamics",
    "Images",
    "Jacobians",
    "Kinematics",
    "Learns",
    "PredictsRate",
    "Saves",
    "Simulates",
    "check_provides",
    "describe_missing",
    "lacks",
    "members",
    "missing_capabilities",
]
