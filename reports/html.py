"""Report files: ``index.html`` and ``history.html`` (offline: inline CSS, PNGs beside them), ``summary.md``, CSV.

:func:`write` builds everything from a store into one folder::

    out/index.html       per task: its headline table, its figures, then every metric (folded);
                          the aggregate statistics across tasks; failed runs.  No network access needed.
    out/history.html     each task's headline metrics across the stored commits, significant steps marked
                          (written when runs recorded a commit; index.html links it)
    out/summary.md       the same tables (GitHub markdown) and figure links
    out/summary.csv      the long summary table
    out/runs.csv         the tidy run × metric table
    out/figures/*.png
    out/animations/*.gif  one animated arm per arm task (bench.reports.animation)
"""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import aggregate as _aggregate
from . import animation as _animation
from . import figures as _figures
from . import stats

if TYPE_CHECKING:
    import pandas as pd

CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 2em auto; max-width: 1400px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.meta { color: #666; font-size: .9em; }
nav { margin: .6em 0; font-size: .95em; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0 1.5em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; } td.name { text-align: left; }
tr.best td.mean, td.best { font-weight: bold; background: #e8f5e9; }
tr.failed td { background: #fdecea; }
table.headline { font-size: .9em; }
details { margin: .3em 0 1.2em; } summary { cursor: pointer; color: #444; }
figure { display: inline-block; margin: .5em 1em 1.5em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .8em; color: #555; max-width: 560px; }
figure.wide { display: block; }
"""

LEFT = {"plant", "controller", "task", "settings", "metric", "unit", "better", "algorithm", "tasks"}


def _html_table(s: pd.DataFrame) -> str:
    head, rows = stats.table_rows(s)
    out = ["<table class=\"long\">", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for r, cells in zip(s.itertuples(index=False), rows):
        cls = "best" if r.best else ("failed" if r.failures else "")
        tds = "".join(f"<td class=\"{'name' if h in LEFT else ('mean' if h == 'mean' else '')}\">{html.escape(c)}</td>"
                      for h, c in zip(head, cells))
        out.append(f"<tr class=\"{cls}\">{tds}</tr>")
    out.append("</table>")
    return "\n".join(out)


def _headline_html(h: stats.Headline) -> str:
    """A task's headline table: best cells bold (class ``best``)."""
    head = h.header()
    keys = 2 + len(h.settings)
    out = [f"<table class=\"headline\" data-task=\"{html.escape(h.task)}\">",
           "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>"]
    for cells, bold in h.cells():
        tds = []
        for i, (c, b) in enumerate(zip(cells, bold)):
            text = f"<b>{html.escape(c)}</b>" if b else html.escape(c)
            tds.append(f"<td class=\"{'name' if i < keys else ('best' if b else '')}\">{text}</td>")
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _simple_table(head: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    out = [f"<table class=\"{cls}\">" if cls else "<table>",
           "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td class=\"{'name' if h in LEFT else ''}\">{html.escape(str(c))}</td>"
                                    for h, c in zip(head, row)) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _refused_html(refused: Sequence[tuple[int, str, str, str]]) -> str:
    """The image artifacts not copied into the report (:func:`bench.reports.figures.artifact_file`)."""
    if not refused:
        return ""
    rows = "".join(f"<tr><td>{rid}</td><td class=\"name\">{html.escape(name)}</td>"
                   f"<td class=\"name\">{html.escape(path)}</td><td class=\"name\">{html.escape(why)}</td></tr>"
                   for rid, name, path, why in refused)
    return ("<h2>Refused artifacts</h2><p class=\"meta\">Images a run's record names outside the store's own runs "
            "folder (or that are no PNG) are not copied into the report.</p><table><tr><th>run</th><th>artifact"
            f"</th><th>path</th><th>why</th></tr>{rows}</table>")


def _failures_html(runs: list[Mapping[str, Any]]) -> str:
    failed = [r for r in runs if r.get("status") == "failed"]
    if not failed:
        return ""
    rows = "".join(
        f"<tr><td>{r['id']}</td>"
        f"<td class=\"name\">{html.escape(' '.join((r['plant'], r['controller'], r['task'])))}</td>"
        f"<td>{r['seed']}</td><td class=\"name\">{html.escape(str(r['error'] or ''))}</td>"
        f"<td class=\"name\">{html.escape(str(r['log_path'] or ''))}</td></tr>" for r in failed)
    return ("<h2>Failed runs</h2><table><tr><th>run</th><th>plant controller task</th><th>seed</th><th>error</th>"
            f"<th>traceback log</th></tr>{rows}</table>")


def _figure_html(f: _figures.Figure | _animation.Animation, out: Path) -> str:
    src = html.escape(f.path.relative_to(out).as_posix())
    cls = " class=\"wide\"" if getattr(f, "wide", False) else ""
    return (f"<figure{cls}><img src=\"{src}\" alt=\"{html.escape(f.title)}\">"
            f"<figcaption><b>{html.escape(f.title)}</b><br>{html.escape(f.caption)}</figcaption></figure>")


def _md_link(path: Path) -> str:
    """A relative file path as a markdown link target (percent-encoded: no ``)``, space or ``<`` breaks out)."""
    from urllib.parse import quote

    return quote(path.as_posix())


def _page(title: str, body: list[str]) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(b for b in body if b) + "\n</body></html>\n")


def build(store: Any, where: Mapping[str, Any] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """``(tidy rows, summary table, run rows)`` of the runs matching ``where`` (ok and failed ones: never a
    pending run, nor a training run stopped part-way, status ``partial``)."""
    df = store.dataframe(where)
    runs = [r for r in store.runs(where) if r["status"] in ("ok", "failed")]
    return df, stats.summary(df, runs=runs), runs


def run_table(runs: list[dict], df: pd.DataFrame) -> pd.DataFrame:
    """The settings of every run (failed ones too): what :func:`bench.reports.stats.headlines` reads."""
    import pandas as pd

    cols = ["plant", "controller", "task", "settings_hash", "settings"]
    table = pd.DataFrame(runs, columns=[*cols, "status"]) if runs else df
    return table[[c for c in cols if c in table]] if len(table) else pd.DataFrame(columns=cols)


def _history(store: Any, where: Mapping[str, Any] | None, out: Path) -> tuple[Any, list[_figures.Figure]]:
    """The history of the headline metrics of every task (all commits) and its figures."""
    from bench.history import history, load

    df = load(store, where=where)
    if df.empty:
        return None, []
    wanted: dict[str, list[str]] = {}
    for task, g in df.groupby("task", sort=False):
        wanted[str(task)] = stats.pick_headline(str(task), list(dict.fromkeys(g["metric"])),
                                                dict(zip(g["metric"], g["better"])))
    df = df[[m in wanted.get(t, ()) for t, m in zip(df["task"], df["metric"])]]
    h = history(df)
    if h.commits.empty:
        return None, []
    return h, _figures.history_figures(h, out / "figures", wanted)


def _history_page(h: Any, figs: list[_figures.Figure], out: Path, title: str, meta: str) -> str:
    from bench.history import pct, short

    flagged = h.flagged
    body = [f"<h1>{html.escape(title)}: history</h1>", f"<p class=\"meta\">{html.escape(meta)}</p>",
            "<nav><a href=\"index.html\">← the report</a></nav>",
            ("<p class=\"meta\">Each task's headline metrics across the stored commits (oldest left; a commit's "
             "place is when its first run started): mean over seeds with its 95% bootstrap CI, one line per plant, "
             f"controller and settings (at most {_figures.MAX_LINES} per figure, the series with a significant step "
             "first; its caption says how many were left out).  A significant step (red circle): the bootstrap CI "
             "of the change from the previous commit excludes 0 and lies entirely beyond 5% (see bench history).</p>"),
            f"<h2>Significant steps ({len(flagged)})</h2>"]
    if len(flagged):
        rows = [[r.metric, f"{r.plant} {r.controller} {r.task}" + (f" ({r.variant})" if r.variant else ""),
                 r.reason or f"{pct(r.rel)} [{pct(r.rel_low)}, {pct(r.rel_high)}]", r.verdict, short(r.commit),
                 short(r.previous)] for r in flagged.itertuples(index=False)]
        body.append(_simple_table(["metric", "plant controller task", "change [95% CI]", "verdict", "at commit",
                                   "previous commit"], rows, "steps"))
    else:
        body.append("<p>None.</p>")
    for task in dict.fromkeys(f.task for f in figs):
        body += [f"<h2>{html.escape(task)}</h2>"] + [_figure_html(f, out) for f in figs if f.task == task]
    body += ["<h2>Commits</h2>", _simple_table(
        ["#", "commit", "first run started", "runs"],
        [[str(i), str(c.commit), str(c.started)[:19], str(c.runs)] for i, c in enumerate(h.commits.itertuples())],
        "commits")]
    return _page(f"{title}: history", body)


def write(store: Any, out: Path, where: Mapping[str, Any] | None = None,
          formats: tuple[str, ...] = ("html", "md", "csv"), title: str = "ctrlbench report") -> dict[str, Path]:
    """Write the report files under ``out``; returns them by kind (``history``: history.html, when written)."""
    df, summary, runs = build(store, where)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    variants = stats.variants(df) if not df.empty else {}
    heads = stats.headlines(summary, run_table(runs, df))
    figs: list[Any] = []
    refused: list[tuple[int, str, str, str]] = []
    agg = None
    agg_figs: list[_figures.Figure] = []
    if "html" in formats or "md" in formats:
        figs = _figures.make_all(store, df, out / "figures", variants)
        refused = _figures.refused_artifacts(store, df)
        figs += _animation.report_animations(store, df, out / "animations")
        agg = _aggregate.aggregate(df)
        agg_figs = _figures.aggregate_figures(agg, out / "figures")
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    commits = sorted({str(c)[:12] for c in df["commit"].dropna()}) if not df.empty else []
    ok = sum(r["status"] == "ok" for r in runs)
    partial = sum(r["status"] == "partial" for r in store.runs(where))
    meta = (f"{len(runs)} runs ({ok} ok, {len(runs) - ok} failed) from {store.path}; "
            + (f"{partial} training run(s) stopped part-way left out (status partial: the same bench train "
               f"command completes them); " if partial else "")
            + f"commits: {', '.join(commits) or 'unknown'}; generated {stamp}")
    tasks = list(dict.fromkeys(summary["task"]))
    if "csv" in formats:
        summary.drop(columns=["settings_hash"]).to_csv(out / "summary.csv", index=False)
        df.to_csv(out / "runs.csv", index=False)
        written["csv"] = out / "summary.csv"
    if "md" in formats:
        md = stats.md  # every text from the store escaped, as html.escape does for index.html

        def figure_md(f: Any) -> list[str]:
            return [f"### {md(f.title)}", "", f"![{md(f.title)}]({_md_link(f.path.relative_to(out))})", "",
                    md(f.caption), ""]

        lines = [f"# {md(title)}", "", md(meta), "", stats.HEADLINE_NOTE + "; ★ in the long tables: the best "
                 "mean per plant, task and metric.", ""]
        for h in heads:
            lines += [f"## {md(h.task)}", "", stats.headline_markdown(h), ""]
            for f in (f for f in figs if f.task == h.task):
                lines += figure_md(f)
            mine = summary[summary["task"] == h.task]
            lines += [f"<details><summary>Every metric of {md(h.task)} ({len(mine)} rows)</summary>", "",
                      stats.markdown(mine), "", "</details>", ""]
        if agg is not None and len(agg.table):
            lines += ["## Across tasks", "", md(_aggregate.note(agg)), "", _aggregate.markdown(agg), ""]
            lines += [f"![{md(f.title)}]({_md_link(f.path.relative_to(out))})\n\n{md(f.caption)}\n"
                      for f in agg_figs]
        others = [f for f in figs if f.task not in tasks]
        if others:
            lines += ["## Other figures", ""]
            for f in others:
                lines += figure_md(f)
        if refused:
            lines += ["## Refused artifacts", "", "Images a run's record names outside the store's own runs folder "
                      "(or that are no PNG) are not copied into the report.", ""]
            lines += [f"* run {rid} {md(name)}: {md(path)} ({md(why)})" for rid, name, path, why in refused] + [""]
        (out / "summary.md").write_text("\n".join(lines), encoding="utf-8")
        written["md"] = out / "summary.md"
    if "html" in formats:
        hist, hist_figs = _history(store, where, out)
        body = [f"<h1>{html.escape(title)}</h1>", f"<p class=\"meta\">{html.escape(meta)}</p>"]
        if hist is not None:
            body.append(f"<nav><a href=\"history.html\">History across {len(hist.commits)} commit(s) "
                        f"({len(hist.flagged)} significant step(s))</a></nav>")
        body.append("<p class=\"meta\">One section per task: its headline table (rows: plant, controller and the "
                    "settings swept; cells: mean [95% bootstrap CI of the mean] over seeds; bold: the best of its "
                    "column among the rows of one plant, by the metric's direction, ↓ lower or ↑ higher is better), "
                    "its figures, then every metric (★ / green: the best mean per plant, task and metric).</p>")
        by_task = {h.task: h for h in heads}
        for task in tasks:
            body.append(f"<section class=\"task\" id=\"task-{html.escape(task)}\"><h2>{html.escape(task)}</h2>")
            if task in by_task:
                body.append(_headline_html(by_task[task]))
            body += [_figure_html(f, out) for f in figs if f.task == task]
            mine = summary[summary["task"] == task]
            body += [f"<details><summary>Every metric of {html.escape(task)} ({len(mine)} rows)</summary>",
                     _html_table(mine), "</details></section>"]
        if agg is not None and len(agg.table):
            head, rows = _aggregate.rows(agg)
            body += ["<section id=\"aggregate\"><h2>Across tasks</h2>",
                     f"<p class=\"meta\">{html.escape(_aggregate.note(agg))}</p>",
                     _simple_table(head, rows, "aggregate")] + [_figure_html(f, out) for f in agg_figs]
            body.append("</section>")
        others = [f for f in figs if f.task not in tasks]
        if others:
            body += ["<h2>Other figures</h2>"] + [_figure_html(f, out) for f in others]
        body.append(_failures_html(runs))
        body.append(_refused_html(refused))
        (out / "index.html").write_text(_page(title, body), encoding="utf-8")
        written["html"] = out / "index.html"
        if hist is not None:
            (out / "history.html").write_text(_history_page(hist, hist_figs, out, title, meta), encoding="utf-8")
            written["history"] = out / "history.html"
    return written
