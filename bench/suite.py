"""Benchmark suites: fixed, versioned sweeps declared in TOML.

A suite file (built-in ones live in ``bench/suites/NAME.toml``; ``--suite
PATH`` takes a user's own)::

    name = "quick"
    version = 1                 # bump when the runs change: results of two
                                # versions are never compared as equals
    description = "..."
    seeds = 3                   # default for every [[run]]
    max_regression = "5%"       # bench compare's default threshold

    [[run]]
    plant = "arm2"              # a name, a comma list or a list of names
    controller = ["osc"]
    task = "reach"
    seeds = 5                   # optional: a count or a list of seeds
    dt = 0.002                  # optional: seconds (or a list)
    set = { "reach.targets" = 8, "osc.kp" = [100, 200] }   # a list sweeps
    train = false               # optional: train each learner first (bench run --train)

    [[run]]                     # training runs (bench train): the task TASK:train
    plant = "arm2"
    controller = "ahf"
    task = "reach:train"        # stores each training, its learning curve and time-to-threshold metrics
    set = { "ahf.regime" = ["rollout", "fixed", "switch"] }

    [thresholds]                # per-metric regression thresholds
    latency_us_per_call = "off" # METRIC or TASK.METRIC; "N%" or "off"

Every key is checked: a typo is one :class:`SuiteError` naming the file, the
key and the closest valid key (exit 2).  ``bench ci --suite quick`` runs the
suite through :mod:`bench.sweep` (:mod:`bench.commands.ci`), recording ``NAME@VERSION`` and the git
commit with every run.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import SuiteError, suggestion
from .limits import INT_MAX, exceeded, max_seeds, max_suite_depth
from .sweep import Plan, plan

#: The largest suite file read (a suite is a few kilobytes).
MAX_BYTES = 1 << 20
TOP_KEYS = ("name", "version", "description", "seeds", "max_regression", "run", "thresholds")
RUN_KEYS = ("plant", "controller", "task", "seeds", "dt", "set", "train")


@dataclasses.dataclass
class Entry:
    """One ``[[run]]`` table: a sweep of its own."""

    plants: list[str]
    controllers: list[str]
    tasks: list[str]
    seeds: list[int]
    sets: dict[str, list[str]]
    dt: str | None = None
    train: bool = False


@dataclasses.dataclass
class Suite:
    """A loaded suite; :attr:`label` (``NAME@VERSION``) is what runs record."""

    name: str
    version: int
    description: str
    path: Path
    entries: list[Entry]
    max_regression: float | None = 0.05  # None: never gate
    thresholds: dict[str, float | None] = dataclasses.field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def threshold(self, task: str, metric: str, default: float | object | None = ...) -> float | None:
        """The regression threshold (a fraction, None = never gate) for ``task``'s ``metric``.

        A per-metric entry of the suite wins; otherwise ``default`` when given
        (None meaning "off"), else the suite's ``max_regression``.
        """
        for key in (f"{task}.{metric}", metric):
            if key in self.thresholds:
                return self.thresholds[key]
        return self.max_regression if default is ... else default

    def plan(self, workroot: str | Path = ".bench/runs"):
        """All entries expanded into one :class:`bench.sweep.Plan`."""

        jobs, refused, combos = [], [], 0
        for e in self.entries:
            p = plan(e.plants, e.controllers, e.tasks, sets=e.sets, seeds=e.seeds, dt=e.dt, suite=self.label,
                     workroot=workroot, train=e.train)
            jobs += p.jobs
            refused += p.refused
            combos += p.combinations
        return Plan(list(dict.fromkeys(jobs)), refused, combos)


def builtin_suites() -> list[str]:
    """Names of the suites shipped in ``bench/suites``."""
    folder = resources.files("bench") / "suites"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def parse_fraction(value: Any, where: str) -> float | None:
    """``"5%"`` → 0.05; ``"off"`` → None (never gate)."""
    text = str(value).strip().lower()
    if text in ("off", "none", "inf"):
        return None
    if not text.endswith("%"):
        raise SuiteError(f"{where}: expected a percentage like '5%' or 'off', got {value!r}")
    try:
        out = float(text[:-1]) / 100
    except ValueError:
        raise SuiteError(f"{where}: expected a percentage like '5%' or 'off', got {value!r}") from None
    if not math.isfinite(out) or out < 0:
        raise SuiteError(f"{where}: expected a non-negative percentage, got {value!r}")
    return out


def _check_keys(table: Mapping[str, Any], valid: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in valid:
            raise SuiteError(f"{where}: unknown key {key!r}{suggestion(key, valid)}; valid keys: {', '.join(valid)}")


def _names(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        out = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        out = [v.strip() for v in value if v.strip()]
    else:
        raise SuiteError(f"{where}: expected a name, a comma list or a list of names, got {value!r}")
    if not out:
        raise SuiteError(f"{where}: no name given")
    return out


def _seeds(value: Any, where: str) -> list[int]:
    """A count (0..N-1) or a list of seeds (each 0 .. 2**63 - 1), at most ``BENCH_MAX_SEEDS`` of them."""
    most = max_seeds()
    valid = f"a count from 1 to {most:,} or a list of seeds from 0 to {INT_MAX:,}"
    if isinstance(value, bool):
        raise SuiteError(f"{where}: expected {valid}, got {value!r}")
    if isinstance(value, int) and value >= 1:
        if value > most:
            raise exceeded(where, value, "BENCH_MAX_SEEDS")
        return list(range(value))
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= INT_MAX
                                                for v in value):
        if len(value) > most:
            raise exceeded(where, len(value), "BENCH_MAX_SEEDS")
        return list(dict.fromkeys(value))
    raise SuiteError(f"{where}: expected {valid}, got {_short(value)}")


def _short(value: Any) -> str:
    """``repr(value)`` cut to 60 characters (a suite may hold huge values)."""
    if isinstance(value, int) and abs(value) >= 10**30:
        return "a number of more than 30 digits"
    text = repr(value[:20] if isinstance(value, list) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _depth(text: str) -> int:
    """The deepest nesting of arrays and inline tables in TOML ``text`` (strings and comments skipped), found by
    scanning brackets, so that a hostile file never reaches the parser's recursion."""
    depth = most = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            triple = text.startswith(c * 3, i)
            quote = c * 3 if triple else c
            i += len(quote)
            while i < n and not text.startswith(quote, i):
                if c == '"' and text[i] == "\\":
                    i += 1
                elif not triple and text[i] == "\n":
                    break
                i += 1
            i += len(quote)
            continue
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if c in "[{":
            depth += 1
            most = max(most, depth)
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return most


