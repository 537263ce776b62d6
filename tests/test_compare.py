"""bench ci and bench compare: suites, the regression gate, what counts as noise, bad input."""

from __future__ import annotations

import re
import shlex
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.compare import compare
from bench.store import Store
from bench.suite import builtin_suites, find

SUITE = """
name = "tiny"
version = 1
seeds = 3
max_regression = "5%"

[[run]]
plant = "arm2"
controller = "osc"
task = "reach"
set = {{ "reach.targets" = 4, "osc.kp" = {kp} }}

[thresholds]
latency_us_per_call = "off"
latency_us_per_arm = "off"
{extra}
"""


@pytest.fixture(autouse=True)
def _fresh_commit():
    """Read the checkout's commit afresh: worker processes do, and the tree may move between tests."""
    import bench.runner

    bench.runner.git_commit.cache_clear()


def suite_file(name: str, kp: float = 200, extra: str = "") -> str:
    Path(name).write_text(SUITE.format(kp=kp, extra=extra))
    return name


def ci(cli, suite: str, db: str) -> None:
    code, out, err = cli("ci", "--suite", suite, "--db", db, "-j", "1", "-q")
    assert code == 0, err
    assert "| plant |" in out


def test_ci_records_suite_and_commit_and_same_code_is_not_a_regression(cli):
    ci(cli, suite_file("tiny.toml"), "base.sqlite")
    ci(cli, "tiny.toml", "head.sqlite")
    runs = Store("head.sqlite").runs()
    assert len(runs) == 3 and {r["suite"] for r in runs} == {"tiny@1"}
    assert all(r["git_commit"] for r in runs)  # this checkout is a git repository
    code, out, err = cli("compare", "base.sqlite", "head.sqlite", "--suite", "tiny.toml", "--format", "md",
                         "--out", "cmp.md")
    assert code == 0, err
    assert "No significant regression." in out
    table = Path("cmp.md").read_text()
    lines = [line for line in table.splitlines() if line.startswith("| arm2 ")]
    assert len(lines) == 11        # the batch reach's metrics
    for line in lines:
        if "latency" not in line:
            assert "same (noise)" in line and "3/3 paired" in line


def test_a_significant_regression_exits_1_and_thresholds_are_per_metric(cli):
    ci(cli, suite_file("base.toml", kp=200), "base.sqlite")
    ci(cli, suite_file("head.toml", kp=100), "head.sqlite")  # softer: slower, ends farther away
    code, out, err = cli("compare", "base.sqlite", "head.sqlite", "--suite", "head.toml")
    assert code == 1, err
    verdicts = {m: line for line in out.splitlines() for m in
                ("final_distance_mean", "time_to_tolerance", "effort") if line.startswith("arm2") and f" {m} " in line}
    assert "regression" in verdicts["final_distance_mean"] and "regression" in verdicts["time_to_tolerance"]
    assert "better" in verdicts["effort"]  # lower is better and it went down
    assert "significant regression(s)" in out
    # a larger global threshold, or per-metric overrides in the suite file, let it pass
    assert cli("compare", "base.sqlite", "head.sqlite", "--suite", "head.toml", "--max-regression", "500%")[0] == 0
    lenient = suite_file("lenient.toml", kp=100, extra='final_distance_mean = "off"\n"reach.final_distance_max" = '
                                                      '"1000%"\ntime_to_tolerance = "50%"\n'
                                                      'time_within_tolerance = "off"\nfinal_speed = "off"')
    code, out, _ = cli("compare", "base.sqlite", "head.sqlite", "--suite", lenient)
    assert code == 0, out
    # "off" switches the gate off: on the command line, and as the suite's max_regression
    assert cli("compare", "base.sqlite", "head.sqlite", "--suite", "head.toml", "--max-regression", "off")[0] == 0
    Path("off.toml").write_text(Path("head.toml").read_text().replace('max_regression = "5%"',
                                                                      'max_regression = "off"'))
    assert cli("compare", "base.sqlite", "head.sqlite", "--suite", "off.toml")[0] == 0


