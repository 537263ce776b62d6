"""A large synthetic results store, for the scale benchmarks (``test_report_scale.py``).

:func:`make` writes ``runs`` runs into a store of the current schema in a
few seconds (one transaction, ``executemany``), shaped as real ones:

* a mix of the built-in tasks as a benchmark history holds them: arm2 and
  arm3 ``reach`` (64 and 8 targets) with ``osc``, ``ahf``, ``gc`` and
  ``lqr``; ``postural``, ``random_movements`` and ``write``; ``cartpole``
  ``balance`` with ``pg`` and ``npg``; ``digits`` ``classify`` with ``snn``;
* each family sweeps one or two settings (``osc.kp`` × ``osc.kv_null``,
  ``snn.scale_firing_rates`` × ``snn.synapse``, ...), ``seeds`` seeds per
  settings variant, over ``commits`` code versions; about 1 % of the runs
  failed (no metrics, an error and a log path);
* each run has its task's real metric names, units and directions
  (:data:`bench.api.Task.METRICS`), values that depend on the variant and
  the seed, the settings, versions and provenance JSON of a real run, and
  its task's frames with the real columns and row counts (the reach
  ``trajectory``: 50 time points × targets; the ``arm`` frame: 200 rows;
  the balance ``curve``: 200 batches; ...), stored with the store's own
  encoder (:func:`bench.frames.encode_frame`, or ``encoding="json"``: the
  JSON of schema 2, to measure the store as it was).

``python tests/benchmarks/synthetic_store.py OUT.sqlite RUNS`` writes one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: Encoded frames drawn per (family, frame): each run takes one of them (encoding every frame would
#: make the generator as slow as the code under test).
FRAME_POOL = 6
VERSIONS = {"ctrlbench": "0.1.0", "gymnasium": "1.4.0", "nengo": "4.1.0", "numpy": "2.4.6", "pandas": "3.1.1",
            "pluggy": "1.7.0", "python": "3.11.7", "scikit-learn": "1.9.1", "tensorflow": "2.21.0"}


def _frame_arm(rng: np.random.Generator, joints: int = 2, rows: int = 200, trials: int = 8,
               extra: tuple[str, ...] = ()) -> Any:
    import pandas as pd

    per = rows // trials
    t = np.tile(np.linspace(0, 0.4, per), trials)
    trial = np.repeat(np.arange(trials), per)
    cols: dict[str, Any] = {"t": t, "trial": trial}
    angle = 2 * np.pi * trial / trials
    cols["target_x"], cols["target_y"] = 0.07 * np.cos(angle), 0.35 + 0.07 * np.sin(angle)
    q = np.stack([0.6 + 0.3 * (1 - np.exp(-t / 0.08)) * np.cos(angle + j) + 0.002 * rng.standard_normal(t.size)
                  for j in range(joints)], axis=1)
    for j in range(joints):
        cols[f"q{j}"] = q[:, j]
    px, py = [np.zeros_like(t)], [np.zeros_like(t)]
    for j in range(joints):
        a = q[:, : j + 1].sum(axis=1)
        px.append(px[-1] + 0.3 * np.cos(a))
        py.append(py[-1] + 0.3 * np.sin(a))
    for j, x in enumerate(px):
        cols[f"px{j}"] = x
    for j, y in enumerate(py):
        cols[f"py{j}"] = y
    for name in extra:
        cols[name] = (rng.random(t.size) > 0.5).astype(float)
    return pd.DataFrame(cols)


def _frame_trajectory(rng: np.random.Generator, targets: int, points: int = 50) -> Any:
    import pandas as pd

    steps = np.unique(np.linspace(0, 400, points).round().astype(int))
    t = steps * 1e-3
    angle = 2 * np.pi * np.arange(targets) / targets
    tx, ty = 0.07 * np.cos(angle), 0.35 + 0.07 * np.sin(angle)
    tau = 0.05 * (1 + 0.2 * rng.random(targets))
    reach = 1 - np.exp(-t[:, None] / tau[None, :])                        # (points, targets)
    bend = 0.01 * np.sin(np.pi * reach) * rng.standard_normal(targets)
    hx = tx * reach - bend * np.sin(angle) + 1e-4 * rng.standard_normal(reach.shape)
    hy = 0.35 + (ty - 0.35) * reach + bend * np.cos(angle) + 1e-4 * rng.standard_normal(reach.shape)
    return pd.DataFrame({"step": np.repeat(steps, targets), "t": np.repeat(t, targets),
                         "target": np.tile(np.arange(targets), steps.size),
                         "target_x": np.tile(tx, steps.size), "target_y": np.tile(ty, steps.size),
                         "hand_x": hx.ravel(), "hand_y": hy.ravel(),
                         "distance": np.hypot(hx - tx, hy - ty).ravel()})


def _frame_holds(rng: np.random.Generator) -> Any:
    import pandas as pd

    n = 8
    return pd.DataFrame({"target": np.arange(n), "hold_error_mean": 0.01 * rng.random(n),
                         "hold_error_max": 0.02 * rng.random(n), "time_within_threshold": rng.random(n),
                         "final_distance": 0.01 * rng.random(n), "reached": rng.random(n) > 0.2,
                         "movement_time": 0.3 * rng.random(n), "effort": 10 * rng.random(n),
                         "final_speed": 0.01 * rng.random(n)})


def _frame_curve(rng: np.random.Generator, batches: int = 200) -> Any:
    import pandas as pd

    b = np.arange(batches)
    mean = 200 * (1 - np.exp(-b / (40 * (1 + rng.random())))) + 5 * rng.standard_normal(batches)
    return pd.DataFrame({"batch": b, "max_reward": np.minimum(500, 1.6 * mean + 10 * rng.random(batches)),
                         "mean_reward": mean, "episodes": rng.integers(5, 40, batches),
                         "steps": rng.integers(1000, 5000, batches), "rollout_ms": 20 + 5 * rng.random(batches),
                         "update_ms": 3 + rng.random(batches), "skipped": np.zeros(batches, dtype=int)})


def _frame_evaluation(rng: np.random.Generator, episodes: int = 100) -> Any:
    import pandas as pd

    return pd.DataFrame({"episode": np.arange(episodes), "reward": np.minimum(500, 400 + 80 * rng.standard_normal(
        episodes))})


def _frame_accuracy(rng: np.random.Generator, steps: int = 100) -> Any:
    import pandas as pd

    s = np.arange(1, steps + 1)
    return pd.DataFrame({"step": s, "t_ms": s * 1.0,
                         "accuracy": 0.95 * (1 - np.exp(-s / (8 * (1 + rng.random())))),
                         "synops_spiking": 1e5 * s * (1 + 0.1 * rng.random(steps))})


@dataclasses.dataclass(frozen=True)
class Family:
    """Runs of one plant, controller and task, sweeping ``swept`` (key → values per variant index)."""

    plant: str
    controller: str
    task: str
    share: float
    metrics: tuple[str, ...]
    swept: tuple[tuple[str, float], ...]       # (component.key, base value): value = base × (1 + 0.25 i)
    frames: tuple[tuple[str, Callable[[np.random.Generator, int], Any]], ...]  # builder(rng, reach points)
    plant_settings: dict[str, Any]
    controller_settings: dict[str, Any]
    task_settings: dict[str, Any]
    artifacts: tuple[str, ...] = ()


REACH_BATCH = ("final_distance_mean", "final_distance_max", "within_tolerance", "time_to_tolerance",
               "entered_tolerance", "time_within_tolerance", "path_ratio", "effort", "final_speed",
               "latency_us_per_call", "latency_us_per_arm")
ARM2 = {"dt": 0.001, "l1": 0.31, "l2": 0.27, "m1": 1.98, "m2": 1.32}
ARM3 = {"dt": 0.001, "damping": 0.0, "gravity": 0.0, "mass_scale": 1.0}
OSC = {"compensate_bias": True, "kp": 200.0, "kv": None, "kv_null": 10.0, "singular_damping": 1e-06}
REACH = {"animation_points": 200, "centre": None, "duration": 0.4, "force": 0.0, "frame_points": 50,
         "full_trajectory": False, "hard_reset": True, "mode": "batch", "radius": None, "return_phase": False,
         "targets": 64, "timeout": 2.0, "tolerance": None}
ARM_TASK = {"animation_points": 200, "force": 0.0, "threshold": None}
PG = {"batch_size": 16, "gamma": 0.99, "hidden": [32, 32], "lr": 0.01, "max_batches": 200, "max_steps": 500}
SNN = {"epochs": 10, "model": None, "n_steps": 100, "scale_firing_rates": 20.0, "synapse": 0.005, "plots": True}

REACH64 = (("trajectory", lambda r, p: _frame_trajectory(r, 64, p)), ("arm", lambda r, p: _frame_arm(r)))
BALANCE = (("curve", lambda r, p: _frame_curve(r)), ("evaluation", lambda r, p: _frame_evaluation(r)))
FAMILIES: tuple[Family, ...] = (
    Family("arm2", "osc", "reach", 0.25, REACH_BATCH, (("controller.kp", 100.0), ("controller.kv_null", 5.0)),
           REACH64, ARM2, OSC, REACH),
    Family("arm2", "ahf", "reach", 0.10, REACH_BATCH, (("task.force", 0.01),),
           REACH64, {**ARM2, "dt": 0.01},
           {"weights": None, "dt": 0.01, "max_seconds": None}, REACH),
    Family("arm2", "gc", "reach", 0.08, REACH_BATCH, (("controller.kp", 50.0),),
           REACH64, ARM2,
           {"kp": 100.0, "kv": None}, REACH),
    Family("arm2", "lqr", "reach", 0.07, REACH_BATCH, (("controller.q_pos", 100.0),),
           REACH64, ARM2,
           {"q_pos": 1000.0, "q_vel": 1.0, "r": 1.0, "effort": "acceleration"}, REACH),
    Family("arm3", "osc", "reach", 0.05, REACH_BATCH, (("controller.kp", 100.0),),
           (("trajectory", lambda r, p: _frame_trajectory(r, 8, p)), ("arm", lambda r, p: _frame_arm(r, 3))), ARM3, OSC,
           {**REACH, "targets": 8}),
    Family("arm2", "osc", "postural", 0.10, ("hold_error_mean", "hold_error_max", "time_within_threshold",
                                             "final_distance_mean", "reached", "movement_time", "effort",
                                             "final_speed", "resets", "latency_us_per_call"),
           (("task.perturbation_scale", 1.0),),
           (("arm", lambda r, p: _frame_arm(r, extra=("push",))), ("holds", lambda r, p: _frame_holds(r))), ARM2, OSC,
           {**ARM_TASK, "hold": 0.5, "perturbation": 0, "perturbation_scale": 1.0, "targets": 8}),
    Family("arm2", "osc", "random_movements", 0.05, ("error_mean", "final_distance_mean", "time_within_threshold",
                                                     "time_to_threshold", "entered_threshold", "effort",
                                                     "final_speed", "latency_us_per_call", "latency_us_per_arm"),
           (("task.period", 0.5),), (("arm", lambda r, p: _frame_arm(r)),), ARM2, OSC,
           {**ARM_TASK, "period": 1.0, "n": 4}),
    Family("arm2", "osc", "write", 0.05, ("tracking_error_mean", "tracking_error_max", "time_within_threshold",
                                          "final_distance", "strokes_started", "effort", "final_speed",
                                          "writing_time", "latency_us_per_call"),
           (("task.stroke_time", 0.2),), (("arm", lambda r, p: _frame_arm(r, extra=("pen",))),), ARM2, OSC,
           {**ARM_TASK, "text": "hello", "stroke_time": 0.4}),
    Family("cartpole", "pg", "balance", 0.08, ("batches_to_cap", "batches_to_solved", "auc_max_reward",
                                               "auc_max_reward_norm", "final_mean_reward", "eval_mean_reward",
                                               "eval_std_reward", "eval_at_cap", "ms_per_batch_median",
                                               "rollout_ms_median", "update_ms_median", "skipped_batches",
                                               "episodes_total"),
           (("controller.lr", 0.002),), BALANCE,
           {"dt": 0.02}, PG, {"max_batches": 200, "eval_episodes": 100}),
    Family("cartpole", "npg", "balance", 0.07, ("batches_to_cap", "batches_to_solved", "auc_max_reward",
                                                "auc_max_reward_norm", "final_mean_reward", "eval_mean_reward",
                                                "eval_std_reward", "eval_at_cap", "ms_per_batch_median",
                                                "rollout_ms_median", "update_ms_median", "skipped_batches",
                                                "episodes_total"),
           (("controller.step_size", 0.005),), BALANCE,
           {"dt": 0.02}, {**PG, "step_size": 0.01}, {"max_batches": 200, "eval_episodes": 100}),
    Family("digits", "snn", "classify", 0.10, ("rate_accuracy", "spiking_accuracy", "accuracy_gap", "n_steps",
                                               "latency_steps", "latency_ms", "settle_steps", "settle_ms",
                                               "wall_us_per_image_step", "wall_ms_per_image", "rate_hz_mean",
                                               "rate_hz_max", "silent_fraction", "synops_spiking", "synops_rate",
                                               "param_bytes", "train_s", "train_cached"),
           (("controller.scale_firing_rates", 5.0), ("controller.synapse", 0.002)),
           (("accuracy", lambda r, p: _frame_accuracy(r)),), {"test_size": 360}, SNN, {"n_steps": 100},
           artifacts=("raster", "accuracy_plot")),
)


def _info(task: str) -> dict[str, tuple[str, str]]:
    """metric → (unit, better) of a built-in task (``("", "")`` when unknown)."""
    try:
        from bench.plugins import registry

        return {k: (m.unit, m.better) for k, m in registry().get("task", task).load().METRICS.items()}
    except Exception:
        return {}


def _value(metric: str, unit: str, better: str, effect: float, rng: np.random.Generator) -> float | None:
    noise = rng.standard_normal()
    if unit == "" and better in ("higher", "lower") and not metric.endswith(("_steps", "reached", "resets",
                                                                          "started", "total", "_cap")):
        return float(np.clip(0.5 + 0.3 * math.tanh(effect) + 0.05 * noise, 0.0, 1.0))  # a fraction
    base = {"m": 0.01, "s": 0.2, "µs": 40.0, "m/s": 0.02, "ms": 20.0}.get(unit, 10.0)
    return float(base * math.exp(0.4 * effect + 0.1 * noise))


def _sha(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _variants(fam: Family, count: int) -> list[dict[str, float]]:
    """``count`` settings variants of a family: a grid over its swept keys (the first varies fastest)."""
    keys = [k for k, _ in fam.swept]
    side = max(1, math.ceil(count ** (1 / len(keys))))
    out = []
    for i in range(count):
        idx, values = i, {}
        for key, base in fam.swept:
            values[key] = round(base * (1 + 0.25 * (idx % side)), 6)
            idx //= side
        out.append(values)
    return out


def make(path: str | Path, runs: int, *, seeds: int = 10, commits: int = 4, failed: float = 0.01,
         seed: int = 0, encoding: str | None = None, points: int = 50,
         families: tuple[str, ...] | None = None) -> Path:
    """Write a synthetic store of ``runs`` runs at ``path`` (replaced); returns the path.

    ``seeds`` seeds per settings variant, the variants of each family spread
    over ``commits`` code versions, a fraction ``failed`` of failed runs.
    ``encoding``: the frames' encoding (default the store's; ``"json"``: the
    JSON that schema 2 stored); ``points``: time points per target of the
    reach trajectories (``reach.frame_points``: 50 now, 100 before);
    ``families``: only these ``"plant controller task"`` families (default all).
    """
    from bench.frames import encode_frame
    from bench.store import Store

    path = Path(path)
    for p in (path, Path(f"{path}-journal"), Path(f"{path}-wal")):
        p.unlink(missing_ok=True)
    Store(path)  # the current schema
    rng = np.random.default_rng(seed)
    pools: dict[tuple[int, str], list[tuple[Any, str]]] = {}
    chosen = [fam for fam in FAMILIES if families is None or f"{fam.plant} {fam.controller} {fam.task}" in families]
    if not chosen:
        raise ValueError(f"no family among {families}")
    for f, fam in enumerate(chosen):
        for name, build in fam.frames:
            pool = []
            for _ in range(FRAME_POOL):
                frame = build(rng, points)
                pool.append((frame.to_json(orient="split", index=False, double_precision=10), "json")
                            if encoding == "json" else encode_frame(frame))
            pools[(f, name)] = pool
    commit_ids = [_sha("commit", c)[:40] for c in range(commits)]
    run_rows, metric_rows, frame_rows, artifact_rows = [], [], [], []
    run_id = 0
    shares = np.array([fam.share for fam in chosen])
    quota = np.floor(shares / shares.sum() * runs).astype(int)
    quota[0] += runs - quota.sum()
    for f, (fam, n) in enumerate(zip(chosen, quota)):
        info = _info(fam.task)
        variants = _variants(fam, max(1, math.ceil(n / seeds)))
        made = 0
        for v, values in enumerate(variants):
            parts = {"plant": {"name": fam.plant, **fam.plant_settings},
                     "controller": {"name": fam.controller, **fam.controller_settings},
                     "task": {"name": fam.task, **fam.task_settings}}
            for key, value in values.items():
                role, _, k = key.partition(".")
                parts[role][k] = value
            settings = json.dumps(parts, sort_keys=True)
            shash = _sha(settings)[:16]
            commit = commit_ids[v % commits]
            code_version = f"0.1.0+{commit}"
            prov = {role: {"dist": "ctrlbench", "files": [], "kind": role, "name": parts[role]["name"],
                           "plugin": f"bench.{role}s", "source": "sha256:" + _sha(role, commit), "version": "0.1.0"}
                    for role in ("plant", "controller", "task")}
            prov["read"] = []
            provenance = json.dumps(prov, sort_keys=True)
            experiment = _sha(fam.plant, fam.controller, fam.task, shash, code_version, provenance)
            fingerprint = _sha(fam.plant, fam.controller, fam.task, shash, provenance)
            effect = sum(rng.standard_normal() for _ in values) + 0.5 * v / len(variants)
            for s in range(seeds):
                if made >= n:
                    break
                made += 1
                run_id += 1
                bad = rng.random() < failed
                wall = float(0.5 + rng.random())
                run_rows.append((run_id, experiment, fam.plant, fam.controller, fam.task, s, settings, shash,
                                 "failed" if bad else "ok",
                                 "RuntimeError: diverged at step 117" if bad else None,
                                 f"2026-11-{1 + v % 28:02d}T12:00:00+00:00", wall, wall * 0.97, code_version,
                                 commit, json.dumps(VERSIONS, sort_keys=True), "bench-host", None,
                                 f".bench/logs/run-{run_id}.log" if bad else None, provenance, fingerprint))
                if bad:
                    continue
                for m in fam.metrics:
                    unit, better = info.get(m, ("", ""))
                    metric_rows.append((run_id, m, _value(m, unit, better, effect, rng), unit, better))
                for name, _ in fam.frames:
                    data, enc = pools[(f, name)][int(rng.integers(FRAME_POOL))]
                    frame_rows.append((run_id, name, data, enc))
                for name in fam.artifacts:
                    artifact_rows.append((run_id, name, f".bench/runs/run-{run_id}/{name}.png"))
    columns = ("id", "experiment", "plant", "controller", "task", "seed", "settings", "settings_hash", "status",
               "error", "started_at", "wall_s", "cpu_s", "code_version", "git_commit", "versions", "host", "suite",
               "log_path", "provenance", "fingerprint")
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA synchronous = OFF")
        con.execute("BEGIN")
        con.executemany(f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                        run_rows)
        con.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", metric_rows)
        con.executemany("INSERT INTO frames (run_id, name, data, encoding) VALUES (?, ?, ?, ?)", frame_rows)
        con.executemany("INSERT INTO artifacts VALUES (?, ?, ?)", artifact_rows)
        con.execute("COMMIT")
    finally:
        con.close()
    return path


if __name__ == "__main__":
    out = make(sys.argv[1], int(sys.argv[2]), encoding=sys.argv[3] if len(sys.argv) > 3 else None,
               points=int(sys.argv[4]) if len(sys.argv) > 4 else 50)
    print(f"{out}: {int(sys.argv[2])} runs, {out.stat().st_size / 2**20:.1f} MB")
