# Two commands: `make demo` runs the main job, `make test` runs the tests.
# Each creates .venv when missing and reinstalls when a pyproject.toml changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stamp-install
DB     ?= .bench/results.sqlite

.PHONY: demo test install clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml plugins/bench-example/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[all,dev]' -e plugins/bench-example
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/bench list
	$(BIN)/bench run arm2 osc reach --set reach.targets=64 --db $(DB)
	$(BIN)/bench run arm2 pd reach --set reach.targets=64 --db $(DB)

test: $(STAMP)
	$(BIN)/python -m pytest

# `make bench`: micro-benchmarks (pytest-benchmark) saved under .benchmarks/; once a run
# is saved, each new one is compared with the last and a slowdown beyond BENCH_FAIL fails.
BENCH_FAIL ?= min:25%
bench: $(STAMP)
	@gate=""; if ls .benchmarks/*/*.json >/dev/null 2>&1; then \
	  gate="--benchmark-compare --benchmark-compare-fail=$(BENCH_FAIL)"; fi; \
	$(BIN)/python -m pytest tests/benchmarks --benchmark-enable --benchmark-autosave $$gate

clean:
	rm -rf $(VENV) .bench .pytest_cache .benchmarks build *.egg-info
