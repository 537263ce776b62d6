"""The TensorFlow / NengoDL import shim: legacy Keras, the keras.engine aliases, lazy imports."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

if importlib.util.find_spec("nengo_dl") is None:  # importing it directly would fail (see tfcompat)
    pytest.skip("needs ctrlbench[tf]", allow_module_level=True)

from bench.controllers import tfcompat


def test_importing_snn_modules_does_not_import_tensorflow():
    code = ("import sys, bench; import bench.controllers.snn, bench.controllers.snn.model, "
            "bench.controllers.snn.training, bench.tasks.classify, bench.datasets; "
            "bench.registry().get('controller', 'snn'); "
            "assert 'tensorflow' not in sys.modules and 'nengo_dl' not in sys.modules, "
            "sorted(m for m in sys.modules if m.startswith(('tensorflow', 'nengo_dl')))[:5]")
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_nengo_dl_imports_with_legacy_keras_and_cleans_up():
    nengo_dl = tfcompat.nengo_dl()
    tf = tfcompat.tensorflow()
    assert os.environ["TF_USE_LEGACY_KERAS"] == "1"
    assert tf.keras.__name__.startswith("tf_keras")
    assert nengo_dl is tfcompat.nengo_dl() is sys.modules["nengo_dl"]
    assert hasattr(nengo_dl, "Converter") and hasattr(nengo_dl, "Simulator")
    # the aliases existed only while NengoDL imported
    for name in tfcompat.KERAS2_ALIASES:
        assert not (name in sys.modules and sys.modules[name].__name__.startswith("tf_keras"))
    # NengoDL's compat layer holds the tf_keras classes
    from tf_keras.src.engine.functional import Functional

    assert nengo_dl.compat.Functional is Functional


def test_converter_fit_predict_with_probe_loss_and_scaling():
    """Converter + fit + predict + a second probe's loss + scale_firing_rates work on this stack."""
    import nengo

    nengo_dl, tf = tfcompat.nengo_dl(), tfcompat.tensorflow()
    tf.random.set_seed(0)
    inp = tf.keras.Input((4,))
    hidden = tf.keras.layers.Dense(16, activation=tf.nn.relu)(inp)
    out = tf.keras.layers.Dense(2)(hidden)
    model = tf.keras.Model(inp, out)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 4)).astype(np.float32)
    y = (x[:, :, 0] > 0).astype(np.int64)[..., None]
    conv = nengo_dl.Converter(model, swap_activations={tf.nn.relu: nengo.RectifiedLinear()})
    with conv.net:
        rates = nengo.Probe(conv.layers[hidden._keras_history.layer])
    p_out = conv.outputs[out._keras_history.layer]
    with nengo_dl.Simulator(conv.net, minibatch_size=16, progress_bar=False, seed=0) as sim:
        sim.compile(optimizer=tf.optimizers.RMSprop(1e-2),
                    loss={p_out: tf.losses.SparseCategoricalCrossentropy(from_logits=True),
                          rates: tf.losses.mse})
        hist = sim.fit({conv.inputs[inp._keras_history.layer]: x},
                       {p_out: y, rates: np.zeros((64, 1, 16), np.float32)}, epochs=8, verbose=0)
        assert hist.history["loss"][-1] < hist.history["loss"][0]
        pred = sim.predict({conv.inputs[inp._keras_history.layer]: x}, verbose=0)
    assert pred[p_out].shape == (64, 1, 2) and pred[rates].shape == (64, 1, 16)
    spiking = nengo_dl.Converter(model, swap_activations={tf.nn.relu: nengo.SpikingRectifiedLinear()},
                                 scale_firing_rates=50, synapse=0.005)
    ens = list(spiking.net.all_ensembles)
    assert len(ens) == 1 and ens[0].neuron_type.amplitude == pytest.approx(1 / 50)


QUIET_CODE = ("from bench.controllers import tfcompat; tf = tfcompat.tensorflow(); tfcompat.nengo_dl(); "
              "print(float(tf.reduce_sum(tf.constant([1.0, 2.0]) * 2)))")


@pytest.mark.slow
def test_tensorflow_says_nothing_on_stderr_unless_verbose():
    """absl's "All log messages before absl::InitializeLog()", oneDNN, CUDA and cuInit lines are written by
    C++ to file descriptor 2 before any log level applies; tfcompat filters them out (even with
    TF_CPP_MIN_LOG_LEVEL=2 set), and BENCH_VERBOSE (bench -v) lets them through."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_USE_LEGACY_KERAS", tfcompat.VERBOSE_ENV)}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    quiet = subprocess.run([sys.executable, "-c", QUIET_CODE], capture_output=True, text=True, env=env,
                           timeout=300, check=False)
    assert quiet.returncode == 0 and quiet.stdout.strip() == "6.0", quiet.stderr[-2000:]
    assert quiet.stderr == ""
    loud = subprocess.run([sys.executable, "-c", QUIET_CODE.replace(" tfcompat.nengo_dl();", "")],
                          capture_output=True, text=True,
                          env={**env, tfcompat.VERBOSE_ENV: "1"}, timeout=300, check=False)
    assert loud.returncode == 0 and loud.stdout.strip() == "6.0", loud.stderr[-2000:]
    assert any(tfcompat.NOISE.match(line) for line in loud.stderr.splitlines(keepends=True)), loud.stderr[-2000:]


def test_the_noise_filter_keeps_everything_else():
    kept = [line for line in [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        "I0000 00:00:1796193407.092206   20990 port.cc:153] oneDNN custom operations are on.\n",
        "E0000 00:00:1796193412.838628   20990 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n",
        "Traceback (most recent call last):\n",
        "UserWarning: something a user should see\n",
    ] if not tfcompat.NOISE.match(line)]
    assert kept == ["Traceback (most recent call last):\n", "UserWarning: something a user should see\n"]