def _value(v: Any) -> str:
    if isinstance(v, list):  # a tuple setting: elements joined with ';' (see bench.sweep)
        return ";".join(map(_value, v))
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def load(text: str, path: Path) -> Suite:
    """Parse and check the TOML ``text`` of the suite file at ``path``."""
    where = str(path)
    text = text.removeprefix("\ufeff")  # a byte-order mark (Windows editors write one)
    deepest, most = _depth(text), max_suite_depth()
    if deepest > most:
        raise SuiteError(f"{where}: arrays or tables nested {deepest:,} deep; at most {most} "
                         f"(BENCH_MAX_SUITE_DEPTH; a suite needs about 3)")
    try:
        data = tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, or an integer of thousands of digits
        raise SuiteError(f"{where}: not valid TOML: {str(exc)[:200]}") from None
    except RecursionError:  # pragma: no cover - _depth keeps files this deep out
        raise SuiteError(f"{where}: nested too deep to parse") from None
    _check_keys(data, TOP_KEYS, where)
    for key in ("name", "version", "run"):
        if key not in data:
            raise SuiteError(f"{where}: missing required key {key!r}")
    name, version = data["name"], data["version"]
    if not isinstance(name, str) or not name.strip() or any(c in name for c in " @,"):
        raise SuiteError(f"{where}: name must be a word without spaces, '@' or ',', got {name!r}")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SuiteError(f"{where}: version must be an integer >= 1, got {version!r}")
    default_seeds = _seeds(data.get("seeds", 3), f"{where}: seeds")
    runs = data["run"]
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) for r in runs):
        raise SuiteError(f"{where}: 'run' must be one or more [[run]] tables")
    entries = []
    for i, r in enumerate(runs, 1):
        here = f"{where}: [[run]] #{i}"
        _check_keys(r, RUN_KEYS, here)
        for key in ("plant", "controller", "task"):
            if key not in r:
                raise SuiteError(f"{here}: missing required key {key!r}")
        sets = r.get("set", {})
        if not isinstance(sets, dict):
            raise SuiteError(f"{here}: 'set' must be a table of setting = value, got {sets!r}")
        # a list sweeps its values; a string is one value (its commas make a tuple)
        values = {k: [_value(x) for x in v] if isinstance(v, list) else [_value(v).replace(",", ";")]
                  for k, v in sets.items()}
        for k, v in values.items():
            if not v:
                raise SuiteError(f"{here}: setting {k!r} has an empty list of values")
        dt = r.get("dt")
        if dt is not None:
            dt = ",".join(map(_value, dt)) if isinstance(dt, list) else _value(dt)
        train = r.get("train", False)
        if not isinstance(train, bool):
            raise SuiteError(f"{here}: train must be true or false, got {train!r}")
        entries.append(Entry(_names(r["plant"], f"{here}: plant"), _names(r["controller"], f"{here}: controller"),
                             _names(r["task"], f"{here}: task"),
                             _seeds(r["seeds"], f"{here}: seeds") if "seeds" in r else default_seeds, values, dt,
                             train))
    thresholds = data.get("thresholds", {})
    if not isinstance(thresholds, dict):
        raise SuiteError(f"{where}: 'thresholds' must be a table of METRIC = \"N%\"")
    return Suite(name=name, version=version, description=str(data.get("description", "")), path=path,
                 entries=entries,
                 max_regression=parse_fraction(data.get("max_regression", "5%"), f"{where}: max_regression"),
                 thresholds={k: parse_fraction(v, f"{where}: thresholds.{k}") for k, v in thresholds.items()})


def find(name_or_path: str | Path) -> Suite:
    """A built-in suite by name, or a suite file by path."""
    text = str(name_or_path)
    path = Path(text)
    if path.suffix == ".toml" or path.exists() or "/" in text:
        if not path.is_file():
            raise SuiteError(f"--suite {text}: no such file")
        try:
            size = path.stat().st_size
            if size > MAX_BYTES:
                raise SuiteError(f"--suite {text}: {size:,} bytes; a suite file has at most {MAX_BYTES:,}")
            return load(path.read_text(encoding="utf-8-sig"), path)
        except (OSError, UnicodeDecodeError) as exc:
            raise SuiteError(f"--suite {text}: cannot read: {exc}") from None
    names = builtin_suites()
    if text not in names:
        raise SuiteError(f"unknown suite {text!r}{suggestion(text, names)}; built-in suites: {', '.join(names)} "
                         "(or give the path of a .toml file)")
    res = resources.files("bench") / "suites" / f"{text}.toml"
    return load(res.read_text(encoding="utf-8"), Path(str(res)))
