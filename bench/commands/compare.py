"""``bench compare BASE HEAD``: per-metric change with a bootstrap CI; exit 1 on a regression."""

from __future__ import annotations

from pathlib import Path

from ..compare import compare as compare_sides
from ..compare import render, select
from ..errors import CompareError
from ..paths import output_file
from ..session import db_path
from ..store import parse_where
from ..suite import find, parse_fraction
from . import Printer


def compare(base: str, head: str, *, db: str | Path | None, suite: str | None, max_regression: str | None,
            where: list[str], fmt: str, out_file: Path | None, out: Printer) -> int:
    """Compare two sides (store files, run ids or commits); see :mod:`bench.compare`."""
    filters = parse_where(where)
    if out_file is not None:
        out_file = output_file(out_file, "--out")  # before anything is computed
    the_suite = find(suite) if suite else None
    if the_suite is not None:
        filters.setdefault("suite", the_suite.label)
    given = max_regression is not None  # "off" parses to None: never gate
    default = parse_fraction(max_regression, "--max-regression") if given else None
    path = db_path(db)
    base_label, base_rows = select(base, path, filters)
    head_label, head_rows = select(head, path, filters)
    if the_suite is not None:
        limit = default if given else the_suite.max_regression

        def thresholds(task: str, metric: str) -> float | None:
            return the_suite.threshold(task, metric, limit)
    else:
        limit = default if given else 0.05

        def thresholds(task: str, metric: str) -> float | None:
            return limit
    table = compare_sides(base_rows, head_rows, thresholds=thresholds)
    if table.empty:
        raise CompareError(f"no metric in common between {base_label} "
                           f"({', '.join(sorted(set(base_rows['task'])))}) and {head_label} "
                           f"({', '.join(sorted(set(head_rows['task'])))}): nothing to compare")
    text = render(table, base_label, head_label, fmt)
    out(text.rstrip("\n"))
    if out_file is not None:
        out_file.write_text(render(table, base_label, head_label, "md") if out_file.suffix == ".md" else text,
                            encoding="utf-8")
    return 1 if (table["verdict"] == "regression").any() else 0
