"""Aggregate statistics across tasks and seeds (bench/reports/aggregate.py): IQM, stratified bootstrap CIs,
performance profiles, on inputs whose answers are known (rliable's definitions: Agarwal et al. 2021)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.api import Metric, Result
from bench.reports import aggregate as agg
from bench.reports.stats import bootstrap_ci
from bench.store import Store


def test_iqm_is_the_mean_of_the_middle_half():
    assert agg.iqm(np.arange(8.0)) == 3.5                # 2, 3, 4, 5
    assert agg.iqm([1.0, 2.0, 3.0, 4.0, 100.0]) == 3.0   # 25 % of 5 runs: one cut from each end
    assert agg.iqm(np.full(12, 0.7)) == pytest.approx(0.7)
    assert np.allclose(agg.iqm(np.array([np.arange(8.0), np.arange(8.0) * 2]), axis=1), [3.5, 7.0])


def test_the_bootstrap_is_stratified_by_task():
    # task A always scores 0, task B always 1: seeds never change the pooled IQM when runs are drawn within
    # each task (a pooled bootstrap would mix them)
    point, lo, hi = agg.interval({"A": [0.0] * 4, "B": [1.0] * 4})
    assert (point, lo, hi) == (0.5, 0.5, 0.5)
    plain = bootstrap_ci([0.0] * 4 + [1.0] * 4)
    assert plain[1] - plain[0] > 0.3
    # one task with spread: a CI around the point, the same for the same seed
    rng = np.random.default_rng(0)
    x = {"A": rng.uniform(0, 1, 40), "B": rng.uniform(0.5, 1, 40)}
    point, lo, hi = agg.interval(x)
    assert lo < point < hi and hi - lo < 0.2
    assert agg.interval(x) == (point, lo, hi) and agg.interval(x, seed=1) != (point, lo, hi)
    assert agg.interval(x, "mean")[0] == pytest.approx(np.concatenate(list(x.values())).mean())
    assert all(math.isnan(v) for v in agg.interval({}))
    assert agg.interval({"A": [np.nan, 0.2, 0.4]}, "mean")[0] == pytest.approx(0.3)   # NaN dropped


def test_performance_profile_counts_runs_strictly_above_tau():
    scores = {"A": [0.1, 0.5, 0.9], "B": [0.3]}
    frac, lo, hi = agg.profile(scores, [0.0, 0.2, 0.5, 0.95])
    assert frac.tolist() == [1.0, 0.75, 0.25, 0.0]
    assert np.all(lo <= frac) and np.all(frac <= hi)
    assert lo[0] == hi[0] == 1.0 and lo[-1] == hi[-1] == 0.0   # every / no run above: no spread
    # the band is that of resampling runs within tasks (drawn here the slow way)
    rng = np.random.default_rng(3)
    big = {"A": rng.uniform(0, 1, 30), "B": rng.uniform(0.3, 0.9, 10)}
    taus = np.linspace(0, 1, 11)
    _, lo, hi = agg.profile(big, taus, n_resamples=4000)
    draws = np.concatenate([a[rng.integers(0, a.size, (4000, a.size))] for a in big.values()], axis=1)
    brute = (draws[:, :, None] > taus).mean(axis=1)
    blo, bhi = np.quantile(brute, [0.025, 0.975], axis=0)
    assert np.allclose(lo, blo, atol=0.03) and np.allclose(hi, bhi, atol=0.03)


def _save(s: Store, plant: str, ctrl: str, task: str, seed: int, metrics: dict[str, float],
          settings: dict | None = None) -> None:
    r = Result(metrics=metrics, info={k: Metric("", "higher") for k in metrics})
    ctrl_settings = {"name": ctrl, **(settings or {})}
    r.meta.update(plant=plant, controller=ctrl, task=task, seed=seed,
                  settings={"plant": {"name": plant}, "controller": ctrl_settings, "task": {"name": task}},
                  settings_hash=f"{ctrl}-{sorted((settings or {}).items())}")
    s.save(r)


def test_scores_come_from_each_tasks_declared_score(tmp_path):
    s = Store(tmp_path / "a.sqlite")
    for seed, v in enumerate([0.5, 1.0, 0.25]):
        _save(s, "arm2", "ahf", "reach", seed, {"within_tolerance": v, "effort": 3.0})
    _save(s, "arm2", "ahf", "reach", 3, {"reached": 0.75})                  # sequence mode: 'reached'
    for seed, v in enumerate([0.2, 0.4]):
        _save(s, "cartpole", "pg", "balance", seed, {"auc_max_reward_norm": v, "eval_mean_reward": 150.0})
    for n_steps, acc in ((10, 0.6), (30, 0.9)):
        for seed in range(2):
            _save(s, "digits", "snn", "classify", seed, {"spiking_accuracy": acc + seed / 100},
                  {"n_steps": n_steps})
    _save(s, "digits", "snn", "classify", 5, {"spiking_accuracy": math.nan}, {"n_steps": 10})
    _save(s, "p", "x", "a-task-without-score", 0, {"m": 1.0})
    a = agg.aggregate(s.dataframe())
    by = {r.algorithm: r for r in a.table.itertuples(index=False)}
    assert set(by) == {"ahf", "pg", "snn (snn.n_steps=10)", "snn (snn.n_steps=30)"}
    assert by["ahf"].tasks == "arm2 reach" and by["ahf"].runs == 4
    assert by["ahf"].mean == pytest.approx(np.mean([0.5, 1.0, 0.25, 0.75]))
    assert by["ahf"].iqm == pytest.approx(np.mean([0.5, 0.75]))
    assert by["pg"].mean == pytest.approx(0.3)
    assert by["snn (snn.n_steps=10)"].runs == 3                               # the NaN run scores 0
    assert by["snn (snn.n_steps=10)"].mean == pytest.approx((0.6 + 0.61 + 0.0) / 3)
    assert set(a.scores["metric"]) == {"within_tolerance", "reached", "auc_max_reward_norm", "spiking_accuracy"}
    frac, _lo, _hi = a.profiles["pg"]
    assert frac[a.taus.searchsorted(0.3)] == 0.5                              # 0.4 > 0.3, 0.2 is not
    assert "reach: within_tolerance or reached" in agg.note(a)
    head, rows = agg.rows(a)
    assert head[3] == "IQM [95% CI]" and len(rows) == 4
    assert agg.markdown(a).count("\n") == 5
