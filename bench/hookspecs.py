"""Hook specifications: the whole plugin contract of ctrlbench.

A plugin is any module (or object) with functions named like the hooks below
and marked ``@bench.hookimpl``.  Each hook receives a ``register`` function and
calls it once per component it provides.  The host calls **every**
implementation of each hook exactly once, on the first registry lookup (lazy
loading), built-in plugins first, then third-party ones in entry-point order;
the hooks' return values are ignored.

``register`` accepts either a ready :class:`bench.registry.Spec` or the same
fields as keywords::

    register("pd", "my_pkg.pd:PD", summary="joint-space PD",
             needs={"kinematics"}, provides={"act"}, extra=None,
             requires=("numpy",))

``factory`` is ``"module:attr"`` (imported only when the component is built,
so registering costs nothing) or the callable itself.  Registering a name that
another plugin registered already is an error naming both plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "bench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[..., Any]


@hookspec
def register_plants(register: Register) -> None:
    """Register plants (dynamical systems a controller acts on).

    Calling rule: called once per plugin, on first lookup; all
    implementations run.  The factory must build a
    :class:`bench.api.PlantModel` from its ``Settings`` dataclass.
    """


@hookspec
def register_controllers(register: Register) -> None:
    """Register controllers, learners and classifiers.

    Calling rule: called once per plugin, on first lookup; all
    implementations run.  The factory must build a
    :class:`bench.api.Controller` (a :class:`bench.api.Learner` if it
    ``provides`` ``"learn"``, a :class:`bench.api.Classifier` if it provides
    ``"classify"``).
    """


@hookspec
def register_tasks(register: Register) -> None:
    """Register tasks (an experiment that runs a controller on a plant).

    Calling rule: called once per plugin, on first lookup; all
    implementations run.  The factory must build a :class:`bench.api.Task`;
    ``needs`` may name plant capabilities (``"kinematics"``) and, prefixed with
    ``controller:``, controller capabilities (``"controller:act"``).
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Register datasets (the data a classifier is fitted to and scored on).

    Calling rule: called once per plugin, on first lookup; all
    implementations run.  A dataset takes the plant's place on the command
    line (``bench run digits snn classify``); its factory builds a
    :class:`bench.api.Dataset`.
    """
