"""The ``snn`` classifier and the ``classify`` task on digits (real TensorFlow / NengoDL runs).

One default network is trained once per session (tests/conftest.py; the
task's own training cache makes the later runs reuse it); every spiking check runs on it.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import bench
from bench.errors import CheckpointError, InvalidArgument, SettingError
from bench.tasks.classify import settle_step, stays_correct_from

HAVE_TF = importlib.util.find_spec("nengo_dl") is not None
tf_only = pytest.mark.skipif(not HAVE_TF, reason="needs ctrlbench[tf]")


# -- pure helpers (no TensorFlow) ------------------------------------------------

def test_stays_correct_from():
    correct = np.array([[1, 1, 1, 1], [0, 1, 0, 1], [0, 0, 1, 1], [1, 1, 1, 0]], bool)
    got = stays_correct_from(correct)
    assert got[:3].tolist() == [1, 4, 3] and np.isnan(got[3])


def test_settle_step():
    assert settle_step(np.array([0.1, 0.5, 0.9, 0.955, 0.96]), 0.01) == 4
    assert settle_step(np.array([0.5, 0.5]), 0.0) == 1


def test_conv_fan_out_matches_brute_force():
    from bench.controllers.snn.model import conv_fan_out

    for size, k, stride, pad in [(8, 3, 1, "valid"), (7, 3, 2, "same"), (10, 4, 3, "same"), (5, 5, 1, "valid")]:
        got = conv_fan_out(size, k, stride, pad)
        n_out = (size - k) // stride + 1 if pad == "valid" else -(-size // stride)
        before = 0 if pad == "valid" else max((n_out - 1) * stride + k - size, 0) // 2
        want = np.zeros(size, int)
        for o in range(n_out):
            for j in range(k):
                i = o * stride - before + j
                if 0 <= i < size:
                    want[i] += 1
        assert got.tolist() == want.tolist(), (size, k, stride, pad)


# -- real runs ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def cache_dir(snn_cache_dir, trained_snn):
    """The training cache, holding the trained default network."""
    return snn_cache_dir


@pytest.fixture(scope="module")
def data(digits):
    return digits


@pytest.fixture(scope="module")
def trained(trained_snn):
    """The default network trained on digits seed 0 (tests/conftest.py: once per session, shared with
    the benchmarks; the cache is filled for later tests)."""
    return trained_snn


@tf_only
def test_rate_mode_target_and_training_time(trained, data):
    rate_acc = np.mean(trained.predict_rate(data[2]).argmax(-1) == data[3])
    assert rate_acc >= 0.96
    assert trained.train_info["loss"][-1] < trained.train_info["loss"][0]


@tf_only
def test_training_is_cached_and_reused(trained, data, cache_dir):
    again = bench.controller("snn", cache_dir=str(cache_dir), scale_firing_rates=7, synapse=0.002, n_steps=3)
    info = again.fit(data[0], data[1], rng=np.random.default_rng(0))
    assert info["cached"] and info["key"] == trained.train_info["key"]
    np.testing.assert_array_equal(again.predict_rate(data[2][:20]), trained.predict_rate(data[2][:20]))
    other = bench.controller("snn", cache_dir=str(cache_dir), epochs=29)
    assert other.training_key(data[0], data[1], 5) != again.training_key(data[0], data[1], 5)
    # the cache holds an npz without pickled objects and a JSON sidecar
    path = cache_dir / f"snn-{info['key']}.npz"
    with np.load(path, allow_pickle=False) as f:
        assert set(f.files) == {"conv/kernel", "conv/bias", "output/kernel", "output/bias"}
    assert json.loads(path.with_suffix(".json").read_text())["architecture"]["conv/kernel"] == [3, 3, 1, 32]


@tf_only
def test_spiking_at_high_scale_and_long_presentation_matches_rate(trained, data):
    x = data[2][:60]
    rate = trained.predict_rate(x)
    trained.settings.scale_firing_rates, trained.settings.synapse = 1000.0, 0.02
    try:
        out = trained.predict(x, 250)
    finally:
        trained.settings.scale_firing_rates, trained.settings.synapse = 300.0, 0.01
    late = out[:, -50:].mean(axis=1)
    assert np.mean(late.argmax(-1) == rate.argmax(-1)) >= 0.97
    assert np.abs(late - rate).mean() < 0.1 * np.abs(rate).mean()


@tf_only
def test_default_spiking_within_one_point_at_30_steps(trained, data):
    run = trained.simulate(data[2], 30)
    rate_acc = np.mean(trained.predict_rate(data[2]).argmax(-1) == data[3])
    spiking_acc = np.mean(run.outputs[:, -1].argmax(-1) == data[3])
    assert spiking_acc >= rate_acc - 0.01, (spiking_acc, rate_acc)
    # operation counts: every conv spike reaches the 10 output units
    n = len(data[2])
    assert run.ac_ops == pytest.approx(run.spikes_per_neuron["conv"].sum() / n * 10)
    assert run.ac_per_step.shape == (30,) and run.ac_per_step.sum() == pytest.approx(run.ac_ops)
    # the same trained network and seed give the same spikes (initial voltages are seeded)
    np.testing.assert_array_equal(trained.predict(data[2][:40], 30), run.outputs[:40])


@tf_only
def test_raw_conversion_collapses_and_the_metrics_show_it(cache_dir):
    """Scale 1, no synapse: neurons barely fire (< 1 Hz) and accuracy falls to chance level."""
    result = bench.run(bench.plant("digits"),
                       bench.controller("snn", cache_dir=str(cache_dir), scale_firing_rates=1, synapse=0, n_steps=30),
                       bench.task("classify", plots=False), seed=0)
    m = result.metrics
    assert m["train_cached"] == 1.0 and m["rate_accuracy"] >= 0.96
    assert m["spiking_accuracy"] < 0.4 and m["rate_hz_mean"] < 1.0
    assert m["silent_fraction"] > 0.5 and m["sparsity_spiking"] > 0.99
    assert m["synops_dense"] == 6 * 6 * 32 * 9 + 6 * 6 * 32 * 10  # conv MACs + dense MACs of one pass


@pytest.mark.slow
@tf_only
def test_classify_task_auto_metrics_frames_and_plots(cache_dir, tmp_path):
    task = bench.task("classify", auto=True, auto_steps=(5, 10, 20, 30, 60))
    result = bench.run(bench.plant("digits"), bench.controller("snn", cache_dir=str(cache_dir)), task,
                       seed=0, workdir=tmp_path)
    m, curve = result.metrics, result.frames["accuracy"]
    assert m["n_steps"] == 60 and len(curve) == 60
    assert m["spiking_accuracy"] == pytest.approx(curve["accuracy"].iloc[-1])
    ok = [t for t in (5, 10, 20, 30, 60) if curve["accuracy"].iloc[t - 1] >= m["rate_accuracy"] - 0.01]
    assert ok and m["auto_n_steps"] == ok[0] <= 30
    assert m["auto_ms"] == pytest.approx(ok[0]) and m["auto_accuracy"] == curve["accuracy"].iloc[ok[0] - 1]
    assert 1 <= m["latency_steps"] <= 60 and m["latency_ms"] == pytest.approx(m["latency_steps"])
    assert 1 <= m["settle_steps"] <= 60
    assert 0 < m["rate_hz_mean_conv"] <= m["rate_hz_max_conv"] <= 1000
    assert m["synops_spiking"] == pytest.approx(m["synops_ac"] + m["synops_mac"])
    assert 0 < m["synops_rate"] <= m["synops_dense"] and m["param_bytes"] == 4 * (3 * 3 * 32 + 32 + 1152 * 10 + 10)
    assert m["wall_us_per_image_step"] > 0 and m["wall_ms_per_image"] == pytest.approx(
        m["wall_us_per_image_step"] * 60 / 1000)
    for name in ("accuracy_plot", "raster_plot", "output_plot"):
        assert result.artifacts[name].is_file() and result.artifacts[name].stat().st_size > 1000
    assert result.info["rate_hz_mean_conv"].unit == "Hz"


@tf_only
def test_save_load_and_wrong_architecture(trained, data, tmp_path, cache_dir):
    path = trained.save(tmp_path / "p.npz")
    fresh = bench.controller("snn")
    fresh.load(path)
    np.testing.assert_array_equal(fresh.predict_rate(data[2][:10]), trained.predict_rate(data[2][:10]))
    np.savez(tmp_path / "bad.npz", **{"conv/kernel": np.zeros((3, 3, 1, 16), np.float32),
                                      "conv/bias": np.zeros(16, np.float32),
                                      "output/kernel": np.zeros((576, 10), np.float32),
                                      "output/bias": np.zeros(10, np.float32)})
    with pytest.raises(CheckpointError,
                       match=r"'conv/kernel' has shape \(3, 3, 1, 16\) in the file but \(3, 3, 1, 32\) in the model"):
        fresh.load(tmp_path / "bad.npz")


@pytest.fixture
def model_module(tmp_path, monkeypatch):
    """A module of model builders, importable as ``snn_user_models``."""
    (tmp_path / "snn_user_models.py").write_text(textwrap.dedent("""
        from bench.controllers.tfcompat import tensorflow

        def hidden_dense(input_shape, n_classes):
            tf = tensorflow()
            inp = tf.keras.Input(input_shape)
            h = tf.keras.layers.Conv2D(8, 3, activation="relu", name="c")(inp)
            h = tf.keras.layers.Flatten()(h)
            h = tf.keras.layers.Dense(32, activation="relu", name="hidden")(h)
            return tf.keras.Model(inp, tf.keras.layers.Dense(n_classes, name="out")(h))

        def tanh_model(input_shape, n_classes):
            tf = tensorflow()
            inp = tf.keras.Input(input_shape)
            h = tf.keras.layers.Flatten()(inp)
            h = tf.keras.layers.Dense(16, activation="tanh", name="squash")(h)
            return tf.keras.Model(inp, tf.keras.layers.Dense(n_classes)(h))
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "snn_user_models"
    sys.modules.pop("snn_user_models", None)


