"""The plugin manager: one ``pluggy.PluginManager("bench")`` and its loading.

Built-in plugins (:data:`DEFAULT_PLUGINS`, like pytest's ``default_plugins``)
and third-party ones (entry points of group ``bench``) go through the same
call path, :func:`_load_plugin`: import the module, register it with pluggy,
call its hooks with a ``register`` function, keep what it registered.

Loading is lazy: nothing is imported until the first registry lookup.

Environment:

``BENCH_DISABLE_PLUGIN_AUTOLOAD=1``
    load no entry-point plugins (built-ins still load);
``BENCH_PLUGINS=name,name``
    load only these entry-point plugins (even with autoload disabled).

A third-party plugin that fails to import, or whose hook raises, produces one
:class:`PluginWarning` naming it and the error, and contributes nothing; the
others still load.  Two plugins registering the same name is a
:class:`~bench.errors.DuplicateName` error naming both.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import threading
import warnings
from collections.abc import Callable
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .errors import BenchError, DuplicateName, suggestion
from .registry import KINDS, Registry, Spec

ENTRY_POINT_GROUP = "bench"

#: Built-in plugin modules, loaded before any entry point.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "bench.tasks",
    "bench.plants",
    "bench.controllers",
)

_HOOKS = {
    "plant": "register_plants",
    "controller": "register_controllers",
    "task": "register_tasks",
    "dataset": "register_datasets",
}


class PluginWarning(UserWarning):
    """A plugin that could not be loaded; the others still are."""


@dataclasses.dataclass
class PluginInfo:
    """One plugin as ``bench list`` reports it."""

    name: str
    source: str  # "builtin" or "dist-name version"
    error: str | None = None
    specs: list[Spec] = dataclasses.field(default_factory=list)


class Host:
    """The plugin manager plus the registry it fills."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.plugins: dict[str, PluginInfo] = {}

    # -- loading ---------------------------------------------------------
    def load_defaults(self) -> None:
        for modname in DEFAULT_PLUGINS:
            self._load_plugin(modname, lambda m=modname: importlib.import_module(m), "builtin")

    def load_entry_points(self) -> None:
        wanted_env = os.environ.get("BENCH_PLUGINS", "").strip()
        wanted = [w.strip() for w in wanted_env.split(",") if w.strip()] if wanted_env else None
        if os.environ.get("BENCH_DISABLE_PLUGIN_AUTOLOAD", "").strip() not in ("", "0") and wanted is None:
            return
        eps = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
        names = [ep.name for ep in eps]
        if wanted is not None:
            for w in wanted:
                if w not in names:
                    warnings.warn(f"BENCH_PLUGINS names {w!r}, which no installed distribution provides{suggestion(w, names)}",
                                  PluginWarning, stacklevel=2)
            eps = [ep for ep in eps if ep.name in wanted]
        for ep in eps:
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "entry point"
            self._load_plugin(ep.name, ep.load, dist)

    def register(self, plugin: Any, name: str | None = None, source: str = "runtime") -> None:
        """Register an already-imported plugin object (tests, notebooks)."""
        name = name or getattr(plugin, "__name__", None) or repr(plugin)
        self._load_plugin(name, lambda: plugin, source)

    def _load_plugin(self, name: str, load: Callable[[], Any], source: str) -> None:
        if name in self.plugins:
            return
        info = PluginInfo(name, source)
        self.plugins[name] = info
        try:
            module = load()
            if self.pm.is_registered(module):
                info.error = "already registered under another name"
                return
            self.pm.register(module, name=name)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the others
            info.error = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"plugin {name!r} ({source}) failed to load: {info.error}", PluginWarning, stacklevel=3)
            return
        collected: list[Spec] = []
        try:
            for kind in KINDS:
                caller = getattr(self.pm.hook, _HOOKS[kind])
                for impl in caller.get_hookimpls():
                    if impl.plugin is module:
                        impl.function(register=self.registry.register_function(kind, name, collected))
        except Exception as exc:  # noqa: BLE001
            info.error = f"{type(exc).__name__}: {exc}"
            self.pm.unregister(module)
            warnings.warn(f"plugin {name!r} ({source}) failed to register: {info.error}", PluginWarning, stacklevel=3)
            return
        for spec in collected:  # all or nothing for this plugin, duplicates are errors
            if (spec.kind, spec.name) in self.registry:
                other = self.registry.get(spec.kind, spec.name)
                raise DuplicateName(
                    f"{spec.kind} {spec.name!r} is registered twice: by plugin {other.plugin!r} "
                    f"({self.plugins[other.plugin].source}) and by plugin {name!r} ({source})")
        seen: dict[tuple[str, str], Spec] = {}
        for spec in collected:
            if (spec.kind, spec.name) in seen:
                raise DuplicateName(f"{spec.kind} {spec.name!r} is registered twice by plugin {name!r}")
            seen[(spec.kind, spec.name)] = spec
        for spec in collected:
            self.registry.add(spec)
        info.specs = collected


_lock = threading.Lock()
_host: Host | None = None


def host() -> Host:
    """The process-wide host, loading every plugin on first use."""
    global _host
    if _host is None:
        with _lock:
            if _host is None:
                h = Host()
                h.load_defaults()
                h.load_entry_points()
                _host = h
    return _host


def registry() -> Registry:
    """The process-wide registry (loads the plugins on first use)."""
    return host().registry


def register_plugin(plugin: Any, name: str | None = None) -> None:
    """Register a plugin object at run time, e.g. from a notebook."""
    host().register(plugin, name)


def reset() -> None:
    """Forget every loaded plugin; the next lookup loads them again."""
    global _host
    with _lock:
        _host = None


__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "BenchError",
    "Host",
    "PluginInfo",
    "PluginWarning",
    "host",
    "register_plugin",
    "registry",
    "reset",
]
