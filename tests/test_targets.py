"""Issue 11, item 5: the target contract.

A task declares what it hands the controller as ``target`` (``"hand"``,
``"state"``, ``"none"``); a controller declares what it ``accepts``.
``check_compatible`` refuses a wrong pairing before anything runs, in one
line; ``bench list -v`` shows provides, needs and target kinds.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from bench.errors import Incompatible, PluginError
from bench.plugins import host, registry
from bench.registry import ContractWarning, check_compatible, make_spec
from bench.store import Store

SWING = """
import numpy as np
import bench


class SwingUp(bench.Task):
    '''Drive the arm to a joint-space state target (n, S): q = (pi, 0), at rest.'''

    METRICS = {"final_error": bench.Metric("rad", "lower")}

    def run(self, plant, controller, seed, *, workdir=None):
        n = 4
        x = np.tile(plant.start_state, (n, 1))
        goal = np.tile(np.r_[np.pi, 0.0, 0.0, 0.0], (n, 1))
        controller.reset(n, np.random.default_rng(seed))
        for _ in range(50):
            x = plant.step(x, controller.act(plant.observation(x), goal))
        return self.result({"final_error": float(np.abs(x - goal)[:, :2].mean())})


class JointPD(bench.Controller):
    def act(self, observation, target):
        nj = self.plant.n_joints
        return 20 * (target[:, :nj] - observation[:, :nj]) - 5 * observation[:, nj:]


@bench.hookimpl
def register_tasks(register):
    register("swingup", "swingplug:SwingUp", needs={"kinematics", "controller:act"})
    register("swingup-state", "swingplug:SwingUp", needs={"kinematics", "controller:act"}, target="state")


@bench.hookimpl
def register_controllers(register):
    register("jointpd", "swingplug:JointPD", provides={"act"}, needs={"kinematics"}, accepts={"state"})
    register("legacy", "swingplug:JointPD", provides={"act"}, needs={"kinematics"})
"""


@pytest.fixture
def swing(third_party):
    third_party("swing-dist", {"swingplug": SWING}, {"swing": "swingplug"})


def test_osc_on_an_undeclared_plugin_task_is_refused_in_one_line(swing, cli):
    code, _, err = cli("run", "arm2", "osc", "swingup")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert ("task 'swingup' (plugin 'swing') declares no target kind (register it with target='hand', 'state' "
            "or 'none'); controller 'osc' reads hand targets and would misread any other") in err
    assert not Path(".bench/results.sqlite").exists() or Store(".bench/results.sqlite").count() == 0


def test_a_declared_state_target_is_refused_for_a_hand_controller_and_runs_with_a_state_one(swing, cli):
    code, _, err = cli("run", "arm2", "osc", "swingup-state")
    assert code == 2
    assert "task 'swingup-state' hands the controller a 'state' target; controller 'osc' accepts 'hand' targets" in err
    code, _, err = cli("run", "arm2", "jointpd", "reach", "--set", "reach.targets=2")
    assert code == 2 and "hands the controller a 'hand' target; controller 'jointpd' accepts 'state'" in err
    code, out, err = cli("run", "arm2", "jointpd", "swingup-state")
    assert code == 0, err
    assert "final_error" in out


def test_sweeps_list_the_wrong_pairings_as_refused(swing, cli):
    code, out, err = cli("sweep", "arm2", "osc,jointpd", "swingup-state", "--db", "s.sqlite", "-j", "1", "-q")
    assert code == 0, err
    assert "1 combination(s) refused" in out and "refused: cannot run arm2 osc swingup-state" in err


def test_an_undeclared_controller_on_a_declared_task_runs_with_one_warning(swing):
    reg = registry()
    with pytest.warns(ContractWarning, match=r"controller 'legacy' \(plugin 'swing'\) declares no accepted targets"):
        check_compatible(reg.get("plant", "arm2"), reg.get("controller", "legacy"), reg.get("task", "swingup-state"))
    with pytest.warns(ContractWarning, match="task 'swingup'.* declares no target kind.*controller 'legacy'"):
        check_compatible(reg.get("plant", "arm2"), reg.get("controller", "legacy"), reg.get("task", "swingup"))


def test_the_built_ins_declare_their_contract():
    reg = registry()
    builtin = {name for name, p in host().plugins.items() if p.source == "builtin"}
    targets = {t.name: t.target for t in reg.specs("task") if t.plugin in builtin}
    assert targets.items() >= {"reach": "hand", "balance": "none", "classify": "none"}.items()
    accepts = {c.name: c.accepts for c in reg.specs("controller") if c.plugin in builtin}
    assert accepts["osc"] == accepts["ahf"] == {"hand"}
    assert accepts["pg"] == accepts["npg"] == accepts["snn"] == {"none"}
    assert None not in targets.values() and None not in accepts.values()  # every built-in declares
    if ("controller", "pd") in reg:  # the example plugin, when installed
        assert reg.get("controller", "pd").accepts == {"hand"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_compatible(reg.get("plant", "arm2"), reg.get("controller", "osc"), reg.get("task", "reach"))
    with pytest.raises(Incompatible, match="'none' target; controller 'osc' accepts 'hand'"):
        from bench.registry import Spec

        check_compatible(reg.get("plant", "arm2"), reg.get("controller", "osc"),
                         make_spec("task", "t", Spec("free", "m:a", needs={"kinematics"}, target="none")))


@pytest.mark.parametrize("kind, kwargs, fragment", [
    ("task", {"target": "hnad"}, "unknown target kind 'hnad'; did you mean 'hand'?"),
    ("controller", {"accepts": {"hand", "joint"}}, "unknown target kind 'joint'"),
    ("controller", {"target": "hand"}, "target= is declared by tasks"),
    ("task", {"accepts": {"hand"}}, "accepts= is declared by controllers"),
    ("controller", {"accepts": set()}, "names no target kind"),
])
def test_a_bad_declaration_is_a_plugin_error(kind, kwargs, fragment):
    with pytest.raises(PluginError, match=fragment):
        make_spec(kind, "p", "x", "m:a", **kwargs)


def test_a_string_accepts_is_one_kind():
    assert make_spec("controller", "p", "x", "m:a", accepts="hand").accepts == {"hand"}


def test_bench_list_verbose_shows_provides_needs_and_target_kinds(cli):
    code, out, _ = cli("list", "-v")
    assert code == 0
    lines = out.splitlines()

    def after(name: str) -> str:
        i = next(i for i, line in enumerate(lines) if line.split()[:1] == [name])
        return lines[i + 1]

    assert after("reach").split() == ["provides:", "-;", "needs:", "controller:act,", "kinematics;", "target:",
                                      "hand"]
    assert "target: none; trains its controller in every run" in after("balance")
    assert after("osc").strip() == "provides: act; needs: kinematics; accepts: hand"
    assert after("ahf").strip() == "provides: act, learn; needs: dynamics, kinematics; accepts: hand"
    assert "provides: dynamics, jacobians, kinematics" in after("arm2")
    assert any("ahf.iterations: int = 300" in line and line.endswith("(training only)") for line in lines)
    assert not any("ahf.hidden:" in line and "(training only)" in line for line in lines)
