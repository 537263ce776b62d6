"""Rate-mode training of the ``snn`` classifier with NengoDL.

``train_rate_mode`` converts the Keras model with ReLUs as
``nengo.RectifiedLinear`` rate neurons, trains it with
``nengo_dl.Simulator.fit`` (RMSprop, sparse cross-entropy from logits, and an
optional firing-rate loss on every hidden layer), then copies the trained
values back into the Keras model (:func:`copy_trained`), so that the spiking
network is converted from a model that already holds them (see
:mod:`bench.controllers.snn` on nengo-dl issue #213).

TensorFlow and NengoDL are imported inside the functions.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from bench.errors import InvalidArgument

from . import model as snn_model


def relu_keys(tf: Any, nengo: Any) -> list[Any]:
    """Every spelling of ReLU a Keras layer may carry, and NengoDL's rate version of it."""
    return [tf.nn.relu, tf.keras.activations.relu, nengo.RectifiedLinear()]


def make_converter(nengo_dl: Any, model: Any, neuron: Any, **kwargs: Any) -> Any:
    """``nengo_dl.Converter`` with every ReLU spelling swapped for ``neuron``."""
    import nengo

    from ..tfcompat import tensorflow

    tf = tensorflow()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="swap_activations contained")
        try:
            return nengo_dl.Converter(model, swap_activations=dict.fromkeys(relu_keys(tf, nengo), neuron),
                                      **kwargs)
        except TypeError as exc:
            raise InvalidArgument(f"snn: the converter cannot map this model: {exc}") from None


def train_rate_mode(model: Any, x: np.ndarray, y: np.ndarray, s: Any, seed: int) -> list[float]:
    """Train ``model`` in place in rate mode with NengoDL; returns the loss per epoch.

    ``s`` holds ``minibatch, epochs, learning_rate, rate_loss_weight, min_hz,
    max_hz, scale_firing_rates`` (the ``snn`` settings).  The trained values
    are copied back into the Keras layers and checked: the Keras model must
    then give NengoDL's rate-mode outputs.
    """
    from ..tfcompat import nengo_dl as _nengo_dl
    from ..tfcompat import tensorflow

    tf, nengo_dl = tensorflow(), _nengo_dl()
    import nengo

    # NengoDL needs whole minibatches: shuffle with the run's seed, drop the remainder.
    order = np.random.default_rng(seed).permutation(len(y))
    mb = min(s.minibatch, len(y))
    order = order[: len(order) // mb * mb]
    xs = x[order].reshape(len(order), 1, -1)
    ys = y[order].reshape(-1, 1, 1)
    rate = nengo.RectifiedLinear()
    converter = make_converter(nengo_dl, model, rate)
    inp, out = converter.inputs[model.inputs[0]._keras_history.layer], converter.outputs[
        model.outputs[0]._keras_history.layer]
    hidden = []
    with converter.net:
        nengo_dl.configure_settings(stateful=False)
        if s.rate_loss_weight > 0:
            hidden = [nengo.Probe(converter.layers[layer], label=f"{layer.name}.rates")
                      for layer in snn_model.neuron_layers(model)]
    lo, hi, weight, scale = s.min_hz, s.max_hz, s.rate_loss_weight, s.scale_firing_rates

    def rate_loss(_target: Any, activation: Any) -> Any:
        """weight × mean squared distance of each rate (Hz) outside [min_hz, max_hz], halved.

        A rate-mode activation ``a`` fires at ``scale_firing_rates · a`` Hz once converted.
        """
        rates = scale * activation
        err = tf.nn.relu(rates - hi) + tf.nn.relu(lo - rates)
        return weight * tf.reduce_mean(tf.square(err)) / 2

    with snn_model.seeded(seed), nengo_dl.Simulator(converter.net, minibatch_size=mb, seed=seed,
                                                    progress_bar=False) as sim:
        losses = {out: tf.losses.SparseCategoricalCrossentropy(from_logits=True),
                  **dict.fromkeys(hidden, rate_loss)}
        sim.compile(optimizer=tf.optimizers.RMSprop(s.learning_rate), loss=losses)
        targets = {out: ys, **{p: np.zeros((len(ys), 1, p.size_in), np.float32) for p in hidden}}
        history = sim.fit({inp: xs}, targets, epochs=s.epochs, verbose=0, shuffle=True)
        copy_trained(sim, converter, model)
        check = xs[:mb]
        nengo_out = sim.predict_on_batch({inp: check})[out][:, -1]
    keras_out = model(check.reshape((-1, *model.inputs[0].shape[1:])), training=False).numpy()
    err = float(np.max(np.abs(nengo_out - keras_out)))
    if err > 1e-3 * max(1.0, float(np.max(np.abs(keras_out)))):
        raise RuntimeError(f"snn: copying trained NengoDL parameters into Keras failed (max |Δ| = {err:.3g})")
    return list(history.history.get("loss", []))

def copy_trained(sim: Any, converter: Any, model: Any) -> None:
    """Write the trained values of NengoDL simulator ``sim`` back into ``model``'s layers.

    Kernels are the weights of the one connection into each layer's object;
    biases are a bias node's connection (conv layers, linear dense layers) or
    the ensemble's bias (dense layers into neurons).
    """
    import nengo

    by_pre_label: dict[str, Any] = {}
    into: dict[int, list[Any]] = {}
    for conn in converter.net.all_connections:
        by_pre_label.setdefault(getattr(conn.pre_obj, "label", None) or "", conn)
        into.setdefault(id(conn.post_obj), []).append(conn)
    for layer in model.layers:
        if type(layer).__name__ not in snn_model.WEIGHTED_LAYERS:
            continue
        name = f"{layer.name}.0"
        obj = converter.layers[layer]
        kernel_conns = [c for c in into.get(id(obj), [])
                        if not (getattr(c.pre_obj, "label", "") or "").startswith(name + ".bias")]
        if len(kernel_conns) != 1:
            raise RuntimeError(f"snn: found {len(kernel_conns)} weight connections for layer {layer.name!r}")
        w = np.asarray(sim.data[kernel_conns[0]].weights)
        kernel = w.T if type(layer).__name__ == "Dense" else w
        values = [kernel.reshape(layer.kernel.shape)]
        if layer.use_bias:
            if name + ".bias" in by_pre_label:  # a trainable bias node (conv layers, linear dense)
                bias = np.asarray(sim.data[by_pre_label[name + ".bias"]].weights)[:, 0]
            elif isinstance(obj, nengo.ensemble.Neurons):  # dense into neurons: the ensemble's bias
                bias = np.asarray(sim.data[obj.ensemble].bias)
            else:
                raise RuntimeError(f"snn: cannot find the trained bias of layer {layer.name!r}")
            values.append(bias.reshape(layer.bias.shape))
        layer.set_weights(values)
