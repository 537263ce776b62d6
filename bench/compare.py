"""``bench compare BASE HEAD``: per-metric change with a bootstrap CI; a regression gate.

BASE and HEAD are each one of

* a store file (``base.sqlite``): its newest run of each plant, controller,
  task, settings and seed;
* run ids in ``--db``: ``12``, ``12,13,14`` or ``12-20``;
* a commit (sha prefix, branch or tag, resolved with ``git rev-parse``): the
  runs in ``--db`` that recorded it.

Runs are matched on plant, controller, task and settings hash (when a
triple has exactly one settings hash on each side, those are matched even if
the hashes differ, so a new default does not hide a comparison).  For each
metric the change of the mean over seeds gets a 95% bootstrap CI, paired by
seed when both sides ran the same seeds.  A metric *regressed* when the whole
CI of its relative change lies beyond the threshold in the metric's worse
direction (``--max-regression 5%``; per-metric thresholds from the suite
file); a change whose CI reaches back inside the threshold is noise, not a
regression.  Metrics without a direction are shown but never gate.

Exit codes: 0 no regression, 1 a significant regression, 2 bad input (a side
that selects nothing, no metric in common).
"""

from __future__ import annotations

import math
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CompareError, StoreError

if TYPE_CHECKING:
    import pandas as pd

MATCH = ["plant", "controller", "task", "match_hash"]


def _commit_of(value: Any) -> str:
    return str(value).split("+", 1)[0] if isinstance(value, str) else ""


def _git_resolve(ref: str) -> str | None:
    here = Path(__file__).resolve().parent
    try:
        res = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=here,
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None


def _run_ids(text: str) -> list[int] | None:
    if not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", text):
        return None
    ids: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        ids.extend(range(int(a), int(b) + 1) if b else [int(a)])
    return ids


def select(ref: str, db: Path | None, where: Mapping[str, Any] | None = None) -> tuple[str, pd.DataFrame]:
    """``(label, tidy rows)`` of one side of a comparison (see the module docstring)."""
    from .store import Store

    where = dict(where or {})
    path = Path(ref)
    if path.is_file():
        df = Store(path).dataframe(where)
        if df.empty:
            raise CompareError(f"{ref}: no successful runs" + (f" matching {where}" if where else ""))
        # the newest run of each (plant, controller, task, settings, seed): a store that accumulated
        # several commits is read as its latest state
        newest = df.groupby(["plant", "controller", "task", "settings_hash", "seed"])["run_id"].transform("max")
        df = df[df["run_id"] == newest]
        commits = sorted({str(c)[:12] for c in df["commit"].dropna()})
        return f"{ref} @ {', '.join(commits) or 'no commit'}", df
    if db is None or not Path(db).is_file():
        raise CompareError(f"{ref!r} is not a store file, and there is no store {db} to look up run ids or commits in")
    store = Store(db)
    ids = _run_ids(ref)
    if ids is not None:
        df = store.dataframe(where)
        df = df[df["run_id"].isin(ids)]
        if not df.empty:
            return f"runs {ref}", df
    sha = _git_resolve(ref) or ref
    df = store.dataframe(where)
    commits = df["commit"].map(_commit_of)
    picked = df[commits.str.startswith(sha.lower())] if len(sha) >= 4 else df.iloc[0:0]
    if picked.empty:
        known = sorted({c[:10] for c in commits if c})
        raise CompareError(f"{ref!r}: no successful runs of that commit or run id in {db}"
                           + (f"; commits stored: {', '.join(known)}" if known else ""))
    return f"commit {sha[:12]}", picked


