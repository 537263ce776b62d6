"""The Keras side of the ``snn`` classifier: building, checking and saving models.

A model is a single-input, single-output Keras (``tf_keras``) functional
model made of the layers the NengoDL converter maps one-to-one onto neurons
and synapses (:data:`SUPPORTED_LAYERS`), with ``relu`` or linear activations.
Its parameters travel as a flat dict ``{"layer/kernel": array, ...}`` saved
as ``.npz`` plus a JSON sidecar, never pickled.

This module imports TensorFlow only inside the functions that build or load
a model (through :mod:`bench.controllers.tfcompat`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import CheckpointError, InvalidArgument
from bench.npzfile import check_archive, read_npz, write_npz, write_text

#: Keras layer classes the spiking conversion supports.
SUPPORTED_LAYERS = ("InputLayer", "Conv2D", "Dense", "Flatten", "Reshape", "Dropout", "Activation")
#: Layers that hold trainable weights (synapses).
WEIGHTED_LAYERS = ("Conv2D", "Dense")
#: Layers that pass their input through unchanged as far as synapses go.
PASSTHROUGH_LAYERS = ("Flatten", "Reshape", "Dropout")
#: Activations the converter can map: ``relu`` becomes a (spiking) rectified linear neuron.
ACTIVATIONS = ("relu", "linear")


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed TensorFlow, and Python's and NumPy's global generators (which unseeded Keras
    initializers draw from), restoring the latter two afterwards."""
    from ..tfcompat import tensorflow

    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        tensorflow().keras.utils.set_random_seed(int(seed))
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def default_model(input_shape: tuple[int, ...], n_classes: int, seed: int = 0) -> Any:
    """Input → Conv2D(32, 3×3, ReLU) → Flatten → Dense(n_classes) logits."""
    from ..tfcompat import tensorflow

    tf = tensorflow()
    with seeded(seed):
        return _default_model(tf, input_shape, n_classes)


def _default_model(tf: Any, input_shape: tuple[int, ...], n_classes: int) -> Any:
    inp = tf.keras.Input(shape=tuple(input_shape), name="input")
    h = tf.keras.layers.Conv2D(32, 3, activation=tf.nn.relu, name="conv")(inp)
    h = tf.keras.layers.Flatten(name="flatten")(h)
    out = tf.keras.layers.Dense(n_classes, name="output")(h)
    return tf.keras.Model(inp, out, name="snn_default")


def check_spec(spec: str) -> None:
    """Refuse a ``model`` setting that cannot name a model, before anything runs (``ValueError``, one line).

    A ``.keras`` file must exist and be a zip archive whose members stay
    within ``BENCH_MAX_ARRAY_ELEMENTS`` (:func:`bench.npzfile.check_archive`;
    nothing is loaded); ``module:function`` must name an importable Python
    function that accepts ``(input_shape, n_classes)`` (it is imported, not
    called: ``os:system`` is refused as no such function).
    """
    import inspect

    if spec in ("", "default"):
        return
    if spec.endswith((".keras", ".h5")) or Path(spec).expanduser().is_file():
        path = Path(spec).expanduser()
        if path.suffix != ".keras":
            raise ValueError(f"model file {spec!r}: only .keras files are loaded (in safe mode); "
                             "re-save the model with model.save('name.keras')")
        if not path.is_file():
            raise ValueError(f"model file {spec!r} does not exist")
        check_archive(path, "model file", error=InvalidArgument)
        return
    module, sep, attr = spec.partition(":")
    if not sep or not attr.isidentifier() or not all(p.isidentifier() for p in module.split(".")):
        raise ValueError(f"model {spec[:80]!r} is neither 'default', a .keras file nor 'module:function'")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except Exception as exc:  # ImportError, AttributeError, or whatever the module raises as it imports
        raise ValueError(f"model {spec!r}: cannot import it ({type(exc).__name__}: {exc})") from None
    if not (inspect.isfunction(fn) or inspect.ismethod(fn)):
        raise ValueError(f"model {spec!r} is a {type(fn).__name__}, not a Python function(input_shape, n_classes)")
    try:
        inspect.signature(fn).bind((28, 28, 1), 10)
    except TypeError:
        raise ValueError(f"model {spec!r} takes {inspect.signature(fn)}, not (input_shape, n_classes)") from None


