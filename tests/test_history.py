"""``bench history``: metrics across commits, significant steps flagged (bench/history.py).

The store holds runs of three commits, written through the real store as
``bench ci`` writes them (each run records its commit, code version, start
time and suite).  Per seed ``s`` of 0-3, with ``x = 1 + 0.1 s``:

* ``err`` (lower is better): ``x`` at commit a, ``1.01 x`` at b (a
  significant change, but within the 5 % threshold: no step), ``1.5 x`` at
  c (a step: worse);
* ``score`` (higher is better): ``x``, ``0.8 x`` (a step: worse), ``0.8 x``;
* ``acc`` (higher): the same on every commit;
* ``noisy`` (lower): +10 % on average at b, but the seeds disagree (paired
  differences +0.5, -0.2, +0.4, -0.3): the CI of the change spans 0, no step;
* ``gone`` (lower): finite at a and b, NaN at c (a step: ``now NaN``);
* ``latency_us_per_call`` (lower): doubles at b, a timing whose quick-suite
  threshold is ``off``.

Commit c's runs are stored first, with the latest start times: the order is
by start time, not by storage.  Commit c also changed the settings (a new
default: another settings hash), which must not break the series.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bench.api import Metric, Result
from bench.history import history, load
from bench.store import Store
from bench.suite import find

A, B, C = "a" * 40, "b" * 40, "c" * 40
SEEDS = range(4)
INFO = {"err": Metric("m", "lower"), "score": Metric("", "higher"), "acc": Metric("", "higher"),
        "noisy": Metric("", "lower"), "gone": Metric("", "lower"), "latency_us_per_call": Metric("µs", "lower")}
NOISY_B = [1.5, 0.8, 1.4, 0.7]


def _metrics(commit: str, seed: int) -> dict[str, float]:
    x = 1.0 + 0.1 * seed
    return {"err": x * {A: 1.0, B: 1.01, C: 1.5}[commit], "score": x * (1.0 if commit == A else 0.8),
            "acc": 0.9 + 0.01 * seed, "noisy": NOISY_B[seed] if commit == B else 1.0,
            "gone": math.nan if commit == C else x, "latency_us_per_call": 100.0 * (1 if commit == A else 2) + seed}


def make_store(path: Path, suite: str | None = None) -> Store:
    s = Store(path)
    for commit, day in ((C, 3), (A, 1), (B, 2)):
        for seed in SEEDS:
            r = Result(metrics=_metrics(commit, seed), info=INFO)
            kp = 300.0 if commit == C else 200.0   # commit c changed a default: a new settings hash
            r.meta.update(plant="arm2", controller="osc", task="synthetic", seed=seed,
                          settings={"plant": {"name": "arm2"}, "controller": {"name": "osc", "kp": kp},
                                    "task": {"name": "synthetic"}},
                          settings_hash=f"h{kp:g}", git_commit=commit, code_version=f"0.1+{commit}",
                          started_at=f"2025-01-0{day}T10:00:0{seed}", suite=suite)
            s.save(r)
    r = Result(metrics={"err": 5.0}, info=INFO)   # outside a git checkout: no commit
    r.meta.update(plant="arm2", controller="osc", task="synthetic", seed=0, settings={}, settings_hash="h0",
                  started_at="2025-01-04T00:00:00", suite=suite)
    s.save(r)
    return s


@pytest.fixture
def store(tmp_path):
    return make_store(tmp_path / "h.sqlite")


def test_points_follow_the_commits_in_started_order(store):
    h = history(load(store))
    assert list(h.commits["commit"]) == [A, B, C] and h.left_out == 1
    err = h.points[h.points["metric"] == "err"].sort_values("order")
    assert list(err["commit"]) == [A, B, C]                 # one series despite c's new settings hash
    x = 1 + 0.1 * np.arange(4)
    assert np.allclose(err["mean"], [x.mean(), 1.01 * x.mean(), 1.5 * x.mean()])
    assert (err["ci_low"] <= err["mean"]).all() and (err["mean"] <= err["ci_high"]).all()
    assert list(err["n"]) == [4, 4, 4]


def test_steps_are_flagged_only_when_significant_and_beyond_the_threshold(store):
    h = history(load(store))
    steps = {(r.metric, r.commit): r for r in h.steps.itertuples(index=False)}
    flagged = {(r.metric, r.commit, r.previous, r.verdict, r.reason) for r in h.flagged.itertuples(index=False)}
    assert flagged == {("err", C, B, "worse", ""), ("score", B, A, "worse", ""), ("gone", C, B, "worse", "now NaN"),
                       ("latency_us_per_call", B, A, "worse", "")}
    small = steps[("err", B)]   # +1 %: significant (paired, every seed moved) but within 5 %
    assert small.diff_low > 0 and small.rel == pytest.approx(0.01) and not small.step and small.paired
    noisy = steps[("noisy", B)]  # +10 % on average, the seeds disagree
    assert noisy.rel == pytest.approx(0.1) and noisy.diff_low < 0 < noisy.diff_high and not noisy.step
    assert steps[("err", C)].rel == pytest.approx(1.5 / 1.01 - 1)
    assert not any(r.step for r in h.steps.itertuples(index=False) if r.metric == "acc")


def test_thresholds_decide_what_is_a_step(store):
    df = load(store)
    assert set(history(df, threshold=0.6).flagged["metric"]) == {"latency_us_per_call", "gone"}  # +100 %, NaN
    assert history(df, threshold=None).flagged.empty                                          # off: never
    h = history(df, thresholds=lambda task, metric: None if metric.startswith("latency") else 0.05)
    assert "latency_us_per_call" not in set(h.flagged["metric"])
    assert history(df, metrics=["acc"]).flagged.empty and set(history(df, metrics=["acc"]).points["metric"]) == {
        "acc"}


def test_bench_history_text_and_md(cli, store):
    code, out, err = cli("history", "--db", str(store.path))
    assert code == 0, err
    head = out.splitlines()[0]
    assert head.startswith("3 commit(s) in ") and "1 run(s) without a commit left out" in head
    assert head.endswith(": 4 significant step(s)")
    assert ("STEP err of arm2 osc synthetic: worse, +48.5% [+48.5%, +48.5%], at cccccccccccc "
            "(from bbbbbbbbbbbb; 1.162 → 1.725)") in out
    assert "STEP gone of arm2 osc synthetic: worse, now NaN, at cccccccccccc" in out
    block = out[out.index("arm2 osc synthetic: err [m] (lower is better)"):].split("\n\n")[0].splitlines()
    assert [line.split()[0] for line in block[2:]] == ["aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"]
    assert block[-1].endswith("◀ worse") and not block[-2].endswith("worse")
    code, out, _ = cli("history", "--db", str(store.path), "--metric", "err,acc", "--format", "md")
    assert code == 0 and out.startswith("### Benchmark history")
    assert "| commit | started | mean | 95% CI | n | change vs previous | step |" in out
    assert "#### arm2 osc synthetic: err [m]" in out and "noisy" not in out and "- err of arm2 osc synthetic" in out


def test_bench_history_with_a_suite_uses_its_thresholds(cli, tmp_path):
    s = make_store(tmp_path / "q.sqlite", suite=find("quick").label)
    code, out, _ = cli("history", "--db", str(s.path), "--suite", "quick")
    assert code == 0 and ": 3 significant step(s)" in out.splitlines()[0]    # the timing is 'off' in the suite
    assert "STEP latency_us_per_call" not in out
    code, out, _ = cli("history", "--db", str(s.path), "--suite", "quick", "--threshold", "60%")
    assert code == 0 and ": 2 significant step(s)" in out.splitlines()[0]    # --threshold overrides it all
    code, _, err = cli("history", "--db", str(tmp_path / "h.sqlite"), "--suite", "quick")
    assert code == 2 and "no results store" in err


@pytest.mark.parametrize("argv, fragment", [
    (["--metric", "er"], "did you mean 'err'"),
    (["--threshold", "lots"], "--threshold"),
    (["--suite", "quik"], "did you mean 'quick'"),
    (["--where", "plnt=arm2"], "did you mean 'plant'"),
    (["--where", "plant=arm3"], "no runs in"),
])
def test_bench_history_bad_input(cli, store, argv, fragment):
    code, _, err = cli("history", "--db", str(store.path), *argv)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1


def test_a_store_without_commits_says_so(cli, tmp_path):
    s = Store(tmp_path / "n.sqlite")
    r = Result(metrics={"x": 1.0})
    r.meta.update(plant="p", controller="c", task="t", seed=0, settings={}, settings_hash="h")
    s.save(r)
    code, _, err = cli("history", "--db", str(s.path))
    assert code == 2 and "recorded a git commit" in err


def test_the_html_report_has_a_history_page(cli, store):
    code, out, err = cli("report", "--db", str(store.path), "--format", "html", "--out", "rep")
    assert code == 0 and "history: " in out, err
    index = Path("rep/index.html").read_text()
    assert "<a href=\"history.html\">History across 3 commit(s) (2 significant step(s))</a>" in index
    page = Path("rep/history.html").read_text()
    # the history page draws each task's headline metrics: for this unregistered task, its first four
    # metrics with a direction (err, score, acc, noisy); the steps among them are listed with their commits
    for metric in ("err", "score", "acc", "noisy"):
        assert f"figures/history-synthetic-{metric}.png" in page
        assert Path(f"rep/figures/history-synthetic-{metric}.png").read_bytes()[:4] == b"\x89PNG"
    assert "gone" not in page and "latency" not in page
    assert page.count("<td class=\"\">cccccccccccc</td>") == 1 and page.count("<td class=\"\">bbbbbbbbbbbb</td>") == 2


def test_history_figures_draw_at_most_max_lines_series_stepped_first(tmp_path):
    """Many settings variants: a figure draws ``max_lines`` series, those with a significant step first, and its
    caption says how many were left out (the steps table keeps every step)."""
    from types import SimpleNamespace

    import pandas as pd

    from bench.reports import figures

    rows = [{"plant": "arm2", "controller": "osc", "task": "reach", "series": f"h{i}", "variant": f"kp={i}",
             "metric": "err", "unit": "m", "better": "lower", "commit": c, "order": o, "mean": 1.0 + i + o,
             "ci_low": 0.5 + i, "ci_high": 2.0 + i + o}
            for i in range(12) for o, c in enumerate((A, B))]
    points = pd.DataFrame(rows)
    steps = points[points["order"] == 1].assign(step=[i == 11 for i in range(12)], verdict="worse")
    h = SimpleNamespace(points=points, commits=pd.DataFrame({"commit": [A, B]}), flagged=steps[steps["step"]])
    made = figures.history_figures(h, tmp_path, max_lines=3)
    assert len(made) == 1 and "3 of 12 series drawn (9 left out" in made[0].caption
    keys = [("arm2", "osc", f"h{i}", f"kp={i}") for i in range(12)]
    assert figures._pick_series(keys, {keys[11]}, 3) == [keys[0], keys[1], keys[11]]
