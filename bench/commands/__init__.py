"""The commands: one module per ``bench`` sub-command.

Each command is a plain function with explicit arguments (names, seeds,
paths, flags) plus ``out`` and ``err`` line printers, returning the exit
code.  The CLI (:mod:`bench.cli`) parses the command line and calls them;
they use the session layer (:mod:`bench.session`), the sweep and suite
services, the store and the reports, and nothing above them.
"""

from __future__ import annotations

from collections.abc import Callable

#: A line printer (``print`` to stdout or stderr, or a list's ``append`` in tests).
Printer = Callable[[str], None]