def _matchable(base: pd.DataFrame, head: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    base, head = base.copy(), head.copy()
    base["match_hash"], head["match_hash"] = base["settings_hash"], head["settings_hash"]
    triple = ["plant", "controller", "task"]
    nb = base.groupby(triple)["settings_hash"].nunique()
    nh = head.groupby(triple)["settings_hash"].nunique()
    single = set(nb[nb == 1].index) & set(nh[nh == 1].index)
    for df in (base, head):
        mask = [t in single for t in df[triple].itertuples(index=False, name=None)]
        df.loc[mask, "match_hash"] = "*"
    return base, head


def compare(base: pd.DataFrame, head: pd.DataFrame, *, max_regression: float | None = 0.05,
            thresholds: Any = None, n_resamples: int = 3000, seed: int = 0) -> pd.DataFrame:
    """One row per matched (plant, controller, task, settings, metric) with the change and its verdict.

    ``thresholds(task, metric)`` returns a metric's threshold (fraction, None
    = never gate); default ``max_regression`` for all.  Verdicts:
    ``regression`` (CI entirely beyond the threshold, worse), ``worse``
    (significant, within the threshold), ``better`` (significant), ``same``
    (inside the noise), ``no direction``.
    """
    import pandas as pd

    from bench.reports.stats import bootstrap_change

    base, head = _matchable(base, head)
    rows = []
    hb = {k: g for k, g in base.groupby(MATCH + ["metric"], sort=False)}
    for key, gh in head.groupby(MATCH + ["metric"], sort=False):
        gb = hb.get(key)
        if gb is None:
            continue
        sb, sh = gb.groupby("seed")["value"].mean(), gh.groupby("seed")["value"].mean()
        paired = len(sb) > 1 and set(sb.index) == set(sh.index)
        if paired:
            sh = sh.reindex(sb.index)
        ch = bootstrap_change(sb.to_numpy(), sh.to_numpy(), paired=paired, n_resamples=n_resamples, seed=seed)
        better = gh["better"].iloc[0] or gb["better"].iloc[0]
        limit = thresholds(key[2], key[4]) if thresholds is not None else max_regression
        if better == "lower":
            worse_lo, worse_hi = ch["rel_low"], ch["rel_high"]
        elif better == "higher":
            worse_lo, worse_hi = -ch["rel_high"], -ch["rel_low"]
        else:
            worse_lo = worse_hi = math.nan
        if not better:
            verdict = "no direction"
        elif math.isnan(worse_lo):
            verdict = "no data"
        elif limit is not None and worse_lo > limit:
            verdict = "regression"
        elif worse_lo > 0:
            verdict = "worse"
        elif worse_hi < 0:
            verdict = "better"
        else:
            verdict = "same"
        rows.append(dict(plant=key[0], controller=key[1], task=key[2], metric=key[4], unit=gh["unit"].iloc[0],
                         better=better, n_base=len(sb), n_head=len(sh), paired=paired, threshold=limit,
                         verdict=verdict, **ch))
    return pd.DataFrame(rows)


def _pct(x: float) -> str:
    if math.isnan(x):
        return "—"
    if math.isinf(x):
        return "+inf%" if x > 0 else "-inf%"
    return f"{x * 100:+.2f}%"


def _off(threshold: Any) -> bool:
    return threshold is None or (isinstance(threshold, float) and math.isnan(threshold))


def render(table: pd.DataFrame, base_label: str, head_label: str, fmt: str = "md") -> str:
    """The comparison as a markdown table (``md``) or aligned text (``text``)."""
    from bench.reports.stats import fmt as num

    mark = {"regression": "❌ regression", "worse": "worse (within threshold)", "better": "✅ better",
            "same": "same (noise)"}
    head = ["plant", "controller", "task", "metric", "better", "base", "head", "change", "95% CI of change",
            "n", "threshold", "verdict"]
    rows = []
    for r in table.itertuples(index=False):
        rows.append([r.plant, r.controller, r.task, r.metric + (f" [{r.unit}]" if r.unit else ""), r.better or "—",
                     num(r.base), num(r.head), _pct(r.rel), f"[{_pct(r.rel_low)}, {_pct(r.rel_high)}]",
                     f"{r.n_base}/{r.n_head}" + (" paired" if r.paired else ""),
                     "off" if _off(r.threshold)
                     else f"{r.threshold * 100:g}%",
                     "worse (not gated)" if r.verdict == "worse" and _off(r.threshold) else mark.get(r.verdict, r.verdict)])
    regressions = table[table["verdict"] == "regression"]
    verdict = (f"**{len(regressions)} significant regression(s)**: "
               + ", ".join(f"{r.task}.{r.metric} {_pct(r.rel)}" for r in regressions.itertuples(index=False))
               if len(regressions) else "No significant regression.")
    title = f"base: {base_label}   head: {head_label}"
    if fmt == "md":
        esc = [[str(c).replace("|", "\\|") for c in row] for row in rows]
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in esc]
        return f"### Benchmark comparison\n\n{title}\n\n" + "\n".join(lines) + f"\n\n{verdict}\n"
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [head, *rows]]
    return title + "\n" + "\n".join(lines) + "\n" + verdict.replace("**", "") + "\n"