def build_model(spec: str, input_shape: tuple[int, ...], n_classes: int, seed: int = 0) -> Any:
    """The model named by ``spec``, checked against the data's shapes.

    ``spec`` is ``""``/``"default"`` (:func:`default_model`), a saved Keras
    ``.keras`` file, or ``"module:function"``; the function is called as
    ``function(input_shape, n_classes)`` and returns a model.  Files load in
    Keras' safe mode, which refuses serialised Python code (``Lambda``
    layers); legacy ``.h5`` files are refused because that format can carry
    such code unchecked.
    """
    from ..tfcompat import tensorflow

    try:
        check_spec(spec)  # what the settings checked; again here for a direct call
    except ValueError as exc:
        raise InvalidArgument(f"snn: {exc}") from None
    tf = tensorflow()
    if spec in ("", "default"):
        model = default_model(input_shape, n_classes, seed)
    elif spec.endswith(".keras") or Path(spec).expanduser().is_file():  # check_spec: a .keras file
        try:
            with seeded(seed):
                model = tf.keras.models.load_model(Path(spec).expanduser(), compile=False, safe_mode=True)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise InvalidArgument(f"snn: {spec!r} is not a Keras model file ({first})") from None
    else:
        module, _, attr = spec.partition(":")
        with seeded(seed):
            model = getattr(importlib.import_module(module), attr)(tuple(input_shape), int(n_classes))
    if not isinstance(model, tf.keras.Model):
        raise InvalidArgument(f"snn: model {spec or 'default'!r} is a {type(model).__name__}, not a Keras model")
    check_model(model, input_shape, n_classes)
    return model


def activation_name(layer: Any) -> str | None:
    """``"relu"``, ``"linear"``, another name, or None for layers without one."""
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    name = getattr(act, "__name__", None) or type(act).__name__
    return name.lower()


def check_model(model: Any, input_shape: tuple[int, ...], n_classes: int) -> None:
    """Refuse, with one clear :class:`InvalidArgument`, a model the conversion cannot handle."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise InvalidArgument(f"snn: the model must have one input and one output; it has "
                              f"{len(model.inputs)} and {len(model.outputs)}")
    want = tuple(int(d) if d is not None else None for d in model.inputs[0].shape[1:])
    if want != tuple(input_shape):
        raise InvalidArgument(f"snn: the model expects images of shape {want} but the data has shape "
                              f"{tuple(input_shape)}")
    out = tuple(model.outputs[0].shape[1:])
    if out != (n_classes,):
        raise InvalidArgument(f"snn: the model's output has shape {out}; the data has {n_classes} classes")
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in SUPPORTED_LAYERS:
            raise InvalidArgument(f"snn: layer {layer.name!r} is a {kind}, which the spiking conversion does "
                                  f"not support (supported: {', '.join(SUPPORTED_LAYERS)})")
        act = activation_name(layer)
        if act is not None and act not in ACTIVATIONS:
            raise InvalidArgument(f"snn: layer {layer.name!r} uses activation {act!r}, which the converter "
                                  f"cannot map to a spiking neuron (use {' or '.join(ACTIVATIONS)})")
        if len(layer._inbound_nodes) > 1:
            raise InvalidArgument(f"snn: layer {layer.name!r} is used more than once; shared layers are "
                                  f"not supported")
    last = model.outputs[0]._keras_history.layer
    if activation_name(last) != "linear":
        raise InvalidArgument(f"snn: the output layer {last.name!r} must be linear (logits); it uses "
                              f"{activation_name(last)!r}")


def is_neuron_layer(layer: Any) -> bool:
    """Whether the layer's output is a population of rectified-linear neurons."""
    return activation_name(layer) == "relu"


def neuron_layers(model: Any) -> list[Any]:
    """The layers that become neurons, in order."""
    return [layer for layer in model.layers if is_neuron_layer(layer)]


def inbound(layer: Any) -> Any:
    """The one layer feeding ``layer`` (None for an input layer)."""
    nodes = layer._inbound_nodes
    if not nodes:
        return None
    parents = nodes[0].inbound_layers
    if isinstance(parents, (list, tuple)):
        return parents[0] if parents else None
    return parents


def source_of(layer: Any) -> Any:
    """The layer whose output feeds ``layer``'s weights, skipping pass-through layers."""
    src = inbound(layer)
    while src is not None and type(src).__name__ in PASSTHROUGH_LAYERS:
        src = inbound(src)
    return src


