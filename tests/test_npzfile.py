"""Safe .npz reading (no pickle) and atomic writing."""

from __future__ import annotations

import numpy as np
import pytest

from bench.errors import CheckpointError, InvalidArgument
from bench.npzfile import read_npz, write_npz


def test_round_trip_is_atomic_and_leaves_no_temporary_file(tmp_path):
    path = write_npz(tmp_path / "w", {"a": np.arange(3.0), "b": np.eye(2)})
    assert path.name == "w.npz" and sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]
    got = read_npz(path, "weights", require=("a", "b"))
    assert np.array_equal(got["a"], np.arange(3.0)) and np.array_equal(got["b"], np.eye(2))


def test_an_interrupted_write_keeps_the_old_file(tmp_path):
    path = write_npz(tmp_path / "w.npz", {"a": np.ones(2)})

    class Unsaveable:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_npz(path, {"a": np.zeros(2), "b": Unsaveable()})
    assert np.array_equal(read_npz(path, "weights")["a"], np.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]


def test_pickled_objects_missing_arrays_and_foreign_files_are_refused(tmp_path):
    pickled = tmp_path / "p.npz"
    np.savez(pickled, a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(CheckpointError, match="without pickled objects"):
        read_npz(pickled, "weights")
    write_npz(tmp_path / "w.npz", {"a": np.ones(1)})
    with pytest.raises(InvalidArgument, match=r"lacks array\(s\) b \(has a; needs a, b\)"):
        read_npz(tmp_path / "w.npz", "data", require=("a", "b"), error=InvalidArgument)
    (tmp_path / "t.npz").write_text("text")
    with pytest.raises(CheckpointError, match="not a zip archive"):
        read_npz(tmp_path / "t.npz", "weights")
    with pytest.raises(CheckpointError, match="does not exist"):
        read_npz(tmp_path / "none.npz", "weights")



def test_a_ctrl_c_during_a_write_waits_for_the_whole_file_then_stays_a_ctrl_c(tmp_path):
    """A real SIGINT while the file is written (numpy's savez would otherwise be cut between zip members, and
    then fail to close the archive) is held back until the file is in place, then raised as KeyboardInterrupt;
    no temporary file is left.  Other errors stay what they are."""
    import os
    import signal

    from bench.npzfile import atomic_write

    def write(fh):
        fh.write(b"first half, ")
        os.kill(os.getpid(), signal.SIGINT)
        fh.write(b"second half")

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "w.bin", write)
    assert [p.name for p in tmp_path.iterdir()] == ["w.bin"]
    assert (tmp_path / "w.bin").read_bytes() == b"first half, second half"
    with pytest.raises(ValueError, match="disk"):
        atomic_write(tmp_path / "x.bin", lambda fh: (_ for _ in ()).throw(ValueError("disk")))
    assert [p.name for p in tmp_path.iterdir()] == ["w.bin"]
