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
so registering costs nothing) or the callable itself.

The target contract: a task declares what it hands the controller as
``target`` (``target="hand"``: ``(n, 2)`` hand positions in metres;
``"state"``: ``(n, S)`` joint or state targets; ``"none"``: ``None``), a
controller the targets it ``accepts`` (``accepts={"hand"}``).  A pairing whose
target the controller does not accept is refused before anything runs.  A
component that declares nothing still works with one
:class:`bench.registry.ContractWarning` line, except a task without
``target=`` paired with a controller that reads a target (accepts ``"hand"``
or ``"state"``): that is refused, since the controller would misread
whatever the task hands it.

What is never silent (one :class:`bench.plugins.PluginWarning` each, naming
the plugin and its distribution; ``bench list`` repeats them):

* a ``@bench.hookimpl`` function whose name is none of the hooks below
  (``register_controller``): it is never called; the warning names the
  closest hook;
* a function named like a hook (a hook's name or ``register_*``) without the
  ``@bench.hookimpl`` marker: it is never called (name a helper ``_register_...``);
* registering a kind and name that an earlier plugin (built-in or not)
  registered: only that component of the later plugin is disabled, the
  warning names both plugins, and everything else of both keeps working.
  A plugin registering one name twice keeps the first.
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
    ``"classify"``).  Declare ``accepts={"hand"}`` (``"state"``, ``"none"``):
    the targets it can act on.  Mark the settings only training reads
    ``bench.setting(..., train_only=True)``: ``bench run`` refuses them unless
    the run trains the learner (``--train``, or a task with ``TRAINS``).
    """


@hookspec
def register_tasks(register: Register) -> None:
    """Register tasks (an experiment that runs a controller on a plant).

    Calling rule: called once per plugin, on first lookup; all
    implementations run.  The factory must build a :class:`bench.api.Task`;
    ``needs`` may name plant capabilities (``"kinematics"``) and, prefixed with
    ``controller:``, controller capabilities (``"controller:act"``).  Declare
    ``target="hand"`` (``"state"``, ``"none"``): what it hands the controller.
    A task that trains its controller in every run sets ``TRAINS = True``; one
    that simulates fixed times returns them from ``durations()`` so that a
    plant ``dt`` that does not divide them is refused.
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Register datasets (the data a classifier is fitted to and scored on).

    Calling rule: called once per plugin, on first lookup; all
    implementations run.  A dataset takes the plant's place on the command
    line (``bench run digits snn classify``); its factory builds a
    :class:`bench.api.Dataset`.
    """
