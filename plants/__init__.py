"""Built-in plants: the plugin module ``bench.plants``.

Registration only names factories; nothing heavy is imported here.
"""

from __future__ import annotations

from bench import hookimpl

ARM = frozenset({"dynamics", "kinematics", "jacobians"})


@hookimpl
def register_plants(register):
    register("arm2", "bench.plants.arm2:Arm2",
             summary="two-link planar arm (l = 0.31, 0.27 m), torque input, no gravity", provides=ARM)
