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
from collections.abc import Callable, Iterable
from typing import Any

from .errors import DuplicateName, Incompatible, PluginError, Unavailable, UnknownName

KINDS = ("plant", "controller", "task", "dataset")


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
        ``classify``; datasets ``images``.
    needs : frozenset of str
        Capabilities required of the plant (plain names) or, for tasks, of the
        controller (``controller:NAME``).
    extra : str or None
        The ``ctrlbench[extra]`` that installs ``requires``.
    requires : tuple of str
        Top-level modules that must be importable.
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
            raise Unavailable(f"{self.kind} {self.name!r} is unavailable: needs {', '.join(missing)}; {self.install_hint()}")
        if callable(self.factory):
            return self.factory
        module, _, attr = self.factory.partition(":")
        try:
            obj = importlib.import_module(module)
            for part in attr.split(".") if attr else ():
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise PluginError(f"{self.kind} {self.name!r} from plugin {self.plugin!r}: cannot load {self.factory!r}: {exc}") from exc
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
    )


class Registry:
    """Specs by kind and name, filled by the plugin hooks."""

    def __init__(self) -> None:
        self._specs: dict[str, dict[str, Spec]] = {k: {} for k in KINDS}

    def add(self, spec: Spec) -> None:
        table = self._specs[spec.kind]
        if spec.name in table:
            other = table[spec.name]
            raise DuplicateName(
                f"{spec.kind} {spec.name!r} is registered twice: by plugin {other.plugin!r} and by plugin {spec.plugin!r}")
        table[spec.name] = spec

    def register_function(self, kind: str, plugin: str, sink: list[Spec] | None = None) -> Callable[..., Spec]:
        """The ``register`` function handed to one plugin's hook."""

        def register(*args: Any, **kwargs: Any) -> Spec:
            spec = make_spec(kind, plugin, *args, **kwargs)
            if sink is not None:
                sink.append(spec)
            else:
                self.add(spec)
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


def check_compatible(plant: Spec, controller: Spec, task: Spec) -> None:
    """Refuse, before anything runs, a combination that cannot work.

    The task's plain ``needs`` must be provided by the plant (or dataset), its
    ``controller:`` needs by the controller, and the controller's needs by the
    plant.  The error lists every unmet need.
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
    if reasons:
        raise Incompatible(f"cannot run {plant.name} {controller.name} {task.name}: " + "; ".join(reasons))
