"""Every example in README.md works as written.

Each ```python block is run as a reader would use it, in a fresh temporary
directory, in README order:

* a block whose first line names a file (``# bench_example/__init__.py``) is
  that file: it is executed as a module of that name, registered as a plugin
  (no warning allowed) and every component it registers is built, so the
  README's own code, not the installed copy, is what runs;
* a block defining ``test_*`` functions is a test file: each test is called
  with the real pytest fixtures it names (``bench_check_*`` from
  ``bench.testing``);
* any other block is a script, executed as is.

Each block runs in its own namespace (every block is a complete script or
file).  A ```toml block naming ``pyproject.toml`` must agree with the example
plugin's real ``pyproject.toml``.  A block may be marked ``<!-- not run:
REASON -->`` on the line before it only when it truly cannot run here; such
blocks are reported as skipped with their reason, never dropped silently.

Every command line in a shell block that starts with ``bench`` or
``python run.py`` is parsed by the real parser (:func:`bench.cli.parser`),
and the cheap ones (``list``, ``run``, ``show``) are run, in order, in a
fresh directory.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import shlex
import sys
import tomllib
import types
import warnings
from pathlib import Path

import pytest

import bench
import bench.plugins
from bench.cli import COMMANDS, main, parser
from bench.errors import BenchError
from bench.suite import find

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<reason>.+?)\s*-->")
FILE_LINE = re.compile(r"#\s*(?P<path>[\w./-]+\.(?:py|toml))\s*$")
SHELL = ("sh", "bash", "shell", "console", "")
#: Commands that are cheap enough to run here, as documented; the rest are parsed only.
RUN_CHEAP = ("list", "run", "show")


@dataclasses.dataclass
class Block:
    lang: str
    code: str
    line: int  # 1-based line of the opening fence
    section: str
    not_run: str | None

    @property
    def label(self) -> str:
        return f"README.md:{self.line} ({self.section or 'top'})"

    @property
    def file(self) -> str | None:
        """The file this block is an excerpt of, when its first line names one."""
        first = self.code.lstrip().splitlines()[0] if self.code.strip() else ""
        m = FILE_LINE.fullmatch(first.strip())
        return m["path"] if m else None


def blocks(text: str | None = None) -> list[Block]:
    """Every fenced code block of README.md, with its section and ``not run`` mark."""
    lines = (README.read_text(encoding="utf-8") if text is None else text).splitlines()
    out: list[Block] = []
    section, i = "", 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        m = re.match(r"^```\s*([\w+-]*)\s*$", line)
        if m:
            start, body = i, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise AssertionError(f"README.md:{start + 1}: unclosed code block")
            before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
            mark = NOT_RUN.search(before)
            out.append(Block(m[1].lower(), "\n".join(body) + "\n", start + 1, section,
                             mark["reason"] if mark else None))
        i += 1
    return out


PYTHON = [b for b in blocks() if b.lang in ("python", "py")]


def test_the_readme_has_python_examples_and_every_mark_has_a_reason():
    assert len(PYTHON) >= 3
    for b in blocks():
        if b.not_run is not None:
            assert b.not_run.strip(), f"{b.label}: <!-- not run: --> needs a reason"


def _test_functions(namespace: dict) -> list:
    return [f for name, f in namespace.items() if name.startswith("test") and inspect.isfunction(f)]


def _exec(block: Block, namespace: dict) -> None:
    exec(compile(block.code, block.label, "exec"), namespace)


@pytest.mark.parametrize("block", PYTHON, ids=[b.label for b in PYTHON])
def test_python_example_runs_as_written(block, tmp_path, monkeypatch, request, fresh_plugins):
    if block.not_run is not None:
        pytest.skip(f"README marks {block.label} not run: {block.not_run}")
    monkeypatch.chdir(tmp_path)
    path = block.file
    if path is not None and not path.startswith("test") and "/test" not in path:
        _run_module_file(block, path, monkeypatch)
        return
    namespace: dict = {"__name__": f"readme_{block.line}"}
    _exec(block, namespace)
    for test in _test_functions(namespace):  # a test file: call each test with the real fixtures
        params = inspect.signature(test).parameters
        test(**{name: request.getfixturevalue(name) for name in params})


def _run_module_file(block: Block, path: str, monkeypatch) -> None:
    """``# pkg/__init__.py`` or ``# pkg/mod.py``: executed as that module; a plugin's hooks are registered."""
    assert path.endswith(".py"), f"{block.label}: a Python block names {path!r}"
    modname = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    module = types.ModuleType(modname)
    module.__file__ = str(README)
    monkeypatch.setitem(sys.modules, modname, module)  # "bench_example:PD" now resolves to the README's code
    _exec(block, module.__dict__)
    hooks = [name for name in bench.plugins.HOOK_NAMES if hasattr(module, name)]
    if not hooks:
        return
    monkeypatch.setenv("BENCH_DISABLE_PLUGIN_AUTOLOAD", "1")  # the installed copy would hold the same names
    monkeypatch.delenv("BENCH_PLUGINS", raising=False)
    bench.plugins.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error", bench.plugins.PluginWarning)
        bench.register_plugin(module, f"readme:{modname}")
    info = bench.plugins.host().plugins[f"readme:{modname}"]
    assert info.error is None and info.specs, f"{block.label}: the plugin registered nothing ({info.error})"
    for spec in info.specs:
        factory = spec.load()
        assert any(factory is v for v in vars(module).values()), f"{spec.name}: not built from the README's code"
        component = bench.build(spec.kind, spec.name)  # its Settings, defaults and all
        if spec.kind == "controller" and "act" in spec.provides:  # and it acts, by the conformance rules
            bench.testing.check_controller(component, bench.plant("arm2"))


