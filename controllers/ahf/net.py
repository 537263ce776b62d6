"""The recurrent network of the ``ahf`` controller (Sutskever's architecture).

Layers ``0 Linear(2S) → 1 Tanh(N) → 2 Tanh(N) → 3 Linear(S) → 4 Plant(S)``,
feed-forward ``0→1→2→3→4`` plus the skip ``0→2``, recurrent connections on
layers 1 and 2.  The input at each step is ``[target state, current state]``
(``2S`` numbers: joint angles in rad, velocities in rad/s); the first ``U``
outputs of layer 3 are the joint torques (N·m).  The ``3→4`` weights are the
identity with zero bias and are masked from learning: :class:`MaskedRNNet`
zeroes their gradient and Gauss-Newton product, so conjugate gradient never
moves them (rather than moving them and throwing the step away).

:class:`Policy` runs the trained weights one step at a time for ``act``,
exactly as ``RNNet.forward`` does over a sequence (bias of the recurrent
connection only on the first step, one bias per connection).
"""

from __future__ import annotations

from typing import Any

import hessianfree as hf
import numpy as np

from bench.errors import CheckpointError

from . import gauss_newton
from .losses import MaskedSquaredError, make_losses  # noqa: F401  (make_losses re-exported)

CONNS = {0: [1, 2], 1: [2], 2: [3], 3: [4]}
REC_LAYERS = (1, 2)
FIXED = (3, 4)

#: studywolf/control's network: ``[2S, N, N, S, S]`` for its two-link arm (S = 4) and N = 32.
STUDYWOLF_SHAPE = (8, 32, 32, 4, 4)


def studywolf_parameter_count() -> int:
    """Parameters of studywolf/control's ``RNNet`` (3896), counted by hessianfree itself.

    Builds the network as studywolf's ``controllers/ahf.py`` does (layers
    Linear, Tanh, Tanh, Linear, Linear; ``rec_layers=[1, 2]``; ``conns``
    :data:`CONNS`) and reads the end of its parameter vector from ``offsets``.
    """
    layers = [hf.nl.Linear(), hf.nl.Tanh(), hf.nl.Tanh(), hf.nl.Linear(), hf.nl.Linear()]
    net = hf.RNNet(list(STUDYWOLF_SHAPE), layers=layers, rec_layers=list(REC_LAYERS),
                   conns={k: list(v) for k, v in CONNS.items()}, rng=np.random.RandomState(0))
    return int(max(end for _, _, end in net.offsets.values()))


def layer_sizes(n_state: int, hidden: int) -> list[int]:
    """``[2S, N, N, S, S]``."""
    return [2 * n_state, hidden, hidden, n_state, n_state]


def time_major(a: np.ndarray | None) -> np.ndarray | None:
    """The same ``(batch, time, ...)`` array, stored time-major in memory.

    hessianfree's recurrent loops read ``a[:, s]`` at every step; in its own
    batch-major layout that slice is strided and every ``np.dot`` on it copies
    or runs a slow strided kernel.  Stored time-major, ``a[:, s]`` is one
    contiguous block; shape and values are unchanged, so hessianfree's code
    runs as is.
    """
    if a is None or a.ndim < 3:
        return a
    return np.ascontiguousarray(np.swapaxes(a, 0, 1)).swapaxes(0, 1)


class MaskedRNNet(hf.RNNet):
    """``hf.RNNet`` whose fixed parameters (``self.fixed``) never change, with
    cheaper Gauss-Newton products.

    * ``calc_grad`` and ``calc_G`` zero the fixed entries, so CG never moves them, and compute hessianfree's
      products layer by layer over the whole sequence (:mod:`.gauss_newton`: the same sums reordered, 1.7×
      faster).
    * ``cache_minibatch`` re-stores the cached activations, derivatives, loss
      curvature and scratch space time-major (:func:`time_major`): ``calc_G``
      and ``calc_grad`` then slice contiguous memory at every step.
    * ``J_dot`` multiplies the small per-trial Jacobians of the plant layer
      with ``matmul`` instead of ``einsum`` (same result, fewer temporaries);
      diagonal Jacobians are unchanged.
    """

    fixed: np.ndarray | None = None

    def cache_minibatch(self, inputs, targets, minibatch=None):
        super().cache_minibatch(inputs, targets, minibatch)
        self.activations = [time_major(a) for a in self.activations]
        self.d_activations = [time_major(a) for a in self.d_activations]
        self.d2_loss = [time_major(a) for a in self.d2_loss]
        self.tmp_space = [time_major(a) for a in self.tmp_space]

    def calc_grad(self) -> np.ndarray:
        grad = gauss_newton.gradient(self) if gauss_newton.supported(self) else super().calc_grad()
        if self.fixed is not None:
            grad[self.fixed] = 0
        return grad

    def calc_G(self, v: np.ndarray, damping: float = 0, out: np.ndarray | None = None) -> np.ndarray:
        if gauss_newton.supported(self):
            gv = gauss_newton.gauss_newton_product(self, v, damping=damping, out=out)
        else:
            gv = super().calc_G(v, damping=damping, out=out)
        if self.fixed is not None:
            gv[self.fixed] = 0
        return gv

    @staticmethod
    def J_dot(J: np.ndarray, vec: np.ndarray, transpose_J: bool = False, out: np.ndarray | None = None):
        if J.ndim == 2:
            return np.multiply(J, vec) if out is None else np.multiply(J, vec, out=out)
        if transpose_J:
            J = np.swapaxes(J, 1, 2)
        res = np.matmul(J, vec[:, :, None])[:, :, 0]
        if out is None:
            return res
        out[...] = res
        return out


