"""``bench history [--metric M] [--suite NAME] [--db] [--format text|md]``: metrics across commits."""

from __future__ import annotations

from pathlib import Path

from ..errors import StoreError
from ..history import DEFAULT_THRESHOLD, check_metrics, load, render
from ..history import history as build
from ..session import db_path
from ..store import Store, parse_where
from ..suite import find, parse_fraction
from . import Printer


def history(*, db: str | Path | None, metrics: list[str], suite: str | None, where: list[str],
            threshold: str | None, fmt: str, out: Printer) -> int:
    """Print each metric across the stored commits, the significant steps first (see :mod:`bench.history`)."""
    path = db_path(db)
    if not path.is_file():
        raise StoreError(f"no results store at {path} (run bench ci on each commit first, or pass --db)")
    filters = parse_where(where)
    the_suite = find(suite) if suite else None
    if the_suite is not None:
        filters["suite"] = the_suite.label
    given = threshold is not None  # "off" parses to None: never flag
    limit = parse_fraction(threshold, "--threshold") if given else (
        the_suite.max_regression if the_suite is not None else DEFAULT_THRESHOLD)

    def thresholds(task: str, metric: str) -> float | None:
        return the_suite.threshold(task, metric, limit) if the_suite is not None and not given else limit

    names = [m.strip() for item in metrics for m in item.split(",") if m.strip()]
    df = load(Store(path), where=filters)
    if df.empty:
        raise StoreError(f"no runs in {path}" + (f" matching {filters}" if filters else ""))
    check_metrics(df, names)
    h = build(df, metrics=names or None, thresholds=thresholds)
    if h.commits.empty:
        raise StoreError(f"no run in {path} recorded a git commit ({h.left_out} without one): "
                         "bench ci in a git checkout records it")
    out(render(h, fmt_=fmt, source=str(path)))
    return 0