# -- bench compare --------------------------------------------------------------------------
def add_parser(sub: Any) -> None:
    p = sub.add_parser("compare", help="compare BASE and HEAD (commits, run ids or store files); "
                                       "exit 1 on a significant regression")
    p.add_argument("base", help="store file, run ids (12,13 or 12-20) or commit")
    p.add_argument("head", help="store file, run ids or commit")
    p.add_argument("--db", type=Path, default=None, help="store for run ids and commits (default .bench/results.sqlite)")
    p.add_argument("--suite", default=None,
                   help="compare this suite's runs only and use its per-metric thresholds (name or .toml)")
    p.add_argument("--max-regression", default=None, metavar="PCT",
                   help="largest tolerated worsening, e.g. 5%% (default: the suite's, else 5%%)")
    p.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE",
                   help="only runs with this plant, controller, task, ... (repeatable; v1,v2 for several)")
    p.add_argument("--format", choices=("text", "md"), default="text")
    p.add_argument("--out", type=Path, default=None, help="also write the table to this file")


def parse_where(items: list[str]) -> dict[str, Any]:
    """``["plant=arm2", "seed=0,1"]`` → ``{"plant": "arm2", "seed": [0, 1]}``."""
    from .settings import parse_pairs
    from .store import RUN_COLUMNS

    out: dict[str, Any] = {}
    for key, value in parse_pairs(items).items():
        if key not in RUN_COLUMNS:
            from .errors import suggestion

            raise StoreError(f"--where: unknown column {key!r}{suggestion(key, RUN_COLUMNS)}; "
                             f"columns: {', '.join(c for c in RUN_COLUMNS if c not in ('settings', 'versions'))}")
        vals = [v.strip() for v in value.split(",") if v.strip()]
        conv = [int(v) if key in ("id", "seed") and v.lstrip("-").isdigit() else v for v in vals]
        out[key] = conv if len(conv) != 1 else conv[0]
    return out


def cmd_compare(args: Any, out: Any, err: Any) -> int:
    from .cli import db_path
    from .suite import find, parse_fraction

    where = parse_where(args.where)
    suite = find(args.suite) if args.suite else None
    if suite is not None:
        where.setdefault("suite", suite.label)
    given = args.max_regression is not None  # "off" parses to None: never gate
    default = parse_fraction(args.max_regression, "--max-regression") if given else None
    db = db_path(args.db)
    base_label, base = select(args.base, db, where)
    head_label, head = select(args.head, db, where)
    if suite is not None:
        limit = default if given else suite.max_regression
        thresholds = lambda task, metric: suite.threshold(task, metric, limit)
    else:
        limit = default if given else 0.05
        thresholds = lambda task, metric: limit
    table = compare(base, head, thresholds=thresholds)
    if table.empty:
        raise CompareError(f"no metric in common between {base_label} "
                           f"({', '.join(sorted(set(base['task'])))}) and {head_label} "
                           f"({', '.join(sorted(set(head['task'])))}): nothing to compare")
    text = render(table, base_label, head_label, args.format)
    out(text.rstrip("\n"))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(render(table, base_label, head_label, "md") if args.out.suffix == ".md" else text,
                            encoding="utf-8")
    return 1 if (table["verdict"] == "regression").any() else 0
