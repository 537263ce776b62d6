#!/usr/bin/env python3
"""``python run.py PLANT CONTROLLER TASK [options]`` — the same as ``bench run``."""

import sys

from bench.cli import run_py

if __name__ == "__main__":
    sys.exit(run_py())
