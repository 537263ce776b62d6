"""The command line: every bad input gives one line and exit 2; runs, failures, Ctrl-C."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.store import Store

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("argv, fragment", [
    (["run", "arm2", "osx", "reach"], "unknown controller 'osx'; did you mean 'osc'?"),
    (["run", "amr2", "osc", "reach"], "unknown plant or dataset 'amr2'; did you mean 'arm2'?"),
    (["run", "arm2", "osc", "rech"], "unknown task 'rech'; did you mean 'reach'?"),
    (["run", "arm2", "osc", "reach", "--dt", "0"], "'arm2.dt' must be > 0"),
    (["run", "arm2", "osc", "reach", "--dt=-1e-3"], "'arm2.dt' must be > 0"),
    (["run", "arm2", "osc", "reach", "--dt", "nan"], "finite number"),
    (["run", "arm2", "osc", "reach", "--dt", "fast"], "expects a number"),
    (["run", "arm2", "osc", "reach", "--set", "kpp=3"], "unknown setting 'kpp'; did you mean 'kp'?"),
    (["run", "arm2", "osc", "reach", "--set", "osc.targets=3"], "unknown setting 'osc.targets'"),
    (["run", "arm2", "osc", "reach", "--set", "targets=many"], "expects an integer"),
    (["run", "arm2", "osc", "reach", "--set", "noequals"], "key=value"),
    (["run", "arm2", "osc", "reach", "--seed", "-1"], "non-negative"),
    (["run", "arm2", "osc", "reach", "--seeds", "x"], "--seeds expects"),
    (["run", "arm2", "osc", "reach", "--seed", "1", "--seeds", "2"], "not allowed with"),
    (["run", "arm2", "osc"], "required: task"),
    (["frobnicate"], "invalid choice"),
    (["show", "abc"], "run id"),
    (["train", "arm2", "osc", "reach"], "does not learn"),
])
def test_bad_input_is_one_line_and_exit_2(cli, argv, fragment):
    code, _out, err = cli(*argv)
    assert code == 2
    assert fragment in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not Path(".bench/results.sqlite").exists() or Store(".bench/results.sqlite").count() == 0


def test_foreign_db_is_refused_and_untouched(cli):
    Path("mine.db").write_text("precious")
    code, _, err = cli("run", "arm2", "osc", "reach", "--db", "mine.db")
    assert code == 2 and "not a ctrlbench results store" in err
    assert Path("mine.db").read_text() == "precious"


def test_run_prints_table_and_stores_runs(cli):
    code, out, err = cli("arm2", "osc", "reach", "--seeds", "2", "--set", "reach.targets=4", run_py_style=True)
    assert code == 0, err
    assert "final_distance_mean" in out and "seed 1" in out
    assert Store(".bench/results.sqlite").count() == 2
    code, out, _ = cli("show", "2")
    assert code == 0 and "seed 1" in out and "final_distance_mean" in out
    code, _, err = cli("show", "9")
    assert code == 2 and "no run 9" in err


def test_same_seed_same_metrics(cli):
    import bench

    a = bench.run(bench.plant("arm2"), bench.controller("osc"), bench.task("reach", targets=5), seed=7)
    b = bench.run(bench.plant("arm2"), bench.controller("osc"), bench.task("reach", targets=5), seed=7)
    deterministic = {k: v for k, v in a.metrics.items() if not k.startswith("latency")}
    assert deterministic == {k: b.metrics[k] for k in deterministic}
    assert a.meta["settings_hash"] == b.meta["settings_hash"]


BOOM = """
import bench

class Boom(bench.Controller):
    def act(self, observation, target):
        return 1 / 0

@bench.hookimpl
def register_controllers(register):
    register("boom", "boomplug:Boom", provides={"act"})
