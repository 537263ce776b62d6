"""Hardening: every kind of bad input is one line naming the culprit and what is valid, exit 2, no traceback,
and the store byte for byte as it was (issue 12).

The table covers each case the issue lists and more of each kind: command-line arguments (seeds, run ids,
``--where``, ``--out``), settings (sizes a run cannot afford, a model that is no model builder), suite files,
``.npz`` / ``.keras`` files, store paths and scheduler addresses.  Each runs through :func:`bench.cli.main`
in-process against a copy of one small store.  Then: markdown escaping, report artifacts outside the store's
runs folder, a closed stdout, and TensorFlow's silence.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from stores import store_with_one_run

import bench
from bench.errors import BenchError, SuiteError
from bench.limits import INT_MAX
from bench.store import Store

BIN = Path(sys.executable).parent
HUGE = "99999999999999999999"  # > 2**63 - 1
AHF_FORMAT = "ctrlbench-ahf-weights/1"


def _npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _zip_bomb(path: Path, claimed: int) -> None:
    """An .npz whose W says it inflates to ``claimed`` bytes (the issue's 2.4 GB W in a 2.4 MB file): a real
    deflated member holding its header and a megabyte of zeros, with the sizes of the zip records patched to
    ``claimed`` (building the real 2.4 GB would take seconds; a reader that trusts the header never reads on)."""
    header = _npy_header((claimed // 8,))
    data = header + bytes(1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("W.npy", data)
    raw = bytearray(path.read_bytes())
    true_size = struct.pack("<I", len(data))
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.index(sig)
        assert raw[at + offset:at + offset + 4] == true_size
        raw[at + offset:at + offset + 4] = struct.pack("<I", claimed)
    path.write_bytes(bytes(raw))


def _suite(body: str = "", **top: object) -> str:
    head = {"name": '"s"', "version": "1", **{k: str(v) for k, v in top.items()}}
    return ("\n".join(f"{k} = {v}" for k, v in head.items()) + "\n" + body
            + '\n[[run]]\nplant = "arm2"\ncontroller = "osc"\ntask = "reach"\nset = { "reach.targets" = 2 }\n')


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """A small store with one run, and every bad file the table names."""
    d = tmp_path_factory.mktemp("kit")
    store_with_one_run(d)
    deep = 20_000
    (d / "deep.toml").write_text("x = " + "[" * deep + "]" * deep + "\n")
    (d / "deep_tables.toml").write_text(_suite('description = "' + "[" * 50 + '"\n')
                                        .replace('set = { "reach.targets" = 2 }',
                                                 "set = { a = " + "{ a = " * 40 + "1" + " }" * 41))
    (d / "seeds.toml").write_text(_suite(seeds=1_000_000_000))
    (d / "seed_list.toml").write_text(_suite(seeds=f"[1, {HUGE}]"))
    (d / "bigint.toml").write_text(_suite(version="9" * 5000))
    (d / "latin1.toml").write_bytes(_suite().replace('"s"', '"\xe9"').encode("latin-1"))
    (d / "big.toml").write_text(_suite("# " + "x" * (1 << 20) + "\n"))
    (d / "bom.toml").write_text(_suite(), encoding="utf-8-sig")
    _zip_bomb(d / "bomb.npz", 2_400_000_000)
    with zipfile.ZipFile(d / "huge_header.npz", "w") as zf:
        zf.writestr("W.npy", _npy_header((100_000_000_000,)) + bytes(80))
        zf.writestr("meta_json.npy", _npy_header((), "<U2") + b"{\0\0\0}\0\0\0")
    meta = json.dumps({"format": AHF_FORMAT, "n_state": 4, "hidden": 2})
    np.savez(d / "w_text.npz", W=np.array(["a", "b"]), meta_json=np.array(meta))
    np.savez(d / "meta_list.npz", W=np.zeros(10), meta_json=np.array("[1, 2, 3]"))
    np.savez(d / "pickled.npz", W=np.array([{"x": 1}], dtype=object), meta_json=np.array(meta))
    with zipfile.ZipFile(d / "truncated.npz", "w") as zf:
        zf.writestr("W.npy", _npy_header((1000,)) + bytes(80))
    with zipfile.ZipFile(d / "data_huge.npz", "w") as zf:
        for k in ("x_train", "y_train", "x_test", "y_test"):
            zf.writestr(f"{k}.npy", _npy_header((100_000_000_000,)) + bytes(80))
    np.savez(d / "data_text.npz", x_train=np.array(["a"]), y_train=np.zeros(1), x_test=np.zeros(1),
             y_test=np.zeros(1))
    (d / "bad.keras").write_text("not a zip")
    (d / "afile").write_text("a file, not a folder\n")
    (d / "empty.sqlite").write_bytes(b"")
    return d


S = ["--db", "s.sqlite"]
RUN = ["run", "arm2", "osc", "reach", *S]
SNN = ["run", "digits", "snn", "classify", *S]
AHF = ["run", "arm2", "ahf", "reach", *S, "--set"]
SWEEP = ["sweep", "arm2", "osc", "reach", *S, "-j", "1", "--executor", "dask", "--scheduler"]

#: (id, argv, fragments the one line must hold (culprit and valid range), environment)
#: ``{kit}`` is the folder of the kit's files; every command reads or names the store s.sqlite (a copy).
CASES = [
    # -- command-line arguments: seeds, run ids, --where
    ("seeds-overflow", [*RUN, "--seeds", "99999999999999999999999"], ["--seeds", "at most 10,000", "BENCH_MAX_SEEDS"]),
    ("seeds-billion", [*RUN, "--seeds", "1000000000"], ["--seeds 1000000000", "at most 10,000"]),
    ("seeds-5000-digits", [*RUN, "--seeds", "9" * 5000], ["--seeds", "BENCH_MAX_SEEDS"]),
    ("seed-beyond-sqlite", [*RUN, "--seed", HUGE], ["--seed", f"0 to {INT_MAX:,}"]),
    ("seed-negative", [*RUN, "--seed", "-1"], ["--seed", "non-negative"]),
    ("seed-list-beyond-sqlite", [*RUN, "--seeds", f"1,{HUGE}"], ["--seeds", f"{INT_MAX:,}"]),
    ("seed-list-too-long", [*RUN, "--seeds", ",".join(map(str, range(10_001)))], ["--seeds", "10,001 seeds"]),
    ("sweep-seeds-billion", ["sweep", "arm2", "osc", "reach", *S, "--seeds", "1000000000"], ["--seeds"]),
    ("train-seed-beyond-sqlite", ["train", "cartpole", "pg", "balance", *S, "--seed", HUGE], ["--seed"]),
    ("show-id-beyond-sqlite", ["show", HUGE, *S], ["run id", f"1 to {INT_MAX:,}"]),
    ("show-id-zero", ["show", "0", *S], ["run id", "positive"]),
    ("verify-id-beyond-sqlite", ["verify", HUGE, *S], ["run ids", f"{INT_MAX:,}"]),
    ("where-seed-beyond-sqlite", ["report", *S, "--where", f"seed={HUGE}"], ["--where seed", f"{INT_MAX:,}"]),
    ("where-id-not-a-number", ["report", *S, "--where", "id=abc"], ["--where id", "'abc'"]),
    ("where-without-value", ["report", *S, "--where", "plant"], ["--where expects COLUMN=VALUE", "'plant'"]),
    ("where-unknown-column", ["report", *S, "--where", "plnt=arm2"], ["'plnt'", "did you mean 'plant'"]),
    ("compare-range-beyond-sqlite", ["compare", "1-99999999999999999999999", "1", *S], ["run id", f"{INT_MAX:,}"]),
    ("compare-missing-store-file", ["compare", "nosuch.sqlite", "HEAD", *S], ["nosuch.sqlite", "no such file"]),
    # -- --out, --summary, --animate
    ("report-out-under-proc", ["report", *S, "--format", "html", "--out", "/proc/x"], ["--out /proc/x"]),
    ("report-out-is-a-file", ["report", *S, "--format", "html", "--out", "{kit}/afile"], ["afile", "is a file"]),
    ("report-out-beneath-a-file", ["report", *S, "--out", "{kit}/afile/sub"], ["afile is a file"]),
    ("compare-out-under-proc", ["compare", "s.sqlite", "s.sqlite", "--out", "/proc/x.md"], ["--out /proc/x.md"]),
    ("compare-out-beneath-a-file", ["compare", "s.sqlite", "s.sqlite", "--out", "{kit}/afile/x.md"],
     ["afile is a file"]),
    ("compare-out-is-a-folder", ["compare", "s.sqlite", "s.sqlite", "--out", "{kit}"], ["is a folder"]),
    ("compare-out-is-the-store", ["compare", "s.sqlite", "s.sqlite", "--out", "s.sqlite"], ["s.sqlite", "SQLite"]),
    ("ci-summary-beneath-a-file", ["ci", "--suite", "{kit}/bom.toml", *S, "-j", "1", "--summary",
                                   "{kit}/afile/s.md"], ["--summary", "afile is a file"]),
    ("show-animate-beneath-a-file", ["show", "1", *S, "--animate", "{kit}/afile/a.gif"], ["--animate"]),
    # -- settings: what a run would allocate, and a model that is no model builder
    ("duration-116-TiB", [*RUN, "--set", "reach.duration=1e9"], ["reach.duration", "BENCH_MAX_STEPS_X_BATCH"]),
    ("dt-1e-300", [*RUN, "--dt", "1e-300"], ["arm2.dt 1e-300", "at most 50,000,000"]),
    ("targets-times-steps", [*RUN, "--dt", "1e-6", "--set", "reach.targets=100000"], ["100,000 trials"]),
    ("random-movements-work", ["run", "arm2", "osc", "random_movements", *S, "--dt", "1e-5", "--set",
                               "random_movements.movements=10000"], ["random_movements.period"]),
    ("write-100k-characters", ["run", "arm2", "osc", "write", *S, "--set", "write.text=" + "a" * 100_000],
     ["write.timeout", "BENCH_MAX_STEPS_X_BATCH"]),
    ("sweep-duration-116-TiB", ["sweep", "arm2", "osc", "reach", *S, "-j", "1", "--set", "reach.duration=1e9"],
     ["reach.duration", "BENCH_MAX_STEPS_X_BATCH"]),
    ("snn-model-os-system", [*SNN, "--set", "snn.model=os:system"],
     ["'os:system'", "function(input_shape, n_classes)"]),
    ("snn-model-wrong-signature", [*SNN, "--set", "snn.model=json:loads"],
     ["'json:loads'", "(input_shape, n_classes)"]),
    ("snn-model-missing-module", [*SNN, "--set", "snn.model=nosuchmodule:f"], ["nosuchmodule", "cannot import"]),
    ("snn-model-not-a-zip", [*SNN, "--set", "snn.model={kit}/bad.keras"], ["bad.keras", "zip"]),
    ("snn-model-missing-file", [*SNN, "--set", "snn.model=nosuch.keras"], ["nosuch.keras", "does not exist"]),
    ("balance-eval-episodes", ["run", "cartpole", "pg", "balance", *S, "--set", "balance.eval_episodes=1000000000"],
     ["balance.max_steps", "(balance.eval_episodes)", "BENCH_MAX_STEPS_X_BATCH"]),
    ("pg-batch-steps", ["run", "cartpole", "pg", "balance", *S, "--set", "pg.batch_steps=1000000000"],
     ["pg: batch_steps", "at most 50,000,000"]),
    ("pg-hidden-layer", ["run", "cartpole", "pg", "balance", *S, "--set", "pg.policy=mlp", "--set",
                         "pg.hidden=1000000000"], ["pg: hidden", "BENCH_MAX_ARRAY_ELEMENTS"]),
    ("snn-steps-times-minibatch", [*SNN, "--set", "snn.n_steps=100000", "--set", "snn.eval_minibatch=1000"],
     ["snn: n_steps", "(eval_minibatch)"]),
    ("classify-auto-steps", [*SNN, "--set", "classify.auto=true", "--set", "classify.auto_steps=1000000000"],
     ["classify.auto_steps", "BENCH_MAX_STEPS_X_BATCH"]),
    ("sweep-jobs-overflow", ["sweep", "arm2", "osc", "reach", *S, "-j", HUGE], ["--jobs", "at most"]),
    ("show-animate-under-proc", ["show", "1", *S, "--animate", "/proc/a.gif"], ["--animate /proc/a.gif"]),
    ("sweep-product", ["sweep", "arm2", "osc", "reach", *S, "-j", "1", "--set",
                       "osc.kp=" + ",".join(str(k) for k in range(1, 1001)), "--set",
                       "reach.targets=" + ",".join(str(k) for k in range(1, 1001))], ["1,000,000", "BENCH_MAX_RUNS"]),
    # -- suite files
    ("suite-nested-20000", ["ci", "--suite", "{kit}/deep.toml", *S], ["nested 20,000 deep", "BENCH_MAX_SUITE_DEPTH"]),
    ("suite-inline-tables-41", ["ci", "--suite", "{kit}/deep_tables.toml", *S], ["nested 41 deep", "at most 32"]),
    ("suite-seeds-billion", ["ci", "--suite", "{kit}/seeds.toml", *S], ["seeds", "BENCH_MAX_SEEDS"]),
    ("suite-seed-beyond-sqlite", ["ci", "--suite", "{kit}/seed_list.toml", *S], ["seeds", f"{INT_MAX:,}"]),
    ("suite-5000-digit-integer", ["ci", "--suite", "{kit}/bigint.toml", *S], ["bigint.toml", "not valid TOML"]),
    ("suite-not-utf-8", ["ci", "--suite", "{kit}/latin1.toml", *S], ["latin1.toml", "cannot read"]),
    ("suite-over-1-MiB", ["ci", "--suite", "{kit}/big.toml", *S], ["big.toml", "at most 1,048,576"]),
    # -- .npz and .keras files
    ("npz-W-inflates-2.4-GB", [*AHF, "ahf.weights={kit}/bomb.npz"], ["'W'", "300,000,000 elements",
                                                                     "BENCH_MAX_ARRAY_ELEMENTS"]),
    ("npz-header-1e11", [*AHF, "ahf.weights={kit}/huge_header.npz"], ["'W'", "100,000,000,000 elements"]),
    ("npz-W-strings", [*AHF, "ahf.weights={kit}/w_text.npz"], ["'W'", "where numbers are expected"]),
    ("npz-meta-json-list", [*AHF, "ahf.weights={kit}/meta_list.npz"], ["meta_json", "JSON object"]),
    ("npz-pickled", [*AHF, "ahf.weights={kit}/pickled.npz"], ["'W'", "pickled"]),
    ("npz-truncated", [*AHF, "ahf.weights={kit}/truncated.npz"], ["'W'", "claims shape [1000]"]),
    ("npz-dataset-header-1e11", ["run", "npz", "snn", "classify", *S, "--set", "npz.path={kit}/data_huge.npz"],
     ["'x_train'", "BENCH_MAX_ARRAY_ELEMENTS"]),
    ("npz-dataset-text", ["run", "npz", "snn", "classify", *S, "--set", "npz.path={kit}/data_text.npz"],
     ["'x_train'", "numbers"]),
    ("mnist-path-bomb", ["run", "mnist", "snn", "classify", *S, "--set", "mnist.path={kit}/bomb.npz"],
     ["'W'", "BENCH_MAX_ARRAY_ELEMENTS"]),
    # -- store paths
    ("db-in-missing-folder", ["run", "arm2", "osc", "reach", "--db", "newdir/sub/x.sqlite"],
     ["newdir/sub", "does not exist"]),
    ("db-beneath-a-file", ["run", "arm2", "osc", "reach", "--db", "{kit}/afile/x.sqlite"], ["afile is a file"]),
    ("db-is-a-folder", ["run", "arm2", "osc", "reach", "--db", "{kit}"], ["is a folder"]),
    ("report-missing-store", ["report", "--db", "nosuch.sqlite"], ["nosuch.sqlite", "no results store"]),
    ("show-empty-file", ["show", "1", "--db", "empty.sqlite"], ["empty.sqlite", "empty file"]),
    # -- scheduler addresses
    ("scheduler-tls", [*SWEEP, "tls://10.0.0.1:8786"], ["tls://", "tcp://HOST:PORT"]),
    ("scheduler-ucx", [*SWEEP, "ucx://10.0.0.1:8786"], ["ucx://", "tcp://HOST:PORT"]),
    ("scheduler-port", [*SWEEP, "tcp://10.0.0.1:99999"], ["99999", "PORT 1-65535"]),
    ("scheduler-no-port", [*SWEEP, "tcp://10.0.0.1"], ["tcp://10.0.0.1", "HOST:PORT"]),
    # -- the limits themselves
    ("limit-variable-not-a-number", [*RUN, "--seeds", "2"], ["BENCH_MAX_SEEDS", "positive integer"],
     {"BENCH_MAX_SEEDS": "lots"}),
    ("limit-variable-lowered", [*RUN, "--seeds", "3"], ["--seeds 3", "at most 2"], {"BENCH_MAX_SEEDS": "2"}),
]


def _sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_the_store_unchanged(case, cli, kit, tmp_path, monkeypatch):
    name, argv, fragments, *env = case
    for key, value in (env[0] if env else {}).items():
        monkeypatch.setenv(key, value)
    for f in ("s.sqlite", "empty.sqlite"):
        shutil.copy(kit / f, tmp_path / f)
    before = {f: _sha(tmp_path / f) for f in ("s.sqlite", "empty.sqlite")}
    kit_files = _tree(kit)
    files = _tree(tmp_path)
    start = time.perf_counter()
    code, out, err = cli(*(a.replace("{kit}", str(kit)) for a in argv))
    took = time.perf_counter() - start
    assert code == 2, (name, code, err)
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench: error: "), (name, err)
    for fragment in fragments:
        assert fragment in lines[0], (name, fragment, lines[0])
    assert {f: _sha(tmp_path / f) for f in before} == before, f"{name}: a store changed"
    assert _tree(tmp_path) == files, f"{name}: wrote {sorted(_tree(tmp_path) - files)}"  # no store, log, run folder
    assert _tree(kit) == kit_files
    assert not (tmp_path / "newdir").exists()
    assert took < 20, f"{name} took {took:.1f} s"


def test_the_table_covers_every_kind_and_at_least_thirty_cases():
    kinds = {c[0].split("-")[0] for c in CASES}
    assert len(CASES) >= 30
    assert {"seeds", "seed", "show", "where", "compare", "report", "duration", "dt", "snn", "suite", "npz", "db",
            "scheduler", "limit"} <= kinds


# -- what bad input must not stop ---------------------------------------------------------------
def test_a_large_id_range_is_never_expanded(cli, kit, tmp_path):
    shutil.copy(kit / "s.sqlite", tmp_path / "s.sqlite")
    code, out, err = cli("compare", "1-99999999999", "1-3", "--db", "s.sqlite")
    assert code == 0 and "Traceback" not in err, err
    assert "runs 1-99999999999" in out


def test_a_suite_file_with_a_byte_order_mark_loads(kit):
    suite = bench.suite.find(str(kit / "bom.toml"))
    assert suite.name == "s" and suite.entries[0].plants == ["arm2"]


def test_seeds_and_run_ids_at_the_sqlite_limit_are_accepted():
    from bench.session import parse_seeds
    from bench.store import parse_where

    assert parse_seeds(None, str(INT_MAX)) == [INT_MAX]
    assert parse_seeds(f"0,{INT_MAX}") == [0, INT_MAX]
    assert parse_where([f"seed={INT_MAX}", "plant=arm2,arm3"]) == {"seed": INT_MAX, "plant": ["arm2", "arm3"]}


def test_the_npz_header_check_reads_no_data(kit, monkeypatch):
    """The 2.4 GB W is refused from its header: no array is read (the issue saw 2.4 GB and 18 s)."""
    from bench.npzfile import read_npz

    def never(*args, **kwargs):
        raise AssertionError("read an array")

    monkeypatch.setattr(np.lib.format, "read_array", never)
    start = time.perf_counter()
    with pytest.raises(BenchError, match="300,000,000 elements"):
        read_npz(kit / "bomb.npz", "weights")
    assert time.perf_counter() - start < 1


def test_array_limit_follows_its_variable(tmp_path, monkeypatch):
    from bench.npzfile import read_npz

    np.savez(tmp_path / "w.npz", W=np.zeros(1000))
    assert read_npz(tmp_path / "w.npz", "weights")["W"].shape == (1000,)
    monkeypatch.setenv("BENCH_MAX_ARRAY_ELEMENTS", "999")
    with pytest.raises(BenchError, match=r"1,000 elements .* at most 999"):
        read_npz(tmp_path / "w.npz", "weights")


def test_suite_depth_ignores_brackets_in_strings_and_comments():
    from bench.suite import _depth

    assert _depth('a = "[[[[["\n# [[[[\nb = [[1], {c = [2]}]\n[[run]]\n') == 3
    assert _depth("s = '''\n[[[[\n'''\n") == 0


def test_a_suite_deeper_than_its_limit_is_refused_before_parsing(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_MAX_SUITE_DEPTH", "2")
    path = tmp_path / "s.toml"
    path.write_text(_suite().replace('{ "reach.targets" = 2 }', '{ "reach.targets" = [[2]] }'))
    with pytest.raises(SuiteError, match="nested 3 deep; at most 2"):
        bench.suite.find(str(path))


# -- reports: markdown escaped as the HTML is, artifacts only from the store's own runs folder ----------
def _crafted_store(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A store whose one run names two PNG artifacts: one in its runs folder, one outside (a secret)."""
    store_with_one_run(tmp_path)
    png = b"\x89PNG\r\n\x1a\n" + bytes(64)
    inside = tmp_path / "runs" / "r1" / "plot.png"
    inside.parent.mkdir(parents=True, exist_ok=True)
    inside.write_bytes(png)
    secret = tmp_path / "secret" / "secret.png"
    secret.parent.mkdir()
    secret.write_bytes(png)
    con = __import__("sqlite3").connect(tmp_path / "s.sqlite")
    with con:
        con.execute("INSERT INTO artifacts VALUES (1, 'inside', ?)", (str(inside),))
        con.execute("INSERT INTO artifacts VALUES (1, 'stolen', ?)", (str(secret),))
        con.execute("INSERT INTO artifacts VALUES (1, 'climb', ?)", (str(inside.parent / ".." / ".." / "secret"
                                                                          / "secret.png"),))
        con.execute("UPDATE runs SET task = 'reach', plant = '<script>alert(1)</script>|x`y`'")
    con.close()
    return tmp_path / "s.sqlite", inside, secret


def test_report_copies_only_artifacts_of_the_stores_own_runs_and_escapes_markdown(tmp_path, monkeypatch):
    from bench.reports import animation, figures
    from bench.reports import html as report_html

    monkeypatch.setattr(figures, "ALL", (figures.run_images,))  # the artifacts' figure alone: fast
    monkeypatch.setattr(animation, "report_animations", lambda *a, **k: [])
    db, _, secret = _crafted_store(tmp_path)
    out = tmp_path / "report"
    written = report_html.write(Store(db), out, formats=("html", "md"))
    copied = sorted(p.name for p in (out / "figures").glob("run1-*.png"))
    assert copied == ["run1-inside.png"]
    page, md = written["html"].read_text(), written["md"].read_text()
    assert "Refused artifacts" in page and "stolen" in page and "climb" in page and str(secret) in page
    assert "Refused artifacts" in md and "stolen" in md
    for text in (page, md):
        assert "<script>" not in text and "&lt;script&gt;" in text
    assert "\\|x\\`y\\`" in md


def test_markdown_escapes_like_the_html():
    from bench.reports.stats import md

    assert md("<script>alert('x')</script>") == "&lt;script&gt;alert('x')&lt;/script&gt;"
    assert md("a|b`c`[d](e)\nf & g") == "a\\|b\\`c\\`\\[d\\](e) f &amp; g"


def test_compare_markdown_escapes_store_text(tmp_path, cli):
    db, _, _ = _crafted_store(tmp_path)
    code, out, err = cli("compare", str(db), str(db), "--format", "md")
    assert code == 0, err
    assert "<script>" not in out and "&lt;script&gt;" in out


# -- noise --------------------------------------------------------------------------------------
def test_a_closed_stdout_ends_quietly(tmp_path):
    """``bench list -v | head -1``: no BrokenPipeError, nothing on stderr, the command's own exit code."""
    proc = subprocess.Popen([str(BIN / "bench"), "list", "-v"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=tmp_path)
    proc.stdout.close()  # before the command prints its first line (it takes a moment to start)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert err == ""


def test_verbose_flag_is_global_and_per_command():
    from bench.cli import parser

    assert parser().parse_args(["-v", "run", "arm2", "osc", "reach"]).loud
    assert parser().parse_args(["run", "arm2", "osc", "reach", "-v"]).loud
    assert not parser().parse_args(["run", "arm2", "osc", "reach"]).loud
    args = parser().parse_args(["list", "-v"])
    assert args.verbose and not args.loud


def test_terminal_escapes_from_a_store_are_shown_escaped(tmp_path, cli):
    db, _, _ = _crafted_store(tmp_path)
    con = __import__("sqlite3").connect(db)
    with con:
        con.execute("UPDATE runs SET controller = 'osc\x1b[2J\x9b'")
    con.close()
    code, out, err = cli("show", "1", "--db", str(db))
    assert code == 0, err
    assert "\x1b" not in out and "\x9b" not in out and "osc\\x1b[2J\\x9b" in out
