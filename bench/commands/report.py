"""``bench report [--db] [--where plant=arm2] [--format md|html|csv] [--out DIR]``.

``md`` (printed): each task's headline table (:func:`bench.reports.stats.headlines`), then the long table of
every metric; ``html``: the report folder, history page included (:mod:`bench.reports.html`).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import StoreError
from ..paths import output_folder
from ..reports import html, stats
from ..session import db_path
from ..store import Store, parse_where
from . import Printer

FORMATS = ("md", "html", "csv")


def report(*, db: str | Path | None, where: list[str], fmt: str | None, out_dir: Path | None, latest: bool,
           out: Printer) -> int:
    """Summary tables (md or csv printed without ``out_dir``), or the files of an HTML report."""
    path = db_path(db, must_exist=True)
    filters = parse_where(where)
    store = Store(path)
    if latest:
        runs = store.runs(filters)
        if runs and runs[-1]["code_version"]:
            filters["code_version"] = runs[-1]["code_version"]
    fmt = fmt or "md"
    nothing = f"no runs in {path}" + (f" matching {' '.join(where)}" if where else "")
    if out_dir is None and fmt in ("md", "csv"):
        df, summary, runs = html.build(store, filters)
        if df.empty and not len(summary):
            raise StoreError(nothing)
        if fmt == "md":  # each task's headline table first, then every metric
            out(stats.report_markdown(summary, html.run_table(runs, df)))
        else:
            out(summary.drop(columns=["settings_hash"]).to_csv(index=False).rstrip("\n"))
        return 0
    if not store.runs(filters):
        raise StoreError(nothing)
    folder = output_folder(out_dir if out_dir is not None else path.parent / "report", "--out")  # before writing
    formats = ("html", "md", "csv") if fmt == "html" else (fmt,)
    for kind, written in html.write(store, folder, filters, formats).items():
        out(f"{kind}: {written}")
    return 0
