"""Built-in tasks: the plugin module ``bench.tasks``."""

from __future__ import annotations

from ..hookspecs import hookimpl


@hookimpl
def register_tasks(register):
    register("reach", "bench.tasks.reach:Reach",
             summary="centre-out reaches: N targets at once (batch) or studywolf's centre-out-and-back sequence",
             needs={"kinematics", "controller:act"}, target="hand")
    register("postural", "bench.tasks.postural:Postural",
             summary="studywolf's postural task: hold 8 targets in turn against a constant joint push",
             needs={"kinematics", "controller:act"}, target="hand")
    register("random_movements", "bench.tasks.random_movements:RandomMovements",
             summary="studywolf's random movements: a new reachable random target every second",
             needs={"kinematics", "controller:act"}, target="hand")
    register("write", "bench.tasks.write:Write",
             summary="studywolf's write task: trace the strokes of a text (letters, digits) with the hand",
             needs={"kinematics", "controller:act"}, target="hand")
    register("balance", "bench.tasks.balance:Balance",
             summary="train a learner to balance a pole (batches of episodes), then evaluate it greedily",
             needs={"discrete-actions", "controller:learn"}, target="none")
    register("classify", "bench.tasks.classify:Classify",
             summary="fit a classifier on a dataset; rate vs spiking accuracy, latency, synaptic ops",
             needs={"dataset", "controller:classify"}, target="none")
