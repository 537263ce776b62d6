"""Built-in controllers and learners: the plugin module ``bench.controllers``.

Registration only names factories; TensorFlow and NengoDL are imported by the
controllers that need them, when they are built.
"""

from __future__ import annotations

from bench import hookimpl


@hookimpl
def register_controllers(register):
    register("osc", "bench.controllers.osc:OSC",
             summary="operational-space (task-space PD with the arm's inertia) reaching baseline",
             provides={"act"}, needs={"kinematics"})
    register("ahf", "bench.controllers.ahf:AHF",
             summary="recurrent network trained with Hessian-free optimisation, the arm as its last layer",
             provides={"act", "learn"}, needs={"kinematics", "dynamics"})
    register("pg", "bench.controllers.pg:PG",
             summary="policy gradient (softmax policy, value baseline, Adam) for discrete-action plants",
             provides={"act", "learn"}, needs={"discrete-actions"}, extra="tf", requires=("tensorflow",))
    register("npg", "bench.controllers.npg:NPG",
             summary="natural policy gradient (Fisher pseudo-inverse step) for discrete-action plants",
             provides={"act", "learn"}, needs={"discrete-actions"}, extra="tf", requires=("tensorflow",))
    register("snn", "bench.controllers.snn:SNN",
             summary="Keras CNN trained in rate mode, run as a spiking network (NengoDL conversion)",
             provides={"classify"}, extra="tf", requires=("tensorflow", "nengo", "nengo_dl", "sklearn"))