def test_the_plugin_example_is_the_example_plugin():
    """The README's ``pyproject.toml`` excerpt agrees with the example plugin's real one."""
    excerpts = [b for b in blocks() if b.lang == "toml" and b.file and b.file.endswith("pyproject.toml")]
    assert excerpts
    real = tomllib.loads((ROOT / "plugins/bench-example/pyproject.toml").read_text())
    for b in excerpts:
        shown = tomllib.loads(b.code)
        assert shown["project"]["entry-points"] == {k: real["project"]["entry-points"][k]
                                                    for k in shown["project"]["entry-points"]}, b.label


def shell_commands() -> list[tuple[str, list[str]]]:
    """``(label, argv of bench)`` for every ``bench ...`` / ``python run.py ...`` line of a shell block."""
    found = []
    for b in blocks():
        if b.lang not in SHELL:
            continue
        for k, line in enumerate(b.code.splitlines()):
            text = line.strip().removeprefix("$ ")
            words = shlex.split(text, comments=True)
            if not words:
                continue
            label = f"README.md:{b.line + 1 + k}: {text.split('  #')[0].strip()}"
            if re.fullmatch(r"(\S*/)?bench", words[0]):
                found.append((label, words[1:]))
            elif words[:2] == ["python", "run.py"]:  # run.py: PLANT CONTROLLER TASK means `bench run ...`
                rest = words[2:]
                found.append((label, rest if rest and rest[0] in COMMANDS else ["run", *rest]))
    return found


COMMAND_LINES = shell_commands()


def test_the_readme_documents_commands():
    used = {argv[0] for _, argv in COMMAND_LINES}
    assert {"list", "run", "show", "train", "sweep", "report", "ci", "compare"} <= used


@pytest.mark.parametrize("argv", [argv for _, argv in COMMAND_LINES], ids=[label for label, _ in COMMAND_LINES])
def test_every_documented_command_parses_and_names_what_exists(argv, capsys):
    try:
        args = parser().parse_args(argv)
    except (SystemExit, BenchError) as exc:
        pytest.fail(f"bench {shlex.join(argv)}: the parser refuses it: {exc} {capsys.readouterr().err.strip()}")
    reg = bench.registry()
    if args.command in ("run", "train", "sweep"):  # placeholders such as PLANT parse, but name nothing
        for kinds, value in ((("plant", "dataset"), args.plant), (("controller",), args.controller),
                             (("task",), args.task)):
            for name in value.split(",") if args.command in ("sweep", "train") else [value]:
                name = name.removesuffix(":train") if kinds == ("task",) else name  # a training run's task
                assert any((k, name) in reg for k in kinds), f"bench {shlex.join(argv)}: no {kinds[0]} {name!r}"
    if args.command == "ci":
        find(args.suite)


@pytest.mark.slow
def test_the_cheap_documented_commands_run_in_order(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ran = []
    for label, argv in COMMAND_LINES:
        if argv[0] in RUN_CHEAP:
            code = main(argv)
            err = capsys.readouterr().err
            assert code == 0, f"{label}: exit {code}: {err.strip()}"
            ran.append(argv[0])
    assert {"list", "run", "show"} <= set(ran)


# -- what the examples rely on ---------------------------------------------------------------
def test_bench_reports_is_reachable_after_import_bench_without_loading_it_eagerly():
    import subprocess

    code = ("import sys, bench; eager = [m for m in ('matplotlib', 'pandas', 'pytest', 'bench.reports') "
            "if m in sys.modules]; print(eager); print(bench.reports.load.__module__, bench.testing.check_plant"
            ".__name__, bench.store.Store.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "bench.reports check_plant Store"
    with pytest.raises(AttributeError, match="no attribute 'reprots'"):
        bench.reprots  # noqa: B018


def test_run_takes_a_store_path_or_a_store_and_refuses_anything_else_before_running(tmp_path):
    from bench.store import Store

    def parts():
        return bench.plant("arm2"), bench.controller("osc"), bench.task("reach", targets=2)

    stores = [str(tmp_path / "a.sqlite"), tmp_path / "sub" / "b.sqlite", Store(tmp_path / "c.sqlite")]
    for i, store in enumerate(stores):
        result = bench.run(*parts(), seed=i, store=store)
        assert result.run_id == 1
    assert Store(tmp_path / "sub" / "b.sqlite").count() == 1
    for bad in (3, ["x.sqlite"], b"x.sqlite"):
        with pytest.raises(BenchError, match=r"store must be a path \(str or os.PathLike\) or a bench.store.Store"):
            bench.run(*parts(), store=bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.sqlite", "c.sqlite", "sub"]  # nothing else written

    class Saver:  # a duck-typed store, as bench.run accepted before: still works, with one deprecation line
        def __init__(self):
            self.saved = []

        def save(self, result):
            self.saved.append(result)
            return len(self.saved)

    saver = Saver()
    with pytest.warns(DeprecationWarning, match="pass a path or a bench.store.Store"):
        bench.run(*parts(), store=saver)
    assert len(saver.saved) == 1


def test_a_not_run_mark_and_a_file_line_are_read():
    text = ("## Somewhere\n\n<!-- not run: needs a GPU -->\n```python\nimport x\n```\n\n"
            "```python\n# pkg/mod.py\nX = 1\n```\n```sh\nbench list   # all\n```\n")
    gpu, mod, sh = blocks(text)
    assert (gpu.not_run, gpu.section, gpu.line, gpu.file) == ("needs a GPU", "Somewhere", 4, None)
    assert (mod.not_run, mod.file, sh.lang) == (None, "pkg/mod.py", "sh")