@pytest.mark.slow
@tf_only
def test_user_model_with_hidden_dense_biases_survives_scaling(model_module, data, tmp_path):
    """The nengo-dl #213 trap: a Dense ReLU layer keeps its bias in the ensemble; scaled spiking still matches."""
    snn = bench.controller("snn", model=f"{model_module}:hidden_dense", epochs=2, cache_dir="",
                           scale_firing_rates=1000, synapse=0.02)
    snn.fit(data[0], data[1], rng=np.random.default_rng(1))
    assert np.abs(snn.model.get_layer("hidden").bias.numpy()).max() > 0  # trained biases were copied back
    x = data[2][:40]
    rate = snn.predict_rate(x)
    late = snn.predict(x, 200)[:, -50:].mean(axis=1)
    assert np.mean(late.argmax(-1) == rate.argmax(-1)) >= 0.95
    run = snn.simulate(x, 20)
    assert set(run.spikes_per_neuron) == {"c", "hidden"}
    # the same network saved as a .keras file is accepted as a model
    keras_file = tmp_path / "m.keras"
    snn.model.save(keras_file)
    other = bench.controller("snn", model=str(keras_file), epochs=0, cache_dir="")
    other.fit(data[0], data[1], rng=np.random.default_rng(0))
    np.testing.assert_allclose(other.predict_rate(x), rate, rtol=1e-5, atol=1e-5)


