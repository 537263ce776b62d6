"""Provenance: every run records where each component came from, its code and its files; a changed
plugin or weights file is another experiment (a sweep runs it again, compare never matches it)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import bench
import bench.plugins
from bench import provenance
from bench.store import Store

PLUGIN = """
from dataclasses import dataclass

import bench


@dataclass
class PDSettings:
    kp: float = bench.setting(50.0, "joint stiffness", unit="N·m/rad", gt=0)
    kd: float = bench.setting(5.0, "joint damping", unit="N·m·s/rad", ge=0)


class PD(bench.Controller):
    Settings = PDSettings

    def act(self, observation, target):
        nj = self.plant.n_joints
        q, dq = observation[:, :nj], observation[:, nj:]
        return self.settings.kp * (self.plant.inverse_kinematics(target) - q) - self.settings.kd * dq


@bench.hookimpl
def register_controllers(register):
    register("pdprov", "pdprov_plugin:PD", summary="joint PD (provenance test plugin)",
             provides={"act"}, needs={"kinematics"}, accepts={"hand"})
"""

REACH = ["arm2", "reach", "--set", "reach.targets=2", "--seeds", "2", "-j", "1", "-q"]


def _reload(module: str) -> None:
    """What a new process would see: the plugins loaded afresh, the edited module imported again."""
    sys.modules.pop(module, None)
    bench.plugins.reset()


def test_builtin_components_record_distribution_source_and_files(cli):
    code, _, err = cli("run", "arm2", "ahf", "reach", "--dt", "0.01", "--set", "reach.targets=2", "-q",
                       "--db", "p.sqlite")
    assert code == 0, err
    row = Store("p.sqlite").run(1)
    prov = row["provenance"]
    version = bench.runner.versions()["ctrlbench"]
    for role, name in (("plant", "arm2"), ("controller", "ahf"), ("task", "reach")):
        c = prov[role]
        assert (c["name"], c["dist"], c["version"]) == (name, "ctrlbench", version)
        assert c["source"].startswith("sha256:") and len(c["source"]) == 7 + 64
    weights = [f for f in prov["controller"]["files"] if f["path"].endswith(".npz")]
    assert weights and weights[0]["sha256"] == provenance.file_digest(weights[0]["path"])
    assert weights[0]["read"]  # declared, and read during the run (bench.npzfile's log)
    assert len(row["experiment"]) == 64 and row["fingerprint"]
    code, out, _ = cli("show", "1", "--db", "p.sqlite")
    assert code == 0 and "provenance:" in out and "controller 'ahf' from ctrlbench" in out
    assert weights[0]["path"] in out and "(read)" in out
    # the source of a module in a plugin's package is that module and what it imports of the plugin packages
    files = provenance.source_files("bench.plants.arm2", ("bench.plants", "bench.controllers", "bench.tasks"))
    assert "bench.plants/arm2.py" in files and "bench.plants/planar.py" in files
    assert not any(label.startswith("bench.controllers") for label in files)
    ahf = provenance.source_files("bench.controllers.ahf", ("bench.plants", "bench.controllers", "bench.tasks"))
    assert any(label.endswith(".npz") for label in ahf)  # a subpackage: all its files, shipped weights too


def test_a_third_party_plugin_is_recorded_and_an_edit_runs_again_and_is_never_compared_as_equal(
        cli, third_party, tmp_path):
    third_party("pdprov-dist", {"pdprov_plugin": PLUGIN}, {"pdprov": "pdprov_plugin"})
    code, out, err = cli("sweep", "arm2", "pdprov", *REACH[1:], "--db", "s.sqlite")
    assert code == 0 and "2 ok" in out, err
    c = Store("s.sqlite").run(1)["provenance"]["controller"]
    assert (c["dist"], c["version"], c["plugin"]) == ("pdprov-dist", "0.1", "pdprov")
    data = (tmp_path / "site" / "pdprov_plugin.py").read_bytes()  # a single-module plugin: that file
    assert c["source"] == "sha256:" + hashlib.sha256(b"pdprov_plugin.py\0%d\0" % len(data) + data).hexdigest()
    assert "0 ok, 0 failed, 2 skipped" in cli("sweep", "arm2", "pdprov", *REACH[1:], "--db", "s.sqlite")[1]

    # the plugin's controller is edited (its results happen to stay the same): a new experiment
    source = tmp_path / "site" / "pdprov_plugin.py"
    source.write_text(source.read_text().replace("class PD(bench.Controller):",
                                                 "class PD(bench.Controller):\n    '''Edited.'''"))
    _reload("pdprov_plugin")
    code, out, err = cli("sweep", "arm2", "pdprov", *REACH[1:], "--db", "s.sqlite")
    assert code == 0 and "2 ok, 0 failed, 0 skipped" in out, err
    runs = Store("s.sqlite").runs()
    assert len(runs) == 4 and len({r["experiment"] for r in runs}) == 2
    assert len({r["settings_hash"] for r in runs}) == 1  # same settings: only the code differs
    code, out, err = cli("compare", "1,2", "3,4", "--db", "s.sqlite")
    assert code == 0, err
    assert "base only" in out and "head only" in out and "same (noise)" not in out
    assert "provenance differs: controller 'pdprov': source sha256:" in out
    assert "Not compared (provenance differs" in out


def test_a_changed_weights_file_is_another_experiment(cli, tmp_path):
    from bench.controllers.ahf import checkpoints

    shipped = next(f for f in provenance.declared_files(bench.controller("ahf")) if f["path"].endswith(".npz"))
    arrays, meta = checkpoints.read_weights(shipped["path"])
    weights = checkpoints.write_weights(tmp_path / "w.npz", arrays, meta)
    args = ["sweep", "arm2", "ahf", "reach", "--dt", "0.01", "--set", f"ahf.weights={weights}", "--set",
            "reach.targets=2", "--seeds", "1", "-j", "1", "-q", "--db", "w.sqlite"]
    assert "1 ok" in cli(*args)[1]
    assert "1 skipped" in cli(*args)[1]
    arrays["W"] = arrays["W"] * 1.001  # retrained weights under the same file name
    checkpoints.write_weights(weights, arrays, meta)
    code, out, err = cli(*args)
    assert code == 0 and "1 ok, 0 failed, 0 skipped" in out, err
    a, b = (Store("w.sqlite").run(i) for i in (1, 2))
    assert a["settings_hash"] == b["settings_hash"] and a["experiment"] != b["experiment"]
    fa, fb = (r["provenance"]["controller"]["files"][0] for r in (a, b))
    assert fa["path"] == fb["path"] == str(weights.resolve()) and fa["sha256"] != fb["sha256"]
    # verify names what changed, and the metrics differ (the weights do)
    code, out, _ = cli("verify", "1", "--db", "w.sqlite", "--timing-tolerance", "off")
    assert code == 1 and f"controller 'ahf': file {weights.resolve()} changed" in out and "MISMATCH" in out
    code, out, _ = cli("compare", "1", "2", "--db", "w.sqlite")
    assert code == 0 and "head only" in out and "changed" in out


def test_keys_depend_on_what_they_claim():
    comps = {"plant": {"dist": "ctrlbench", "version": "1", "source": "sha256:a", "files": []},
             "controller": {"dist": "x", "version": "0.1", "source": "sha256:b",
                            "files": [{"path": "/w.npz", "sha256": "sha256:c"}]},
             "task": {"dist": "ctrlbench", "version": "1", "source": "sha256:d", "files": []}}
    key = provenance.experiment_key("arm2", "x", "reach", "h", "0.1+abc", comps)
    fp = provenance.fingerprint(comps)

    def changed(role: str, **what) -> dict:
        out = json.loads(json.dumps(comps))
        out[role].update(what)
        return out

    for other in (changed("controller", version="0.2"), changed("controller", source="sha256:e"),
                  changed("controller", files=[{"path": "/w.npz", "sha256": "sha256:f"}])):
        assert provenance.experiment_key("arm2", "x", "reach", "h", "0.1+abc", other) != key
        assert provenance.fingerprint(other) != fp
    # ctrlbench's own code is what a comparison measures: its source changes the key, not the fingerprint
    own = changed("task", source="sha256:z")
    assert provenance.experiment_key("arm2", "x", "reach", "h", "0.1+abc", own) != key
    assert provenance.fingerprint(own) == fp
    assert provenance.experiment_key("arm2", "x", "reach", "h", "0.1+def", comps) != key
    # a moved file with the same bytes is the same experiment
    moved = changed("controller", files=[{"path": "/elsewhere/w.npz", "sha256": "sha256:c"}])
    assert provenance.experiment_key("arm2", "x", "reach", "h", "0.1+abc", moved) == key


def test_files_read_but_not_declared_are_recorded(tmp_path):
    from bench.npzfile import read_npz, recording, write_npz

    f = write_npz(tmp_path / "extra.npz", {"a": np.arange(3)})
    prov = {"controller": {"files": []}}
    with recording() as reads:
        read_npz(f, "test file")
    read_npz(f, "test file")  # outside the block: not recorded
    provenance.add_reads(prov, reads)
    assert prov["read"] == [{"path": str(f.resolve()), "sha256": provenance.file_digest(f)}]


class Still(bench.Controller):
    def act(self, observation, target):
        return np.zeros((observation.shape[0], 2))


def test_a_runtime_plugin_is_recorded_as_runtime(fresh_plugins):
    plugin = types.ModuleType("stillplug")
    plugin.Still = Still
    exec("import bench\n@bench.hookimpl\ndef register_controllers(register):\n"
         "    register('still', Still, summary='', provides={'act'}, accepts={'hand'})\n", plugin.__dict__)
    bench.register_plugin(plugin, "stillplug")
    c = provenance.component("controller", bench.controller("still"))
    assert (c["dist"], c["version"], c["plugin"]) == ("runtime", None, "stillplug")
    data = Path(__file__).read_bytes()  # the factory's module: this test file
    assert c["source"] == "sha256:" + hashlib.sha256(f"{Path(__file__).name}\0{len(data)}\0".encode()
                                                     + data).hexdigest()


def test_the_store_keeps_one_row_per_experiment_and_seed(tmp_path):
    store = Store(tmp_path / "u.sqlite")
    r = bench.run(bench.plant("arm2"), bench.controller("osc"), bench.task("reach", targets=2), seed=1)
    first = store.save(r)
    again = store.save(r)  # the same experiment and seed again: replaced in place
    assert first == again and store.count() == 1
    with sqlite3.connect(tmp_path / "u.sqlite") as con, pytest.raises(sqlite3.IntegrityError):
        con.execute("INSERT INTO runs (experiment, plant, controller, task, seed, settings, settings_hash, status, "
                    "started_at) SELECT experiment, plant, controller, task, seed, settings, settings_hash, status, "
                    "started_at FROM runs")
    assert Path(tmp_path / "u.sqlite").exists()
