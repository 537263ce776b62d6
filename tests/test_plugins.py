"""Plugin loading: built-ins, entry points, broken plugins, name clashes, hook typos, environment switches."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

import bench
import bench.plugins
from bench.errors import Incompatible, Unavailable, UnknownName
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
    third_party("brokenplug-dist", {"brokenplug": "raise ImportError('no module named shiny')"},
                {"broken": "brokenplug"})
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


CLASH = """
import bench

class Ctl(bench.Controller):
    def act(self, observation, target):
        return observation[:, :2] * 0.0

@bench.hookimpl
def register_controllers(register):
    register("osc", "dupplug:Ctl", provides={"act"})            # a built-in's name
    register("shared", "dupplug:Ctl", provides={"act"})         # also registered by plugin 'other'
    register("twice", "dupplug:Ctl", summary="first", provides={"act"})
    register("twice", "dupplug:Ctl", summary="second", provides={"act"})
    register("dupzero", "dupplug:Ctl", provides={"act"})        # no clash: works

@bench.hookimpl
def register_plants(register):
    register("arm2", "dupplug:Ctl")                             # a built-in's name, another kind
"""

OTHER = """
import bench

class Ctl(bench.Controller):
    def act(self, observation, target):
        return observation[:, :2] * 0.0

@bench.hookimpl
def register_controllers(register):
    register("shared", "otherplug:Ctl", provides={"act"})
    register("otherzero", "otherplug:Ctl", provides={"act"})
"""


def test_a_name_clash_disables_only_the_later_component_and_every_clash_is_reported(third_party, cli):
    third_party("dup-dist", {"dupplug": CLASH}, {"dup": "dupplug"})
    third_party("other-dist", {"otherplug": OTHER}, {"other": "otherplug"})
    with pytest.warns(PluginWarning) as record:
        h = bench.plugins.host()
    messages = [str(w.message) for w in record]
    assert len(messages) == 4, messages  # osc, arm2, shared, twice: one warning each
    osc = next(m for m in messages if "'osc'" in m)
    assert "plugin 'dup' (dup-dist 0.1)" in osc and "plugin 'bench.controllers' (builtin)" in osc
    assert "disabled" in osc
    assert any("plant 'arm2'" in m and "'bench.plants' (builtin)" in m for m in messages)
    shared = next(m for m in messages if "'shared'" in m)
    assert "(dup-dist 0.1)" in shared and "(other-dist 0.1)" in shared
    assert any("'twice' twice" in m and "first registration is kept" in m for m in messages)
    reg = h.registry
    assert reg.get("controller", "osc").plugin == "bench.controllers"
    assert reg.get("plant", "arm2").plugin == "bench.plants"
    assert reg.get("controller", "twice").summary == "first"
    first = next(n for n in h.plugins if n in ("dup", "other"))  # entry-point order decides who owns 'shared'
    assert reg.get("controller", "shared").plugin == first
    assert {"dupzero", "otherzero", "pd", "osc", "shared", "twice"} <= set(reg.names("controller"))
    later = h.plugins["other" if first == "dup" else "dup"]
    assert [s.name for s in later.disabled if s.name == "shared"] == ["shared"]
    assert type(bench.controller("osc")).__module__.startswith("bench.controllers")
    assert bench.controller("dupzero").name == "dupzero" and bench.controller("otherzero").name == "otherzero"
    # every command still works, and `bench list` shows what was disabled
    code, out, _ = cli("list")
    assert code == 0 and "dupzero" in out and "otherzero" in out
    assert sum("warning:" in line and "disabled" in line for line in out.splitlines()) == 3
    code, _, err = cli("run", "arm2", "osc", "reach", "--set", "reach.targets=2", "--db", "x.sqlite")
    assert code == 0, err
    code, _, err = cli("run", "arm2", "dupzero", "reach", "--set", "reach.targets=2", "--db", "x.sqlite")
    assert code == 0, err


def test_hook_typos_and_unmarked_hooks_warn_naming_the_plugin(third_party, cli):
    third_party("typo-dist", {"typoplug": """
import bench
from bench import register_plugin  # imported, not this plugin's own: no warning

class Ctl(bench.Controller):
    def act(self, observation, target):
        return observation[:, :2] * 0.0

@bench.hookimpl
def register_controller(register):      # typo: no such hook
    register("never1", "typoplug:Ctl", provides={"act"})

def register_plants(register):          # a hook's name, but no marker
    register("never2", "typoplug:Ctl")

def register_task(register):            # neither marked nor a hook
    register("never3", "typoplug:Ctl")

@bench.hookimpl(specname="register_taskz")
def add_tasks(register):                # marked, under a specname that is no hook
    register("never4", "typoplug:Ctl")

def _register_helper():                 # a private helper: fine
    pass

@bench.hookimpl
def register_controllers(register):     # the one that works
    register("fine", "typoplug:Ctl", provides={"act"})
"""}, {"typo": "typoplug"})
    with pytest.warns(PluginWarning) as record:
        reg = bench.registry()
    messages = [str(w.message) for w in record]
    assert len(messages) == 4, messages
    assert all(m.startswith("plugin 'typo' (typo-dist 0.1)") for m in messages)
    by_fn = {name: next(m for m in messages if f"'{name}'" in m)
             for name in ("register_controller", "register_plants", "register_task", "register_taskz")}
    assert "matches no hook specification" in by_fn["register_controller"]
    assert "did you mean 'register_controllers'?" in by_fn["register_controller"]
    assert "lacks the @bench.hookimpl marker" in by_fn["register_plants"]
    assert "lacks the @bench.hookimpl marker" in by_fn["register_task"]
    assert "did you mean 'register_tasks'?" in by_fn["register_task"]
    assert "function 'add_tasks'" in by_fn["register_taskz"] and "'register_tasks'?" in by_fn["register_taskz"]
    assert "fine" in reg.names("controller")
    assert not {"never1", "never3", "never4"} & set(reg.names("controller") + reg.names("task"))
    assert "never2" not in reg.names("plant")
    code, out, _ = cli("list")
    assert code == 0 and sum(line.startswith("warning: plugin 'typo'") for line in out.splitlines()) == 4


def test_builtins_and_the_example_plugin_load_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)
        h = Host()
        h.load_defaults()
        h.load_entry_points()
    assert all(not p.problems and not p.disabled for p in h.plugins.values())


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
