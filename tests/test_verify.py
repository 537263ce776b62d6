"""bench verify: stored runs re-run from their settings, seed and provenance give the same metrics, bit for bit
(timings within a tolerance); an edited stored value is a mismatch (exit 1); a bad id is exit 2."""

from __future__ import annotations

import importlib.util
import math
import re
import sqlite3

import pytest

from bench.commands.verify import judge

HAVE_TF = importlib.util.find_spec("tensorflow") is not None
HAVE_SNN = importlib.util.find_spec("nengo_dl") is not None


def verdicts(out: str) -> dict[str, str]:
    """metric → verdict of a verify table."""
    found = {}
    for line in out.splitlines():
        m = re.match(r"  (\w+)\s+(\S+)\s+(\S+)\s+(.+)$", line)
        if m and m.group(1) != "metric" and m.group(1) != "run":
            found[m.group(1)] = m.group(4).strip()
    return found


def test_builtin_runs_reproduce_bit_for_bit(cli):
    runs = [["arm2", "osc", "reach", "--set", "reach.targets=4"],
            ["arm2", "ahf", "reach", "--dt", "0.01", "--set", "reach.targets=4"],
            ["arm2", "osc", "reach", "--set", "reach.targets=3", "--seed", "5"]]
    if HAVE_TF:
        runs.append(["cartpole", "pg", "balance", "--set", "batches=3", "--set", "max_steps=50",
                     "--set", "eval_episodes=5"])
        runs.append(["cartpole", "npg", "balance", "--set", "batches=2", "--set", "max_steps=40",
                     "--set", "eval_episodes=4", "--seed", "3"])
    for argv in runs:
        code, _, err = cli("run", *argv, "-q", "--db", "v.sqlite")
        assert code == 0, err
    ids = [str(i) for i in range(1, len(runs) + 1)]
    code, out, err = cli("verify", *ids, "--db", "v.sqlite", "--timing-tolerance", "off")
    assert code == 0, out + err
    assert f"verify: {len(runs)} of {len(runs)} run(s) reproduced" in out
    assert out.count("provenance: as stored") == len(runs)
    got = verdicts(out)
    for name in ("final_distance_mean", "effort", "path_ratio", "time_to_tolerance"):
        assert got[name] == "identical"
    assert got["latency_us_per_call"] in ("identical", "timing (not compared)")
    if HAVE_TF:
        for name in ("auc_max_reward", "final_mean_reward", "eval_mean_reward", "episodes_total"):
            assert got[name] == "identical"
    assert "MISMATCH" not in out


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_SNN, reason="needs ctrlbench[tf]")
def test_a_spiking_classifier_run_reproduces_bit_for_bit(cli):
    code, _, err = cli("run", "digits", "snn", "classify", "--set", "epochs=1", "--set", "max_train=200",
                       "--set", "max_test=50", "--set", "n_steps=5", "--set", "plots=false", "--set", "cache_dir=",
                       "-q", "--db", "s.sqlite")
    assert code == 0, err
    code, out, _ = cli("verify", "1", "--db", "s.sqlite", "--timing-tolerance", "off")
    assert code == 0, out
    got = verdicts(out)
    for name in ("rate_accuracy", "spiking_accuracy", "synops_spiking", "rate_hz_mean", "sparsity_spiking"):
        assert got[name] == "identical"
    assert got["train_cached"] == "not compared (circumstance)"


def test_an_edited_stored_value_is_a_mismatch_and_exit_1(cli):
    assert cli("run", "arm2", "osc", "reach", "--set", "reach.targets=2", "-q", "--db", "m.sqlite")[0] == 0
    with sqlite3.connect("m.sqlite") as con:
        con.execute("UPDATE metrics SET value = value * (1 + 1e-15) WHERE name = 'effort'")
        con.execute("UPDATE metrics SET value = value / 1000 WHERE name = 'latency_us_per_call'")  # now slower
    code, out, _ = cli("verify", "1", "--db", "m.sqlite")
    assert code == 1
    got = verdicts(out)
    assert got["effort"] == "MISMATCH" and got["final_distance_mean"] == "identical"
    assert got["latency_us_per_call"] == "MISMATCH (timing beyond ±300%)"
    assert "mismatch in run(s) 1" in out


@pytest.mark.parametrize("argv, fragment", [
    (["verify", "9"], "no run 9"),
    (["verify", "x1"], "run ids (integers)"),
    (["verify", "1", "--timing-tolerance", "5"], "percentage"),
    (["verify"], "required: RUN_ID"),
])
def test_bad_verify_input_is_one_line_and_exit_2(cli, argv, fragment):
    assert cli("run", "arm2", "osc", "reach", "--set", "reach.targets=2", "-q")[0] == 0
    code, _, err = cli(*argv)
    assert code == 2 and fragment in err, err
    assert len(err.strip().splitlines()) == 1


def test_judge_compares_bits_and_timings_within_the_tolerance():
    assert judge("effort", 0.1, 0.1, 1.0) == ("identical", True)
    assert judge("effort", 0.1, math.nextafter(0.1, 1), 1.0) == ("MISMATCH", False)
    assert judge("effort", 0.0, -0.0, 1.0) == ("MISMATCH", False)  # bit for bit
    assert judge("time_to_tolerance", math.nan, math.nan, 1.0) == ("identical", True)
    assert judge("path_ratio", math.nan, math.inf, 1.0) == ("identical", True)  # stored as NULL
    assert judge("effort", 1.0, None, 1.0) == ("MISMATCH (not produced now)", False)
    assert judge("latency_us_per_call", 10.0, 19.0, 1.0) == ("timing: within ±100%", True)
    assert judge("latency_us_per_call", 10.0, 21.0, 1.0)[1] is False
    assert judge("rollout_ms_median", 10.0, 21.0, None) == ("timing (not compared)", True)
    assert judge("my_step_s", 1.0, 2.0, 0.1, "wall time of one step")[1] is False  # a third-party timing
    assert judge("latency_ms", 5.0, 5.0 + 1e-9, 1.0)[1] is False  # simulated time: deterministic