"""


def test_a_failing_run_exits_1_with_a_log_and_is_recorded(cli, third_party):
    third_party("boom-dist", {"boomplug": BOOM}, {"boom": "boomplug"})
    code, _out, err = cli("run", "arm2", "boom", "reach", "--set", "targets=2")
    assert code == 1
    line = err.strip()
    assert len(line.splitlines()) == 1 and "ZeroDivisionError" in line and "Traceback" not in line
    log = Path(line.rsplit("traceback in ", 1)[1].rstrip(")"))
    assert "Traceback" in log.read_text() and "1 / 0" in log.read_text()
    (row,) = Store(".bench/results.sqlite").runs()
    assert row["status"] == "failed" and "ZeroDivisionError" in row["error"]


def test_example_plugin_in_a_subprocess(tmp_path):
    out = subprocess.run([BIN / "bench", "list"], capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert "pd " in out and "bench-example" in out
    done = subprocess.run([BIN / "bench", "run", "arm2", "pd", "reach", "--set", "pd.kp=80"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "final_distance_mean" in done.stdout


def test_ctrl_c_keeps_every_completed_run(tmp_path):
    db = tmp_path / "r.sqlite"
    proc = subprocess.Popen([BIN / "bench", "run", "arm2", "osc", "reach", "--seeds", "500", "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:  # the store may still be being created (its file exists before its tables)
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
                if con.execute("SELECT count(*) FROM runs WHERE status != 'pending'").fetchone()[0] >= 2:
                    break
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    kept = Store(db).count()
    assert kept >= 2 and f"{kept} completed run(s) kept" in err
    with sqlite3.connect(db) as con:  # every kept run is whole
        assert con.execute("SELECT count(DISTINCT run_id) FROM metrics").fetchone()[0] == kept


def test_train_stores_its_learning_curve_for_reports(cli):
    from bench.reports import load

    code, out, err = cli("train", "cartpole", "pg", "balance", "--set", "batches=3", "--seed", "2")
    assert code == 0, err
    assert "stored as run 1 (task balance:train)" in out
    store = Store(".bench/results.sqlite")
    (row,) = store.runs()
    assert (row["plant"], row["controller"], row["task"], row["seed"]) == ("cartpole", "pg", "balance:train", 2)
    curve = store.frame(1, "training")
    assert list(curve["batch"]) == [1, 2, 3] and "max_reward" in curve
    df = load(".bench/results.sqlite")
    assert df.set_index("metric").loc["last_batch", "value"] == 3


BROKEN_FACTORY = """
import bench

class Fragile(bench.Controller):
    def __init__(self, settings=None):
        raise RuntimeError("cannot build me")

    def act(self, observation, target):
        return observation[:, :2] * 0

class Crashy(bench.Learner):
    def act(self, observation, target):
        return observation[:, :2] * 0
    def train(self, plant, task, *, seed, fresh=False, workdir=None, log=None):
        raise RuntimeError("training blew up")
    def save(self, path):
        return path
    def load(self, path):
        pass

@bench.hookimpl
def register_controllers(register):
    register("fragile", "fragileplug:Fragile", provides={"act"})
    register("crashy", "fragileplug:Crashy", provides={"act", "learn"})
"""


def test_a_controller_that_cannot_be_built_is_one_line_and_a_log(cli, third_party):
    third_party("fragile-dist", {"fragileplug": BROKEN_FACTORY}, {"fragile": "fragileplug"})
    code, _, err = cli("run", "arm2", "fragile", "reach", "--seeds", "1,1")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "RuntimeError: cannot build me" in err
    log = Path(err.strip().rsplit("traceback in ", 1)[1].rstrip(")"))
    assert log.is_absolute() and "cannot build me" in log.read_text()


def test_a_crash_inside_training_is_one_line_and_a_log(cli, third_party):
    third_party("fragile-dist", {"fragileplug": BROKEN_FACTORY}, {"fragile": "fragileplug"})
    code, _, err = cli("train", "arm2", "crashy", "reach")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "RuntimeError: training blew up" in err
    assert "training blew up" in Path(err.strip().rsplit("traceback in ", 1)[1].rstrip(")")).read_text()
