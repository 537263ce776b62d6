"""The registry: what each plugin registered, looked up by kind and name.

A :class:`Spec` is cheap: it names the factory as ``"module:attr"`` and only
:meth:`Spec.load` imports it, so listing every plugin never imports
TensorFlow.  :meth:`Spec.available` asks ``importlib`` whether the modules in
``requires`` could be imported, without importing them.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .capabilities import describe_missing, missing_capabilities
from .errors import DuplicateName, Incompatible, PluginError, Unavailable, UnknownName, suggestion

KINDS = ("plant", "controller", "task", "dataset")

#: What a task hands its controller as ``target``: a hand position ``(n, 2)`` in metres, a joint or state
#: target ``(n, S)``, or nothing (``None``).
TARGETS = ("hand", "state", "none")


class ContractWarning(FutureWarning):
    """A component whose registration does not declare its target contract (``target=`` / ``accepts=``)."""


@dataclasses.dataclass(frozen=True)
class Spec:
    """What a plugin registers for one component.

    name : str
        Unique within its kind; what users type.
    factory : str or callable
        ``"module:attr"``, imported on :meth:`load`, or the callable itself.
        It is called with one argument, an instance of its ``Settings``
        dataclass (attribute of the factory), and returns the component.
    summary : str
        One line for ``bench list``.
    provides : frozenset of str
        Capabilities offered: plants ``dynamics``, ``kinematics``,
        ``jacobians``, ``discrete-actions``; controllers ``act``, ``learn``,
        ``classify``; datasets ``images``.  Each is a typing Protocol
        (:data:`bench.capabilities.PROTOCOLS`) the factory must satisfy.
    needs : frozenset of str
        Capabilities required of the plant (plain names) or, for tasks, of the
        controller (``controller:NAME``).
    extra : str or None
        The ``ctrlbench[extra]`` that installs ``requires``.
    requires : tuple of str
        Top-level modules that must be importable.
    target : str or None
        Tasks: what the task hands the controller as ``target`` (one of
        :data:`TARGETS`: ``"hand"``, ``"state"``, ``"none"``); None:
        undeclared.
    accepts : frozenset of str or None
        Controllers: the targets they can act on (a subset of
        :data:`TARGETS`); None: undeclared.  :func:`check_compatible`
        refuses a task whose target the controller does not accept.
    """

    name: str
    factory: str | Callable[..., Any]
    summary: str = ""
    provides: frozenset[str] = frozenset()
    needs: frozenset[str] = frozenset()
    extra: str | None = None
    requires: tuple[str, ...] = ()
    kind: str = ""
    plugin: str = ""
    target: str | None = None
    accepts: frozenset[str] | None = None

    def missing(self) -> list[str]:
        """The required modules that cannot be imported here."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def available(self) -> bool:
        return not self.missing()

    def install_hint(self) -> str:
        return f"install ctrlbench[{self.extra}]" if self.extra else f"install {', '.join(self.missing())}"

    def load(self) -> Callable[..., Any]:
        """Import and return the factory (raises Unavailable / PluginError)."""
        missing = self.missing()
        if missing:
            raise Unavailable(f"{self.kind} {self.name!r} is unavailable: needs {', '.join(missing)}; "
                              f"{self.install_hint()}")
        if callable(self.factory):
            return self.factory
        module, _, attr = self.factory.partition(":")
        try:
            obj = importlib.import_module(module)
            for part in attr.split(".") if attr else ():
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise PluginError(f"{self.kind} {self.name!r} from plugin {self.plugin!r}: "
                              f"cannot load {self.factory!r}: {exc}") from exc
        return obj


