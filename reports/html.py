"""Report files: ``index.html`` (offline: inline CSS, PNGs beside it), ``summary.md``, CSV.

:func:`write` builds everything from a store into one folder::

    out/index.html       tables + figures, no network access needed
    out/summary.md       the summary table (GitHub markdown) and figure links
    out/summary.csv      the summary table
    out/runs.csv         the tidy run × metric table
    out/figures/*.png
"""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import figures as _figures
from . import stats

if TYPE_CHECKING:
    import pandas as pd

CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 2em auto; max-width: 1200px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.meta { color: #666; font-size: .9em; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0 1.5em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; } td.name { text-align: left; }
tr.best td.mean { font-weight: bold; background: #e8f5e9; }
tr.failed td { background: #fdecea; }
figure { display: inline-block; margin: .5em 1em 1.5em 0; vertical-align: top; }
figure img { max-width: 560px; border: 1px solid #eee; }
figcaption { font-size: .8em; color: #555; max-width: 560px; }
"""

LEFT = {"plant", "controller", "task", "settings", "metric", "unit", "better"}


def _html_table(s: pd.DataFrame) -> str:
    head, rows = stats.table_rows(s)
    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for r, cells in zip(s.itertuples(index=False), rows):
        cls = "best" if r.best else ("failed" if r.failures else "")
        tds = "".join(f"<td class=\"{'name' if h in LEFT else ('mean' if h == 'mean' else '')}\">{html.escape(c)}</td>"
                      for h, c in zip(head, cells))
        out.append(f"<tr class=\"{cls}\">{tds}</tr>")
    out.append("</table>")
    return "\n".join(out)


def _failures_html(runs: list[Mapping[str, Any]]) -> str:
    failed = [r for r in runs if r.get("status") == "failed"]
    if not failed:
        return ""
    rows = "".join(
        f"<tr><td>{r['id']}</td><td class=\"name\">{html.escape(' '.join((r['plant'], r['controller'], r['task'])))}</td>"
        f"<td>{r['seed']}</td><td class=\"name\">{html.escape(str(r['error'] or ''))}</td>"
        f"<td class=\"name\">{html.escape(str(r['log_path'] or ''))}</td></tr>" for r in failed)
    return ("<h2>Failed runs</h2><table><tr><th>run</th><th>plant controller task</th><th>seed</th><th>error</th>"
            f"<th>traceback log</th></tr>{rows}</table>")


def _figure_html(f: _figures.Figure, out: Path) -> str:
    src = html.escape(f.path.relative_to(out).as_posix())
    return (f"<figure><img src=\"{src}\" alt=\"{html.escape(f.title)}\">"
            f"<figcaption><b>{html.escape(f.title)}</b><br>{html.escape(f.caption)}</figcaption></figure>")


def build(store: Any, where: Mapping[str, Any] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """``(tidy rows, summary table, run rows)`` of the runs matching ``where``."""
    df = store.dataframe(where)
    runs = store.runs(where)
    return df, stats.summary(df, runs=runs), runs


def write(store: Any, out: Path, where: Mapping[str, Any] | None = None, formats: tuple[str, ...] = ("html", "md", "csv"),
          title: str = "ctrlbench report") -> dict[str, Path]:
    """Write the report files under ``out``; returns them by kind."""
    df, summary, runs = build(store, where)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    variants = stats.variants(df) if not df.empty else {}
    figs = _figures.make_all(store, df, out / "figures", variants) if ("html" in formats or "md" in formats) else []
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    commits = sorted({str(c)[:12] for c in df["commit"].dropna()}) if not df.empty else []
    ok = sum(r["status"] == "ok" for r in runs)
    meta = (f"{len(runs)} runs ({ok} ok, {len(runs) - ok} failed) from {store.path}; "
            f"commits: {', '.join(commits) or 'unknown'}; generated {stamp}")
    if "csv" in formats:
        summary.drop(columns=["settings_hash"]).to_csv(out / "summary.csv", index=False)
        df.to_csv(out / "runs.csv", index=False)
        written["csv"] = out / "summary.csv"
    if "md" in formats:
        lines = [f"# {title}", "", meta, "", ("★ best mean per plant, task and metric (by its direction); "
                 "CI: 95% bootstrap of the mean over seeds."), ""]
        tasks = list(dict.fromkeys(summary["task"]))
        for task in tasks + [None]:
            mine = [f for f in figs if (f.task == task if task else f.task not in tasks)]
            if task:
                lines += [f"## {task}", "", stats.markdown(summary[summary["task"] == task]), ""]
            elif mine:
                lines += ["## Other figures", ""]
            for f in mine:
                lines += [f"### {f.title}", "", f"![{f.title}]({f.path.relative_to(out).as_posix()})", "",
                          f.caption, ""]
        (out / "summary.md").write_text("\n".join(lines), encoding="utf-8")
        written["md"] = out / "summary.md"
    if "html" in formats:
        body = [f"<h1>{html.escape(title)}</h1>", f"<p class=\"meta\">{html.escape(meta)}</p>",
                ("<p class=\"meta\">One section per task: its summary table (one row per plant, controller, "
                "settings and metric over seeds; bold/green: the best mean per plant, task and metric by the "
                "metric's direction; CI: 95% bootstrap of the mean), then its figures.</p>")]
        tasks = list(dict.fromkeys(summary["task"]))
        for task in tasks:
            body += [f"<h2>{html.escape(task)}</h2>", _html_table(summary[summary["task"] == task])]
            body += [_figure_html(f, out) for f in figs if f.task == task]
        others = [f for f in figs if f.task not in tasks]
        if others:
            body += ["<h2>Other figures</h2>"] + [_figure_html(f, out) for f in others]
        body.append(_failures_html(runs))
        page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
                f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
        (out / "index.html").write_text(page, encoding="utf-8")
        written["html"] = out / "index.html"
    return written
