"""Headline tables and figures against swept settings, from a real sweep of arm2 osc reach."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.api import Metric, Result
from bench.reports import figures, html, stats
from bench.store import Store
from bench.tasks.balance import Balance
from bench.tasks.classify import Classify
from bench.tasks.postural import Postural
from bench.tasks.random_movements import RandomMovements
from bench.tasks.reach import Reach
from bench.tasks.write import Write

PNG = b"\x89PNG\r\n\x1a\n"
KP = [50.0, 100.0, 200.0]
FORCE = [0.0, 0.03]


@pytest.mark.parametrize("task", [Reach, Postural, RandomMovements, Write, Balance, Classify])
def test_every_built_in_task_declares_its_headline_and_score(task):
    assert task.HEADLINE and set(task.HEADLINE) <= set(task.METRICS)
    assert all(task.METRICS[m].better in ("lower", "higher") for m in task.HEADLINE)
    assert task.SCORE and set(task.SCORE) <= set(task.METRICS)
    assert all(task.METRICS[m].better == "higher" for m in task.SCORE)  # a score: 1 the best


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """arm2 osc reach over osc.kp x reach.force (2 seeds), and one arm3 run: through bench sweep."""
    from bench.cli import main

    db = tmp_path_factory.mktemp("tables") / "r.sqlite"
    assert main(["sweep", "arm2", "osc", "reach", "--seeds", "2", "--set", "osc.kp=50,100,200",
                 "--set", "reach.force=0,0.03", "--set", "reach.targets=4", "--db", str(db), "-j", "1", "-q"]) == 0
    assert main(["sweep", "arm3", "osc", "reach", "--seeds", "2", "--set", "reach.targets=4", "--db", str(db),
                 "-j", "1", "-q"]) == 0
    return Store(db)


def _means(store: Store) -> pd.DataFrame:
    """Mean over seeds per (plant, kp, force) and metric, computed here from the tidy table."""
    df = store.dataframe()
    flat = stats.flat_settings(df)
    df["kp"] = [flat[h]["osc.kp"] for h in df["settings_hash"]]
    df["force"] = [flat[h]["reach.force"] for h in df["settings_hash"]]
    return df.groupby(["plant", "kp", "force", "metric"])["value"].mean().unstack("metric")


def test_the_headline_table_rows_columns_cells_and_bold(store):
    df, summary, runs = html.build(store)
    (h,) = stats.headlines(summary, html.run_table(runs, df))
    assert h.task == "reach"
    # the batch reach reports the first, second, third and last of reach's HEADLINE (not the sequence ones)
    assert h.metrics == ["final_distance_mean", "within_tolerance", "time_to_tolerance", "effort"]
    assert h.settings == ["osc.kp", "reach.force"]      # what varies between arm2's runs
    head = h.header()
    assert head[:4] == ["plant", "controller", "osc.kp", "reach.force"] and head[-1] == "n"
    assert head[4] == "final_distance_mean [m] ↓" and head[5] == "within_tolerance ↑"
    # rows: arm2 first (as run), sorted by the swept values, then arm3 with its defaults
    keys = [tuple(r) for r in h.rows[["plant", "osc.kp", "reach.force"]].itertuples(index=False)]
    assert keys == [("arm2", k, f) for k in KP for f in FORCE] + [("arm3", 200.0, 0.0)]
    means = _means(store)
    cells = h.cells()
    for (plant, kp, force), (text, _bold) in zip(keys, cells):
        for j, m in enumerate(h.metrics):
            col = 4 + j
            expected = means.loc[(plant, kp, force), m]
            if np.isnan(expected):
                assert text[col] == "—"
                continue
            mean, lo, hi = map(float, re.fullmatch(r"(\S+) \[(\S+), (\S+)\]", text[col]).groups())
            assert mean == pytest.approx(expected, rel=1e-3) and lo <= mean <= hi
        assert text[-1] == "2"
    # bold: per column the best mean among arm2's rows by the metric's direction; arm3 (one row) never
    arm2 = means.loc["arm2"]
    for j, m in enumerate(h.metrics):
        col = 4 + j
        best = arm2[m].min() if h.better[m] == "lower" else arm2[m].max()
        expect = [bool(np.isclose(arm2.loc[(k, f), m], best)) and arm2[m].nunique() > 1 for k in KP for f in FORCE]
        assert [b[col] for _, b in cells[:-1]] == expect, m
        assert not cells[-1][1][col]
    assert any(b[4] for _, b in cells)     # some final distance is the best...
    idx = [b[4] for _, b in cells].index(True)
    assert keys[idx] == ("arm2", 200.0, 0.0)  # ...the stiffest gain without the force field
    md = stats.headline_markdown(h)
    lines = md.splitlines()
    assert len(lines) == 2 + len(keys)
    assert lines[2 + idx].split(" | ")[4].startswith("**") and lines[2].count("**") == 2 * sum(cells[0][1])


def test_report_md_puts_each_headline_table_before_the_long_table(cli, store):
    code, out, _ = cli("report", "--db", str(store.path), "--format", "md")
    assert code == 0
    assert out.index("## reach") < out.index("| plant | controller | osc.kp | reach.force |") < out.index(
        "## Every metric")
    assert out.count("| arm2 | osc | reach |") == 6 * 11  # the long table: 6 combinations x 11 metrics


def test_a_task_without_a_headline_falls_back_to_four_directed_metrics(tmp_path):
    s = Store(tmp_path / "t.sqlite")
    info = {"wall_s": Metric("s", "lower"), "a": Metric("", "higher"), "plain": Metric(), "b": Metric("m", "lower"),
            "c": Metric("", "higher"), "d": Metric("", "lower"), "e": Metric("", "lower")}
    for ctrl, x in (("p", 1.0), ("q", 2.0)):
        for seed in range(2):
            r = Result(metrics=dict.fromkeys(info, x + seed), info=info)
            r.meta.update(plant="p0", controller=ctrl, task="not-a-registered-task", seed=seed,
                          settings={"plant": {"name": "p0"}, "controller": {"name": ctrl}, "task": {"name": "t"}},
                          settings_hash=ctrl)
            s.save(r)
    df, summary, runs = html.build(s)
    (h,) = stats.headlines(summary, html.run_table(runs, df))
    assert h.metrics == ["a", "b", "c", "d"] and h.settings == []
    bold = {row[1]: b for row, b in h.cells()}
    assert bold["q"][2] and not bold["p"][2]     # a: higher is better
    assert bold["p"][3] and not bold["q"][3]     # b: lower is better


def test_figures_against_each_swept_setting_one_line_per_other_value(store, tmp_path, monkeypatch):
    drawn = {}
    real_save = figures._save

    def keep(fig, out, name):   # look at each figure before it is written
        drawn[name] = fig
        renderer = fig.canvas.get_renderer()
        for legend in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]:
            box = legend.get_window_extent(renderer)
            for ax in fig.axes:
                assert not box.overlaps(ax.get_window_extent(renderer)), f"{name}: the legend covers a panel"
        return real_save(fig, out, name)

    monkeypatch.setattr(figures, "_save", keep)
    df = store.dataframe()
    figs = figures.against_settings(store, df, tmp_path)
    assert [f.title for f in figs] == ["reach on arm2: against osc.kp", "reach on arm2: against reach.force"]
    assert all(f.path.read_bytes()[:8] == PNG and f.task == "reach" for f in figs)
    means = _means(store).loc["arm2"]
    kp_fig = drawn["reach-arm2-against-osc.kp"]
    panels = {ax.get_title().split(" ")[0]: ax for ax in kp_fig.axes}
    assert list(panels) == ["final_distance_mean", "within_tolerance", "time_to_tolerance", "effort"]
    lines = {line.get_label(): line for line in panels["effort"].get_lines()}
    assert set(lines) == {"0", "0.03"}                       # one line per force
    for force, line in zip(FORCE, (lines["0"], lines["0.03"])):
        assert list(line.get_xdata()) == KP
        assert np.allclose(line.get_ydata(), [means.loc[(k, force), "effort"] for k in KP])
    force_fig = drawn["reach-arm2-against-reach.force"]
    labels = {line.get_label() for line in force_fig.axes[0].get_lines()}
    assert labels == {"50", "100", "200"}                    # one line per gain
    assert kp_fig.legends and kp_fig.legends[0].get_title().get_text() == "reach.force"


def test_existing_figures_keep_their_legends_outside(store, tmp_path, monkeypatch):
    seen = []
    real_save = figures._save

    def keep(fig, out, name):
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            if ax.get_legend():
                seen.append(name)
                assert not ax.get_legend().get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))
        return real_save(fig, out, name)

    monkeypatch.setattr(figures, "_save", keep)
    figures.learning_curves(store, store.dataframe(), tmp_path)
    assert seen  # the distance-per-step curves of the reach trajectories have a legend, outside


def test_bench_ci_summary_is_the_headline_tables_with_every_metric_folded(cli):
    Path("tiny.toml").write_text('name = "tiny"\nversion = 1\nseeds = 2\n\n[[run]]\nplant = "arm2"\n'
                                 'controller = "osc"\ntask = "reach"\nset = { "osc.kp" = [100, 200], '
                                 '"reach.targets" = 4 }\n')
    code, out, err = cli("ci", "--suite", "tiny.toml", "--db", "c.sqlite", "--summary", "pr/summary.md", "-j", "1",
                         "-q")
    assert code == 0, err
    text = Path("pr/summary.md").read_text()
    assert text.startswith("## Suite tiny@1 at ")
    assert text.index("### reach") < text.index("| plant | controller | osc.kp | final_distance_mean ") < (
        text.index("<details><summary>Every metric (22 rows)</summary>")) < text.index("</details>")
    assert "| arm2 | osc | 100 |" in text and "| arm2 | osc | 200 |" in text
    assert out.index("## reach") < out.index("## Every metric")   # printed: the same tables, not folded