def test_run_ids_and_commits_in_one_store(cli):
    base = ["sweep", "arm2", "osc", "reach", "--seeds", "3", "--set", "reach.targets=4", "--db", "one.sqlite",
            "-j", "1", "-q"]
    assert cli(*base, "--set", "osc.kp=200")[0] == 0
    assert cli(*base, "--set", "osc.kp=100")[0] == 0
    code, out, _ = cli("compare", "1-3", "4,5,6", "--db", "one.sqlite", "--max-regression", "10%")
    assert code == 1 and "base: runs 1-3" in out
    code, out, _ = cli("compare", "HEAD", "HEAD", "--db", "one.sqlite", "--where", "task=reach")
    assert "commit" in out and "regression" not in out.replace("No significant regression", "")
    assert code == 0
    sha = Store("one.sqlite").runs()[0]["git_commit"].split("+")[0]
    assert cli("compare", sha[:10], "1-3", "--db", "one.sqlite")[0] in (0, 1)


@pytest.fixture(scope="module")
def two_arms(tmp_path_factory) -> str:
    """A store with arm2 runs (ids 1, 2) and arm3 runs (ids 3, 4)."""
    from bench.cli import main

    db = str(tmp_path_factory.mktemp("compare") / "one.sqlite")
    for plant in ("arm2", "arm3"):
        assert main(["sweep", plant, "osc", "reach", "--seeds", "2", "--set", "reach.targets=2", "--db", db,
                     "-j", "1", "-q"]) == 0
    return db


@pytest.mark.parametrize("argv, fragment", [
    (["compare", "deadbeef", "1", "--db", "DB"], "no successful runs of that commit"),
    (["compare", "1", "2", "--db", "nothing.sqlite"], "not a store file"),
    (["compare", "1", "4", "--db", "DB"], "no metric in common"),
    (["compare", "1", "2", "--db", "DB", "--max-regression", "5"], "percentage"),
    (["compare", "1", "2", "--db", "DB", "--where", "colour=red"], "unknown column"),
    (["ci", "--suite", "quik"], "did you mean 'quick'"),
    (["ci", "--suite", "missing.toml"], "no such file"),
])
def test_compare_and_ci_bad_input(cli, two_arms, argv, fragment):
    code, _, err = cli(*[two_arms if a == "DB" else a for a in argv])
    assert code == 2 and fragment in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("text, fragment", [
    ('name = "t"\nversion = 1\n[[run]]\nplant = "arm2"\ncontroller = "osc"\ntask = "reach"\nseed = 3\n',
     "unknown key 'seed'; did you mean 'seeds'?"),
    ('name = "t"\nversion = 1\nmax_regresion = "5%"\n[[run]]\nplant = "arm2"\ncontroller = "osc"\ntask = "reach"\n',
     "did you mean 'max_regression'"),
    ('name = "t"\nversion = 1\n[[run]]\nplant = "arm2"\ncontroller = "osc"\ntask = "reech"\n',
     "unknown task 'reech'"),
    ('name = "t"\nversion = 1\n[[run]]\nplant = "arm2"\ncontroller = "osc"\ntask = "reach"\nset = {"osc.kpp" = 1}\n',
     "did you mean 'osc.kp'"),
    ('name = "t"\n[[run]]\nplant = "arm2"\ncontroller = "osc"\ntask = "reach"\n', "missing required key 'version'"),
    ('name = "t"\nversion = 1\n[[run]\n', "not valid TOML"),
    (('name = "t"\nversion = 1\n[[run]]\nplant = "arm2"\ncontroller = "osc"\ntask = "reach"\n[thresholds]\n'
     'effort = 5\n'), "percentage"),
])
def test_a_suite_file_with_a_typo_is_one_line_exit_2(cli, text, fragment):
    Path("bad.toml").write_text(text)
    code, _, err = cli("ci", "--suite", "bad.toml", "--db", "x.sqlite")
    assert code == 2 and fragment in err, err
    assert len(err.strip().splitlines()) == 1
    assert not Path("x.sqlite").exists() or Store("x.sqlite").count() == 0


