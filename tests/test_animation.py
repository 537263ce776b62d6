"""Animated arms: ``bench show RUN --animate out.gif`` and one GIF per arm task in the HTML report."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import bench
from bench.reports.animation import ARM_FRAME, animate, animate_run
from bench.store import Store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A sequence reach and a write run of arm2 (dt 5 ms), through the command line."""
    from bench.cli import main

    folder = tmp_path_factory.mktemp("animation")
    db = folder / "a.sqlite"
    assert main(["run", "arm2", "osc", "reach", "--set", "reach.mode=sequence", "--set", "reach.targets=2",
                 "--dt", "0.005", "--db", str(db), "-q"]) == 0
    assert main(["run", "arm2", "osc", "write", "--set", "write.text=l", "--dt", "0.005", "--db", str(db),
                 "-q"]) == 0
    return Store(db)


def frames_of(path, most=12):
    """Up to ``most`` pictures of the GIF (evenly spaced, first and last included) and its size; asserts
    the whole GIF has more than ``most`` pictures only through the returned count."""
    with Image.open(path) as im:
        assert im.format == "GIF"
        picks = np.unique(np.linspace(0, im.n_frames - 1, min(most, im.n_frames)).round().astype(int))
        pictures = []
        for k in picks:
            im.seek(int(k))
            pictures.append(np.asarray(im.convert("RGB")))
        return pictures, im.size, im.n_frames


def test_show_animate_writes_a_gif_of_the_arm(cli, store):
    code, out, _ = cli("show", "1", "--db", str(store.path), "--animate", "reach.gif")
    assert code == 0 and "animation: reach.gif" in out
    pictures, size, count = frames_of("reach.gif")
    assert size == (320, 320) and 10 < count <= 120
    assert not np.array_equal(pictures[0], pictures[-1])              # the arm moved
    blue = [int(np.sum((p[:, :, 2] > 150) & (p[:, :, 0] < 80))) for p in pictures]
    assert min(blue) > 50                                              # the arm is drawn in every picture


def test_animation_is_bounded_and_follows_the_frame(tmp_path, store):
    frame = store.frame(2, ARM_FRAME)
    assert {"pen", "px0", "py2"} <= set(frame.columns)
    path = animate(frame, tmp_path / "w.gif", max_frames=7, size_px=120)
    pictures, size, count = frames_of(path)
    assert size == (120, 120) and count == len(pictures) == 7
    moved = frame.copy()
    moved[["px1", "px2"]] += 0.05
    other, _, _ = frames_of(animate(moved, tmp_path / "m.gif", max_frames=7, size_px=120))
    assert any(not np.array_equal(a, b) for a, b in zip(pictures, other, strict=True))
    with pytest.raises(ValueError, match=r"px0\.\.pxJ"):
        animate(frame.drop(columns=["px2", "py2", "px1", "py1"]), tmp_path / "x.gif")


def test_show_animate_refuses_bad_input_in_one_line(cli, store, tmp_path):
    code, _, err = cli("show", "1", "--db", str(store.path), "--animate", "reach.png")
    assert code == 2 and "ending in .gif" in err and len(err.strip().splitlines()) == 1
    arm = bench.plant("arm2")
    result = bench.run(arm, bench.controller("osc"), bench.task("reach", targets=2), seed=0)
    result.frames.pop(ARM_FRAME)
    rid = store.save(result)
    code, _, err = cli("show", str(rid), "--db", str(store.path), "--animate", "none.gif")
    assert code == 2 and "has no 'arm' frame" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "file").write_text("")
    code, _, err = cli("show", "1", "--db", str(store.path), "--animate", str(tmp_path / "file" / "a.gif"))
    assert code == 2 and "--animate" in err and len(err.strip().splitlines()) == 1


def test_html_report_shows_one_animation_per_arm_task(cli, store, tmp_path):
    out = tmp_path / "report"
    code, _, _ = cli("report", "--db", str(store.path), "--format", "html", "--out", str(out))
    assert code == 0
    page = (out / "index.html").read_text()
    gifs = sorted((out / "animations").glob("*.gif"))
    assert [g.name.split("-")[0] for g in gifs] == ["reach", "write"]
    for gif in gifs:
        assert f'src="animations/{gif.name}"' in page
        _, size, count = frames_of(gif, most=2)
        assert size == (240, 240) and 1 < count <= 60 and gif.stat().st_size < 400_000
    assert not any("-arm-" in p.name for p in (out / "figures").glob("*.png"))   # not drawn as curves


def test_animate_run_names_the_run(tmp_path, store):
    path = animate_run(store, 1, tmp_path / "r.gif", max_frames=3)
    assert frames_of(path)[2] == 3
