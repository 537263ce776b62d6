"""``snn``: a Keras network trained in rate mode and run as a spiking network (NengoDL).

The pipeline follows NengoDL's Keras-to-SNN workflow:

1. Build a Keras model (:mod:`bench.controllers.snn.model`; default
   Input → Conv2D(32, 3×3, ReLU) → Flatten → Dense(classes)).
2. Train it in rate mode: ``nengo_dl.Converter(model, swap_activations=
   {relu: nengo.RectifiedLinear()})`` and ``nengo_dl.Simulator.fit`` with
   RMSprop and sparse cross-entropy from logits (:mod:`bench.controllers.snn.training`);
   optionally a firing-rate loss on a probe of every hidden layer that
   penalises rates outside ``[min_hz, max_hz]`` (rates in Hz of the converted network, i.e. at
   ``scale_firing_rates``, which then joins the cache key).
3. Copy the trained values back into the Keras model, then convert *that*
   model to spiking neurons (``nengo.SpikingRectifiedLinear``) with
   ``scale_firing_rates`` and ``synapse``.  Converting a model that already
   holds its trained weights is right at every scale; loading rate-mode
   parameters into a scaled converter with ``load_params`` is not (the
   converter scales ensemble biases when it builds, ``load_params`` then
   overwrites them unscaled: nengo-dl issue #213).

One parameter set (``{"layer/kernel": ...}``) serves both modes.  Training is
cached under ``cache_dir`` by a hash of the data and the training settings,
so a sweep over ``scale_firing_rates``, ``synapse`` and ``n_steps`` trains
once.  TensorFlow and NengoDL are imported only when a model is built.
"""

from __future__ import annotations

import fcntl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.api import Classifier
from bench.errors import CheckpointError, InvalidArgument
from bench.settings import setting, settings_hash

from . import model as snn_model
from . import training as snn_train

#: Settings that change the trained parameters (the cache key).
TRAINING_KEYS = ("model", "epochs", "minibatch", "learning_rate", "rate_loss_weight", "min_hz", "max_hz")


@dataclass
class SNNSettings:
    model: str = setting("default", "'default', a saved .keras file, or 'module:function(input_shape, n_classes)'")
    epochs: int = setting(30, "rate-mode training epochs", ge=0, le=100000, train_only=True)
    minibatch: int = setting(32, "training minibatch size", ge=1, train_only=True)
    learning_rate: float = setting(1e-3, "RMSprop learning rate", gt=0, train_only=True)
    rate_loss_weight: float = setting(0.0, "weight of the firing-rate loss on hidden layers (0: off)", ge=0,
                                      train_only=True)
    min_hz: float = setting(200.0, "rate-loss lower bound (rates at scale_firing_rates)", unit="Hz", ge=0,
                            train_only=True)
    max_hz: float = setting(300.0, "rate-loss upper bound (rates at scale_firing_rates)", unit="Hz", gt=0,
                            train_only=True)
    scale_firing_rates: float = setting(300.0, "spiking: multiply neuron gains (and divide amplitudes) by this", gt=0)
    synapse: float = setting(0.01, "spiking: lowpass time constant on every neuron output (0: none)", unit="s", ge=0)
    layer_synapses: tuple[str, ...] = setting(
        (), "spiking: per-layer time constants 'layer=seconds' (override synapse)")
    n_steps: int = setting(30, "spiking: time steps each image is presented for", ge=1, le=100000)
    dt: float = setting(0.001, "simulation time step", unit="s", gt=0)
    eval_minibatch: int = setting(100, "images simulated at once when evaluating", ge=1)
    cache_dir: str = setting(".bench/cache", "where trained parameters are cached ('' : no cache)", train_only=True)
    weights: str | None = setting(None, "parameters to classify with instead of training (a file of save(), or "
                                        "run:ID: the params a classify run saved); the model must match")

    def __post_init__(self) -> None:
        if self.max_hz <= self.min_hz:
            raise ValueError(f"max_hz ({self.max_hz}) must exceed min_hz ({self.min_hz})")

    def check(self) -> None:
        """The ``model`` is checked when the settings are (:func:`.model.check_spec`): before anything runs;
        so is one simulation's size, ``n_steps`` × ``eval_minibatch`` (``BENCH_MAX_STEPS_X_BATCH``)."""
        from bench.errors import SettingError
        from bench.guards import check_work

        try:
            check_work(None, {}, steps={"n_steps": self.n_steps}, batch=self.eval_minibatch, trials="eval_minibatch")
        except SettingError as exc:
            raise ValueError(str(exc)) from None  # named with the classifier (snn: n_steps = ...)
        snn_model.check_spec(self.model)
        if self.weights and not Path(self.weights).expanduser().is_file():
            raise ValueError(f"weights: no such file {self.weights!r}")