def test_compare_refuses_a_store_of_a_newer_schema(cli):
    assert cli("sweep", "arm2", "osc", "reach", "--set", "reach.targets=2", "--db", "a.sqlite", "-j", "1", "-q")[0] == 0
    con = sqlite3.connect("a.sqlite")
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    code, _, err = cli("compare", "a.sqlite", "a.sqlite")
    assert code == 2 and "newer ctrlbench" in err and len(err.strip().splitlines()) == 1


# -- the statistics of the gate ----------------------------------------------------------
def _side(values: dict[str, np.ndarray], better: dict[str, str]) -> pd.DataFrame:
    rows = []
    for metric, vals in values.items():
        for seed, v in enumerate(vals):
            rows.append({"run_id": seed, "plant": "p", "controller": "c", "task": "t", "seed": seed,
                             "settings_hash": "h", "metric": metric, "value": float(v), "unit": "",
                             "better": better[metric]})
    return pd.DataFrame(rows)


def test_noise_is_not_a_regression_and_direction_is_respected():
    rng = np.random.default_rng(0)
    base = rng.normal(1.0, 0.05, 10)
    better = {"err": "lower", "acc": "higher", "plain": ""}
    b = _side({"err": base, "acc": base, "plain": base}, better)

    def verdicts(head: np.ndarray, **kw) -> dict[str, str]:
        h = _side({"err": head, "acc": head, "plain": head}, better)
        return dict(zip(*compare(b, h, **kw)[["metric", "verdict"]].to_numpy().T))

    assert verdicts(base * 1.5) == {"err": "regression", "acc": "better", "plain": "no direction"}
    assert verdicts(base * 0.5) == {"err": "better", "acc": "regression", "plain": "no direction"}
    # 3% worse on every seed: significant, but inside the 5% threshold
    assert verdicts(base * 1.03)["err"] == "worse"
    # 10% worse on average but the seeds scatter widely: the CI reaches inside 5%, so it is noise
    noisy = base * 1.1 + rng.normal(0, 0.5, 10)
    v = verdicts(noisy)
    assert v["err"] in ("same", "worse") and v["err"] != "regression"
    # from zero: an infinite relative change, still judged by direction
    zero = _side({"err": np.zeros(10), "acc": np.zeros(10), "plain": np.zeros(10)}, better)
    ones = _side({"err": np.ones(10), "acc": np.ones(10), "plain": np.ones(10)}, better)
    table = compare(zero, ones)
    assert dict(zip(table["metric"], table["verdict"])) == {"err": "regression", "acc": "better",
                                                           "plain": "no direction"}
    assert np.isinf(table["rel"]).all()
    # different seeds on each side: unpaired; same rule
    h = _side({"err": base * 1.5, "acc": base, "plain": base}, better)
    h["seed"] += 100
    table = compare(b, h)
    assert not table["paired"].any() and dict(zip(table["metric"], table["verdict"]))["err"] == "regression"


def test_the_quick_suite_loads_and_plans():
    assert "quick" in builtin_suites()
    quick = find("quick")
    assert quick.label.startswith("quick@")
    p = quick.plan()
    assert p.jobs and not p.refused


def test_the_workflow_runs_only_commands_the_cli_accepts():
    """Every ``bench ...`` line of .github/workflows/bench.yml parses with the real CLI parser."""
    from bench.cli import parser

    root = Path(__file__).resolve().parents[1]
    text = (root / ".github/workflows/bench.yml").read_text()
    lines = [re.sub(r"\$\{\{[^}]*\}\}|\$\w+", "X", m)
             for m in re.findall(r"^\s*(?:run:\s*)?(bench [^\n#|>]+)", text, re.MULTILINE)]
    used = [shlex.split(line)[1] for line in lines]
    assert used.count("ci") == 3 and {"compare", "report"} <= set(used)
    for line in lines:
        parser().parse_args(shlex.split(line)[1:])


