"""Shared fixtures: an in-process CLI runner and fake-free third-party distributions."""

from __future__ import annotations

import sys

import pytest
from distributions import make_distribution

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


# -- one trained spiking classifier per session (tests/test_snn.py and tests/benchmarks/test_snn_speed.py) --

@pytest.fixture(scope="session")
def digits():
    """The digits split of seed 0: ``(x_train, y_train, x_test, y_test)``."""
    import bench

    return bench.dataset("digits").load(0)


@pytest.fixture(scope="session")
def snn_cache_dir(tmp_path_factory):
    """The training cache that :func:`trained_snn` fills."""
    return tmp_path_factory.mktemp("snn-cache")


@pytest.fixture(scope="session")
def trained_snn(snn_cache_dir, digits):
    """The default ``snn`` network trained on digits seed 0, once per session (the first
    training into :func:`snn_cache_dir`).  Tests that change its settings restore them."""
    import numpy as np

    import bench

    snn = bench.controller("snn", cache_dir=str(snn_cache_dir))
    snn.bind(bench.dataset("digits"))
    info = snn.fit(digits[0], digits[1], rng=np.random.default_rng(0))
    assert not info["cached"]
    return snn