@dataclass
class SpikingRun:
    """What one spiking evaluation produced.

    outputs : ndarray (n, T, classes)
        Output layer values at every step (after the output probe, no synapse).
    wall_s : float, seconds
        Wall time of the simulation calls only (not building the network).
    spikes_per_neuron : dict of layer → ndarray (neurons,)
        Spike counts summed over all images and steps.
    ac_ops, mac_ops : float
        Effective accumulate (spike × fan-out) and multiply-accumulate (nonzero
        analog input × fan-out) operations per image over the presentation.
    active_fraction : float
        Fraction of (neuron, step) entries with a spike, over all images.
    raster : dict of layer → ndarray (T, neurons)
        Spike counts per step of the first image.
    ac_per_step : ndarray (T,)
        Accumulates at each step, mean per image (``ac_ops`` is their sum).
    """

    outputs: np.ndarray
    wall_s: float
    n_steps: int
    dt: float
    spikes_per_neuron: dict[str, np.ndarray]
    ac_ops: float
    mac_ops: float
    active_fraction: float
    raster: dict[str, np.ndarray]
    ac_per_step: np.ndarray

    def rates_hz(self, layer: str) -> np.ndarray:
        """Mean firing rate (Hz) of every neuron of ``layer`` over all images."""
        n = self.outputs.shape[0]
        return self.spikes_per_neuron[layer] / (n * self.n_steps * self.dt)


