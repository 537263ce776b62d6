"""The ``classify`` task: train a classifier, then score it in rate and spiking mode.

The dataset takes the plant's place (``bench run digits snn classify``).  One
run fits the classifier on the training split (a classifier may reuse a
cached training), then presents every test image for ``T`` time steps and
records accuracy, latency, work and firing statistics.

Metrics (per run; ops are per image):

* ``rate_accuracy``; ``spiking_accuracy`` at the last step; the accuracy at
  every step is the ``accuracy`` frame.
* ``latency_steps`` / ``latency_ms``: per image, the first step from which the
  prediction stays correct, averaged over the images correct at the end;
  ``settle_steps`` / ``settle_ms``: the first step whose accuracy is within
  ``tolerance`` of the final accuracy.
* ``wall_us_per_image_step``, ``wall_ms_per_image``: simulation wall time.
* ``rate_hz_mean``, ``rate_hz_max``, ``silent_fraction`` (over all hidden
  neurons, and per layer with a ``_LAYER`` suffix).
* ``sparsity_spiking`` / ``sparsity_rate``: fraction of zero activations.
* ``synops_ac`` (spike × fan-out accumulates), ``synops_mac`` (analog input
  multiply-accumulates over the presentation), ``synops_spiking`` (their sum),
  ``synops_rate`` (effective MACs of one rate-mode pass), ``synops_dense``
  (every synapse once): NeuroBench's effective synaptic operations.
* ``param_bytes``; ``train_s``, ``train_cached``.
* With ``auto=true``: ``auto_n_steps``, the smallest of ``auto_steps`` whose
  spiking accuracy is within ``tolerance`` of the rate accuracy (NaN if none),
  with ``auto_accuracy``, ``auto_ms`` and ``auto_synops``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..api import Metric, Result, Task
from ..capabilities import CountsOperations, Images, PredictsRate, Saves, Simulates
from ..errors import InvalidArgument
from ..guards import check_work
from ..settings import setting

METRICS = {
    "rate_accuracy": Metric("", "higher", "test accuracy of the rate-mode network"),
    "spiking_accuracy": Metric("", "higher", "test accuracy of the spiking network at the last step"),
    "accuracy_gap": Metric("", "lower", "rate_accuracy - spiking_accuracy"),
    "n_steps": Metric("steps", "", "time steps each image was presented for"),
    "latency_steps": Metric("steps", "lower", "mean first step from which the prediction stays correct"),
    "latency_ms": Metric("ms", "lower", "latency_steps in simulated time"),
    "settle_steps": Metric("steps", "lower", "first step with accuracy within tolerance of the final one"),
    "settle_ms": Metric("ms", "lower", "settle_steps in simulated time"),
    "wall_us_per_image_step": Metric("µs", "lower", "simulation wall time per image per step"),
    "wall_ms_per_image": Metric("ms", "lower", "simulation wall time per image, whole presentation"),
    "rate_hz_mean": Metric("Hz", "", "mean firing rate of the hidden neurons"),
    "rate_hz_max": Metric("Hz", "", "largest firing rate of a hidden neuron"),
    "silent_fraction": Metric("", "lower", "fraction of hidden neurons that never spiked"),
    "sparsity_spiking": Metric("", "higher", "fraction of (neuron, step) entries without a spike"),
    "sparsity_rate": Metric("", "higher", "fraction of zero rate-mode activations"),
    "synops_ac": Metric("ops", "lower", "effective accumulates per image (spikes × fan-out)"),
    "synops_mac": Metric("ops", "lower", "effective multiply-accumulates per image from analog inputs"),
    "synops_spiking": Metric("ops", "lower", "synops_ac + synops_mac per image"),
    "synops_rate": Metric("ops", "lower", "effective MACs per image of one rate-mode pass"),
    "synops_dense": Metric("ops", "", "MACs of one dense pass (every synapse once)"),
    "param_bytes": Metric("B", "lower", "parameter footprint"),
    "train_s": Metric("s", "lower", "training wall time (of the cached run, if reused)"),
    "train_cached": Metric("", "", "1 if the trained parameters came from the cache"),
    "auto_n_steps": Metric("steps", "lower", "smallest candidate presentation within tolerance of rate mode"),
    "auto_accuracy": Metric("", "higher", "spiking accuracy at auto_n_steps"),
    "auto_ms": Metric("ms", "lower", "auto_n_steps in simulated time"),
    "auto_synops": Metric("ops", "lower", "synops_spiking per image at auto_n_steps"),
}


@dataclass
class ClassifySettings:
    auto: bool = setting(False, "present for max(auto_steps) and pick the shortest presentation within tolerance")
    auto_steps: tuple[int, ...] = setting((5, 10, 15, 20, 25, 30, 40, 50, 75, 100),
                                          "candidate presentations for auto", unit="steps", ge=1)
    tolerance: float = setting(0.01, "accuracy difference that counts as equal (0.01: one point)", ge=0, le=1)
    plots: bool = setting(True, "save raster, output and accuracy plots in the run's folder")
    raster_neurons: int = setting(40, "neurons shown in the spike raster", ge=1)


def stays_correct_from(correct: np.ndarray) -> np.ndarray:
    """Per image, the first step (1-based) from which ``correct (n, T)`` stays true; NaN if wrong at the end."""
    correct = np.asarray(correct, bool)
    steps = correct.shape[1]
    wrong = ~correct
    last_wrong = steps - 1 - np.argmax(wrong[:, ::-1], axis=1)  # 0-based index of the last wrong step
    out = np.where(wrong.any(axis=1), last_wrong + 2, 1).astype(float)
    out[~correct[:, -1]] = np.nan
    return out


def settle_step(curve: np.ndarray, tolerance: float) -> int:
    """First step (1-based) whose accuracy is within ``tolerance`` of the last one."""
    curve = np.asarray(curve, float)
    return int(np.argmax(np.abs(curve - curve[-1]) <= tolerance + 1e-12)) + 1


class Classify(Task):
    """Fit a classifier, score it in rate and spiking mode; metrics in :data:`METRICS`."""

    Settings = ClassifySettings
    METRICS = METRICS
    HEADLINE = ("spiking_accuracy", "rate_accuracy", "latency_ms", "synops_spiking")
    SCORE = ("spiking_accuracy",)
    TRAINS = True  # every run fits the classifier: its training settings shape the run

    def steps(self) -> dict[str, int]:
        """With ``auto``, the longest presentation (checked before the run; × the test images, when they
        are loaded)."""
        return {"classify.auto_steps": max(self.settings.auto_steps)} if self.settings.auto else {}

    def run(self, plant: Any, controller: Any, seed: int, *, workdir: Path | None = None) -> Result:
        import pandas as pd

        s = self.settings
        if not isinstance(plant, Images):
            raise InvalidArgument(f"classify needs a dataset; {getattr(plant, 'name', plant)!r} is not one")
        x_train, y_train, x_test, y_test = plant.load(seed)
        n_classes = int(getattr(plant, "n_classes", 0) or int(np.max(y_train)) + 1)
        for name, y in (("y_train", y_train), ("y_test", y_test)):
            y = np.asarray(y)
            if y.size and (y.min() < 0 or y.max() >= n_classes):
                raise InvalidArgument(f"classify: {name} has labels out of range [0, {n_classes})")
        configured = int(getattr(getattr(controller, "settings", None), "n_steps", 0) or 1)
        steps = max(configured, max(s.auto_steps)) if s.auto else configured
        # every test image's outputs at every step are kept: refused before any training (bench.limits)
        check_work(None, {}, steps={"n_steps" if steps == configured else "classify.auto_steps": steps},
                   batch=len(x_test), trials="test images")
        rng = np.random.default_rng(seed)
        fit_info = controller.fit(x_train, y_train, rng=rng) or {}
        metrics: dict[str, float] = {}
        info: dict[str, Metric] = {}
        rate_acc = math.nan
        if isinstance(controller, PredictsRate):
            rate_acc = float(np.mean(controller.predict_rate(x_test).argmax(-1) == y_test))
        if isinstance(controller, Simulates):
            run = controller.simulate(x_test, steps)
            outputs, wall = run.outputs, run.wall_s
            dt = run.dt
        else:
            import time

            t0 = time.perf_counter()
            outputs = np.asarray(controller.predict(x_test, steps))
            wall, run, dt = time.perf_counter() - t0, None, float(getattr(controller.settings, "dt", 0.001))
        if outputs.ndim != 3 or outputs.shape[0] != len(y_test):
            raise InvalidArgument(f"classify: controller returned outputs of shape {outputs.shape}, expected "
                                  f"({len(y_test)}, T, {n_classes})")
        steps = outputs.shape[1]
        correct = outputs.argmax(-1) == np.asarray(y_test)[:, None]  # (n, T)
        curve = correct.mean(axis=0)
        first = stays_correct_from(correct)
        settle = settle_step(curve, s.tolerance)
        n = len(y_test)
        metrics.update(
            rate_accuracy=rate_acc, spiking_accuracy=float(curve[-1]), accuracy_gap=rate_acc - float(curve[-1]),
            n_steps=steps,
            latency_steps=float(np.nanmean(first)) if np.isfinite(first).any() else math.nan,
            settle_steps=settle, settle_ms=settle * dt * 1e3,
            wall_us_per_image_step=wall / (n * steps) * 1e6, wall_ms_per_image=wall / n * 1e3,
        )
        metrics["latency_ms"] = metrics["latency_steps"] * dt * 1e3
        frame = pd.DataFrame({"step": np.arange(1, steps + 1), "t_ms": np.arange(1, steps + 1) * dt * 1e3,
                              "accuracy": curve})
        if run is not None:
            self._activity(controller, run, x_test, metrics, info, frame)
        if s.auto:
            ok = [t for t in sorted(set(s.auto_steps)) if t <= steps and curve[t - 1] >= rate_acc - s.tolerance]
            pick = ok[0] if ok else None
            metrics.update(auto_n_steps=pick if pick else math.nan,
                           auto_accuracy=float(curve[pick - 1]) if pick else math.nan,
                           auto_ms=pick * dt * 1e3 if pick else math.nan,
                           auto_synops=float(frame["synops_spiking"].iloc[pick - 1])
                           if pick and "synops_spiking" in frame else math.nan)
        metrics.update(train_s=float(fit_info.get("train_s", math.nan)),
                       train_cached=float(bool(fit_info.get("cached", False))))
        artifacts: dict[str, Path] = {}
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
            if s.plots:
                artifacts.update(self._plots(controller, run, x_test, y_test, curve, rate_acc, dt, workdir))
            if isinstance(controller, Saves):  # the trained parameters, next to the run's plots
                artifacts["params"] = Path(controller.save(workdir / "params.npz"))
        result = self.result(metrics, frames={"accuracy": frame}, artifacts=artifacts)
        result.info.update({k: v for k, v in info.items() if k in result.metrics})
        return result

    def _activity(self, controller: Any, run: Any, x_test: np.ndarray, metrics: dict[str, float],
                  info: dict[str, Metric], frame: Any) -> None:
        """Firing, sparsity and synaptic-operation metrics of a spiking run."""
        all_rates = []
        for layer in run.spikes_per_neuron:
            rates = run.rates_hz(layer)
            all_rates.append(rates)
            metrics[f"rate_hz_mean_{layer}"] = float(rates.mean())
            metrics[f"rate_hz_max_{layer}"] = float(rates.max())
            metrics[f"silent_fraction_{layer}"] = float(np.mean(rates == 0))
            for key in ("rate_hz_mean", "rate_hz_max", "silent_fraction"):
                info[f"{key}_{layer}"] = METRICS[key]
        if all_rates:
            rates = np.concatenate(all_rates)
            metrics.update(rate_hz_mean=float(rates.mean()), rate_hz_max=float(rates.max()),
                           silent_fraction=float(np.mean(rates == 0)))
        metrics.update(sparsity_spiking=1.0 - run.active_fraction, synops_ac=run.ac_ops,
                       synops_mac=run.mac_ops, synops_spiking=run.ac_ops + run.mac_ops)
        steps = run.n_steps
        ac_curve = np.cumsum(run.ac_per_step)
        mac_curve = run.mac_ops / steps * np.arange(1, steps + 1)
        frame["synops_ac"] = ac_curve
        frame["synops_spiking"] = ac_curve + mac_curve
        if isinstance(controller, CountsOperations):
            ops = controller.operation_counts(x_test)
            metrics.update(synops_rate=ops["rate_macs"], synops_dense=ops["dense_ops"],
                           sparsity_rate=ops["rate_sparsity"], param_bytes=ops["param_bytes"])

    def _plots(self, controller: Any, run: Any, x_test: np.ndarray, y_test: np.ndarray, curve: np.ndarray,
               rate_acc: float, dt: float, workdir: Path) -> dict[str, Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        out: dict[str, Path] = {}
        t_ms = np.arange(1, len(curve) + 1) * dt * 1e3
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.plot(t_ms, curve, label="spiking")
        if math.isfinite(rate_acc):
            ax.axhline(rate_acc, color="k", ls="--", lw=1, label="rate mode")
        ax.set(xlabel="time (ms)", ylabel="test accuracy", ylim=(0, 1.02), title="accuracy against time step")
        ax.legend(loc="lower right")
        fig.tight_layout()
        out["accuracy_plot"] = workdir / "accuracy_vs_step.png"
        fig.savefig(out["accuracy_plot"], dpi=100)
        plt.close(fig)
        if run is not None and run.raster:
            layer, spikes = next(iter(run.raster.items()))  # (T, neurons) of the first image
            active = np.flatnonzero(spikes.sum(axis=0) > 0)
            shown = (active if active.size else np.arange(spikes.shape[1]))[: self.settings.raster_neurons]
            fig, ax = plt.subplots(figsize=(5, 3.2))
            ts, ns = np.nonzero(spikes[:, shown])
            ax.scatter((ts + 1) * dt * 1e3, ns, marker="|", s=30, color="k")
            ax.set(xlabel="time (ms)", ylabel="neuron", title=f"spikes of layer {layer!r}, first test image",
                   xlim=(0, len(curve) * dt * 1e3))
            fig.tight_layout()
            out["raster_plot"] = workdir / "raster.png"
            fig.savefig(out["raster_plot"], dpi=100)
            plt.close(fig)
        if isinstance(controller, Simulates):
            configured = float(getattr(controller.settings, "synapse", 0.0) or 0.0)
            tau = configured if configured > 0 else 0.01
            one = x_test[:1]
            without = controller.simulate(one, len(curve), synapse=0.0, record=False).outputs[0]
            with_syn = controller.simulate(one, len(curve), synapse=tau, record=False).outputs[0]
            fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
            for ax, values, title in ((axes[0], without, "no synapse"),
                                      (axes[1], with_syn, f"synapse {tau * 1e3:g} ms")):
                ax.plot(t_ms, values)
                ax.set(xlabel="time (ms)", title=title)
            axes[0].set_ylabel(f"output (label {int(y_test[0])})")
            fig.tight_layout()
            out["output_plot"] = workdir / "output_over_time.png"
            fig.savefig(out["output_plot"], dpi=100)
            plt.close(fig)
        return out
