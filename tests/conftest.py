"""Shared fixtures: an in-process CLI runner and fake-free third-party distributions."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import bench.plugins
from bench.cli import main, run_py


class CLI:
    """Runs ``bench`` in-process; returns (exit code, stdout, stderr)."""

    def __init__(self, capsys):
        self.capsys = capsys

    def __call__(self, *argv: str, run_py_style: bool = False):
        self.capsys.readouterr()
        code = (run_py if run_py_style else main)(list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def cli(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return CLI(capsys)


@pytest.fixture
def fresh_plugins():
    """Reload plugins before and after a test that changes them."""
    bench.plugins.reset()
    yield
    bench.plugins.reset()


def make_distribution(root: Path, dist: str, modules: dict[str, str], entry_points: dict[str, str]) -> Path:
    """A real installed-looking distribution (``*.dist-info`` + modules) under ``root``.

    Put ``root`` on ``sys.path`` and ``importlib.metadata`` finds its entry points.
    """
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    eps = "[bench]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(eps)
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))
    return root


@pytest.fixture
def third_party(tmp_path, monkeypatch, fresh_plugins):
    """Install distributions into a temporary site directory for one test."""
    site = tmp_path / "site"
    added: list[str] = []

    def install(dist: str, modules: dict[str, str], entry_points: dict[str, str]) -> None:
        make_distribution(site, dist, modules, entry_points)
        added.extend(modules)

    monkeypatch.syspath_prepend(str(site))
    yield install
    for name in added:
        sys.modules.pop(name, None)
