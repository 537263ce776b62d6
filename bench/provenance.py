"""Provenance of a run's components: who registered each, a digest of its code, the files it reads.

For each role of a run - ``plant`` (a plant or a dataset), ``controller``,
``task`` - :func:`component` returns::

    {"name", "kind", "plugin", "dist", "version", "source": "sha256:...", "files": [{"path", "sha256"}]}

* ``dist`` / ``version``: the distribution that registered it: ``ctrlbench``
  and its version for the built-ins, the entry point's distribution for a
  third-party plugin, ``runtime`` (no version) for a plugin object given to
  :func:`bench.register_plugin`;
* ``source``: sha256 over the sorted (name, bytes) of the code the component
  came from: the factory's module file when it sits directly in its plugin's
  package (``bench.controllers.osc``, a single-module plugin), else every file
  of the innermost package holding it, data included (``bench.controllers.ahf``
  with its shipped weights); plus, transitively, each module of the same
  distribution's plugin packages that those files import (``bench.plants.arm2``
  brings ``planar``; ``bench.tasks.reach`` brings ``bench.plants.geometry``).
  Hashed once per process (per loaded plugin set: :func:`bench.plugins.reset`
  starts afresh);
* ``files``: what :meth:`bench.api.Component.input_files` declares, each with
  its path and a content digest.

:func:`experiment_key` hashes all of it with the names, the settings hash and
the code version: the stored runs of one key are "the same experiment" (a
sweep skips them, the store keeps one row per seed).  :func:`fingerprint`
hashes only what lies outside ctrlbench's own code (third-party plugins and
every input file): what ``bench compare`` holds equal between two commits.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import json
import sys
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .plugins import Host, host

ROLES = ("plant", "controller", "task")
#: The registry kinds a role's component may have.
ROLE_KINDS = {"plant": ("plant", "dataset"), "controller": ("controller",), "task": ("task",)}
OWN = "ctrlbench"
UNAVAILABLE = "unavailable"

_sources: weakref.WeakKeyDictionary[Host, dict[str, str]] = weakref.WeakKeyDictionary()
_file_digests: dict[tuple[str, int, int], str] = {}


# -- digests -------------------------------------------------------------------------
def file_digest(path: str | Path) -> str | None:
    """``sha256:<hex>`` of a file's bytes (cached by path, size and mtime), None if it cannot be read."""
    p = Path(path)
    try:
        st = p.stat()
        key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
        if key not in _file_digests:
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            _file_digests[key] = "sha256:" + h.hexdigest()
        return _file_digests[key]
    except OSError:
        return None


def _module_file(name: str) -> Path | None:
    mod = sys.modules.get(name)
    origin = getattr(mod, "__file__", None) if mod is not None else None
    if origin is None and mod is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError, AttributeError):
            return None
        origin = spec.origin if spec is not None else None
    return Path(origin) if origin and Path(origin).is_file() else None


def _label(name: str, path: Path) -> str:
    """A location-free name: ``bench.plants/planar.py``, ``bench.controllers.ahf/__init__.py``."""
    if path.name.startswith("__init__."):
        return f"{name}/{path.name}"
    parent = name.rpartition(".")[0]
    return f"{parent}/{path.name}" if parent else path.name


def _package_files(name: str) -> dict[str, tuple[Path, str | None]]:
    """label → (file, module name or None) of every file of package ``name``, recursively."""
    out: dict[str, tuple[Path, str | None]] = {}
    mod = sys.modules.get(name) or importlib.import_module(name)
    for folder in map(Path, getattr(mod, "__path__", [])):
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if (not path.is_file() or path.suffix == ".pyc"
                    or any(part == "__pycache__" or part.startswith(".") for part in rel.parts)):
                continue
            module = None
            if path.suffix == ".py":
                parts = [name, *rel.with_suffix("").parts]
                module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[f"{name}/{rel.as_posix()}"] = (path, module)
    return out


