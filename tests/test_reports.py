"""Reports: bootstrap statistics, summary tables, figures, index.html / summary.md / csv."""

from __future__ import annotations

import io
import math
import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.api import Metric, Result
from bench.reports import load, stats
from bench.reports.figures import learning_curves, make_all, pareto, pareto_front
from bench.store import Store

PNG = b"\x89PNG\r\n\x1a\n"


# -- statistics ------------------------------------------------------------------
def test_bootstrap_ci_covers_the_mean_with_the_expected_width():
    x = np.random.default_rng(1).normal(5.0, 1.0, 200)
    lo, hi = stats.bootstrap_ci(x)
    assert lo < x.mean() < hi
    assert 0.2 < hi - lo < 0.36  # ≈ 2·1.96/sqrt(200) = 0.277
    assert stats.bootstrap_ci(x) == (lo, hi)  # seeded
    assert stats.bootstrap_ci(x, seed=2) != (lo, hi)


def test_bootstrap_ci_edge_cases():
    assert stats.bootstrap_ci([3.0]) == (3.0, 3.0)
    assert all(math.isnan(v) for v in stats.bootstrap_ci([]))
    assert stats.bootstrap_ci([1.0, np.nan, 1.0]) == (1.0, 1.0)  # NaN ("never happened") is dropped


def test_band_is_pointwise_and_handles_missing_points():
    rng = np.random.default_rng(0)
    curves = rng.normal(0, 1, (8, 5)) + np.arange(5)
    curves[0, 4] = np.nan
    mean, lo, hi = stats.band(curves)
    assert mean.shape == lo.shape == hi.shape == (5,)
    assert np.all(lo <= mean) and np.all(mean <= hi)
    assert mean[4] == pytest.approx(np.nanmean(curves[:, 4]))
    one = stats.band(curves[:1, :4])
    assert np.array_equal(one[0], one[1])


def test_bootstrap_change_paired_and_relative():
    base = np.array([1.0, 2.0, 3.0, 4.0])
    ch = stats.bootstrap_change(base, base * 1.1, paired=True)
    assert ch["rel"] == pytest.approx(0.1)
    assert ch["rel_low"] == pytest.approx(0.1) and ch["rel_high"] == pytest.approx(0.1)  # no noise when paired
    unpaired = stats.bootstrap_change(base, base * 1.1)
    assert unpaired["rel_low"] < 0 < unpaired["rel_high"]  # the seeds' spread hides 10%


def test_pareto_front():
    # (latency lower better, accuracy higher better)
    pts = np.array([[1, 0.8], [2, 0.9], [3, 0.85], [1, 0.7], [4, 0.95]])
    assert pareto_front(pts, ["lower", "higher"]).tolist() == [True, True, False, False, True]


# -- from a real store --------------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Two osc stiffnesses x 3 seeds of arm2 reach, one diverging run, run through bench sweep."""
    from bench.cli import main

    folder = tmp_path_factory.mktemp("reports")
    db = folder / "r.sqlite"
    assert main(["sweep", "arm2", "osc", "reach", "--seeds", "3", "--set", "osc.kp=100,200",
                 "--set", "reach.targets=4", "--db", str(db), "-j", "1", "-q"]) == 0
    assert main(["sweep", "arm2", "osc", "reach", "--set", "osc.kp=1e6", "--dt", "0.01", "--db", str(db), "-q",
                 "-j", "1"]) == 1
    return Store(db)


def test_load_is_the_tidy_table(store):
    df = load(store.path)
    assert set(df["run_id"]) == {r["id"] for r in store.runs() if r["status"] == "ok"}
    assert {"plant", "controller", "task", "seed", "metric", "value", "unit", "better"} <= set(df.columns)
    assert len(df) == 6 * 11        # the batch reach's 11 metrics


def test_summary_marks_the_best_by_direction_and_counts_failures(store):
    df = load(store.path)
    s = stats.summary(df, runs=store.runs())
    # the label names what differs between the runs of arm2 osc reach: the gain and the time step
    s["variant"] = [dict(kv.split("=") for kv in v.split(", "))["osc.kp"] for v in s["variant"]]
    assert set(s["variant"]) == {"100.0", "200.0", "1000000.0"}
    effort = s[s["metric"] == "effort"].set_index("variant")
    dist = s[s["metric"] == "final_distance_mean"].set_index("variant")
    # softer gains use less effort and end farther away
    assert effort.loc["100.0", "mean"] < effort.loc["200.0", "mean"]
    assert effort.loc["100.0", "best"] and not effort.loc["200.0", "best"]
    assert dist.loc["200.0", "best"] and not dist.loc["100.0", "best"]
    assert (s.loc[s["n"] > 0, "n"] == 3).all()
    failed = s[s["failures"] > 0]
    assert (len(failed) == 1 and failed["metric"].iloc[0] == "(every run failed)"
            and failed["variant"].iloc[0] == "1000000.0")
    row = dist.loc["200.0"]
    assert row["ci_low"] <= row["mean"] <= row["ci_high"]
    md = stats.markdown(s)
    assert md.count("\n") == len(s) + 1 and "★" in md


