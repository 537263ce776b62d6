"""Resource limits: each one an environment variable with a documented default.

=============================  ===========  ==================================================
variable                       default      what it bounds
=============================  ===========  ==================================================
``BENCH_MAX_SEEDS``            10 000       seeds one command runs (``--seeds``, a suite's ``seeds``)
``BENCH_MAX_RUNS``             100 000      runs one sweep (or suite entry) may plan: plants ×
                                            controllers × tasks × ``--set`` values × ``dt``
                                            values × seeds, before anything is expanded
``BENCH_MAX_STEPS_X_BATCH``    50 000 000   steps × trials of one run (a task's longest duration
                                            over the plant's ``dt``, or its
                                            :meth:`~bench.api.Task.steps`, times its
                                            :meth:`~bench.api.Task.batch`; a learner's batch,
                                            a spiking simulation)
``BENCH_MAX_ARRAY_ELEMENTS``   100 000 000  elements of one array read from an ``.npz`` (checked from
                                            the ``.npy`` header, before any data is read) and
                                            8 × that many bytes for one member of a ``.keras`` file
``BENCH_MAX_SUITE_DEPTH``      32           nesting of arrays and tables in a suite file
=============================  ===========  ==================================================

A value beyond a limit is refused with one line naming the input, the limit
and the variable that raises it (exit 2), before anything runs.  A variable
that is not a positive integer is refused the same way.

Also here: the integer range of the store (SQLite ``INTEGER``: seeds and run
ids are ``0 .. 2**63 - 1``) and :func:`parse_int`, which reads a command-line
integer without ever building a huge number or list from it.
"""

from __future__ import annotations

import math
import os

from .errors import UsageError

#: The limits: variable → (default, what it bounds, for messages).
LIMITS: dict[str, tuple[int, str]] = {
    "BENCH_MAX_SEEDS": (10_000, "seeds per command"),
    "BENCH_MAX_RUNS": (100_000, "runs per sweep (or suite entry)"),
    "BENCH_MAX_STEPS_X_BATCH": (50_000_000, "steps × trials of one run"),
    "BENCH_MAX_ARRAY_ELEMENTS": (100_000_000, "elements of one array read from a file"),
    "BENCH_MAX_SUITE_DEPTH": (32, "nesting depth of a suite file"),
}

#: The largest integer the store keeps (SQLite INTEGER is a signed 64-bit number).
INT_MAX = 2**63 - 1
#: Digits of the longest integer :func:`parse_int` reads (``INT_MAX`` has 19).
_DIGITS = 30


def limit(name: str) -> int:
    """The value of limit ``name`` (:data:`LIMITS`): its environment variable, else its default."""
    default, what = LIMITS[name]
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", "")) if len(raw) <= _DIGITS else -1
    except ValueError:
        value = -1
    if value < 1:
        raise UsageError(f"environment variable {name}={raw[:40]!r}: expected a positive integer "
                         f"({what}; default {default})")
    return value


def env_number(name: str, default: float, *, unit: str, allow_zero: bool = False,
               error: type[Exception] = UsageError) -> float:
    """A finite number (``> 0``, or ``>= 0`` with ``allow_zero``) from environment variable ``name``, else
    ``default``; anything else is ``error`` naming the variable, the unit and the default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw) if len(raw) <= _DIGITS else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and (value >= 0 if allow_zero else value > 0)):
        raise error(f"environment variable {name}={raw[:40]!r}: expected a number of {unit} "
                    f"{'>=' if allow_zero else '>'} 0 (default {default:g})")
    return value


def max_seeds() -> int:
    """``BENCH_MAX_SEEDS``."""
    return limit("BENCH_MAX_SEEDS")


def max_steps_x_batch() -> int:
    """``BENCH_MAX_STEPS_X_BATCH``."""
    return limit("BENCH_MAX_STEPS_X_BATCH")


def max_array_elements() -> int:
    """``BENCH_MAX_ARRAY_ELEMENTS``."""
    return limit("BENCH_MAX_ARRAY_ELEMENTS")


def max_suite_depth() -> int:
    """``BENCH_MAX_SUITE_DEPTH``."""
    return limit("BENCH_MAX_SUITE_DEPTH")


def exceeded(what: str, value: float | str, name: str, advice: str = "") -> UsageError:
    """The one-line error for ``what`` = ``value`` beyond limit ``name``."""
    cap = limit(name)
    shown = value if isinstance(value, str) else f"{value:,}" if isinstance(value, int) else f"{value:.3g}"
    return UsageError(f"{what}: {shown} is more than the {LIMITS[name][1]} allowed (at most {cap:,}; "
                      f"set {name} to allow more){'; ' + advice if advice else ''}")


def check_count(what: str, count: int | None, name: str, advice: str = "") -> int:
    """``count`` when it is within limit ``name``; else the :func:`exceeded` error (None: too many to count)."""
    if count is None or count > limit(name):
        raise exceeded(what, "more than 10**30" if count is None else count, name, advice)
    return count


def parse_int(text: object, what: str, *, low: int = 0, high: int = INT_MAX) -> int:
    """The integer ``text`` in ``low .. high``; else one :class:`UsageError` naming ``what`` and the range.

    Never converts more than a few dozen digits (a 5000-digit argument is
    refused as out of range, not parsed).
    """
    raw = str(text).strip()
    kind = {0: "a non-negative integer", 1: "a positive integer"}.get(low, "an integer")
    valid = f"{kind} ({low:,} to {high:,})"
    digits = raw.lstrip("+-").lstrip("0")
    body = raw.lstrip("+-")
    if not body or not body.isdigit() or not body.isascii() or raw.count("-") + raw.count("+") > 1:
        raise UsageError(f"{what} expects {valid}, got {raw[:40]!r}")
    if len(digits) > _DIGITS:
        raise UsageError(f"{what} expects {valid}, got a {len(digits)}-digit number")
    value = int(raw)
    if not low <= value <= high:
        raise UsageError(f"{what} expects {valid}, got {value:,}")
    return value