def make_spec(kind: str, plugin: str, *args: Any, **kwargs: Any) -> Spec:
    """A :class:`Spec` from what a plugin passed to ``register``."""
    if args and isinstance(args[0], Spec):
        if len(args) > 1 or kwargs:
            raise PluginError(f"plugin {plugin!r}: register(spec) takes the spec alone")
        spec = args[0]
    else:
        try:
            spec = Spec(*args, **kwargs)
        except TypeError as exc:
            raise PluginError(f"plugin {plugin!r}: bad register() call: {exc}") from None
    if not isinstance(spec.name, str) or not spec.name or any(c in spec.name for c in " ,=:"):
        raise PluginError(f"plugin {plugin!r}: bad {kind} name {spec.name!r} (no spaces, commas, '=' or ':')")
    if not (callable(spec.factory) or (isinstance(spec.factory, str) and ":" in spec.factory)):
        raise PluginError(f"plugin {plugin!r}: {kind} {spec.name!r}: factory must be 'module:attr' or a callable")
    return dataclasses.replace(
        spec, kind=kind, plugin=plugin,
        provides=frozenset(spec.provides), needs=frozenset(spec.needs), requires=tuple(spec.requires),
        **_target_contract(kind, plugin, spec),
    )


def _target_contract(kind: str, plugin: str, spec: Spec) -> dict[str, Any]:
    """``target`` and ``accepts`` checked against :data:`TARGETS` (and the kind that may declare each)."""
    where = f"plugin {plugin!r}: {kind} {spec.name!r}"
    if spec.target is not None and kind != "task":
        raise PluginError(f"{where}: target= is declared by tasks (controllers declare accepts=)")
    if spec.accepts is not None and kind != "controller":
        raise PluginError(f"{where}: accepts= is declared by controllers (tasks declare target=)")
    accepts = spec.accepts
    if accepts is not None:
        accepts = frozenset([accepts] if isinstance(accepts, str) else accepts)
    for value in ([spec.target] if spec.target is not None else []) + sorted(accepts or ()):
        if value not in TARGETS:
            raise PluginError(f"{where}: unknown target kind {value!r}{suggestion(str(value), TARGETS)}; "
                              f"target kinds: {', '.join(TARGETS)}")
    if accepts is not None and not accepts:
        raise PluginError(f"{where}: accepts= names no target kind; use accepts={{'none'}} for a controller "
                          f"that reads no target")
    return {"accepts": accepts}


class Registry:
    """Specs by kind and name, filled by the plugin hooks."""

    def __init__(self) -> None:
        self._specs: dict[str, dict[str, Spec]] = {k: {} for k in KINDS}

    def add(self, spec: Spec) -> None:
        table = self._specs[spec.kind]
        if spec.name in table:
            other = table[spec.name]
            raise DuplicateName(
                f"{spec.kind} {spec.name!r} is registered twice: "
                f"by plugin {other.plugin!r} and by plugin {spec.plugin!r}")
        table[spec.name] = spec

    def register_function(self, kind: str, plugin: str, sink: list[Spec]) -> Callable[..., Spec]:
        """The ``register`` function handed to one plugin's hook; specs go to ``sink``.

        The host adds a plugin's specs only once all its hooks ran (all or nothing).
        """

        def register(*args: Any, **kwargs: Any) -> Spec:
            spec = make_spec(kind, plugin, *args, **kwargs)
            sink.append(spec)
            return spec

        register.__doc__ = f"Register a {kind}: register(name, factory, summary=..., ...) or register(Spec)."
        return register

    def names(self, kind: str) -> list[str]:
        return sorted(self._specs[kind])

    def specs(self, kind: str) -> list[Spec]:
        return [self._specs[kind][n] for n in self.names(kind)]

    def get(self, kind: str, name: str) -> Spec:
        try:
            return self._specs[kind][name]
        except KeyError:
            raise UnknownName(kind, name, self._specs[kind]) from None

    def get_any(self, kinds: Iterable[str], name: str, what: str) -> Spec:
        """The spec called ``name`` in the first of ``kinds`` that has it."""
        kinds = list(kinds)
        for kind in kinds:
            if name in self._specs[kind]:
                return self._specs[kind][name]
        raise UnknownName(what, name, [n for k in kinds for n in self._specs[k]])

    def __contains__(self, item: tuple[str, str]) -> bool:
        kind, name = item
        return name in self._specs.get(kind, {})


