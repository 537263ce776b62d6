"""Built-in tasks: the plugin module ``bench.tasks``."""

from __future__ import annotations

from ..hookspecs import hookimpl


@hookimpl
def register_tasks(register):
    register("reach", "bench.tasks.reach:Reach",
             summary="centre-out reaches to N targets on a circle around the start hand position",
             needs={"kinematics", "controller:act"})
    register("balance", "bench.tasks.balance:Balance",
             summary="train a learner to balance a pole (batches of episodes), then evaluate it greedily",
             needs={"discrete-actions", "controller:learn"})
    register("classify", "bench.tasks.classify:Classify",
             summary="fit a classifier on a dataset; rate vs spiking accuracy, latency, synaptic ops",
             needs={"dataset", "controller:classify"})
