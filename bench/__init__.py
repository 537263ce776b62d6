"""ctrlbench: a plugin-based benchmark suite for learned controllers and spiking networks.

Python API (the same objects the CLI uses)::

    import bench
    arm = bench.plant("arm2", dt=1e-3)
    osc = bench.controller("osc", kp=200)
    reach = bench.task("reach", targets=64)
    result = bench.run(arm, osc, reach, seed=0)
    result.series            # metrics as a pandas Series
"""

from __future__ import annotations

from typing import Any

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
)
from .errors import BenchError
from .hookspecs import hookimpl
from .plugins import register_plugin, registry
from .registry import Spec
from .runner import run
from .settings import setting

__version__ = "0.1.0"


def build(kind: str, name: str, **settings: Any) -> Any:
    """Build the registered ``kind`` called ``name`` from keyword settings.

    The settings are checked against the component's ``Settings`` dataclass
    (unknown key, wrong type or out-of-range value: :class:`SettingError`).
    """
    from . import settings as _settings

    spec = registry().get(kind, name)
    factory = spec.load()
    settings_cls = getattr(factory, "Settings", _settings.NoSettings)
    values = _settings.build(settings_cls, settings, owner=name)
    obj = factory(values)
    obj.name = name
    obj.settings = values
    obj.spec = spec
    return obj


def plant(name: str, **settings: Any) -> Any:
    """A ready plant (or dataset, which takes a plant's place) by name."""
    if (("dataset", name) in registry()) and ("plant", name) not in registry():
        return build("dataset", name, **settings)
    if ("plant", name) not in registry():
        registry().get_any(("plant", "dataset"), name, "plant or dataset")
    return build("plant", name, **settings)


def controller(name: str, **settings: Any) -> Any:
    """A ready controller, learner or classifier by name."""
    return build("controller", name, **settings)


def task(name: str, **settings: Any) -> Any:
    """A ready task by name."""
    return build("task", name, **settings)


def dataset(name: str, **settings: Any) -> Any:
    """A ready dataset by name."""
    return build("dataset", name, **settings)


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
]

from .gymenvs import register_envs as _register_envs  # noqa: E402

_register_envs()
