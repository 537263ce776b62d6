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
        iterations: int = setting(300, "training updates", ge=1, train_only=True)

A setting marked ``train_only`` shapes only a training (:func:`train_only`):
``bench run`` refuses it unless the run trains the component, and the
settings stored with a run that trained nothing leave it out
(:func:`as_dict` with ``trained=False``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
import warnings
import weakref
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
    train_only: bool = False,
) -> Any:
    """A dataclass field with a help text, a unit and a checked range.

    ``train_only``: the value is read only when the component is trained
    (an optimiser's budget or step size, a training regime), never when it
    acts with weights it already has.
    """
    meta = {"help": help, "unit": unit, "gt": gt, "ge": ge, "lt": lt, "le": le, "choices": choices,
            "train_only": bool(train_only)}
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
        raise SettingError(errors[0] if len(errors) == 1
                           else f"setting {key!r} expects {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        allowed = get_args(tp)
        for a in allowed:
            if value == a or (isinstance(value, str) and str(a) == value):
                return a
        raise SettingError(f"setting {key!r} must be one of {', '.join(map(repr, allowed))}; "
                           f"got {value!r}{suggestion(str(value), map(str, allowed))}")
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
    elif (tp is int and isinstance(value, int) and not isinstance(value, bool)) or (
            tp is int and isinstance(value, float) and value.is_integer()):
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
    return _coerce(field.type, field.metadata, value, key or field.name)


def _coerce(tp: Any, meta: Mapping[str, Any] | None, value: Any, key: str) -> Any:
    if isinstance(tp, str):  # postponed annotations: resolved by build()
        raise SettingError(f"setting {key!r}: unresolved type {tp!r}")
    out = _convert(value, tp, key)
    meta = meta or {}
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
        raise SettingError(f"setting {key!r} must be one of {', '.join(map(repr, choices))}; "
                           f"got {out!r}{suggestion(str(out), map(str, choices))}")
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
            raise SettingError(f"unknown setting {prefix}{key!r}{suggestion(key, known)}; "
                               f"valid keys for {owner or settings_cls.__name__}: {valid}")
        f = known[key]
        f.type = hints.get(key, f.type)
        kwargs[key] = coerce(f, value, prefix + key)
    try:
        obj = settings_cls(**kwargs)
    except TypeError as exc:  # a required field without default
        raise SettingError(f"{owner or settings_cls.__name__}: {exc}") from None
    except ValueError as exc:  # __post_init__ cross-field checks
        raise SettingError(f"{owner or settings_cls.__name__}: {exc}") from None
    return validate(obj, owner)  # the defaults and the cross-field check()


_HINTS: weakref.WeakKeyDictionary[type, dict[str, Any]] = weakref.WeakKeyDictionary()


def _hints(settings_cls: type) -> dict[str, Any]:
    """The resolved field types of a settings class (cached); ``{}`` if they cannot be resolved."""
    try:
        return _HINTS[settings_cls]
    except (KeyError, TypeError):
        pass
    try:
        hints = typing.get_type_hints(settings_cls)
    except Exception:
        hints = {}
    try:
        _HINTS[settings_cls] = hints
    except TypeError:
        pass
    return hints


def _default(f: dataclasses.Field) -> Any:
    if f.default is not _MISSING:
        return f.default
    if f.default_factory is not _MISSING:
        return f.default_factory()
    return _MISSING


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False


def validate(settings: Any, owner: str = "") -> Any:
    """Check a settings dataclass instance as :func:`build` checks its values; returns it.

    Every field's current value is converted to its declared type and checked
    against its declared range (:func:`coerce`; a converted value, say ``1``
    for a ``float`` or a list for a ``tuple``, is written back), then the
    optional cross-field method ``check(self)`` runs (raising ``ValueError``
    for a bad combination; put such rules there or in ``__post_init__``,
    which runs when the dataclass is created and which :func:`build` reports
    the same way).  Raises :class:`SettingError` naming ``owner.key``.

    A *default* that does not fit its own declaration is a plugin bug that
    :func:`build` never noticed; it gives a :class:`DeprecationWarning`
    instead of an error.  Anything that is not a dataclass instance is
    returned unchecked.
    """
    if settings is None or isinstance(settings, type) or not dataclasses.is_dataclass(settings):
        return settings
    cls = type(settings)
    hints = _hints(cls)
    prefix = f"{owner}." if owner else ""
    for f in dataclasses.fields(settings):
        tp = hints.get(f.name, f.type)
        if isinstance(tp, str):
            continue  # an annotation that cannot be resolved: nothing to check against
        value = getattr(settings, f.name)
        try:
            out = _coerce(tp, f.metadata, value, prefix + f.name)
        except SettingError as exc:
            default = _default(f)
            if default is _MISSING or (not _same(value, default) and value is not default):
                raise
            warnings.warn(f"{owner or cls.__name__}: the default of setting {f.name!r} does not fit its "
                          f"declaration ({exc}); this will become an error", DeprecationWarning, stacklevel=3)
            continue
        except TypeError:
            continue  # a declared type coerce cannot check (e.g. dict[str, float]): left to the plugin
        if out is not value and not _same(out, value):
            object.__setattr__(settings, f.name, out)  # also works for frozen dataclasses
    check = getattr(settings, "check", None)
    if callable(check):
        try:
            check()
        except SettingError:
            raise
        except ValueError as exc:
            raise SettingError(f"{owner or cls.__name__}: {exc}") from None
    return settings


def train_only(settings_cls: Any) -> frozenset[str]:
    """The names of the fields of a settings dataclass (or instance) marked ``train_only``."""
    if settings_cls is None or not dataclasses.is_dataclass(settings_cls):
        return frozenset()
    return frozenset(f.name for f in dataclasses.fields(settings_cls) if (f.metadata or {}).get("train_only"))


def as_dict(settings: Any, *, trained: bool = True) -> dict[str, Any]:
    """Settings as a JSON-friendly dict (tuples become lists).

    With ``trained=False`` the fields marked ``train_only`` are left out:
    what shaped a run that trained nothing.
    """
    if settings is None:
        return {}
    out = json.loads(json.dumps(dataclasses.asdict(settings), default=str))
    if not trained:
        for key in train_only(settings):
            out.pop(key, None)
    return out


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
