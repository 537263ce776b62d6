"""Plugin loading: built-ins, entry points, broken plugins, duplicates, environment switches."""

from __future__ import annotations

import subprocess
import sys

import pytest

import bench
from bench.errors import DuplicateName, Incompatible, Unavailable, UnknownName
from bench.plugins import DEFAULT_PLUGINS, Host, PluginWarning
from bench.registry import Spec, check_compatible

GOOD = """
import bench

class Ctl(bench.Controller):
    def act(self, observation, target):
        return observation[:, :2] * 0.0

@bench.hookimpl
def register_controllers(register):
    register("zero", "goodplug:Ctl", summary="does nothing", provides={"act"})
"""


def test_builtins_register_through_the_hooks():
    h = Host()
    h.load_defaults()
    assert set(DEFAULT_PLUGINS) <= set(h.plugins)
    assert all(p.source == "builtin" and p.error is None for p in h.plugins.values())
    assert "arm2" in h.registry.names("plant")
    assert "osc" in h.registry.names("controller")
    assert "reach" in h.registry.names("task")
    assert h.registry.get("controller", "osc").plugin == "bench.controllers"


def test_example_plugin_is_found_through_its_entry_point():
    h = Host()
    h.load_defaults()
    h.load_entry_points()
    spec = h.registry.get("controller", "pd")
    assert spec.plugin == "example" and h.plugins["example"].source.startswith("bench-example")


def test_third_party_entry_point_loads(third_party):
    third_party("goodplug-dist", {"goodplug": GOOD}, {"good": "goodplug"})
    assert "zero" in bench.registry().names("controller")
    ctl = bench.controller("zero")
    assert ctl.name == "zero"


def test_broken_plugin_warns_once_and_others_still_load(third_party):
    third_party("brokenplug-dist", {"brokenplug": "raise ImportError('no module named shiny')"}, {"broken": "brokenplug"})
    third_party("raiser-dist", {"raiser": """
import bench
@bench.hookimpl
def register_plants(register):
    register("half", "raiser:X")
    raise RuntimeError("hook exploded")
"""}, {"raiser": "raiser"})
    third_party("goodplug-dist", {"goodplug": GOOD}, {"good": "goodplug"})
    with pytest.warns(PluginWarning) as record:
        reg = bench.registry()
    messages = [str(w.message) for w in record]
    assert any("'broken'" in m and "no module named shiny" in m for m in messages)
    assert any("'raiser'" in m and "hook exploded" in m for m in messages)
    assert len(messages) == 2
    assert "zero" in reg.names("controller") and "osc" in reg.names("controller")
    assert "half" not in reg.names("plant")  # a plugin whose hook raised contributes nothing


def test_two_plugins_with_one_name_is_an_error_naming_both(third_party):
    third_party("dup-dist", {"dupplug": """
import bench
@bench.hookimpl
def register_controllers(register):
    register("osc", "dupplug:X", provides={"act"})
"""}, {"dup": "dupplug"})
    with pytest.raises(DuplicateName) as e:
        bench.registry()
    assert "'bench.controllers'" in str(e.value) and "'dup'" in str(e.value)


def test_autoload_can_be_disabled_or_limited(third_party, monkeypatch):
    third_party("goodplug-dist", {"goodplug": GOOD}, {"good": "goodplug"})
    monkeypatch.setenv("BENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    h = Host()
    h.load_defaults()
    h.load_entry_points()
    assert "zero" not in h.registry.names("controller") and "osc" in h.registry.names("controller")
    monkeypatch.setenv("BENCH_PLUGINS", "good")
    h = Host()
    h.load_entry_points()
    assert h.registry.names("controller") == ["zero"]  # pd (example) not named, so not loaded


def test_unknown_names_suggest_the_closest():
    with pytest.raises(UnknownName, match="did you mean 'osc'"):
        bench.controller("osx")
    with pytest.raises(UnknownName, match="did you mean 'arm2'"):
        bench.plant("arm22")
    with pytest.raises(KeyError):  # builtin parent
        bench.task("rach")


def test_unavailable_spec_says_which_extra_installs_it():
    spec = Spec("ghost", "ghostmod:G", extra="tf", requires=("surely_not_installed_mod",), kind="controller")
    assert not spec.available()
    with pytest.raises(Unavailable, match=r"install ctrlbench\[tf\]"):
        spec.load()


def test_incompatible_combination_is_refused_before_anything_runs():
    reg = bench.registry()
    cart = Spec("cart", "m:C", provides=frozenset({"dynamics"}), kind="plant")
    with pytest.raises(Incompatible, match="task 'reach' needs a plant with 'kinematics'"):
        check_compatible(cart, reg.get("controller", "osc"), reg.get("task", "reach"))
    learnless = Spec("c", "m:C", provides=frozenset(), kind="controller")
    with pytest.raises(Incompatible, match="needs a controller that can 'act'"):
        check_compatible(reg.get("plant", "arm2"), learnless, reg.get("task", "reach"))


def test_bench_list_is_fast_and_imports_no_tensorflow():
    code = ("import sys, time; t = time.perf_counter(); from bench.cli import main; main(['list']); "
            "print('TF' if 'tensorflow' in sys.modules else 'noTF', time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    flag = out.split()[-2]
    assert flag == "noTF"
    assert "pd" in out and "osc" in out


def test_cartpole_snn_reach_is_refused_with_every_reason(cli):
    code, _, err = cli("run", "cartpole", "snn", "reach")
    assert code == 2
    assert "needs a controller that can 'act'; 'snn' provides classify" in err
    assert "needs a plant with 'kinematics'; plant 'cartpole' provides" in err
    assert len(err.strip().splitlines()) == 1
