"""The one place TensorFlow and NengoDL are imported.

TensorFlow 2.21 ships Keras 3; nengo-dl 3.6 and our Keras-2 style code need
the legacy ``tf_keras``, selected by ``TF_USE_LEGACY_KERAS=1`` *before*
TensorFlow is first imported.  Call :func:`tensorflow` instead of
``import tensorflow``; it is cheap after the first call (~7 s).

nengo-dl 3.6 was written for TensorFlow < 2.13, where ``tf.keras`` was the
separate ``keras`` 2 package.  Its ``nengo_dl.compat`` does::

    from keras.engine.functional import Functional, _build_map
    from keras.layers import BatchNormalizationV1, BatchNormalizationV2

and with Keras 3 installed both fail (``No module named 'keras.engine'``).
The same objects live in ``tf_keras`` (the Keras 2 that ``tf.keras`` now is),
so :func:`nengo_dl` aliases exactly those two module names to their
``tf_keras`` equivalents in ``sys.modules`` while NengoDL imports, then
removes the aliases again so that ``import keras`` still means Keras 3.
Nothing else in NengoDL imports ``keras`` directly (it uses ``tf.keras``).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from types import ModuleType

#: Module names NengoDL imports from the standalone ``keras`` 2 package, and
#: the ``tf_keras`` modules that hold the same objects.
KERAS2_ALIASES: dict[str, str] = {
    "keras.engine": "tf_keras.src.engine",
    "keras.engine.functional": "tf_keras.src.engine.functional",
    "keras.layers": "tf_keras.src.layers",
}


#: Set (to anything but ``""`` or ``"0"``) by ``bench -v``: TensorFlow's own log lines are then shown.
VERBOSE_ENV = "BENCH_VERBOSE"
#: Lines TensorFlow's C++ side writes to stderr before absl logging is initialised, whatever
#: ``TF_CPP_MIN_LOG_LEVEL`` says ("WARNING: All log messages before absl::InitializeLog() ...",
#: "I0000 00:00:... port.cc:153] oneDNN custom operations are on ...", "E0000 ... failed call to cuInit").
NOISE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)"
                   r"|[IWEF]\d{4} \d+:\d+:\d+\.\d+ +\d+ \S+:\d+\] )")


def verbose() -> bool:
    """Whether TensorFlow may speak (``bench -v`` sets :data:`VERBOSE_ENV`)."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 goes to a temporary file while the block runs; afterwards every captured line
    that is not TensorFlow's start-up noise (:data:`NOISE`) is written to stderr after all (a Python
    traceback, a warning), so nothing but the noise is lost."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (embedded): nothing to redirect
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            kept = [line for line in tmp.read().decode("utf-8", "replace").splitlines(keepends=True)
                    if not NOISE.match(line)]
            if kept:
                os.write(2, "".join(kept).encode())


def tensorflow() -> ModuleType:
    """Import TensorFlow with legacy Keras selected and its logging quiet (unless :func:`verbose`).

    TensorFlow's C++ start-up lines (absl's "All log messages before
    absl::InitializeLog() ...", oneDNN, CUDA drivers, cuInit) are written to
    file descriptor 2 before any log level applies; they are filtered out of
    the import and of the first device query (which is when cuInit speaks).
    """
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        if verbose():
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        else:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
            os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    elif os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise ImportError("TensorFlow was imported before bench.controllers.tfcompat could select legacy "
                          "Keras; set TF_USE_LEGACY_KERAS=1 before importing tensorflow")
    if "tensorflow" in sys.modules or verbose():
        import tensorflow as tf
    else:
        with _quiet_stderr():
            import tensorflow as tf

            tf.config.list_physical_devices()  # the CUDA probe (cuInit) speaks now, not at the first operation
    tf.get_logger().setLevel("INFO" if verbose() else "ERROR")
    return tf


def nengo_dl() -> ModuleType:
    """Import NengoDL 3.6 on TensorFlow >= 2.13 (see the module docstring).

    Returns the ``nengo_dl`` module.  The ``keras.*`` aliases exist only while
    NengoDL's modules execute; ``sys.modules`` is restored afterwards.
    """
    if "nengo_dl" in sys.modules:
        return sys.modules["nengo_dl"]
    tf = tensorflow()
    if not tf.keras.__name__.startswith("tf_keras"):
        raise ImportError(f"tf.keras is {tf.keras.__name__!r}, not tf_keras: NengoDL needs legacy Keras "
                          "(TF_USE_LEGACY_KERAS=1 before the first TensorFlow import)")
    saved = {name: sys.modules.get(name) for name in KERAS2_ALIASES}
    try:
        for name, target in KERAS2_ALIASES.items():
            sys.modules[name] = importlib.import_module(target)
        with warnings.catch_warnings(), (contextlib.nullcontext() if verbose() else _quiet_stderr()):
            # "This version of NengoDL has not been tested with your Nengo version"
            warnings.filterwarnings("ignore", message=".*has not been tested with your Nengo version.*")
            import nengo_dl as module  # its utils ask a subprocess for GPUs: TensorFlow's noise again
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    tf.get_logger().setLevel("ERROR")
    # said on every Simulator built on a CPU-only machine, and by nengo on numpy 2
    warnings.filterwarnings("ignore", message="No GPU support detected", category=UserWarning)
    warnings.filterwarnings("ignore", message="numpy.core is deprecated", category=DeprecationWarning)
    return module