@tf_only
def test_bad_inputs_give_one_clear_error(model_module, data, tmp_path):
    not_keras = tmp_path / "model.keras"  # a zip archive (what the settings check), but no Keras model
    with zipfile.ZipFile(not_keras, "w") as zf:
        zf.writestr("config.json", "this is not a model")
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidArgument, match="is not a Keras model file"):
        bench.controller("snn", model=str(not_keras), cache_dir="").fit(data[0], data[1], rng=rng)
    legacy = tmp_path / "model.h5"
    legacy.write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(SettingError, match=r"only \.keras files are loaded"):  # refused with the settings
        bench.controller("snn", model=str(legacy), cache_dir="")
    with pytest.raises(InvalidArgument, match=r"activation 'tanh'.*cannot map"):
        bench.controller("snn", model=f"{model_module}:tanh_model", cache_dir="").fit(data[0], data[1], rng=rng)
    with pytest.raises(SettingError, match="cannot import it"):  # refused with the settings, before any fit
        bench.controller("snn", model="no_such_module_xyz:f", cache_dir="")
    snn = bench.controller("snn", epochs=0, cache_dir="")
    with pytest.raises(InvalidArgument, match="images must be"):
        snn.fit(data[0][:, :, :, 0], data[1], rng=rng)
    with pytest.raises(InvalidArgument, match="labels out of range"):
        snn.fit(data[0], data[1] - 1, rng=rng)
    snn.fit(data[0], data[1], rng=rng)
    with pytest.raises(InvalidArgument, match=r"images have shape \(9, 9, 1\) but the model expects \(8, 8, 1\)"):
        snn.predict(np.zeros((2, 9, 9, 1), np.float32), 3)
    snn.settings.layer_synapses = ("nope=0.01",)
    with pytest.raises(InvalidArgument, match="'nope', which is not a neuron layer"):
        snn.layer_synapses()


