"""A joint-space PD reaching controller, registered from outside ctrlbench."""

from dataclasses import dataclass

import bench


@dataclass
class PDSettings:
    kp: float = bench.setting(50.0, "joint stiffness", unit="N·m/rad", gt=0)
    kd: float = bench.setting(5.0, "joint damping", unit="N·m·s/rad", ge=0)


class PD(bench.Controller):
    """u = kp (q* - q) - kd dq, with q* from the arm's inverse kinematics."""

    Settings = PDSettings

    def act(self, observation, target):
        nj = self.plant.n_joints
        q, dq = observation[:, :nj], observation[:, nj:]
        q_target = self.plant.inverse_kinematics(target)
        return self.settings.kp * (q_target - q) - self.settings.kd * dq


@bench.hookimpl
def register_controllers(register):
    register("pd", "bench_example:PD", summary="joint-space PD to the IK solution (example plugin)",
             provides={"act"}, needs={"kinematics"}, accepts={"hand"})
