"""Speed of the spiking evaluation: NengoDL's simulator vs plain ``nengo.Simulator``.

Run the real measurement with::

    .venv/bin/pytest tests/benchmarks/test_snn_speed.py --benchmark-enable -s

The same converted network (default digits model, scale 300, synapse 10 ms)
is run for ``STEPS`` steps per image by

* ``nengodl-batch``: ``nengo_dl.Simulator`` with ``BATCH`` images per call,
* ``nengodl-one``: ``nengo_dl.Simulator`` with one image per call,
* ``nengo-core``: ``nengo.Simulator``, one image per run (the baseline).

Simulators are built once; a round is the simulation only.  Times are
compared per image per step.  Under ``make test`` (``--benchmark-disable``)
each function runs once as a plain test and :func:`test_speed_ratios` is
skipped; with ``--benchmark-enable`` it prints the figures and checks that
batching pays in NengoDL, re-measured with the sides alternating.
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np
import pytest

import bench

if importlib.util.find_spec("nengo_dl") is None:
    pytest.skip("needs ctrlbench[tf]", allow_module_level=True)

STEPS = 30
BATCH = 100
#: work of one round, in image-steps
WORK = {"nengodl-batch": BATCH * STEPS, "nengodl-one": STEPS, "nengo-core": STEPS}
TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """Ready-built simulators of one trained network, and a function running each for one round."""
    import nengo
    from bench.controllers.tfcompat import nengo_dl as _nengo_dl

    nengo_dl = _nengo_dl()
    data = bench.plant("digits").load(0)
    snn = bench.controller("snn", epochs=3, cache_dir=str(tmp_path_factory.mktemp("cache")))
    snn.fit(data[0], data[1], rng=np.random.default_rng(0))
    x = data[2][:BATCH].reshape(BATCH, 1, -1).astype(np.float32)
    runs, closers = {}, []
    for name, mb in (("nengodl-batch", BATCH), ("nengodl-one", 1)):
        conv, objs = snn.spiking_network()
        sim = nengo_dl.Simulator(conv.net, minibatch_size=mb, progress_bar=False, seed=0)
        closers.append(sim)
        feed = {objs["input"]: np.tile(x[:mb], (1, STEPS, 1))}
        runs[name] = (lambda sim=sim, feed=feed, out=objs["output"]: sim.predict_on_batch(feed)[out][:, -1])
    conv, objs = snn.spiking_network()
    objs["input"].output = lambda t: x[0, 0]
    model = nengo.builder.Model(dt=0.001, decoder_cache=nengo.cache.NoDecoderCache())
    core = nengo.Simulator(conv.net, model=model, progress_bar=False, seed=0)
    closers.append(core)

    def run_core(sim=core, out=objs["output"]):
        sim.reset()
        sim.run_steps(STEPS)
        return sim.data[out][-1:]

    runs["nengo-core"] = run_core
    yield runs, data[3][:BATCH]
    for sim in closers:
        sim.close()


def record(benchmark, engines, name: str) -> np.ndarray:
    runs, _ = engines
    benchmark.group = "snn-spiking-eval"
    benchmark.name = name
    benchmark.extra_info.update(steps=STEPS, image_steps_per_round=WORK[name])
    out = benchmark(runs[name])
    stats = getattr(benchmark, "stats", None)
    if stats is not None and not benchmark.disabled:
        TIMES[name] = stats.stats.min / WORK[name]
        benchmark.extra_info["us_per_image_step"] = TIMES[name] * 1e6
    return out


def test_nengodl_batch(benchmark, engines):
    out = record(benchmark, engines, "nengodl-batch")
    assert out.shape == (BATCH, 10)
    assert np.mean(out.argmax(-1) == engines[1]) > 0.8


def test_nengodl_one(benchmark, engines):
    assert record(benchmark, engines, "nengodl-one").shape == (1, 10)


def test_nengo_core(benchmark, engines):
    out = record(benchmark, engines, "nengo-core")
    assert out.shape == (1, 10)
    dl = engines[0]["nengodl-one"]()
    assert out.argmax() == dl.argmax()  # same network, same answer (initial voltages differ)


def interleaved(fns: dict[str, object], seconds: float = 3.0) -> dict[str, float]:
    """Minimum time per image-step of each function, calling them in turn for ``seconds``."""
    best = dict.fromkeys(fns, float("inf"))
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], (time.perf_counter() - t0) / WORK[name])
    return best


def test_speed_ratios(engines):
    if len(TIMES) < len(WORK):
        pytest.skip("speed ratios need --benchmark-enable")
    again = interleaved(engines[0])
    for name in WORK:
        print(f"{name:14s} {TIMES[name] * 1e6:8.1f} µs per image-step (benchmark min), "
              f"{again[name] * 1e6:8.1f} interleaved")
    print(f"nengo-core / nengodl-batch: {again['nengo-core'] / again['nengodl-batch']:.1f}x; "
          f"nengo-core / nengodl-one: {again['nengo-core'] / again['nengodl-one']:.2f}x")
    assert again["nengodl-one"] / again["nengodl-batch"] > 2.0
