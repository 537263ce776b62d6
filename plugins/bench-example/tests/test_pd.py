"""The example plugin tested the way a third party would: with ctrlbench's pytest plugin."""

import bench


def test_pd_conforms(bench_check_controller, bench_check_plant):
    arm = bench.plant("arm2")
    bench_check_plant(arm)
    bench_check_controller(bench.controller("pd"), arm)


def test_pd_reaches():
    result = bench.run(bench.plant("arm2"), bench.controller("pd", kp=80.0, kd=6.0),
                       bench.task("reach", duration=1.0), seed=0)
    assert result.metrics["final_distance_max"] < 0.01
