"""What a report reads from the store: frames only for what a figure draws (issue 15, bounded memory)."""

from __future__ import annotations

import bench
from bench.reports import figures, stats
from bench.store import Store


class Recording(Store):
    """The store, noting which runs' frames were read."""

    def __init__(self, path):
        super().__init__(path)
        self.read: list[tuple[int, str]] = []

    def frame(self, run_id, name):
        self.read.append((int(run_id), name))
        return super().frame(run_id, name)


def test_learning_curves_read_frames_only_of_the_lines_they_draw(tmp_path):
    store = Recording(tmp_path / "r.sqlite")
    arm = bench.plant("arm2", dt=0.01)
    for kp in (50, 60, 70, 80, 90, 100):
        for seed in range(3):
            bench.run(arm, bench.controller("osc", kp=kp), bench.task("reach", targets=1), seed=seed, store=store)
    df = store.dataframe()
    variants = stats.variants(df)
    assert store.frame_names(df["run_id"].unique()) == {i: ["trajectory", "arm"] for i in df["run_id"].unique()}
    made = figures.learning_curves(store, df, tmp_path / "figs", variants, max_lines=4, max_seeds=2)
    assert [f.path.name for f in made] == ["reach-arm2-trajectory-distance.png"]
    caption = made[0].caption
    assert "4 of 6 settings variants drawn" in caption and "at most the 2 lowest seeds per line" in caption
    read = {run_id for run_id, name in store.read if name == "trajectory"}
    drawn = df.drop_duplicates("run_id").sort_values(["run_id"])
    drawn = drawn[drawn["settings_hash"].isin(list(dict.fromkeys(drawn["settings_hash"]))[:4]) & (drawn["seed"] < 2)]
    assert read == set(drawn["run_id"])   # the 2 lowest seeds of the 4 first variants, nothing else
    assert all(name == "trajectory" for _, name in store.read)
    # without limits every run is read once (and the sample again)
    store.read.clear()
    made = figures.learning_curves(store, df, tmp_path / "all", variants)
    assert "drawn" not in made[0].caption and {i for i, _ in store.read} == set(df["run_id"])
