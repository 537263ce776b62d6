"""Results store: round trip, atomic runs, refusal of foreign or newer files."""

from __future__ import annotations

import math
import sqlite3

import pytest

import bench
import bench.frames
from bench.api import Metric, Result
from bench.errors import StoreError
from bench.reports import load
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
    assert store.frame(res.run_id, "trajectory").shape[0] == 4 * 50  # reach.frame_points


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


# -- frames: compressed columns, old JSON ones still readable -----------------------------------------
def test_frames_are_stored_compressed_and_read_back_as_they_were():
    import numpy as np
    import pandas as pd

    from bench.frames import FRAME_ENCODING, decode_frame, encode_frame

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "step": np.arange(500), "target": np.tile(np.arange(5), 100), "hand_x": 0.3 + 1e-3 * rng.random(500),
        "wall": 1.7e9 + np.arange(500) * 1e-3,          # a timestamp: float32 would move it by minutes
        "huge": np.r_[1e300, np.zeros(499)], "gap": np.r_[np.nan, np.inf, -np.inf, np.ones(497)],
        "reached": np.arange(500) % 3 == 0, "kind": ["out", "back", None, "out", "back"] * 100,
        "big": np.r_[2**40, np.zeros(499, dtype=np.int64)]})
    data, encoding = encode_frame(frame)
    assert encoding == FRAME_ENCODING and isinstance(data, bytes)
    assert len(data) < len(frame.to_json(orient="split", index=False, double_precision=10)) / 5
    back = decode_frame(data, encoding)
    assert list(back.columns) == list(frame.columns) and len(back) == 500
    assert [str(t) for t in back.dtypes] == [str(t) for t in frame.dtypes]
    for exact in ("step", "target", "wall", "huge", "gap", "reached", "kind", "big"):   # kept exactly
        pd.testing.assert_series_equal(back[exact], frame[exact])
    # a column float32 keeps to a millionth of its range is stored as float32 (the hand: 1 mm range, 1 nm kept)
    assert np.abs(back["hand_x"] - frame["hand_x"]).max() <= 1e-6 * np.ptp(frame["hand_x"])
    empty = pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype="int64")})
    pd.testing.assert_frame_equal(decode_frame(*encode_frame(empty)), empty)
    # anything else is stored as JSON, as before schema 3
    dates = pd.DataFrame({"when": pd.to_datetime(["2026-01-01", "2026-01-02"])})
    assert encode_frame(dates)[1] == "json" and len(decode_frame(*encode_frame(dates))) == 2
    with pytest.raises(StoreError, match="unknown to this ctrlbench"):
        decode_frame(data, "cols9")


_V2_FRAMES = ("CREATE TABLE frames (run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE, "
              "name TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run_id, name))")


def test_a_schema_2_store_keeps_its_json_frames_readable_and_migrates_on_its_first_write(tmp_path):
    db = tmp_path / "v2.sqlite"
    store = Store(db)
    first = bench.run(bench.plant("arm2"), bench.controller("osc"), bench.task("reach", targets=2), seed=0,
                      store=store)
    old_json = first.frames["trajectory"].to_json(orient="split", index=False, double_precision=10)
    with sqlite3.connect(db) as con:  # the frames table and meta of schema 2, its frame as JSON text
        con.execute("PRAGMA foreign_keys = OFF")
        rows = con.execute("SELECT run_id, name FROM frames").fetchall()
        con.execute("DROP TABLE frames")
        con.execute(_V2_FRAMES)
        for run_id, name in rows:
            con.execute("INSERT INTO frames VALUES (?, ?, ?)", (run_id, name, old_json))
        con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    before = db.read_bytes()
    old = Store(db)
    assert old.version == 2
    assert old.frame(first.run_id, "trajectory").equals(
        bench.frames.decode_frame(old_json, "json"))
    assert {k: sorted(v) for k, v in old.frame_names().items()} == {first.run_id: ["arm", "trajectory"]}
    assert old.lookup(first.meta["experiment"], 0)["id"] == first.run_id   # a schema-2 store: its keys match
    assert db.read_bytes() == before  # reading never writes
    second = bench.run(bench.plant("arm2"), bench.controller("osc"), bench.task("reach", targets=2), seed=1,
                       store=old)
    assert old.version == Store(db).version == SCHEMA_VERSION
    with sqlite3.connect(db) as con:
        encodings = dict(con.execute("SELECT run_id, encoding FROM frames WHERE name = 'trajectory'"))
    assert encodings == {first.run_id: "json", second.run_id: "cols1"}
    assert len(old.frame(first.run_id, "trajectory")) == len(old.frame(second.run_id, "trajectory")) == 2 * 50


def test_frame_names_of_many_runs_in_one_query_and_the_tidy_table(tmp_path):
    import pandas as pd

    store = Store(tmp_path / "r.sqlite")
    ids = [bench.run(bench.plant("arm2"), bench.controller("osc"), bench.task("reach", targets=2), seed=s,
                     store=store).run_id for s in range(3)]
    failed = store.save(_result({"a": 1.0}, seed=9), status="failed", error="boom")
    assert store.frame_names(ids[:2]) == {i: ["trajectory", "arm"] for i in ids[:2]}
    assert store.frame_names([failed]) == {} and set(store.frame_names()) == set(ids)
    # the tidy table: what the join of runs and metrics gives, each run's texts shared between its rows
    df = store.dataframe()
    with sqlite3.connect(store.path) as con:
        ref = pd.read_sql_query(
            "SELECT r.id AS run_id, r.plant, r.controller, r.task, r.seed, r.settings_hash, r.settings, "
            "r.git_commit AS 'commit', r.code_version, r.suite, r.started_at, r.wall_s, r.cpu_s, r.status, "
            "r.experiment, r.fingerprint, m.name AS metric, m.value, m.unit, m.better FROM runs r JOIN metrics m "
            "ON m.run_id = r.id WHERE r.status IN ('ok') ORDER BY r.id, m.rowid", con)
    ref["value"] = ref["value"].astype(float)
    pd.testing.assert_frame_equal(df, ref)
    first = df[df["run_id"] == ids[0]]
    assert len({id(s) for s in first["settings"]}) == 1
    assert len(store.dataframe(include_failed=True)) == len(df) + 1
    assert store.dataframe({"seed": 99}).empty and "metric" in store.dataframe({"seed": 99}).columns