def check_compatible(plant: Spec, controller: Spec, task: Spec, *,
                     factories: Mapping[str, Any] | None = None) -> None:
    """Refuse, before anything runs, a combination that cannot work.

    The task's plain ``needs`` must be provided by the plant (or dataset), its
    ``controller:`` needs by the controller, the controller's needs by the
    plant, and the task's ``target`` must be one the controller ``accepts``
    (see :func:`_target_reasons` for components that declare none).  This
    needs no import.

    ``factories`` maps ``"plant"``, ``"controller"`` and ``"task"`` (any of
    them) to what :meth:`Spec.load` returned for that spec (or to the built
    component): each must then satisfy the Protocol of every token its spec
    ``provides`` (:mod:`bench.capabilities`), so a plugin that claims
    ``"kinematics"`` without ``hand_jacobian`` is refused before it runs.

    Raises :class:`Incompatible`: one line listing every unmet need and every
    missing member.
    """
    plant_has = plant.provides | {plant.kind}
    shown = ", ".join(sorted(plant.provides)) or "nothing"
    reasons = []
    for need in sorted(task.needs):
        if need.startswith("controller:"):
            cap = need.split(":", 1)[1]
            if cap not in controller.provides:
                reasons.append(f"task {task.name!r} needs a controller that can {cap!r}; "
                               f"{controller.name!r} provides {', '.join(sorted(controller.provides)) or 'nothing'}")
        elif need not in plant_has:
            what = "a dataset" if need == "dataset" else f"a plant with {need!r}"
            reasons.append(f"task {task.name!r} needs {what}; {plant.kind} {plant.name!r} provides {shown}")
    for need in sorted(controller.needs - plant_has):
        reasons.append(f"controller {controller.name!r} needs {need!r}; {plant.kind} {plant.name!r} provides {shown}")
    specs = {"plant": plant, "controller": controller, "task": task}
    for role, factory in (factories or {}).items():
        spec = specs.get(role)
        if spec is None:
            raise ValueError(f"check_compatible: factories keys are plant, controller, task; got {role!r}")
        gaps = missing_capabilities(spec.provides, factory)
        if gaps:
            origin = f" (plugin {spec.plugin!r})" if spec.plugin else ""
            reasons.append(f"{spec.kind or role} {spec.name!r}{origin} {describe_missing(gaps)}")
    reasons += _target_reasons(controller, task)
    if reasons:
        raise Incompatible(f"cannot run {plant.name} {controller.name} {task.name}: " + "; ".join(reasons))


def _origin(spec: Spec) -> str:
    return f" (plugin {spec.plugin!r})" if spec.plugin else ""


def _target_reasons(controller: Spec, task: Spec) -> list[str]:
    """Why the task's target does not fit what the controller accepts; a :class:`ContractWarning` when one side
    declares nothing and the pairing is allowed.

    * both declared: the task's target must be one the controller accepts;
    * a task that declares nothing with a controller that reads a target
      (accepts ``hand`` or ``state``) is refused: the controller would read
      whatever the task hands it as its kind of target;
    * otherwise an undeclared side is allowed, with one warning naming what
      to declare.
    """
    if controller.kind != "controller" or task.kind != "task":
        return []
    target, accepts = task.target, controller.accepts
    if target is not None and accepts is not None:
        if target in accepts:
            return []
        return [f"task {task.name!r} hands the controller a {target!r} target; controller {controller.name!r} "
                f"accepts {' or '.join(repr(a) for a in sorted(accepts))} targets"]
    fix_task = (f"task {task.name!r}{_origin(task)} declares no target kind (register it with target='hand', "
                f"'state' or 'none')")
    if target is None and accepts is not None and accepts - {"none"}:
        return [f"{fix_task}; controller {controller.name!r} reads {' or '.join(sorted(accepts - {'none'}))} "
                f"targets and would misread any other"]
    undeclared = ([fix_task] if target is None else []) + (
        [f"controller {controller.name!r}{_origin(controller)} declares no accepted targets (register it with "
         f"accepts={{...}} of 'hand', 'state', 'none')"] if accepts is None else [])
    warnings.warn("; ".join(undeclared) + "; assumed compatible, which will become an error",
                  ContractWarning, stacklevel=2)
    return []
