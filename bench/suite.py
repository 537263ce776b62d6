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

    [thresholds]                # per-metric regression thresholds
    latency_us_per_call = "off" # METRIC or TASK.METRIC; "N%" or "off"

Every key is checked: a typo is one :class:`SuiteError` naming the file, the
key and the closest valid key (exit 2).  ``bench ci --suite quick`` runs the
suite through :mod:`bench.sweep`, recording ``NAME@VERSION`` and the git
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

TOP_KEYS = ("name", "version", "description", "seeds", "max_regression", "run", "thresholds")
RUN_KEYS = ("plant", "controller", "task", "seeds", "dt", "set")


@dataclasses.dataclass
class Entry:
    """One ``[[run]]`` table: a sweep of its own."""

    plants: list[str]
    controllers: list[str]
    tasks: list[str]
    seeds: list[int]
    sets: dict[str, list[str]]
    dt: str | None = None


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

    def threshold(self, task: str, metric: str, default: float | None | object = ...) -> float | None:
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
        from .sweep import Plan, plan

        jobs, refused, combos = [], [], 0
        for e in self.entries:
            p = plan(e.plants, e.controllers, e.tasks, sets=e.sets, seeds=e.seeds, dt=e.dt, suite=self.label,
                     workroot=workroot)
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
    if isinstance(value, bool):
        raise SuiteError(f"{where}: expected a count or a list of seeds, got {value!r}")
    if isinstance(value, int) and value >= 1:
        return list(range(value))
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                                for v in value):
        return list(value)
    raise SuiteError(f"{where}: expected a count >= 1 or a list of non-negative seeds, got {value!r}")


def _value(v: Any) -> str:
    if isinstance(v, list):  # a tuple setting: elements joined with ';' (see bench.sweep)
        return ";".join(map(_value, v))
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def load(text: str, path: Path) -> Suite:
    """Parse and check the TOML ``text`` of the suite file at ``path``."""
    where = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{where}: not valid TOML: {exc}") from None
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
        entries.append(Entry(_names(r["plant"], f"{here}: plant"), _names(r["controller"], f"{here}: controller"),
                             _names(r["task"], f"{here}: task"),
                             _seeds(r["seeds"], f"{here}: seeds") if "seeds" in r else default_seeds, values, dt))
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
            return load(path.read_text(encoding="utf-8"), path)
        except (OSError, UnicodeDecodeError) as exc:
            raise SuiteError(f"--suite {text}: cannot read: {exc}") from None
    names = builtin_suites()
    if text not in names:
        raise SuiteError(f"unknown suite {text!r}{suggestion(text, names)}; built-in suites: {', '.join(names)} "
                         "(or give the path of a .toml file)")
    res = resources.files("bench") / "suites" / f"{text}.toml"
    return load(res.read_text(encoding="utf-8"), Path(str(res)))


# -- bench ci ----------------------------------------------------------------
def add_parser(sub: Any) -> None:
    from .sweep import add_executor_arguments

    p = sub.add_parser("ci", help="run a fixed, versioned suite (records the git commit with every run)")
    p.add_argument("--suite", default="quick", help="built-in suite name or a .toml file (default quick)")
    p.add_argument("--db", type=Path, default=None, help="results store (default .bench/results.sqlite)")
    p.add_argument("--summary", type=Path, default=None, metavar="FILE",
                   help="also write this commit's summary table (markdown) to FILE")
    add_executor_arguments(p)


def cmd_ci(args: Any, out: Any, err: Any) -> int:
    """``bench ci --suite quick``: the suite as one sweep, then its summary table."""
    from .cli import db_path
    from .runner import git_commit
    from .store import Store
    from .sweep import execute_plan

    suite = find(args.suite)
    db = db_path(args.db)
    sweep_plan = suite.plan(workroot=(db.parent / "runs").resolve())
    commit = git_commit()
    out(f"suite {suite.label} ({suite.path}): {len(sweep_plan.jobs)} runs, commit {commit or 'unknown (not a git checkout)'}")
    report = execute_plan(sweep_plan, args, db, out, err)
    if report.interrupted:
        return report.exit_code
    from .reports import stats

    store = Store(db)
    where = {"id": report.run_ids}
    df = store.dataframe(where=where)
    if report.run_ids:
        table = stats.markdown(stats.summary(df, runs=store.runs(where)))
        out(table)
        if args.summary:
            args.summary.parent.mkdir(parents=True, exist_ok=True)
            args.summary.write_text(f"## Suite {suite.label} at {commit}\n\n{table}\n", encoding="utf-8")
    return report.exit_code
