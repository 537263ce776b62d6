"""``bench compare BASE HEAD``: per-metric change with a bootstrap CI; a regression gate.

BASE and HEAD are each one of

* a store file (``base.sqlite``): its newest run of each plant, controller,
  task, settings and seed;
* run ids in ``--db``: ``12``, ``12,13,14`` or ``12-20``;
* a commit (sha prefix, branch or tag, resolved with ``git rev-parse``): the
  runs in ``--db`` that recorded it.

Runs are matched on plant, controller, task and settings hash (when a
triple has exactly one settings hash on each side, those are matched even if
the hashes differ, so a new default does not hide a comparison), and on
their provenance fingerprint (:func:`bench.provenance.fingerprint`: the
third-party plugins' distribution, version and source, and every weights,
model or data file read) where both sides recorded one: ctrlbench's own code
is what a comparison measures, anything else that differs makes it another
experiment, shown as separate ``base only`` / ``head only`` rows that never
gate, with what changed.  Runs stored before provenance was recorded match
as before.  For each
metric the change of the mean over seeds gets a 95% bootstrap CI, paired by
seed when both sides ran the same seeds.  A metric *regressed* when the whole
CI of its relative change lies beyond the threshold in the metric's worse
direction (``--max-regression 5%``; per-metric thresholds from the suite
file); a change whose CI reaches back inside the threshold is noise, not a
regression.  Metrics without a direction are shown but never gate on their
change.  A metric that stops being produced is a regression whatever its
direction: finite in the base and NaN or missing in the head (or NaN on a
seed where the base was finite), e.g. an arm that no longer reaches; NaN in
the base and finite in the head is ``better`` (``was NaN``).

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

from .errors import CompareError
from .reports.stats import bootstrap_change, md
from .reports.stats import fmt as num
from .store import Store

if TYPE_CHECKING:
    import pandas as pd

MATCH = ["plant", "controller", "task", "match_hash", "match_fp"]
#: A side whose name ends so (or holds a '/') names a store file: one that does not exist is said so.
STORE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
#: The verdicts of an experiment whose provenance differs between the sides (never compared, never gating).
APART = ("base only", "head only")


def _commit_of(value: Any) -> str:
    return str(value).split("+", 1)[0] if isinstance(value, str) else ""


def _git_resolve(ref: str) -> str | None:
    here = Path(__file__).resolve().parent
    if ref.startswith("-") or not ref.isprintable():  # never an option of git
        return None
    try:
        res = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=here,
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None


def _run_ids(text: str) -> list[tuple[int, int]] | None:
    """``"12,14-20"`` → ``[(12, 12), (14, 20)]`` (ranges, never expanded); None when ``text`` is no id list.
    Each id must lie in 1 .. 2**63 - 1 (:func:`bench.limits.parse_int`)."""
    from .limits import parse_int

    if not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", text) or len(text) > 10_000:
        return None
    ranges: list[tuple[int, int]] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        lo = parse_int(a, f"compare {text[:40]}: a run id", low=1)
        hi = parse_int(b, f"compare {text[:40]}: a run id", low=1) if b else lo
        ranges.append((lo, hi))
    return ranges


def _in_ranges(ids: pd.Series, ranges: list[tuple[int, int]]) -> pd.Series:
    mask = ids != ids  # all False
    for lo, hi in ranges:
        mask |= ids.between(lo, hi)
    return mask


def select(ref: str, db: Path | None, where: Mapping[str, Any] | None = None) -> tuple[str, pd.DataFrame]:
    """``(label, tidy rows)`` of one side of a comparison (see the module docstring)."""
    where = dict(where or {})
    path = Path(ref)
    if path.is_file():
        from .paths import store_file

        df = Store(store_file(path, "compare", must_exist=True)).dataframe(where)
        if df.empty:
            raise CompareError(f"{ref}: no successful runs" + (f" matching {where}" if where else ""))
        # the newest run of each (plant, controller, task, settings, seed): a store that accumulated
        # several commits is read as its latest state
        newest = df.groupby(["plant", "controller", "task", "settings_hash", "seed"])["run_id"].transform("max")
        df = df[df["run_id"] == newest]
        commits = sorted({str(c)[:12] for c in df["commit"].dropna()})
        return f"{ref} @ {', '.join(commits) or 'no commit'}", _with_provenance(df, Store(path))
    if path.suffix.lower() in STORE_SUFFIXES:
        raise CompareError(f"compare {ref}: no such file (a store file, run ids such as 12-20, or a commit)")
    if db is None or not Path(db).is_file():
        raise CompareError(f"{ref!r} is not a store file, and there is no store {db} to look up run ids or commits in")
    store = Store(db)
    ids = _run_ids(ref)
    if ids is not None:
        df = store.dataframe(where)
        df = df[_in_ranges(df["run_id"], ids)]
        if not df.empty:
            return f"runs {ref}", _with_provenance(df, store)
    sha = _git_resolve(ref) or ref
    df = store.dataframe(where)
    commits = df["commit"].map(_commit_of)
    picked = df[commits.str.startswith(sha.lower())] if len(sha) >= 4 else df.iloc[0:0]
    if picked.empty:
        known = sorted({c[:10] for c in commits if c})
        raise CompareError(f"{ref!r}: no successful runs of that commit or run id in {db}"
                           + (f"; commits stored: {', '.join(known)}" if known else "")
                           + ("; and no file of that name" if ("/" in ref or "." in ref) else ""))
    return f"commit {sha[:12]}", _with_provenance(picked, store)


def _with_provenance(df: pd.DataFrame, store: Store) -> pd.DataFrame:
    """``df`` with ``attrs["provenance"]``: run id → its recorded provenance (to say what differs)."""
    import json

    ids = sorted({int(i) for i in df["run_id"]})
    df.attrs["provenance"] = {int(r["id"]): json.loads(r["provenance"] or "{}")
                              for r in store.runs({"id": ids})} if ids else {}
    return df


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
    # provenance: matched where every run of the triple on both sides recorded a fingerprint
    for df in (base, head):
        df["match_fp"] = df["fingerprint"] if "fingerprint" in df else None
    recorded = [{t for t, ok in df.groupby(triple)["match_fp"].apply(lambda s: s.notna().all()).items() if ok}
                for df in (base, head)]
    for df in (base, head):
        mask = [t not in recorded[0] or t not in recorded[1] for t in df[triple].itertuples(index=False, name=None)]
        df.loc[mask, "match_fp"] = "*"
    return base, head


def _apart(base: pd.DataFrame, head: pd.DataFrame, hb: Mapping[Any, Any], hh: Mapping[Any, Any]) -> list[dict]:
    """Rows for experiments whose provenance differs between the sides: each side on its own row, never gating."""
    from .provenance import differences

    nan = math.nan
    rows = []
    for mine, theirs, side in ((hb, hh, "base only"), (hh, hb, "head only")):
        for key, g in mine.items():
            peers = [k for k in theirs if k[:4] == key[:4] and k[-1] == key[-1] and k[4] != key[4]]
            if key in theirs or not peers:
                continue
            prov = [df.attrs.get("provenance", {}).get(int(grp["run_id"].iloc[0]), {})
                    for df, grp in ((base, g if side == "base only" else theirs[peers[0]]),
                                    (head, g if side == "head only" else theirs[peers[0]]))]
            what = "; ".join(differences(*prov)) or "fingerprints differ"
            mean = float(g.groupby("seed")["value"].mean().mean())
            n = g["seed"].nunique()
            rows.append({"plant": key[0], "controller": key[1], "task": key[2], "metric": key[-1],
                         "unit": g["unit"].iloc[0], "better": g["better"].iloc[0],
                         "n_base": n if side == "base only" else 0, "n_head": n if side == "head only" else 0,
                         "paired": False, "threshold": None, "verdict": side, "reason": f"provenance differs: {what}",
                         "base": mean if side == "base only" else nan, "head": mean if side == "head only" else nan,
                         **dict.fromkeys(("diff", "diff_low", "diff_high", "rel", "rel_low", "rel_high"), nan)})
    return rows


def compare(base: pd.DataFrame, head: pd.DataFrame, *, max_regression: float | None = 0.05,
            thresholds: Any = None, n_resamples: int = 3000, seed: int = 0) -> pd.DataFrame:
    """One row per matched (plant, controller, task, settings, metric) with the change and its verdict.

    ``thresholds(task, metric)`` returns a metric's threshold (fraction, None
    = never gate); default ``max_regression`` for all.  Verdicts:
    ``regression`` (CI entirely beyond the threshold, worse), ``worse``
    (significant, within the threshold), ``better`` (significant), ``same``
    (inside the noise), ``no direction``, ``no data`` (NaN on both sides),
    ``new`` (was NaN, no direction); ``reason`` says why a metric that
    stopped or started being finite got its verdict (see :func:`_finiteness`).
    """
    import pandas as pd

    base, head = _matchable(base, head)
    rows = []
    # not dict(groupby): a GroupBy has a .keys attribute, so dict() would take it for a mapping and fail
    hb = {k: g for k, g in base.groupby(MATCH + ["metric"], sort=False)}  # noqa: C416
    hh = {k: g for k, g in head.groupby(MATCH + ["metric"], sort=False)}  # noqa: C416
    ran = {k: set(g["seed"]) for k, g in head.groupby(MATCH, sort=False)}  # the seeds head ran per experiment
    # a metric of a matched experiment that the head no longer reports at all is compared too ("missing")
    for key in list(hh) + [k for k in hb if k not in hh and k[:-1] in ran]:
        gb, gh = hb.get(key), hh.get(key, head.iloc[0:0])
        if gb is None:
            continue
        sb, sh = gb.groupby("seed")["value"].mean(), gh.groupby("seed")["value"].mean()
        paired = len(sb) > 1 and set(sb.index) == set(sh.index)
        if paired:
            sh = sh.reindex(sb.index)
        ch = bootstrap_change(sb.to_numpy(), sh.to_numpy(), paired=paired, n_resamples=n_resamples, seed=seed)
        better = (gh["better"].iloc[0] if len(gh) else "") or gb["better"].iloc[0]
        limit = thresholds(key[2], key[-1]) if thresholds is not None else max_regression
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
        verdict, reason = _finiteness(verdict, sb, sh, ran.get(key[:-1], set()), better, limit, ch)
        rows.append(dict(plant=key[0], controller=key[1], task=key[2], metric=key[-1],
                         unit=(gh if len(gh) else gb)["unit"].iloc[0], better=better, n_base=len(sb),
                         n_head=len(sh), paired=paired, threshold=limit, verdict=verdict, reason=reason, **ch))
    return pd.DataFrame(rows + _apart(base, head, hb, hh))


def _finiteness(verdict: str, sb: pd.Series, sh: pd.Series, head_seeds: set[Any], better: str,
                limit: float | None, ch: dict[str, float]) -> tuple[str, str]:
    """The verdict and its reason once finiteness is weighed: a metric that stops being produced regressed.

    A metric finite in the base (on any seed) and NaN on every head seed is a
    regression ``now NaN`` (``missing`` when the head no longer reports it);
    one finite on a seed in the base and NaN or absent on that same seed in
    the head is a regression ``now NaN on k of n seeds``.  Direction does not
    matter: no value is worse than any value.  Only a threshold switched
    ``off`` (None) turns it into ``worse`` (not gated).  NaN in the base and
    finite in the head is ``better`` (``new`` for a metric without a
    direction), reason ``was NaN``; NaN on both sides stays ``no data``.
    ``ch`` (the bootstrap change) gets the side means that are known.
    """
    import numpy as np

    fin_b = {s for s, v in sb.items() if np.isfinite(v)}
    fin_h = {s for s, v in sh.items() if np.isfinite(v)}
    if fin_b and not fin_h:
        ch["base"] = float(sb[list(fin_b)].mean())
        reason = "missing" if sh.empty else "now NaN"
    elif fin_h and not fin_b:
        ch["head"] = float(sh[list(fin_h)].mean())
        return ("better" if better else "new"), "was NaN"
    else:
        lost = sorted(s for s in fin_b & head_seeds if s not in fin_h)
        if not lost:
            return verdict, ""
        reason = f"now NaN on {len(lost)} of {len(fin_b & head_seeds)} seeds"
    return ("worse" if _off(limit) else "regression"), reason


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
    mark = {"regression": "❌ regression", "worse": "worse (within threshold)", "better": "✅ better",
            "same": "same (noise)"}
    head = ["plant", "controller", "task", "metric", "better", "base", "head", "change", "95% CI of change",
            "n", "threshold", "verdict"]
    rows = []
    for r in table.itertuples(index=False):
        why = getattr(r, "reason", "") or ""
        shown = ("worse (not gated)" if r.verdict == "worse" and _off(r.threshold)
                 else mark.get(r.verdict, r.verdict))
        if why:  # "❌ regression (now NaN)", "worse (not gated, missing)", "✅ better (was NaN)"
            shown = shown[:-1] + f", {why})" if shown.endswith(")") else f"{shown} ({why})"
        rows.append([r.plant, r.controller, r.task, r.metric + (f" [{r.unit}]" if r.unit else ""), r.better or "—",
                     num(r.base), num(r.head), _pct(r.rel), f"[{_pct(r.rel_low)}, {_pct(r.rel_high)}]",
                     f"{r.n_base}/{r.n_head}" + (" paired" if r.paired else ""),
                     "off" if _off(r.threshold)
                     else f"{r.threshold * 100:g}%",
                     shown])
    regressions = table[table["verdict"] == "regression"]
    verdict = (f"**{len(regressions)} significant regression(s)**: "
               + ", ".join(f"{r.task}.{r.metric} {getattr(r, 'reason', '') or _pct(r.rel)}"
                           for r in regressions.itertuples(index=False))
               if len(regressions) else "No significant regression.")
    apart = table[table["verdict"].isin(APART)]
    if len(apart):
        names = sorted({f"{r.plant} {r.controller} {r.task}" for r in apart.itertuples(index=False)})
        verdict += (f"\nNot compared (provenance differs, so not the same experiment): {', '.join(names)}; "
                    + str(apart["reason"].iloc[0]))
    title = f"base: {base_label}   head: {head_label}"
    if fmt == "md":  # every text from the stores or the command line through md(), as HTML is escaped
        esc = [[md(c) for c in row] for row in rows]
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in esc]
        said = "\n".join(md(line) for line in verdict.split("\n"))
        return f"### Benchmark comparison\n\n{md(title)}\n\n" + "\n".join(lines) + f"\n\n{said}\n"
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [head, *rows]]
    return title + "\n" + "\n".join(lines) + "\n" + verdict.replace("**", "") + "\n"
