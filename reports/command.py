"""``bench report [--db] [--where plant=arm2] [--format md|html|csv] [--out DIR]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FORMATS = ("md", "html", "csv")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("report", help="summary tables with bootstrap CIs, figures, index.html / summary.md / csv")
    p.add_argument("--db", type=Path, default=None, help="results store (default .bench/results.sqlite)")
    p.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE",
                   help="only runs with this plant, controller, task, suite, git_commit, ... (repeatable; "
                        "v1,v2 for several)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="md (default; printed without --out), csv (printed without --out) or html "
                        "(index.html + summary.md + csv + figures; default --out .bench/report)")
    p.add_argument("--out", type=Path, default=None, help="folder to write the report files in")
    p.add_argument("--latest", action="store_true",
                   help="only the runs of the code version (commit) of the newest matching run, e.g. the last bench ci")


def cmd_report(args: Any, out: Any, err: Any) -> int:
    from bench.cli import db_path
    from bench.compare import parse_where
    from bench.errors import StoreError
    from bench.store import Store

    from . import html, stats

    db = db_path(args.db)
    if not db.is_file():
        raise StoreError(f"no results store at {db} (run bench run / sweep / ci first, or pass --db)")
    where = parse_where(args.where)
    store = Store(db)
    if args.latest:
        runs = store.runs(where)
        if runs and runs[-1]["code_version"]:
            where["code_version"] = runs[-1]["code_version"]
    fmt = args.format or "md"
    if args.out is None and fmt in ("md", "csv"):
        df, summary, _ = html.build(store, where)
        if df.empty and not len(summary):
            raise StoreError(f"no runs in {db}" + (f" matching {' '.join(args.where)}" if args.where else ""))
        if fmt == "md":
            out(stats.markdown(summary))
        else:
            out(summary.drop(columns=["settings_hash"]).to_csv(index=False).rstrip("\n"))
        return 0
    folder = args.out if args.out is not None else db.parent / "report"
    if not store.runs(where):
        raise StoreError(f"no runs in {db}" + (f" matching {' '.join(args.where)}" if args.where else ""))
    formats = ("html", "md", "csv") if fmt == "html" else (fmt,)
    written = html.write(store, folder, where, formats)
    for kind, path in written.items():
        out(f"{kind}: {path}")
    return 0