def conv_fan_out(size: int, kernel: int, stride: int, padding: str) -> np.ndarray:
    """How many output positions along one axis each of ``size`` input positions feeds."""
    if padding == "valid":
        n_out = (size - kernel) // stride + 1
        pad = 0
    else:  # "same", as TensorFlow pads
        n_out = -(-size // stride)
        pad = max((n_out - 1) * stride + kernel - size, 0) // 2
    counts = np.zeros(size, dtype=np.int64)
    for o in range(n_out):
        lo = o * stride - pad
        counts[max(lo, 0):max(min(lo + kernel, size), 0)] += 1
    return counts


@dataclasses.dataclass
class Synapses:
    """One weighted layer seen as synapses.

    name : str
        The Keras layer.
    source : str or None
        The neuron layer whose spikes feed it, or None for analog input (the
        image, or a linear layer), whose operations are multiply-accumulates.
    fan_out : ndarray (n_in,)
        Synapses leaving each input element (flattened, channels last).
    from_input : bool
        Whether the layer is fed by the image itself.
    """

    name: str
    source: str | None
    fan_out: np.ndarray
    from_input: bool = False

    @property
    def dense_ops(self) -> int:
        """Operations of one dense forward pass through this layer."""
        return int(self.fan_out.sum())


def synapses(model: Any) -> list[Synapses]:
    """Every weighted layer of ``model`` with its fan-out per input element."""
    out = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in WEIGHTED_LAYERS:
            continue
        in_shape = tuple(int(d) for d in layer.input.shape[1:])
        if kind == "Dense":
            fan = np.full(int(np.prod(in_shape)), layer.units, dtype=np.int64)
        else:
            if layer.data_format != "channels_last" or tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1:
                raise InvalidArgument(f"snn: conv layer {layer.name!r} must be channels_last, undilated, "
                                      f"ungrouped")
            h, w, c = in_shape
            fh = conv_fan_out(h, layer.kernel_size[0], layer.strides[0], layer.padding)
            fw = conv_fan_out(w, layer.kernel_size[1], layer.strides[1], layer.padding)
            fan = (fh[:, None, None] * fw[None, :, None] * np.ones(c, dtype=np.int64)) * layer.filters
            fan = fan.ravel()
        src = source_of(layer)
        neuron = src is not None and is_neuron_layer(src)
        from_input = src is None or type(src).__name__ == "InputLayer"
        out.append(Synapses(layer.name, src.name if neuron else None, fan, from_input))
    return out


# -- parameters ---------------------------------------------------------------

def get_params(model: Any) -> dict[str, np.ndarray]:
    """``{"layer/weight": array}`` for every weight of ``model``."""
    params = {}
    for layer in model.layers:
        for var in layer.weights:
            short = var.name.split("/")[-1].split(":")[0]
            params[f"{layer.name}/{short}"] = np.asarray(var.numpy())
    return params


def set_params(model: Any, params: dict[str, np.ndarray], source: str = "parameters") -> None:
    """Write ``params`` into ``model``; a missing key or a shape mismatch names both sides."""
    have = get_params(model)
    missing = sorted(set(have) - set(params))
    extra = sorted(set(params) - set(have))
    if missing or extra:
        raise CheckpointError(f"{source} do not fit the model: missing {missing or 'nothing'}, "
                              f"unexpected {extra or 'nothing'}")
    for key, value in have.items():
        if tuple(params[key].shape) != tuple(value.shape):
            raise CheckpointError(f"{source} do not fit the model: {key!r} has shape "
                                  f"{tuple(params[key].shape)} in the file but {tuple(value.shape)} in the model")
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([params[f"{layer.name}/{v.name.split('/')[-1].split(':')[0]}"]
                               for v in layer.weights])


def save_params(path: str | Path, params: dict[str, np.ndarray], meta: dict[str, Any]) -> Path:
    """Write ``params`` to ``path`` (``.npz``) and ``meta`` to ``path.json``; returns the npz path."""
    path = write_npz(path, params)
    meta = {**meta, "architecture": {k: list(np.shape(v)) for k, v in params.items()}}
    write_text(path.with_suffix(".json"), json.dumps(meta, indent=1, sort_keys=True, default=str))
    return path


def load_params(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a file written by :func:`save_params` (``allow_pickle=False``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"snn: no parameter file {str(path)!r}")
    params = read_npz(path, "snn: parameter file")
    side = path.with_suffix(".json")
    meta = json.loads(side.read_text()) if side.is_file() else {}
    return params, meta


def file_digest(path: str | Path) -> str:
    """sha256 of a file (for cache keys of user model files)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def array_digest(*arrays: np.ndarray) -> str:
    """sha256 over the shapes, dtypes and bytes of ``arrays``."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}{a.dtype}".encode())
        h.update(a.tobytes())
    return h.hexdigest()
