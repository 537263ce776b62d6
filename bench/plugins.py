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
others still load.

Holes in the contract are never silent; each gives one :class:`PluginWarning`
naming the plugin (and its distribution), also listed by ``bench list``:

* a ``@bench.hookimpl`` function whose name matches no hook specification
  (``register_controller``), with the closest hook name;
* a function named like a hook (a hook's name, or ``register_*``) without the
  ``@bench.hookimpl`` marker, which pluggy would skip;
* a name clash: a plugin registering a kind and name that an earlier plugin
  (built-in or not) registered.  Only that component of the later plugin is
  disabled, the warning names both plugins, every clash is reported, and
  every other component of both plugins works.  A plugin registering one
  name twice keeps the first.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import threading
import warnings
from collections.abc import Callable
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .errors import BenchError, suggestion
from .registry import KINDS, Registry, Spec

ENTRY_POINT_GROUP = "bench"

#: Built-in plugin modules, loaded before any entry point.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "bench.tasks",
    "bench.plants",
    "bench.datasets",
    "bench.controllers",
)

_HOOKS = {
    "plant": "register_plants",
    "controller": "register_controllers",
    "task": "register_tasks",
    "dataset": "register_datasets",
}

#: Every hook specification's name (``bench/hookspecs.py``).
HOOK_NAMES: tuple[str, ...] = tuple(sorted(
    name for name, obj in vars(hookspecs).items() if hasattr(obj, f"{hookspecs.PROJECT}_spec")))


class PluginWarning(UserWarning):
    """A plugin, or a part of one, that could not be loaded; everything else still is."""


@dataclasses.dataclass
class PluginInfo:
    """One plugin as ``bench list`` reports it."""

    name: str
    source: str  # "builtin" or "dist-name version"
    error: str | None = None
    specs: list[Spec] = dataclasses.field(default_factory=list)
    #: one line per contract problem (unknown hook, unmarked hook, name clash), each also warned
    problems: list[str] = dataclasses.field(default_factory=list)
    #: components not registered because an earlier plugin holds their name
    disabled: list[Spec] = dataclasses.field(default_factory=list)
    #: the distribution that installed it ("ctrlbench" for built-ins, "runtime" for register_plugin) and its version
    dist: str = ""
    version: str | None = None
    #: the plugin's module (its package holds the components' code)
    module: str = ""

    def problem(self, text: str) -> None:
        """Record one problem of this plugin and warn about it."""
        self.problems.append(text)
        warnings.warn(text, PluginWarning, stacklevel=4)


def _hook_like(plugin: Any) -> list[tuple[str, Any]]:
    """``(attribute, function)`` of the plugin's own routines named like a hook (a hook's name or ``register_*``)."""
    module_name = plugin.__name__ if inspect.ismodule(plugin) else None
    found = []
    for attr in dir(plugin):
        if not (attr in HOOK_NAMES or attr.startswith("register_")):
            continue
        try:
            obj = getattr(plugin, attr)
        except Exception:  # a property or module __getattr__ that raises: not a hook
            continue
        if not inspect.isroutine(obj):
            continue
        if module_name is not None and getattr(obj, "__module__", module_name) != module_name:
            continue  # imported from elsewhere (``from bench import register_plugin``), not this plugin's own
        found.append((attr, obj))
    return found


