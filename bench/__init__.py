"""ctrlbench: a plugin-based benchmark suite for learned controllers and spiking networks.

Python API (the same objects the CLI uses)::

    import bench
    arm = bench.plant("arm2", dt=1e-3)
    osc = bench.controller("osc", kp=200)
    reach = bench.task("reach", targets=64)
    result = bench.run(arm, osc, reach, seed=0)
    result.series            # metrics as a pandas Series

``bench.reports``, ``bench.store`` and ``bench.testing`` are imported on
first use (``bench.reports.load(...)`` works after ``import bench``), so
``import bench`` loads neither matplotlib nor pytest.
"""

from __future__ import annotations

from .api import (
    ArmModel,
    Classifier,
    Controller,
    Dataset,
    Learner,
    Metric,
    PlantModel,
    Result,
    Task,
    train_learner,
)
from .errors import BenchError
from .hookspecs import hookimpl
from .plugins import register_plugin, registry
from .registry import Spec
from .runner import run
from .session import build, controller, dataset, plant, task
from .settings import setting

__version__ = "0.1.0"


__all__ = [
    "ArmModel",
    "BenchError",
    "Classifier",
    "Controller",
    "Dataset",
    "Learner",
    "Metric",
    "PlantModel",
    "Result",
    "Spec",
    "Task",
    "__version__",
    "build",
    "controller",
    "dataset",
    "hookimpl",
    "plant",
    "register_plugin",
    "registry",
    "run",
    "setting",
    "task",
    "train_learner",
]

from .gymenvs import register_envs as _register_envs

_register_envs()

#: Submodules imported on first attribute access (``bench.reports.load(...)``).
_LAZY_SUBMODULES = ("reports", "store", "testing")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")  # sets the attribute: called once per name
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))