class SNN(Classifier):
    """Keras → NengoDL spiking classifier; see the module docstring."""

    Settings = SNNSettings

    def __init__(self, settings: SNNSettings | None = None) -> None:
        super().__init__(settings)
        self.model: Any = None
        self.params: dict[str, np.ndarray] | None = None
        self.train_info: dict[str, Any] = {}
        #: Seed of the spiking simulators (initial voltages); set by :meth:`fit`.
        self.sim_seed = 0

    # -- model and parameters -------------------------------------------------
    def input_files(self) -> list[Path]:
        """The model file given as ``model``: a saved ``.keras`` file, or the source of ``module:function``.

        (A cached training that a run reads is recorded when it is read.)
        """
        model = self.settings.model
        weights = [Path(self.settings.weights).expanduser()] if self.settings.weights else []
        if model in ("", "default"):
            return weights
        if model.endswith((".keras", ".h5")) or Path(model).expanduser().is_file():
            return [Path(model).expanduser(), *weights]
        import importlib.util

        try:
            spec = importlib.util.find_spec(model.partition(":")[0])
        except (ImportError, ValueError):
            return weights
        source = [Path(spec.origin)] if spec is not None and spec.origin and Path(spec.origin).is_file() else []
        return source + weights

    def build(self, input_shape: tuple[int, ...], n_classes: int, seed: int = 0) -> Any:
        """Build (and check) the Keras model for images of ``input_shape``."""
        self.model = snn_model.build_model(self.settings.model, tuple(input_shape), int(n_classes), seed)
        self.input_shape, self.n_classes = tuple(input_shape), int(n_classes)
        return self.model

    def _need_model(self) -> Any:
        if self.model is None:
            raise InvalidArgument("snn: no model yet; call fit() or load() first")
        return self.model

    def save(self, path: str | Path) -> Path:
        """Write the trained parameters (``.npz`` + ``.json``, no pickle)."""
        model = self._need_model()
        return snn_model.save_params(path, snn_model.get_params(model), {
            "model": self.settings.model, "input_shape": list(self.input_shape), "n_classes": self.n_classes,
            **self.train_info})

    def load(self, path: str | Path) -> None:
        """Read parameters written by :meth:`save` into the model (shapes must match)."""
        params, meta = snn_model.load_params(path)
        if self.model is None:
            if "input_shape" not in meta or "n_classes" not in meta:
                raise CheckpointError(f"snn: {str(path)!r} has no JSON sidecar naming its input shape; "
                                      f"build the model first")
            self.build(tuple(meta["input_shape"]), int(meta["n_classes"]))
        snn_model.set_params(self.model, params, source=f"parameters {str(path)!r}")

    def check_data(self, x: np.ndarray, y: np.ndarray | None = None) -> None:
        """Refuse images of the wrong shape and labels out of range."""
        x = np.asarray(x)
        if x.ndim != 4:
            raise InvalidArgument(f"snn: images must be (n, H, W, C); got shape {x.shape}")
        if self.model is not None and tuple(x.shape[1:]) != self.input_shape:
            raise InvalidArgument(f"snn: images have shape {tuple(x.shape[1:])} but the model expects "
                                  f"{self.input_shape}")
        if y is not None:
            y = np.asarray(y)
            if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
                raise InvalidArgument(f"snn: labels must be integers of shape ({x.shape[0]},); "
                                      f"got {y.dtype} {y.shape}")
            n_classes = self.n_classes if self.model is not None else None
            if y.min() < 0 or (n_classes is not None and y.max() >= n_classes):
                bound = n_classes if n_classes is not None else "n_classes"
                raise InvalidArgument(f"snn: labels out of range [0, {bound}): found "
                                      f"{int(y.min())}..{int(y.max())}")

    # -- training ---------------------------------------------------------------
    def training_key(self, x: np.ndarray, y: np.ndarray, seed: int) -> str:
        """Hash of everything that determines the trained parameters."""
        from importlib import metadata

        s = self.settings
        parts = {k: getattr(s, k) for k in TRAINING_KEYS}
        if s.rate_loss_weight > 0:  # the rate loss sees the rates of the spiking network to be run
            parts["scale_firing_rates"] = s.scale_firing_rates
        model_path = Path(s.model).expanduser()
        if s.model not in ("", "default") and model_path.is_file():
            parts["model_file"] = snn_model.file_digest(model_path)
        parts.update(seed=seed, data=snn_model.array_digest(x, y),
                     versions=[metadata.version(d) for d in ("tensorflow", "nengo", "nengo-dl")])
        return settings_hash(parts)

    def fit(self, x: np.ndarray, y: np.ndarray, *, rng: np.random.Generator,
            n_classes: int | None = None) -> dict[str, Any]:
        """Train in rate mode (or reuse the cached result of the same training).

        Returns ``{"cached", "train_s", "epochs", "loss", "key", "path"}``.
        """
        x = np.asarray(x, dtype=np.float32)
        y = np.asarray(y)
        self.model = None  # fit builds a fresh model for these images
        self.check_data(x, y)
        classes = int(n_classes or getattr(self.plant, "n_classes", 0) or int(y.max()) + 1)
        seed = int(rng.integers(2**31 - 1))
        self.sim_seed = int(rng.integers(2**31 - 1))
        self.build(x.shape[1:], classes, seed)
        self.check_data(x, y)
        s = self.settings
        if s.weights:  # explicit weights: loaded, never trained
            path = Path(s.weights).expanduser()
            params, _ = snn_model.load_params(path)
            snn_model.set_params(self.model, params, source=f"weights {str(path)!r}")
            self.train_info = {"cached": True, "key": "", "path": str(path), "train_s": 0.0, "epochs": 0, "loss": []}
            return self.train_info
        key = self.training_key(x, y, seed)
        cache = Path(s.cache_dir).expanduser() / f"snn-{key}.npz" if s.cache_dir else None
        if cache is None:
            return self._train_and_record(x, y, seed, key, None)
        cache.parent.mkdir(parents=True, exist_ok=True)
        # one process trains, concurrent ones (a parallel sweep) wait and reuse its result
        with open(cache.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if cache.is_file():
                    params, meta = snn_model.load_params(cache)
                    snn_model.set_params(self.model, params, source=f"cached parameters {str(cache)!r}")
                    self.train_info = {"cached": True, "key": key, "path": str(cache),
                                       **{k: meta[k] for k in ("train_s", "epochs", "loss") if k in meta}}
                    return self.train_info
                return self._train_and_record(x, y, seed, key, cache)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _train_and_record(self, x: np.ndarray, y: np.ndarray, seed: int, key: str,
                          cache: Path | None) -> dict[str, Any]:
        t0 = time.perf_counter()
        losses = snn_train.train_rate_mode(self.model, x, y, self.settings, seed) if self.settings.epochs else []
        self.train_info = {"cached": False, "key": key, "train_s": time.perf_counter() - t0,
                           "epochs": self.settings.epochs, "loss": [float(v) for v in losses]}
        if cache is not None:
            self.train_info["path"] = str(self.save(cache))
        return self.train_info

    # -- evaluation ---------------------------------------------------------------
    def predict_rate(self, x: np.ndarray) -> np.ndarray:
        """``(n, classes)`` rate-mode outputs (the trained Keras network, ReLU = rate neurons)."""
        return self.rate_activity(x)[0]

    def rate_activity(self, x: np.ndarray, batch: int = 512) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Rate-mode outputs ``(n, classes)`` and every neuron layer's rates ``(n, neurons)`` (Hz at scale 1)."""
        from ..tfcompat import tensorflow

        tf = tensorflow()
        model = self._need_model()
        self.check_data(x)
        layers = snn_model.neuron_layers(model)
        probe = tf.keras.Model(model.inputs, [model.outputs[0]] + [layer.output for layer in layers])
        outs: list[list[np.ndarray]] = [[] for _ in range(len(layers) + 1)]
        for i in range(0, len(x), batch):
            res = probe(np.asarray(x[i:i + batch], np.float32), training=False)
            res = res if isinstance(res, (list, tuple)) else [res]
            for k, r in enumerate(res):
                outs[k].append(np.asarray(r).reshape(r.shape[0], -1))
        cat = [np.concatenate(o) for o in outs]
        return cat[0], {layer.name: a for layer, a in zip(layers, cat[1:])}

    def predict(self, x: np.ndarray, n_steps: int | None = None) -> np.ndarray:
        """``(n, T, classes)`` spiking outputs at each of ``T = n_steps`` steps."""
        return self.simulate(x, n_steps, record=False).outputs

    def layer_synapses(self) -> dict[str, float]:
        """Per-layer synapse time constants (s) from ``layer_synapses``."""
        out = {}
        names = {layer.name for layer in snn_model.neuron_layers(self._need_model())}
        for item in self.settings.layer_synapses:
            name, sep, value = item.partition("=")
            if not sep:
                raise InvalidArgument(f"snn: layer_synapses entry {item!r} is not 'layer=seconds'")
            if name.strip() not in names:
                raise InvalidArgument(f"snn: layer_synapses names {name.strip()!r}, which is not a neuron layer "
                                      f"(neuron layers: {', '.join(sorted(names))})")
            try:
                tau = float(value)
            except ValueError:
                raise InvalidArgument(f"snn: layer_synapses entry {item!r}: {value!r} is not a number") from None
            if not tau >= 0:
                raise InvalidArgument(f"snn: layer_synapses entry {item!r} must be >= 0 s")
            out[name.strip()] = tau
        return out

    def spiking_network(self, synapse: float | None = None, scale: float | None = None) -> tuple[Any, dict]:
        """A fresh spiking converter of the trained model, and its named objects.

        ``synapse`` / ``scale`` default to the settings (``synapse`` 0 means
        none); per-layer synapses from ``layer_synapses`` override ``synapse``.
        """
        from ..tfcompat import nengo_dl as _nengo_dl

        nengo_dl = _nengo_dl()
        import nengo

        s = self.settings
        model = self._need_model()
        syn = s.synapse if synapse is None else synapse
        spiking = nengo.SpikingRectifiedLinear()
        converter = snn_train.make_converter(nengo_dl, model, spiking,
                               scale_firing_rates=s.scale_firing_rates if scale is None else scale,
                               synapse=syn if syn > 0 else None, inference_only=True)
        converter.net.seed = self.sim_seed  # fixes the neurons' initial voltages (Uniform(0, 1))
        layers = snn_model.neuron_layers(model)
        per_layer = self.layer_synapses() if synapse is None else {}
        if per_layer:
            by_neurons = {id(converter.layers[layer]): layer.name for layer in layers}
            for conn in converter.net.all_connections:
                name = by_neurons.get(id(conn.pre_obj))
                if name in per_layer:
                    conn.synapse = nengo.Lowpass(per_layer[name]) if per_layer[name] > 0 else None
        objs = {"input": converter.inputs[model.inputs[0]._keras_history.layer],
                "output": converter.outputs[model.outputs[0]._keras_history.layer], "neurons": {}}
        with converter.net:
            nengo_dl.configure_settings(stateful=False)
            for layer in layers:
                objs["neurons"][layer.name] = nengo.Probe(converter.layers[layer], label=f"{layer.name}.spikes")
        return converter, objs

    def simulate(self, x: np.ndarray, n_steps: int | None = None, *, synapse: float | None = None,
                 record: bool = True, raster_images: int = 1) -> SpikingRun:
        """Present every image for ``n_steps`` steps to the spiking network.

        With ``record`` the hidden layers' spikes are reduced on the fly to
        counts per neuron, operation counts and the first image's raster.
        """
        from ..tfcompat import nengo_dl as _nengo_dl

        nengo_dl = _nengo_dl()
        s = self.settings
        model = self._need_model()
        self.check_data(x)
        steps = int(n_steps or s.n_steps)
        n = len(x)
        converter, objs = self.spiking_network(synapse)
        scale = s.scale_firing_rates
        syn_layers = snn_model.synapses(model)
        neurons = {name: int(p.size_in) for name, p in objs["neurons"].items()}
        per_image = steps * max(1, sum(neurons.values())) * 4
        mb = max(1, min(s.eval_minibatch, n, int(2e8 // per_image)))  # ≤ ~200 MB of probed spikes
        flat = np.asarray(x, np.float32).reshape(n, 1, -1)
        # analog inputs: multiply-accumulates every step, for layers fed by the image
        mac_ops = 0.0
        for syn in syn_layers:
            if syn.from_input:
                mac_ops += float(((flat[:, 0] != 0) @ syn.fan_out).mean()) * steps
            elif syn.source is None:  # fed by a linear hidden layer: analog, counted densely
                mac_ops += syn.dense_ops * steps
        spikes = {name: np.zeros(size) for name, size in neurons.items()}
        ac_steps = np.zeros(steps)
        active = 0.0
        raster: dict[str, np.ndarray] = {}
        outputs = np.empty((n, steps, self.n_classes), np.float32)
        wall = 0.0
        with nengo_dl.Simulator(converter.net, minibatch_size=mb, dt=s.dt, seed=self.sim_seed,
                                progress_bar=False) as sim:
            for start in range(0, n, mb):
                chunk = flat[start:start + mb]
                k = len(chunk)
                if k < mb:
                    chunk = np.concatenate([chunk, np.zeros((mb - k, 1, chunk.shape[2]), np.float32)])
                tiled = np.tile(chunk, (1, steps, 1))
                t0 = time.perf_counter()
                data = sim.predict_on_batch({objs["input"]: tiled})
                wall += time.perf_counter() - t0
                outputs[start:start + k] = data[objs["output"]][:k]
                if not record:
                    continue
                for name, probe in objs["neurons"].items():
                    counts = np.rint(data[probe][:k] * (s.dt * scale)).astype(np.float32)  # spikes per step
                    spikes[name] += counts.sum(axis=(0, 1))
                    active += float(np.count_nonzero(counts))
                    if start == 0:
                        raster[name] = counts[:raster_images].copy()
                    for syn in syn_layers:
                        if syn.source == name:
                            ac_steps += counts.sum(axis=0) @ syn.fan_out
        total_entries = n * steps * max(1, sum(neurons.values()))
        return SpikingRun(outputs=outputs, wall_s=wall, n_steps=steps, dt=s.dt, spikes_per_neuron=spikes,
                          ac_ops=float(ac_steps.sum()) / n, mac_ops=mac_ops,
                          active_fraction=active / total_entries,
                          raster={k: v[0] for k, v in raster.items()}, ac_per_step=ac_steps / n)

    def operation_counts(self, x: np.ndarray) -> dict[str, float]:
        """Rate-mode effective MACs per image, the dense count, activation sparsity and parameter bytes."""
        model = self._need_model()
        _, acts = self.rate_activity(x)
        flat = np.asarray(x, np.float32).reshape(len(x), -1)
        macs = 0.0
        for syn in snn_model.synapses(model):
            src = flat if syn.from_input else acts.get(syn.source) if syn.source is not None else None
            if src is None:  # fed by a linear hidden layer: count it densely
                macs += syn.dense_ops
            else:
                macs += float(((src != 0) @ syn.fan_out).mean())
        total = sum(a.shape[1] for a in acts.values()) or 1
        zeros = sum(float(np.count_nonzero(a == 0)) for a in acts.values())
        return {
            "rate_macs": macs,
            "dense_ops": float(sum(syn.dense_ops for syn in snn_model.synapses(model))),
            "rate_sparsity": zeros / (len(x) * total),
            "param_bytes": float(sum(v.nbytes for v in snn_model.get_params(model).values())),
        }
