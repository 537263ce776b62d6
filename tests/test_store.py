"""Results store: round trip, atomic runs, refusal of foreign or newer files."""

from __future__ import annotations

import math
import sqlite3

import pytest
from bench.reports import load

import bench
from bench.api import Metric, Result
from bench.errors import StoreError
from bench.store import SCHEMA_VERSION, Store


def _result(metrics, seed=0):
    r = Result(metrics=metrics, info={"a": Metric("m", "lower")})
    r.meta.update(plant="arm2", controller="osc", task="reach", seed=seed, settings={"plant": {"dt": 0.001}},
                  settings_hash="h1", started_at="2026-01-01T00:00:00", git_commit="abc", code_version="0.1.0+abc")
    return r


def test_round_trip_and_tidy_dataframe(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    run_id = store.save(_result({"a": 1.5, "b": math.nan}))
    got = store.run(run_id)
    assert got["metrics"]["a"] == {"value": 1.5, "unit": "m", "better": "lower"}
    assert math.isnan(got["metrics"]["b"]["value"])
    assert got["settings"] == {"plant": {"dt": 0.001}}
    df = load(tmp_path / "r.sqlite")
    assert list(df["metric"]) == ["a", "b"]
    assert {"run_id", "plant", "controller", "task", "seed", "settings_hash", "commit", "value"} <= set(df.columns)
    assert df.loc[0, "commit"] == "abc"


def test_real_run_is_stored_with_provenance(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    res = bench.run(bench.plant("arm2"), bench.controller("osc"), bench.task("reach", targets=4), seed=3, store=store)
    row = store.run(res.run_id)
    assert row["seed"] == 3 and row["status"] == "ok"
    assert row["versions"]["numpy"] and row["wall_s"] > 0 and row["cpu_s"] >= 0
    assert row["metrics"]["final_distance_mean"]["value"] == pytest.approx(res.metrics["final_distance_mean"])
    assert store.frame(res.run_id, "trajectory").shape[0] == 4 * 100


def test_a_run_that_fails_while_being_written_leaves_nothing(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    store.save(_result({"a": 1.0}))
    bad = _result({"a": 2.0, "b": "not a number"})  # float() fails after the run row and metric 'a' were inserted
    with pytest.raises(ValueError):
        store.save(bad)
    with sqlite3.connect(tmp_path / "r.sqlite") as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM metrics").fetchone()[0] == 1


def test_foreign_files_are_refused_and_left_untouched(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(StoreError, match="not an SQLite file"):
        Store(text)
    assert text.read_text() == "hello"
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE users (id INTEGER)")
    before = other.read_bytes()
    with pytest.raises(StoreError, match="another application"):
        Store(other)
    assert other.read_bytes() == before
    with pytest.raises(StoreError, match="directory"):
        Store(tmp_path)


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "r.sqlite"
    Store(path)
    with sqlite3.connect(path) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StoreError, match="newer ctrlbench"):
        Store(path)