def test_report_html_is_offline_with_tables_and_figures(cli, store):
    code, _out, err = cli("report", "--db", str(store.path), "--format", "html", "--out", "rep")
    assert code == 0, err
    page = Path("rep/index.html").read_text()
    assert "<table class=\"headline\" data-task=\"reach\">" in page and "effort" in page and "Failed runs" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing fetched from the network
    images = re.findall(r"<img src=\"([^\"]+)\"", page)
    assert len(images) >= 2
    for src in images:   # figures are PNG; the arm tasks' animations GIF
        data = (Path("rep") / src).read_bytes()
        assert data[:8] == PNG or (src.startswith("animations/") and data[:6] == b"GIF89a"), src
    assert any("reach-paths" in s for s in images)
    md = Path("rep/summary.md").read_text()
    assert "| plant |" in md and "![" in md
    csv = pd.read_csv("rep/summary.csv")
    assert {"mean", "ci_low", "ci_high", "n", "failures", "best"} <= set(csv.columns)
    assert len(pd.read_csv("rep/runs.csv")) == 6 * 11


def test_report_md_and_csv_to_stdout_and_where(cli, store):
    code, out, _ = cli("report", "--db", str(store.path))
    # each task's headline table first, the long table of every metric after it
    assert code == 0 and out.index("## reach") < out.index("| plant | controller | osc.kp |") < out.index(
        "## Every metric") < out.index("| plant | controller | task |")
    code, out, _ = cli("report", "--db", str(store.path), "--format", "csv", "--where", "seed=0,1")
    assert code == 0
    table = pd.read_csv(io.StringIO(out))
    assert set(table.loc[table["n"] > 0, "n"]) == {2}
    code, out, _ = cli("report", "--db", str(store.path), "--where", "plant=arm3")
    assert code == 2



@pytest.mark.parametrize("argv, fragment", [
    (["report", "--db", "missing.sqlite"], "no results store"),
    (["report", "--where", "plnt=arm2"], "did you mean 'plant'"),
    (["report", "--format", "pdf"], "invalid choice"),
])
def test_report_bad_input(cli, store, argv, fragment):
    if "--db" not in argv:
        argv = [*argv, "--db", str(store.path)]
    code, _, err = cli(*argv)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1


def test_report_refuses_a_store_of_a_newer_schema(cli, store, tmp_path):
    newer = tmp_path / "newer.sqlite"
    newer.write_bytes(Path(store.path).read_bytes())
    con = sqlite3.connect(newer)
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    code, _, err = cli("report", "--db", str(newer))
    assert code == 2 and "newer" in err and len(err.strip().splitlines()) == 1


def _curve_store(path: Path) -> Store:
    """Runs carrying a per-batch ``curve`` frame (as the balance task stores) and no other frame."""
    s = Store(path)
    for ctrl, rate in (("pg", 0.3), ("npg", 0.6)):
        for seed in range(3):
            rng = np.random.default_rng(seed)
            batch = np.arange(10)
            reward = 500 * (1 - np.exp(-rate * batch)) + rng.normal(0, 10, 10)
            r = Result(metrics={"final_reward": reward[-1], "accuracy": 0.8 + rate / 10 + seed / 100,
                                "latency_steps": 20 * rate + seed},
                       frames={"curve": pd.DataFrame({"batch": batch, "max_reward": reward, "mean_reward": reward / 2}),
                               # a training history of another name (AHF-like): timing columns are not drawn
                               "training": pd.DataFrame({"iteration": batch, "wall_s": batch * 0.1,
                                                         "error": 1 / (1 + batch), "phase": ["fixed"] * 10})},
                       info={"final_reward": Metric("", "higher"), "accuracy": Metric("", "higher"),
                             "latency_steps": Metric("steps", "lower")})
            r.meta.update(plant="cartpole", controller=ctrl, task="balance", seed=seed,
                          settings={"plant": {"name": "cartpole"}, "controller": {"name": ctrl},
                                    "task": {"name": "balance"}}, settings_hash=f"h-{ctrl}")
            s.save(r)
    return s


def test_learning_curves_band_per_learner_and_graceful_without_frames(tmp_path):
    s = _curve_store(tmp_path / "c.sqlite")
    df = s.dataframe()
    figs = learning_curves(s, df, tmp_path / "fig")
    names = sorted(f.path.name for f in figs)
    assert names == ["balance-cartpole-curve-max_reward.png", "balance-cartpole-curve-mean_reward.png",
                     "balance-cartpole-training-error.png"]
    assert all(f.path.read_bytes()[:8] == PNG for f in figs)
    assert len(pareto(s, df, tmp_path / "fig")) == 1
    # a run without frames: no figure, no error
    bare = Store(tmp_path / "bare.sqlite")
    r = Result(metrics={"x": 1.0})
    r.meta.update(plant="p", controller="c", task="t", seed=0, settings={}, settings_hash="h")
    bare.save(r)
    assert make_all(bare, bare.dataframe(), tmp_path / "none") == []


def test_report_latest_keeps_the_newest_code_version(cli, tmp_path):
    s = Store(tmp_path / "v.sqlite")
    for version, ctrl in (("0.1+old", "a"), ("0.1+new", "b"), ("0.1+new", "c")):
        r = Result(metrics={"x": 1.0}, info={"x": Metric("", "lower")})
        r.meta.update(plant="p", controller=ctrl, task="t", seed=0, settings={}, settings_hash=ctrl,
                      code_version=version)
        s.save(r)
    code, out, _ = cli("report", "--db", str(s.path), "--latest", "--format", "csv")
    assert code == 0 and set(pd.read_csv(io.StringIO(out))["controller"]) == {"b", "c"}
    code, out, _ = cli("report", "--db", str(s.path), "--format", "csv")
    assert set(pd.read_csv(io.StringIO(out))["controller"]) == {"a", "b", "c"}
