"""Speed of the spiking evaluation: NengoDL's simulator vs plain ``nengo.Simulator``.

Run the real measurement with::

    .venv/bin/pytest tests/benchmarks/test_snn_speed.py --benchmark-enable

The same converted network (the default digits model trained once per
session, ``trained_snn`` in tests/conftest.py; scale 300, synapse 10 ms) is
run for ``STEPS`` steps per image by

* ``nengodl-batch``: ``nengo_dl.Simulator`` with ``BATCH`` images per call,
* ``nengodl-one``: ``nengo_dl.Simulator`` with one image per call,
* ``nengo-core``: ``nengo.Simulator``, one image per run (the baseline),

all in group ``snn-spiking-eval``.  Simulators are built once; a round is the
simulation only.  Times are compared per image per step.  Every function
checks its output: the batch classifies more than 80% of its images right,
and the single-image runs give the batch's answer for its first image.
Under ``make test`` (``--benchmark-disable``) each function runs once and
:func:`test_speed_ratios` calls each engine once; with ``--benchmark-enable``
it times the engines in turn for a few seconds, reports the figures per
image-step and checks that batching pays in NengoDL (:data:`RATIOS`).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

if importlib.util.find_spec("nengo_dl") is None:
    pytest.skip("needs ctrlbench[tf]", allow_module_level=True)

STEPS = 30
BATCH = 100
#: work of one round, in image-steps
WORK = {"nengodl-batch": BATCH * STEPS, "nengodl-one": STEPS, "nengo-core": STEPS}
#: (measured, baseline) -> minimum ratio of the times per image-step (None: reported only)
RATIOS = {
    ("nengodl-batch", "nengodl-one"): 2.0,
    ("nengodl-batch", "nengo-core"): None,
    ("nengodl-one", "nengo-core"): None,
}


@pytest.fixture(scope="module")
def engines(trained_snn, digits):
    """Ready-built simulators of one trained network, a function running each for one round,
    and the labels of the batch's images."""
    import nengo

    from bench.controllers.tfcompat import nengo_dl as _nengo_dl

    nengo_dl = _nengo_dl()
    snn, data = trained_snn, digits
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
        benchmark.extra_info["us_per_image_step"] = stats.stats.min / WORK[name] * 1e6
    return out


def check(name: str, out: np.ndarray, batch_answer: np.ndarray, labels: np.ndarray) -> None:
    """The output of engine ``name``, against the batch engine's answers and the labels."""
    if name == "nengodl-batch":
        assert out.shape == (BATCH, 10) and np.all(np.isfinite(out))
        assert np.mean(out.argmax(-1) == labels) > 0.8
    else:  # same network, same answer for the first image (initial voltages differ)
        assert out.shape == (1, 10) and np.all(np.isfinite(out))
        assert out.argmax() == batch_answer[0]


@pytest.fixture(scope="module")
def batch_answer(engines):
    """The batch engine's answers for its ``BATCH`` images."""
    return engines[0]["nengodl-batch"]().argmax(-1)


def test_nengodl_batch(benchmark, engines, batch_answer):
    check("nengodl-batch", record(benchmark, engines, "nengodl-batch"), batch_answer, engines[1])


def test_nengodl_one(benchmark, engines, batch_answer):
    check("nengodl-one", record(benchmark, engines, "nengodl-one"), batch_answer, engines[1])


def test_nengo_core(benchmark, engines, batch_answer):
    check("nengo-core", record(benchmark, engines, "nengo-core"), batch_answer, engines[1])


def test_speed_ratios(speed, engines, batch_answer):
    """The three engines called in turn for a few seconds (once each under ``make test``)."""
    runs, labels = engines
    times, out = speed.minima(runs, rounds=3, seconds=3.0)
    for name, result in out.items():
        check(name, result, batch_answer, labels)
    speed.check_ratios("snn-spiking-eval", {name: t / WORK[name] for name, t in times.items()}, RATIOS)