def _imports(name: str, path: Path) -> Iterable[str]:
    """The modules the file of module ``name`` imports (relative imports resolved; function-level ones too)."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return
    package = name if path.name.startswith("__init__.") else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: max(0, len(package.split(".")) - node.level + 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:
                yield f"{mod}.{alias.name}" if _module_file(f"{mod}.{alias.name}") else mod


def _within(name: str, roots: Iterable[str]) -> bool:
    return any(name == r or name.startswith(r + ".") for r in roots)


def source_files(module: str, roots: tuple[str, ...]) -> dict[str, Path]:
    """label → file of the code of a component whose factory lives in ``module`` (see the module docstring)."""
    try:
        mod = sys.modules.get(module) or importlib.import_module(module)
    except Exception:
        return {}
    parent = module.rpartition(".")[0]
    if hasattr(mod, "__path__"):
        found = _package_files(module)
    elif parent and parent not in roots and _within(parent, roots):
        found = _package_files(parent)  # a module of a subpackage: the whole subpackage
    else:
        path = _module_file(module)
        found = {_label(module, path): (path, module)} if path else {}
    todo = [(m, p) for p, m in found.values() if m is not None]
    seen = {m for _, m in found.values() if m is not None}
    while todo:
        name, path = todo.pop()
        for target in _imports(name, path):
            if target in seen or not _within(target, roots):
                continue
            seen.add(target)
            file = _module_file(target)
            if file is not None and file.suffix == ".py":
                found.setdefault(_label(target, file), (file, target))
                todo.append((target, file))
    return {label: path for label, (path, _) in found.items()}


def source_digest(module: str, roots: tuple[str, ...]) -> str:
    """``sha256:<hex>`` over the sorted (label, bytes) of :func:`source_files`; hashed once per plugin set."""
    cache = _sources.setdefault(host(), {})
    key = f"{module}|{','.join(roots)}"
    if key not in cache:
        files = source_files(module, roots) if module else {}
        if not files:
            cache[key] = UNAVAILABLE
        else:
            h = hashlib.sha256()
            for label in sorted(files):
                data = files[label].read_bytes()
                h.update(f"{label}\0{len(data)}\0".encode())
                h.update(data)
            cache[key] = "sha256:" + h.hexdigest()
    return cache[key]


# -- components ----------------------------------------------------------------------
def _spec_of(role: str, obj: Any) -> Any:
    spec = getattr(obj, "spec", None)
    if spec is not None:
        return spec
    reg = host().registry
    for kind in ROLE_KINDS[role]:
        if (kind, getattr(obj, "name", "")) in reg:
            return reg.get(kind, obj.name)
    return None


def _factory_module(spec: Any, obj: Any) -> str:
    if spec is None:
        module = type(obj).__module__
        return "" if module in ("types", "builtins") else module
    if callable(spec.factory):
        return getattr(spec.factory, "__module__", "") or ""
    return spec.factory.partition(":")[0]


def _roots(dist: str, module: str) -> tuple[str, ...]:
    """The plugin packages of distribution ``dist`` (imports into them count as its code)."""
    roots = sorted({i.module for i in host().plugins.values() if i.dist == dist and i.module})
    if dist in ("runtime", "unregistered") or not roots:
        roots = [module.partition(".")[0]] if module else []
    return tuple(roots)


def declared_files(obj: Any) -> list[dict[str, Any]]:
    """``[{"path", "sha256"}]`` of the files ``obj.input_files()`` declares (absolute paths, sorted)."""
    declare = getattr(obj, "input_files", None)
    paths = declare() if callable(declare) else []
    unique = sorted({str(Path(p).expanduser().resolve()) for p in paths})
    return [{"path": p, "sha256": file_digest(p)} for p in unique]


def component(role: str, obj: Any) -> dict[str, Any]:
    """The provenance of the component ``obj`` playing ``role`` (see the module docstring)."""
    spec = _spec_of(role, obj)
    info = host().plugins.get(spec.plugin) if spec is not None else None
    dist = (info.dist if info is not None and info.dist else "runtime") if spec is not None else "unregistered"
    module = _factory_module(spec, obj)
    return {"name": getattr(obj, "name", ""), "kind": spec.kind if spec is not None else role,
            "plugin": spec.plugin if spec is not None else "", "dist": dist,
            "version": info.version if info is not None else None,
            "source": source_digest(module, _roots(dist, module)), "files": declared_files(obj)}


def components(plant: Any, controller: Any, task: Any) -> dict[str, dict[str, Any]]:
    """``{role: component(role, obj)}`` of a run's three components."""
    return {role: component(role, obj) for role, obj in zip(ROLES, (plant, controller, task))}


def add_reads(prov: dict[str, Any], paths: Iterable[Path]) -> None:
    """Record the files a run read (:func:`bench.npzfile.recording`): a declared one is marked ``read``,
    any other goes to ``prov["read"]`` with its digest."""
    declared = {f["path"]: f for role in ROLES for f in (prov.get(role) or {}).get("files", [])}
    extra = prov.setdefault("read", [])
    for path in dict.fromkeys(str(Path(p).resolve()) for p in paths):
        if path in declared:
            declared[path]["read"] = True
        elif all(e["path"] != path for e in extra):
            extra.append({"path": path, "sha256": file_digest(path)})


# -- keys ----------------------------------------------------------------------------
def _identity(c: Mapping[str, Any], own_code: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"files": sorted(str(f.get("sha256")) for f in c.get("files", []))}
    if own_code or c.get("dist") != OWN:
        out.update(dist=c.get("dist"), version=c.get("version"), source=c.get("source"))
    return out


def _hash(doc: Any) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def experiment_key(plant: str, controller: str, task: str, settings_hash: str, code_version: str | None,
                   comps: Mapping[str, Mapping[str, Any]]) -> str:
    """What makes two runs the same experiment: names, settings, code version, each role's provenance."""
    return _hash({"plant": plant, "controller": controller, "task": task, "settings_hash": settings_hash,
                  "code_version": code_version,
                  "components": {role: _identity(comps[role]) for role in ROLES if role in comps}})


def fingerprint(comps: Mapping[str, Mapping[str, Any]]) -> str:
    """What lies outside ctrlbench's own code: third-party plugins' dist, version and source, every input file."""
    return _hash({role: _identity(comps[role], own_code=False) for role in ROLES if role in comps})


def _short(value: Any) -> str:
    text = str(value)
    return text[:19] + "…" if text.startswith("sha256:") else text


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """One line per role whose provenance differs between ``old`` and ``new`` (what changed)."""
    lines = []
    for role in ROLES:
        a, b = old.get(role) or {}, new.get(role) or {}
        parts = [f"{what} {_short(a.get(what))} → {_short(b.get(what))}" for what in ("dist", "version", "source")
                 if a.get(what) != b.get(what)]
        fa = {f["path"]: f.get("sha256") for f in a.get("files", [])}
        fb = {f["path"]: f.get("sha256") for f in b.get("files", [])}
        parts += [f"file {p} changed ({_short(fa[p])} → {_short(fb[p])})" for p in sorted(fa.keys() & fb.keys())
                  if fa[p] != fb[p]]
        parts += [f"file {p} no longer read" for p in sorted(fa.keys() - fb.keys())]
        parts += [f"file {p} now read" for p in sorted(fb.keys() - fa.keys())]
        if parts:
            lines.append(f"{role} {b.get('name') or a.get('name')!r}: " + "; ".join(parts))
    return lines