def build_network(n_state: int, hidden: int, *, plant_layer: Any = None, losses: Any = None,
                  dtype: Any = np.float64, seed: int = 0, init_coeff: float = 0.1,
                  weights: np.ndarray | None = None, output_gain: float = 1.0) -> MaskedRNNet:
    """The ``ahf`` network; random sparse init from ``seed`` unless ``weights`` is given.

    ``plant_layer`` is the last layer for training (an :class:`ArmPlantLayer`);
    without it a linear placeholder stands in (enough for reading weights).
    The fixed ``3→4`` weights are ``output_gain × identity`` (N·m per output
    unit; 1 = the reference's identity); loaded weights keep their own.
    """
    shape = layer_sizes(n_state, hidden)
    last = plant_layer if plant_layer is not None else hf.nl.Linear()
    layers = [hf.nl.Linear(), hf.nl.Tanh(), hf.nl.Tanh(), hf.nl.Linear(), last]
    kwargs: dict[str, Any] = {
        "layers": layers, "conns": {k: list(v) for k, v in CONNS.items()}, "rec_layers": list(REC_LAYERS),
        "loss_type": losses if losses is not None else MaskedSquaredError(),
        "rng": np.random.RandomState(seed), "dtype": np.dtype(dtype).type}
    if weights is not None:
        expected = parameter_count(n_state, hidden)
        weights = np.asarray(weights)
        if weights.ndim != 1 or weights.size != expected:
            raise CheckpointError(
                f"ahf weights have {weights.size} parameters; a network with state size {n_state} and "
                f"hidden={hidden} has {expected}")
        kwargs["load_weights"] = np.array(weights, dtype=np.dtype(dtype))
    else:
        kwargs["W_init_params"] = {"coeff": init_coeff}
        kwargs["W_rec_params"] = {"coeff": init_coeff}
    net = MaskedRNNet(shape, **kwargs)
    fixed = np.zeros(net.W.shape, dtype=bool)
    start, _, end = net.offsets[FIXED]
    fixed[start:end] = True
    net.fixed = fixed
    if weights is None:
        w, b = net.get_weights(net.W, FIXED)
        w[...] = output_gain * np.eye(n_state, dtype=net.dtype)
        b[...] = 0
    return net


def parameter_count(n_state: int, hidden: int) -> int:
    """Number of parameters of the network for state size ``S`` and ``N`` hidden units."""
    shape = layer_sizes(n_state, hidden)
    ff = sum((shape[pre] + 1) * shape[post] for pre, posts in CONNS.items() for post in posts)
    return ff + sum((shape[layer] + 1) * shape[layer] for layer in REC_LAYERS)


def infer_hidden(n_params: int, n_state: int) -> int | None:
    """The ``N`` giving ``n_params`` parameters for state size ``S`` (None if none)."""
    for n in range(1, 4097):
        c = parameter_count(n_state, n)
        if c == n_params:
            return n
        if c > n_params:
            return None
    return None


class Policy:
    """The trained network run one control step at a time (for ``act``).

    ``step(inputs)`` takes ``(n, 2S)`` inputs ``[target state, state]`` and
    returns ``(n, U)`` torques (N·m); the recurrent activations persist
    between calls until :meth:`reset`.  ``output="first"`` (ctrlbench's
    networks) takes the first ``U`` outputs as the torques; ``output="sum"``
    (studywolf/control's) adds every ``U``-th output, ``u_j = Σ_i out_{j+iU}``,
    and fixes the ``3→4`` weights to the identity as studywolf's loader does
    (their bias is kept as stored).
    """

    def __init__(self, weights: np.ndarray, n_state: int, n_input: int, hidden: int,
                 dtype: Any = np.float64, output: str = "first") -> None:
        if output not in ("first", "sum"):
            raise CheckpointError(f"ahf network output {output!r}: expected 'first' or 'sum'")
        net = build_network(n_state, hidden, weights=weights, dtype=dtype)
        if output == "sum":
            w, _ = net.get_weights(net.W, FIXED)
            w[...] = np.eye(n_state, dtype=net.dtype)
        self.dtype = net.dtype
        self.n_input = n_input
        self.output = output
        g = net.get_weights
        self.ff = {(pre, post): tuple(np.array(a) for a in g(net.W, (pre, post)))
                   for pre, posts in CONNS.items() for post in posts}
        self.rec = {layer: tuple(np.array(a) for a in g(net.W, (layer, layer))) for layer in REC_LAYERS}
        self.back = {post: [pre for pre, posts in CONNS.items() if post in posts] for post in range(5)}
        self.reset()

    def reset(self) -> None:
        self.prev: dict[int, np.ndarray] = {}

    def step(self, inputs: np.ndarray) -> np.ndarray:
        act = {0: np.asarray(inputs, dtype=self.dtype)}
        for layer in (1, 2, 3, 4):
            x = 0.0
            for pre in self.back[layer]:
                w, b = self.ff[(pre, layer)]
                x = x + act[pre] @ w + b
            if layer in self.rec:
                w, b = self.rec[layer]
                x = x + (b if layer not in self.prev else self.prev[layer] @ w)
            act[layer] = np.tanh(x) if layer in (1, 2) else x
        for layer in REC_LAYERS:
            self.prev[layer] = act[layer]
        out = act[4]
        if self.output == "sum":
            n, size = out.shape
            return out.reshape(n, size // self.n_input, self.n_input).sum(axis=1)
        return out[:, : self.n_input]
