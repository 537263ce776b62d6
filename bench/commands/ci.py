"""``bench ci --suite quick``: a fixed, versioned suite as one sweep, then its summary table."""

from __future__ import annotations

from pathlib import Path

from ..paths import output_file
from ..reports import html, stats
from ..runner import git_commit
from ..session import db_path
from ..store import Store
from ..storecheck import check_writable
from ..suite import find
from . import Printer
from .sweep import Execution, execute_plan


def ci(suite_name: str, *, db: str | Path | None, summary: Path | None, execution: Execution, out: Printer,
       err: Printer) -> int:
    """Run the suite (every run records ``NAME@VERSION`` and the commit) and print its summary."""
    suite = find(suite_name)
    path = db_path(db)
    check_writable(path)  # a store that cannot be written is refused before the suite is planned
    if summary is not None:
        summary = output_file(summary, "--summary")  # before anything runs
    sweep_plan = suite.plan(workroot=(path.parent / "runs").resolve())
    commit = git_commit()
    out(f"suite {suite.label} ({suite.path}): {len(sweep_plan.jobs)} runs, "
        f"commit {commit or 'unknown (not a git checkout)'}")
    report = execute_plan(sweep_plan, execution, path, out, err)
    if report.interrupted or not report.run_ids:
        return report.exit_code
    store = Store(path)
    where = {"id": report.run_ids}
    df, runs = store.dataframe(where=where), store.runs(where)
    table, rows = stats.summary(df, runs=runs), html.run_table(runs, df)
    out(stats.report_markdown(table, rows))  # what bench report --format md prints
    if summary is not None:  # a pull-request comment: the headline tables, every metric folded
        text = stats.report_markdown(table, rows, level=3, fold=True)
        summary.write_text(f"## Suite {suite.label} at {commit}\n\n{text}\n", encoding="utf-8")
    return report.exit_code
