"""Gauss-Newton products and gradients of a hessianfree ``RNNet``, layer by layer over the whole sequence.

``hessianfree.RNNet.calc_G`` (and ``calc_grad``) walk the sequence one time step at a time and, inside each
step, every layer and connection: about thirty small NumPy calls per step, of which a third accumulate the
weight products ``activations[pre][:, s].T @ deltas[post][:, s]`` one step at a time.  For ``ahf``'s network
(64 trials, 40 steps, 32 units) that is 6-7 ms per product, and an HF update takes up to 96 of them: the
products are over 90% of a training epoch.

The same sums, reordered (the results differ only by float round-off, about 1e-15 relative):

* In hessianfree's R-pass the network input (layer 0, read from the plant) is a constant, and the
  connections ``pre → post`` go forward (``pre < post``), so within one step layer ``l`` depends only on
  earlier layers at that step and on itself at the previous step (a recurrent connection or a stateful
  layer's state).  The R-forward pass can therefore run one *layer* at a time over all steps: the parts that
  need no recursion (``activations[pre] @ v`` and ``R[pre] @ W`` for every step) are one 2-D matrix product
  over ``steps × batch`` rows, and only the recursion through time (``R[l][s - 1] @ W_rec``, a plant's
  ``d_state`` chain) remains a loop, of two or three calls per step.
* The backward pass likewise runs layer by layer from the last one, and the deltas of every step are kept,
  so the weight products become one ``(steps·batch) × size`` matrix product per connection after the loop.
* A stateful last layer (ahf's arm) whose loss has curvature at only a few steps (the end of the reach, and
  of the return) needs its R-state at those steps only: the products of its ``d_state`` Jacobians from
  every step to each costed one are computed once per minibatch, and the state's chain through time becomes
  one sum over the steps, forward and backward (``_Cached._chain``).

From the shipped arm2 weights one product takes about 3.8 ms against hessianfree's 6.3 ms on this machine,
and an HF epoch about 300 ms against 880 ms (``tests/benchmarks/test_ahf_speed.py``).

:func:`gauss_newton_product` is ``calc_G(v, damping)`` and :func:`gradient` is ``calc_grad()`` for a net
whose minibatch is cached (``cache_minibatch``); :func:`supported` says whether a net's structure allows it
(no truncated backpropagation, no layer both recurrent and stateful); otherwise hessianfree's own methods
apply.  ``tests/test_ahf_gauss_newton.py`` checks both against hessianfree's to float tolerance, and
``tests/benchmarks/test_ahf_speed.py`` measures the epoch against the reference's.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def supported(net: Any) -> bool:
    """Whether :func:`gauss_newton_product` and :func:`gradient` compute ``net``'s products exactly."""
    if getattr(net, "truncation", None) is not None:
        return False
    if any(layer.stateful and i in net.rec_layers for i, layer in enumerate(net.layers)):
        return False
    return all(pre < post for pre, posts in net.conns.items() for post in posts)


def _time_major(a: np.ndarray | None) -> np.ndarray | None:
    """``(batch, steps, ...)`` → a ``(steps, batch, ...)`` view (contiguous when stored time-major)."""
    return None if a is None else np.swapaxes(a, 0, 1)


