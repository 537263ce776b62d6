"""Typed settings for plugins and tasks.

Every plant, controller, task and dataset declares its settings as a
dataclass (its ``Settings`` attribute).  Values arrive as Python objects
(``bench.plant("arm2", dt=0.01)``) or as strings from the command line
(``--set osc.kp=200``); :func:`coerce` turns either into the declared type and
checks the declared range, and :func:`build` refuses unknown keys listing the
valid ones.

Declare a constrained field with :func:`setting`::

    @dataclass
    class Settings:
        dt: float = setting(1e-3, "integration step", unit="s", gt=0)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, get_args, get_origin

from .errors import SettingError, suggestion

_MISSING = dataclasses.MISSING


def setting(
    default: Any = _MISSING,
    help: str = "",
    *,
    unit: str | None = None,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    choices: tuple | None = None,
    default_factory: Any = _MISSING,
) -> Any:
    """A dataclass field with a help text, a unit and a checked range."""
    meta = {"help": help, "unit": unit, "gt": gt, "ge": ge, "lt": lt, "le": le, "choices": choices}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass
class NoSettings:
    """The settings of a component that has none."""


def fields(settings_cls: type) -> dict[str, dataclasses.Field]:
    """The declared fields of a settings dataclass, by name."""
    return {f.name: f for f in dataclasses.fields(settings_cls)}


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _parse_scalar(text: str, tp: type, key: str) -> Any:
    if tp is bool:
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise SettingError(f"setting {key!r} expects true or false, got {text!r}")
    if tp is int:
        try:
            return int(text, 0) if isinstance(text, str) else int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                as_float = math.nan
            if math.isfinite(as_float) and as_float == int(as_float):
                return int(as_float)
            raise SettingError(f"setting {key!r} expects an integer, got {text!r}") from None
    if tp is float:
        try:
            return float(text)
        except ValueError:
            raise SettingError(f"setting {key!r} expects a number, got {text!r}") from None
    if tp is str:
        return text
    raise SettingError(f"setting {key!r} has a type ({_type_name(tp)}) that cannot be parsed")


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Convert ``value`` (an object or a command-line string) to type ``tp``."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if type(None) in args and (value is None or (isinstance(value, str) and value.lower() in ("none", "null", ""))):
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key)
            except SettingError as exc:
                errors.append(str(exc))
        raise SettingError(errors[0] if len(errors) == 1 else f"setting {key!r} expects {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        allowed = get_args(tp)
        for a in allowed:
            if value == a or (isinstance(value, str) and str(a) == value):
                return a
        raise SettingError(f"setting {key!r} must be one of {', '.join(map(repr, allowed))}; got {value!r}{suggestion(str(value), map(str, allowed))}")
    if origin in (tuple, list):
        args = get_args(tp)
        inner = args[0] if args else Any
        if isinstance(value, str):
            items = [v for v in value.replace(";", ",").split(",") if v.strip()] if value.strip() else []
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            items = [value]
        out = [_convert(v.strip() if isinstance(v, str) else v, inner, key) for v in items]
        return tuple(out) if origin is tuple else out
    if isinstance(value, str):
        result = _parse_scalar(value, tp, key)
    elif tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        result = float(value)
    elif tp is int and isinstance(value, int) and not isinstance(value, bool) or tp is int and isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(tp, type) and isinstance(value, tp):
        result = value
    else:
        raise SettingError(f"setting {key!r} expects {_type_name(tp)}, got {value!r} ({type(value).__name__})")
    if isinstance(result, float) and not math.isfinite(result):
        raise SettingError(f"setting {key!r} must be a finite number, got {value!r}")
    return result


def coerce(field: dataclasses.Field, value: Any, key: str | None = None) -> Any:
    """``value`` converted to ``field``'s declared type and checked against its range."""
    key = key or field.name
    tp = field.type
    if isinstance(tp, str):  # postponed annotations: resolved by build()
        raise SettingError(f"setting {key!r}: unresolved type {tp!r}")
    out = _convert(value, tp, key)
    meta = field.metadata or {}
    unit = f" {meta['unit']}" if meta.get("unit") else ""
    for v in out if isinstance(out, (tuple, list)) else (out,):
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        bounds = (("gt", lambda a, b: a > b, ">"), ("ge", lambda a, b: a >= b, ">="),
                  ("lt", lambda a, b: a < b, "<"), ("le", lambda a, b: a <= b, "<="))
        for name, ok, sym in bounds:
            bound = meta.get(name)
            if bound is not None and not ok(v, bound):
                raise SettingError(f"setting {key!r} must be {sym} {bound}{unit}; got {v!r}")
    choices = meta.get("choices")
    if choices and out not in choices:
        raise SettingError(f"setting {key!r} must be one of {', '.join(map(repr, choices))}; got {out!r}{suggestion(str(out), map(str, choices))}")
    return out