# -- a metric that stops being produced ----------------------------------------------------
def test_a_metric_that_stops_being_finite_or_goes_missing_is_a_regression():
    better = {"err": "lower", "acc": "higher", "plain": ""}
    base = np.linspace(1.0, 1.2, 5)
    nan = np.full(5, np.nan)
    b = _side({"err": base, "acc": base, "plain": base}, better)

    def table(head: dict[str, np.ndarray], base_side: pd.DataFrame = b, **kw) -> dict[str, tuple[str, str]]:
        t = compare(base_side, _side(head, {**dict.fromkeys(head, ""), **better}), **kw)
        return {r.metric: (r.verdict, r.reason) for r in t.itertuples(index=False)}

    # finite -> NaN on every seed: a regression whatever the direction (no value is worse than any value)
    assert table({"err": nan, "acc": nan, "plain": nan}) == dict.fromkeys(better, ("regression", "now NaN"))
    # finite -> not reported at all by a head that still ran the experiment
    assert table({"err": base, "plain": base})["acc"] == ("regression", "missing")
    # finite -> NaN on one seed of five (same seeds): the finite four would hide it
    one = base.copy()
    one[2] = np.nan
    assert table({"err": one, "acc": base, "plain": one}) == {
        "err": ("regression", "now NaN on 1 of 5 seeds"), "acc": ("same", ""),
        "plain": ("regression", "now NaN on 1 of 5 seeds")}
    # NaN -> NaN is no data; NaN -> finite is better (new, for a metric without a direction)
    nb = _side({"err": nan, "acc": nan, "plain": nan}, better)
    assert table({"err": nan, "acc": base, "plain": base}, nb) == {
        "err": ("no data", ""), "acc": ("better", "was NaN"), "plain": ("new", "was NaN")}
    # a threshold switched off does not gate it, but it is still shown as worse
    assert table({"err": nan, "acc": nan, "plain": nan}, max_regression=None)["err"] == ("worse", "now NaN")
    # a metric that the head reports only where the base had none is no loss
    assert table({"err": base, "acc": base, "plain": base, "extra": base}).keys() == set(better)


def test_compare_fails_when_an_arm_no_longer_reaches(cli):
    """kp=1 never reaches tolerance: time_to_tolerance goes from finite to NaN; that alone exits 1."""

    def only_time_gated(name: str, kp: float, threshold: str) -> str:  # every other metric: gate off
        suite_file(name, kp=kp, extra=f'time_to_tolerance = "{threshold}"')
        Path(name).write_text(Path(name).read_text().replace('max_regression = "5%"', 'max_regression = "off"'))
        return name

    ci(cli, only_time_gated("base.toml", 200, "5%"), "base.sqlite")
    ci(cli, only_time_gated("head.toml", 1, "5%"), "head.sqlite")
    code, out, err = cli("compare", "base.sqlite", "head.sqlite", "--suite", "head.toml", "--format", "md")
    assert code == 1, err
    row = next(line for line in out.splitlines() if "| time_to_tolerance" in line)
    assert row.rstrip(" |").endswith("❌ regression (now NaN)") and "3/3 paired" in row
    assert "**1 significant regression(s)**: reach.time_to_tolerance now NaN" in out
    # its threshold switched off: shown, not gated
    code, out, _ = cli("compare", "base.sqlite", "head.sqlite", "--suite", only_time_gated("off.toml", 1, "off"))
    assert code == 0
    assert "worse (not gated, now NaN)" in next(line for line in out.splitlines() if " time_to_tolerance " in line)
