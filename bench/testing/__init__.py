"""Conformance checks for plugins, in the spirit of Gymnasium's ``check_env``.

:func:`check_plant`, :func:`check_controller`, :func:`check_learner`,
:func:`check_task` and :func:`check_dataset` exercise a component through
the :mod:`bench.api` contract and raise :class:`~bench.errors.ConformanceError`
naming the first broken rule.  A component built by :func:`bench.build`
carries its registration (``.spec``); it must then also satisfy the Protocol
of every token it ``provides`` (:mod:`bench.capabilities`).

Installed as a pytest plugin (entry point ``pytest11``), so a third-party
package's tests can use the fixtures ``bench_check_plant``,
``bench_check_controller``, ``bench_check_learner``, ``bench_check_task``
and ``bench_check_dataset``::

    def test_my_controller(bench_check_controller):
        bench_check_controller(bench.controller("mine"), bench.plant("arm2"))

    def test_my_learner(bench_check_learner):
        bench_check_learner(bench.controller("mylearner"), bench.plant("cartpole"), bench.task("balance"))

The learner and task checks train with the smallest budget the settings
allow (:func:`smallest_budget`), so they take seconds, not minutes.
"""

from __future__ import annotations

from .common import BUDGET_SETTINGS, TIME_UNITS, smallest_budget
from .controllers import check_controller, check_learner
from .plants import check_plant
from .tasks import check_dataset, check_task

__all__ = [
    "BUDGET_SETTINGS",
    "TIME_UNITS",
    "check_controller",
    "check_dataset",
    "check_learner",
    "check_plant",
    "check_task",
    "smallest_budget",
]


# -- pytest plugin -----------------------------------------------------------
try:
    import pytest
except ImportError:  # pragma: no cover - pytest is optional at run time
    pytest = None

if pytest is not None:

    @pytest.fixture
    def bench_check_plant():
        """:func:`bench.testing.check_plant`."""
        return check_plant

    @pytest.fixture
    def bench_check_controller():
        """:func:`bench.testing.check_controller`."""
        return check_controller

    @pytest.fixture
    def bench_check_learner():
        """:func:`bench.testing.check_learner`."""
        return check_learner

    @pytest.fixture
    def bench_check_task():
        """:func:`bench.testing.check_task`."""
        return check_task

    @pytest.fixture
    def bench_check_dataset():
        """:func:`bench.testing.check_dataset`."""
        return check_dataset