def build(settings_cls: type, values: Mapping[str, Any], owner: str = "") -> Any:
    """An instance of ``settings_cls`` from ``values``, every key checked.

    Raises :class:`SettingError` for an unknown key (listing the valid ones),
    a value of the wrong type, or a value out of the declared range.
    """
    hints = typing.get_type_hints(settings_cls)
    known = fields(settings_cls)
    prefix = f"{owner}." if owner else ""
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            valid = ", ".join(sorted(known)) or "none"
            raise SettingError(f"unknown setting {prefix}{key!r}{suggestion(key, known)}; valid keys for {owner or settings_cls.__name__}: {valid}")
        f = known[key]
        f.type = hints.get(key, f.type)
        kwargs[key] = coerce(f, value, prefix + key)
    try:
        obj = settings_cls(**kwargs)
    except TypeError as exc:  # a required field without default
        raise SettingError(f"{owner or settings_cls.__name__}: {exc}") from None
    except ValueError as exc:  # __post_init__ cross-field checks
        raise SettingError(f"{owner or settings_cls.__name__}: {exc}") from None
    return obj


def as_dict(settings: Any) -> dict[str, Any]:
    """Settings as a JSON-friendly dict (tuples become lists)."""
    if settings is None:
        return {}
    return json.loads(json.dumps(dataclasses.asdict(settings), default=str))


def settings_hash(parts: Mapping[str, Any]) -> str:
    """A short stable hash of a mapping of settings (key order ignored)."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def describe(settings_cls: type) -> list[tuple[str, str, Any, str]]:
    """(name, type, default, help) for every field: for ``bench list -v``."""
    hints = typing.get_type_hints(settings_cls)
    rows = []
    for f in dataclasses.fields(settings_cls):
        default = f.default if f.default is not _MISSING else (
            f.default_factory() if f.default_factory is not _MISSING else None)
        meta = f.metadata or {}
        helptext = meta.get("help", "")
        if meta.get("unit"):
            helptext = f"{helptext} [{meta['unit']}]".strip()
        rows.append((f.name, _type_name(hints.get(f.name, f.type)), default, helptext))
    return rows


def route(pairs: Mapping[str, Any], components: Mapping[str, tuple[str, type]]) -> dict[str, dict[str, Any]]:
    """Send each ``key=value`` to the component that declares ``key``.

    ``components`` maps a component's name (``"osc"``) to ``(kind, Settings)``.
    A key may be qualified by the component's name or kind (``osc.kp``,
    ``controller.kp``, ``reach.targets``); an unqualified key goes to the one
    component that declares it, and is refused as ambiguous when several do.
    Values are returned unconverted; :func:`build` converts and checks them.
    """
    out: dict[str, dict[str, Any]] = {name: {} for name in components}
    declared = {name: fields(cls) for name, (_, cls) in components.items()}
    by_kind = {kind: name for name, (kind, _) in components.items()}
    valid = sorted(f"{name}.{key}" for name, keys in declared.items() for key in keys)
    for raw_key, value in pairs.items():
        owner, _, key = raw_key.rpartition(".")
        if owner:
            name = owner if owner in components else by_kind.get(owner)
            if name is None:
                raise SettingError(f"unknown component {owner!r} in setting {raw_key!r}"
                                   f"{suggestion(owner, list(components) + list(by_kind))}; "
                                   f"components: {', '.join(components)}")
            if key not in declared[name]:
                raise SettingError(f"unknown setting {raw_key!r}{suggestion(f'{name}.{key}', valid)}; "
                                   f"valid keys: {', '.join(valid) or 'none'}")
            out[name][key] = value
            continue
        owners = [name for name, keys in declared.items() if key in keys]
        if not owners:
            raise SettingError(f"unknown setting {key!r}{suggestion(key, [v.split('.', 1)[1] for v in valid])}; "
                               f"valid keys: {', '.join(valid) or 'none'}")
        if len(owners) > 1:
            raise SettingError(f"setting {key!r} is ambiguous: declared by {' and '.join(owners)}; "
                               f"qualify it ({', '.join(f'{o}.{key}' for o in owners)})")
        out[owners[0]][key] = value
    return out


def parse_pairs(items: list[str] | None) -> dict[str, str]:
    """``["a=1", "osc.kp=2"]`` → ``{"a": "1", "osc.kp": "2"}`` (later wins)."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SettingError(f"--set expects key=value, got {item!r}")
        out[key] = value.strip()
    return out
