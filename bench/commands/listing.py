"""``bench list [-v]``: every plant, dataset, controller and task, and which are unavailable."""

from __future__ import annotations

from typing import Any

from .. import settings as _settings
from ..errors import BenchError
from ..plugins import host
from . import Printer

TITLES = {"plant": "plants", "dataset": "datasets", "controller": "controllers", "task": "tasks"}


def _names(values: Any) -> str:
    return ", ".join(sorted(values)) if values else "-"


def contract(spec: Any, factory: Any = None) -> str:
    """What ``spec`` offers and needs, and (tasks, controllers) the targets it hands or accepts: one line."""
    parts = [f"provides: {_names(spec.provides)}", f"needs: {_names(spec.needs)}"]
    if spec.kind == "task":
        parts.append(f"target: {spec.target or 'undeclared'}")
        if getattr(factory, "TRAINS", False):
            parts.append("trains its controller in every run")
    elif spec.kind == "controller":
        parts.append(f"accepts: {_names(spec.accepts) if spec.accepts is not None else 'undeclared'}")
    return "; ".join(parts)


def list_components(*, verbose: bool, out: Printer) -> int:
    """One line per component; ``verbose`` adds what each provides and needs, the target it hands (tasks) or
    accepts (controllers), and each setting with its type, default and unit (``training only`` for the
    settings a run without training refuses)."""
    h = host()
    for kind, title in TITLES.items():
        specs = h.registry.specs(kind)
        if not specs:
            continue
        out(f"{title}:")
        width = max(len(s.name) for s in specs)
        pad = f"  {'':<{width}}    "
        for s in specs:
            src = "" if h.plugins[s.plugin].source == "builtin" else f"  [{h.plugins[s.plugin].source}]"
            state = "" if s.available() else f"  (unavailable, {s.install_hint()})"
            out(f"  {s.name:<{width}}  {s.summary}{src}{state}")
            if not verbose:
                continue
            try:
                factory = s.load() if s.available() else None
            except BenchError as exc:
                out(f"{pad}{contract(s)}")
                out(f"{pad}(cannot load: {exc})")
                continue
            out(f"{pad}{contract(s, factory)}")
            if factory is None:
                continue
            cls = getattr(factory, "Settings", _settings.NoSettings)
            only = _settings.train_only(cls)
            for key, tp, default, helptext in _settings.describe(cls):
                mark = "  (training only)" if key in only else ""
                out(f"{pad}{s.name}.{key}: {tp} = {default!r}  {helptext}{mark}")
    for p in h.plugins.values():
        if p.error:
            out(f"plugin {p.name} ({p.source}) failed to load: {p.error}")
        for problem in p.problems:  # unknown or unmarked hooks, disabled components (name clashes)
            out(f"warning: {problem}")
    return 0