class Host:
    """The plugin manager plus the registry it fills."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.plugins: dict[str, PluginInfo] = {}

    # -- loading ---------------------------------------------------------
    def load_defaults(self) -> None:
        try:
            own = metadata.version("ctrlbench")
        except metadata.PackageNotFoundError:
            own = None
        for modname in DEFAULT_PLUGINS:
            self._load_plugin(modname, lambda m=modname: importlib.import_module(m), "builtin")
            self._origin(modname, "ctrlbench", own, modname)

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
                    warnings.warn(f"BENCH_PLUGINS names {w!r}, which no installed distribution provides"
                                  f"{suggestion(w, names)}", PluginWarning, stacklevel=2)
            eps = [ep for ep in eps if ep.name in wanted]
        for ep in eps:
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "entry point"
            self._load_plugin(ep.name, ep.load, dist)
            self._origin(ep.name, ep.dist.name if ep.dist else "entry point", ep.dist.version if ep.dist else None,
                         ep.value.partition(":")[0].strip())

    def register(self, plugin: Any, name: str | None = None, source: str = "runtime") -> None:
        """Register an already-imported plugin object (tests, notebooks)."""
        name = name or getattr(plugin, "__name__", None) or repr(plugin)
        self._load_plugin(name, lambda: plugin, source)
        self._origin(name, "runtime", None, plugin.__name__ if inspect.ismodule(plugin) else "")

    def _origin(self, name: str, dist: str, version: str | None, module: str) -> None:
        """Record where plugin ``name`` came from (its runs' provenance names it)."""
        info = self.plugins.get(name)
        if info is not None and not info.dist:
            info.dist, info.version, info.module = dist, version, module

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
        except Exception as exc:
            info.error = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"plugin {name!r} ({source}) failed to load: {info.error}", PluginWarning, stacklevel=3)
            return
        self._check_hooks(module, info)
        collected: list[Spec] = []
        try:
            for kind in KINDS:
                caller = getattr(self.pm.hook, _HOOKS[kind])
                for impl in caller.get_hookimpls():
                    if impl.plugin is module:
                        impl.function(register=self.registry.register_function(kind, name, collected))
        except Exception as exc:
            info.error = f"{type(exc).__name__}: {exc}"
            self.pm.unregister(module)
            warnings.warn(f"plugin {name!r} ({source}) failed to register: {info.error}", PluginWarning, stacklevel=3)
            return
        kept: dict[tuple[str, str], Spec] = {}
        for spec in collected:  # a clash disables that one component of the later plugin, nothing else
            key = (spec.kind, spec.name)
            if key in kept:
                info.disabled.append(spec)
                info.problem(f"plugin {name!r} ({source}) registers {spec.kind} {spec.name!r} twice; "
                             f"the first registration is kept")
            elif key in self.registry:
                other = self.registry.get(*key)
                info.disabled.append(spec)
                info.problem(f"{spec.kind} {spec.name!r} of plugin {name!r} ({source}) is disabled: plugin "
                             f"{other.plugin!r} ({self.plugins[other.plugin].source}) registered that name first")
            else:
                kept[key] = spec
        for spec in kept.values():
            self.registry.add(spec)
        info.specs = list(kept.values())

    def _check_hooks(self, plugin: Any, info: PluginInfo) -> None:
        """Warn about each marked function that matches no hook, and each hook-like one without the marker."""
        who = f"plugin {info.name!r} ({info.source})"
        for attr in dir(plugin):  # what pluggy registers: every marked routine, under its name or specname
            try:
                opts = self.pm.parse_hookimpl_opts(plugin, attr)
            except Exception:  # a property or module __getattr__ that raises: not a hook
                continue
            hook = (opts or {}).get("specname") or attr
            if opts is not None and hook not in HOOK_NAMES:
                where = "" if hook == attr else f" (function {attr!r})"
                info.problem(f"{who}: hook {hook!r}{where} matches no hook specification, so it is never "
                             f"called{self._hint(hook)}")
        for attr, func in _hook_like(plugin):  # what pluggy skips silently: the plugin's own unmarked ones
            if getattr(func, f"{hookspecs.PROJECT}_impl", None) is not None:
                continue
            if attr in HOOK_NAMES:
                info.problem(f"{who}: function {attr!r} lacks the @bench.hookimpl marker, so it is never "
                             f"called; mark it @bench.hookimpl")
            else:
                info.problem(f"{who}: function {attr!r} lacks the @bench.hookimpl marker and matches no hook, "
                             f"so it is never called{self._hint(attr)} (a helper: name it _{attr})")

    @staticmethod
    def _hint(name: str) -> str:
        return suggestion(name, HOOK_NAMES) or f"; the hooks are {', '.join(HOOK_NAMES)}"


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
    "HOOK_NAMES",
    "BenchError",
    "Host",
    "PluginInfo",
    "PluginWarning",
    "host",
    "register_plugin",
    "registry",
    "reset",
]