def _mm(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``a @ w`` over every leading axis of ``a``, as one 2-D product."""
    return (a.reshape(-1, a.shape[-1]) @ w).reshape(*a.shape[:-1], w.shape[-1])


def _jv(j: np.ndarray, x: np.ndarray, transpose: bool = False) -> np.ndarray:
    """``J x`` (or ``Jᵀ x``) per trial: ``J`` diagonal (same shape as ``x``: elementwise) or full (one more axis)."""
    if j.ndim == x.ndim:
        return j * x
    return np.einsum("...ji,...j->...i" if transpose else "...ij,...j->...i", j, x)


class _Cached:
    """What a product needs from the cached minibatch, computed once per ``cache_minibatch``.

    ``acts``: time-major activations; ``jac``: per layer its time-major derivative ``(steps, batch, ...)``,
    for a stateful layer the three Jacobians ``(d_input, d_state, d_output)``, each contiguous; ``inputs``:
    per parameter-fed layer ``l``, the matrix ``X_l`` of ``(steps·batch)`` rows holding every activation that
    a parameter multiplies on the way into ``l`` (each ``pre`` of ``l``, then ``l``'s own previous step if it
    is recurrent, zero at the first step) and a column of ones (the biases), so that one product ``X_l @ V``
    gives the parameter-driven input of ``l`` at every step and one product ``X_lᵀ @ deltas_l`` every weight
    and bias product into ``l``.
    """

    def __init__(self, net: Any) -> None:
        self.source = net.activations
        self.acts = [_time_major(a) for a in net.activations]
        self.jac: list[Any] = []
        for layer, d in zip(net.layers, net.d_activations):
            d = _time_major(d)
            self.jac.append(tuple(np.ascontiguousarray(d[..., k]) for k in range(3)) if layer.stateful else d)
        steps, batch = self.acts[0].shape[:2]
        self.inputs: dict[int, np.ndarray] = {}
        for layer in range(net.n_layers):
            if not _fed(net, layer):
                continue
            blocks = [self.acts[pre] for pre in net.back_conns[layer]]
            if layer in net.rec_layers:
                shifted = np.zeros_like(self.acts[layer])
                shifted[1:] = self.acts[layer][:-1]
                blocks.append(shifted)
            blocks.append(np.ones((steps, batch, 1), dtype=net.dtype))
            self.inputs[layer] = np.concatenate(blocks, axis=2).reshape(steps * batch, -1)
        self.chains = {layer: chain for layer in range(net.n_layers)
                       if (chain := self._chain(net, layer)) is not None}

    def _chain(self, net: Any, layer: int) -> tuple[np.ndarray, list[np.ndarray]] | None:
        """For a stateful last layer whose loss curvature is zero but at a few steps ``C`` (ahf's arm: the
        final step, or the ends of the reach and of the return): ``(C, [Φ_c for c in C])``, where
        ``Φ_c[k] = d_state[c] ⋯ d_state[k + 1]`` (``(c + 1, batch, S, S)``; ``Φ_c[c] = I``) carries the
        layer's state from step ``k`` to step ``c``.  The Gauss-Newton product then needs the state only at
        ``C`` in the forward pass, and its backward pass is a sum over ``C``: no loop over the steps."""
        d2 = net.d2_loss[layer] if net.d2_loss is not None else None
        if not net.layers[layer].stateful or net.conns.get(layer) or d2 is None or self.jac[layer][1].ndim != 4:
            return None
        steps = np.flatnonzero(np.any(_time_major(d2) != 0, axis=(1, 2)))
        if len(steps) > 4:
            return None
        d_state = self.jac[layer][1]
        chains = []
        for c in steps:
            phi = np.empty((c + 1, *d_state.shape[1:]), dtype=d_state.dtype)
            phi[c] = np.eye(d_state.shape[-1], dtype=d_state.dtype)
            for k in range(c - 1, -1, -1):
                np.matmul(phi[k + 1], d_state[k + 1], out=phi[k])
            chains.append(phi)
        return steps, chains


def _cached(net: Any) -> _Cached:
    c = getattr(net, "_gauss_newton_cache", None)
    if c is None or c.source is not net.activations:
        c = net._gauss_newton_cache = _Cached(net)
    return c


def _stacked(net: Any, vec: np.ndarray, layer: int) -> np.ndarray:
    """The parameters of ``vec`` that multiply the rows of ``X_layer``, stacked in the same order (the last
    row: the sum of the feed-forward biases)."""
    blocks = [net.get_weights(vec, (pre, layer))[0] for pre in net.back_conns[layer]]
    if layer in net.rec_layers:
        blocks.append(net.get_weights(vec, (layer, layer))[0])
    bias = np.zeros(net.shape[layer], dtype=net.dtype)
    for pre in net.back_conns[layer]:
        bias += net.get_weights(vec, (pre, layer))[1]
    return np.concatenate([*blocks, bias[None, :]], axis=0)


def _fed(net: Any, layer: int) -> bool:
    """Whether parameters feed ``layer`` (otherwise its R-activation and deltas are zero)."""
    return bool(net.back_conns[layer]) or layer in net.rec_layers


def _r_forward(net: Any, v: np.ndarray) -> list[np.ndarray | None]:
    """R-activations ``(steps, batch, size)`` of every layer for the parameter direction ``v``."""
    cached = _cached(net)
    jac = cached.jac
    steps, batch = cached.acts[0].shape[:2]
    W = {c: net.get_weights(net.W, c) for c in net.offsets}
    R: list[np.ndarray | None] = [None] * net.n_layers
    for layer in range(net.n_layers):
        if not _fed(net, layer):
            continue
        drive = (cached.inputs[layer] @ _stacked(net, v, layer)).reshape(steps, batch, -1)
        for pre in net.back_conns[layer]:
            if R[pre] is not None:
                drive += _mm(R[pre], W[pre, layer][0])
        if layer in net.rec_layers:
            drive[0] += net.get_weights(v, (layer, layer))[1]  # the recurrent bias acts on the first step only
        j = jac[layer]
        if layer in cached.chains:  # the state at the costed steps only, each as one sum over the steps
            d_input, _, d_output = j
            u = _jv(d_input, drive)
            R[layer] = np.zeros_like(drive)
            for c, phi in zip(*cached.chains[layer]):
                R[layer][c] = _jv(d_output[c], np.einsum("kbij,kbj->bi", phi, u[: c + 1]))
        elif net.layers[layer].stateful:
            d_input, d_state, d_output = j
            state = _jv(d_input, drive)
            for s in range(1, steps):
                state[s] += _jv(d_state[s], state[s - 1])
            R[layer] = _jv(d_output, state)
        elif layer in net.rec_layers:
            w_rec, tmp = W[layer, layer][0], np.empty((batch, net.shape[layer]), dtype=net.dtype)
            diagonal = j.ndim == drive.ndim
            drive[0] = _jv(j[0], drive[0])
            for s in range(1, steps):
                drive[s] += np.dot(drive[s - 1], w_rec, out=tmp)
                if diagonal:
                    drive[s] *= j[s]
                else:
                    drive[s] = _jv(j[s], drive[s])
            R[layer] = drive
        else:
            R[layer] = _jv(j, drive)
    return R


def _backward(net: Any, errors: list[np.ndarray | None], sparse: bool = False) -> list[np.ndarray | None]:
    """Deltas ``(steps, batch, size)`` of every parameter-fed layer, from the loss's error on each layer's
    output (``errors[l]``, time-major, or None for none); ``sparse``: the errors of a layer with a chain
    (:meth:`_Cached._chain`) are zero but at its costed steps (true of the Gauss-Newton product's)."""
    cached = _cached(net)
    jac = cached.jac
    steps, batch = cached.acts[0].shape[:2]
    W = {c: net.get_weights(net.W, c)[0] for c in net.offsets}
    deltas: list[np.ndarray | None] = [None] * net.n_layers
    for layer in range(net.n_layers - 1, -1, -1):
        if not _fed(net, layer):
            continue
        e = errors[layer]
        err = np.array(e, dtype=net.dtype) if e is not None else \
            np.zeros((steps, batch, net.shape[layer]), dtype=net.dtype)
        for post in net.conns[layer]:
            if deltas[post] is not None:
                err += _mm(deltas[post], W[layer, post].T)
        j = jac[layer]
        if sparse and layer in cached.chains:  # an error at the costed steps only
            d_input, _, d_output = j
            state = np.zeros_like(err)
            for c, phi in zip(*cached.chains[layer]):
                state[: c + 1] += np.einsum("kbji,bj->kbi", phi, _jv(d_output[c], err[c], transpose=True))
            deltas[layer] = _jv(d_input, state, transpose=True)
        elif net.layers[layer].stateful:
            d_input, d_state, d_output = j
            state = _jv(d_output, err, transpose=True)
            for s in range(steps - 2, -1, -1):
                state[s] += _jv(d_state[s + 1], state[s + 1], transpose=True)
            deltas[layer] = _jv(d_input, state, transpose=True)
        elif layer in net.rec_layers:
            w_rec_t = np.ascontiguousarray(W[layer, layer].T)
            tmp = np.empty((batch, net.shape[layer]), dtype=net.dtype)
            diagonal = j.ndim == err.ndim
            err[-1] = _jv(j[-1], err[-1], transpose=True)
            for s in range(steps - 2, -1, -1):
                err[s] += np.dot(err[s + 1], w_rec_t, out=tmp)
                if diagonal:
                    err[s] *= j[s]
                else:
                    err[s] = _jv(j[s], err[s], transpose=True)
            deltas[layer] = err
        else:
            deltas[layer] = _jv(j, err, transpose=True)
    return deltas


def _weight_products(net: Any, deltas: list[np.ndarray | None], out: np.ndarray) -> np.ndarray:
    """``Σ_steps Σ_trials activation ⊗ delta`` for every connection, written into ``out`` (a parameter vector)."""
    cached = _cached(net)
    out.fill(0)
    for layer, x in cached.inputs.items():
        d = deltas[layer]
        products = x.T @ d.reshape(-1, d.shape[-1])
        row = 0
        for pre in net.back_conns[layer]:
            w, b = net.get_weights(out, (pre, layer))
            w[...] = products[row: row + w.shape[0]]
            b[...] = products[-1]
            row += w.shape[0]
        if layer in net.rec_layers:
            w, b = net.get_weights(out, (layer, layer))
            w[...] = products[row: row + w.shape[0]]
            b[...] = d[0].sum(axis=0)
    return out


def gauss_newton_product(net: Any, v: np.ndarray, damping: float = 0.0,
                         out: np.ndarray | None = None) -> np.ndarray:
    """``(G + damping·I) v`` for the cached minibatch: ``hessianfree.RNNet.calc_G``'s result, reordered."""
    R = _r_forward(net, v)
    errors = [None if d2 is None or r is None else _time_major(d2) * r for d2, r in zip(net.d2_loss, R)]
    gv = np.empty(net.W.size, dtype=net.dtype) if out is None else out
    _weight_products(net, _backward(net, errors, sparse=True), gv)
    gv /= net.inputs.shape[0]
    gv += damping * v
    return gv


def gradient(net: Any) -> np.ndarray:
    """The loss gradient for the cached minibatch: ``hessianfree.RNNet.calc_grad``'s result, reordered."""
    errors = [_time_major(e) for e in net.loss.d_loss(net.activations, net.targets)]
    grad = _weight_products(net, _backward(net, errors), np.empty_like(net.W))
    grad /= net.inputs.shape[0]
    return grad


def one_blas_thread() -> Any:
    """A context in which BLAS (OpenBLAS, MKL) runs on one thread.

    The network's products are small (64 × 32 by 32 × 32 per step, or 2560 × 73 by 73 × 32 over a
    sequence): a second BLAS thread gains little and, when another process keeps the second core busy,
    waits for it at every call.  On this 2-core machine, with one core busy, one HF epoch from the
    shipped arm2 weights took 2214 ms with OpenBLAS's default two threads and 517 ms with one.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")
