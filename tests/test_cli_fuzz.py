"""Random argument lists and suite files never produce a traceback: exit 0, 1 or 2 and one-line errors.

Every command is fuzzed (run, list, show, train; sweep, report, compare, verify against a store with one run;
ci and compare with random suite files).  Random text never holds ``/``, ``\\`` or ``~``, so no example names
a path outside its temporary folder; the limits are lowered so that no example can run for long.
"""

from __future__ import annotations

import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stores import store_with_one_run

from bench.errors import SuiteError

WORDS = ["run", "list", "show", "train", "arm2", "osc", "pd", "reach", "--seed", "--seeds", "--dt", "--db",
         "--set", "targets=2", "reach.targets=1", "kp=-1", "dt=0", "0", "-1", "1e-3", "nan", "inf", "x.y=z",
         "=", "--", "-v", "-q", "--fresh", "osc.kv=none", "duration=0.001", "1,2", "r.db",
         "99999999999999999999", "1e-300", "reach.duration=1e9", "--where", "seed=1", "plant", "--out", "afile",
         "afile", "--format", "md", "html", "csv", "--latest", "--animate", "a.gif", "HEAD", "1-3", "1-99999999999",
         "s.sqlite", "nosuch.sqlite", "--max-regression", "5%", "off", "--suite", "quick", "x.toml", "--scheduler",
         "tls://h:1", "tcp://h:99999", "--executor", "dask", "-j", "--rerun", "--timing-tolerance", "--summary"]
#: Random text: no path separators or ``~`` (an example must never name a file outside its folder).
TEXT = st.text(alphabet=st.characters(blacklist_characters="/\\~", blacklist_categories=("Cs",)), max_size=12)
ARG = st.one_of(st.sampled_from(WORDS), TEXT)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def small_limits(monkeypatch):
    """No example may run for long: a few seeds, short runs."""
    monkeypatch.setenv("BENCH_MAX_SEEDS", "3")
    monkeypatch.setenv("BENCH_MAX_STEPS_X_BATCH", "20000")


@pytest.fixture(scope="module")
def one_run(tmp_path_factory):
    """A store with one run (copied into each example's folder)."""
    return store_with_one_run(tmp_path_factory.mktemp("fuzz-store"))


def check(code: int, out: str, err: str, argv: list[str]) -> None:
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err and "Traceback" not in out
    if code == 2:
        assert len(err.strip().splitlines()) == 1, (argv, err)


@FAST
@given(st.lists(ARG, max_size=7))
def test_random_arguments_never_give_a_traceback(cli, small_limits, argv):
    check(*cli(*argv), argv)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(ARG, max_size=6))
def test_random_sweeps_never_give_a_traceback(cli, small_limits, tmp_path, tail):
    argv = ["sweep", "arm2", "osc", "reach", "--db", "f.sqlite", "-q", *tail, "-j", "1", "--executor", "local"]
    check(*cli(*argv), argv)


COMMANDS = st.sampled_from([["report"], ["show"], ["show", "1"], ["compare"], ["compare", "s.sqlite"],
                            ["compare", "1", "1"], ["compare", "s.sqlite", "s.sqlite"], ["verify"], ["verify", "1"]])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(COMMANDS, st.lists(ARG, max_size=6), st.booleans())
def test_random_reads_of_a_store_never_give_a_traceback(cli, small_limits, tmp_path, one_run, command, tail, db):
    shutil.copy(one_run, tmp_path / "s.sqlite")
    (tmp_path / "afile").write_text("a file\n")
    argv = [*command, *tail, *(["--db", "s.sqlite"] if db else [])]
    check(*cli(*argv), argv)


# -- suite files -------------------------------------------------------------------------------
KEYS = ["name", "version", "description", "seeds", "max_regression", "run", "thresholds", "plant", "controller",
        "task", "dt", "set", "train", "nmae", "seed"]
VALUES = st.one_of(
    st.sampled_from(['"quick"', '"s"', "1", "0", "-1", "3", "1000000000", "99999999999999999999", "1e-300",
                     "true", '"5%"', '"off"', '"x%"', "[]", "[1, 2]", "[-1]", '["arm2", "arm3"]', '"arm2"',
                     '"osc"', '"reach"', '{ "reach.targets" = 2 }', '{ "reach.targets" = [] }', '{ a = { b = 1 } }',
                     "[[[[[[[[[[]]]]]]]]]]", '"arm2,nosuch"', "nan", "inf", "1979-05-27", "'''\n[[\n'''"]),
    st.integers(min_value=-2**70, max_value=2**70).map(str),
    TEXT.map(lambda t: '"' + t.replace("\\", "").replace('"', "") + '"'),
)
LINE = st.one_of(st.tuples(st.sampled_from(KEYS), VALUES).map(lambda kv: f"{kv[0]} = {kv[1]}"),
                 st.sampled_from(["[[run]]", "[thresholds]", "[run]", "[[thresholds]]", "", "# comment", "[", "]"]),
                 TEXT)
SUITE = st.tuples(st.booleans(), st.lists(LINE, max_size=14)).map(
    lambda b: ("\ufeff" if b[0] else "") + "\n".join(b[1]) + "\n")


@settings(max_examples=150, deadline=None)
@given(SUITE)
def test_random_suite_files_load_or_give_one_suite_error(tmp_path_factory, text):
    from bench.suite import find

    path = tmp_path_factory.mktemp("suite") / "s.toml"
    path.write_text(text, encoding="utf-8")
    try:
        suite = find(str(path))
    except SuiteError as exc:
        assert "\n" not in str(exc).strip() or str(exc).count("\n") < 3, str(exc)
    else:
        assert suite.entries and all(len(e.seeds) <= 10_000 for e in suite.entries)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(SUITE, st.sampled_from([["compare", "s.sqlite", "s.sqlite", "--suite", "x.toml"],
                               ["ci", "--suite", "x.toml", "--db", "f.sqlite", "-j", "1", "-q"]]))
def test_random_suite_files_through_the_cli_never_give_a_traceback(cli, small_limits, tmp_path, one_run, text,
                                                                   argv):
    shutil.copy(one_run, tmp_path / "s.sqlite")
    (tmp_path / "x.toml").write_text(text, encoding="utf-8")
    check(*cli(*argv), argv)
