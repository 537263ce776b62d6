"""A small real store for tests that need one stored run (built through the CLI, no fakes)."""

from __future__ import annotations

import os
from pathlib import Path


def store_with_one_run(folder: Path, name: str = "s.sqlite") -> Path:
    """``folder/name`` holding one arm2 osc reach run (2 targets); the working directory is restored."""
    from bench.cli import main

    cwd = os.getcwd()
    os.chdir(folder)
    try:
        assert main(["run", "arm2", "osc", "reach", "--set", "reach.targets=2", "-q", "--db", name]) == 0
    finally:
        os.chdir(cwd)
    return Path(folder) / name