@tf_only
def test_per_layer_synapses_override_the_global_one(trained):
    import nengo

    trained.settings.layer_synapses, trained.settings.synapse = ("conv=0.02",), 0.0
    try:
        converter, _ = trained.spiking_network()
    finally:
        trained.settings.layer_synapses, trained.settings.synapse = (), 0.01
    taus = [getattr(c.synapse, "tau", None) for c in converter.net.all_connections
            if isinstance(c.pre_obj, nengo.ensemble.Neurons)]
    assert taus == [0.02]


@tf_only
def test_cli_bad_model_file_fails_the_run_with_a_log(cli, tmp_path):
    """Found while the run fits the classifier: a failure inside a run, exit 1 with its log (never 2)."""
    with zipfile.ZipFile(tmp_path / "junk.keras", "w") as zf:  # a zip (else refused with the settings: exit 2)
        zf.writestr("config.json", "junk")
    code, _, err = cli("run", "digits", "snn", "classify", "--set", f"model={tmp_path / 'junk.keras'}",
                       "--set", "epochs=1")
    assert code == 1, err
    assert "is not a Keras model file" in err and "Traceback" not in err and "(traceback in " in err


@pytest.mark.slow
@tf_only
def test_rate_loss_moves_rates_into_the_band(data):
    """The firing-rate loss moves the hidden rates (at scale_firing_rates) into [min_hz, max_hz]."""
    x, y = data[0][:320], data[1][:320]
    in_band = {}
    for weight in (0.0, 0.1):
        snn = bench.controller("snn", epochs=6, cache_dir="", scale_firing_rates=50, rate_loss_weight=weight,
                               min_hz=20, max_hz=60, learning_rate=1e-2)
        info = snn.fit(x, y, rng=np.random.default_rng(0))
        assert len(info["loss"]) == 6
        _, acts = snn.rate_activity(data[2][:100])
        hz = acts["conv"] * 50
        active = hz[hz > 0]  # a silent ReLU gets no gradient from any loss
        in_band[weight] = (np.mean((active >= 20) & (active <= 60)),
                           np.mean(np.maximum(active - 60, 0) + np.maximum(20 - active, 0)))
    assert in_band[0.1][0] > in_band[0.0][0] + 0.2 and in_band[0.1][1] < 0.5 * in_band[0.0][1], in_band
