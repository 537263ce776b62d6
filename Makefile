# Two commands: `make demo` runs the main job, `make test` runs the tests.
# Each creates .venv when missing and reinstalls when a pyproject.toml changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stamp-install
DB     ?= .bench/results.sqlite

.PHONY: demo test test-fast install clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml plugins/bench-example/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[all,dev]' -e plugins/bench-example
	touch $@

install: $(STAMP)

# The main job: arm2 reaching with every controller that can reach (64 targets, dt 0.01 as in
# the AHF write-up), its summary table; then the quick suite over every built-in plugin and
# the offline HTML report (.bench/report/index.html).
demo: $(STAMP)
	$(BIN)/bench list
	$(BIN)/bench sweep arm2 osc,ahf,pd reach --dt 0.01 --set reach.targets=64 --seeds 3 --db $(DB) -q
	$(BIN)/bench report --db $(DB) --latest --where plant=arm2 --where task=reach --format md
	$(BIN)/bench ci --suite quick --db $(DB)
	$(BIN)/bench report --db $(DB) --latest --format html --out .bench/report
	@echo "report: .bench/report/index.html"

# `make test` (what .ci/run calls): `ruff check` (pyproject's configuration), then the whole
# correctness suite, the tests marked slow included,
# plus a one-iteration smoke run of every benchmark in tests/benchmarks (results checked, nothing
# timed or printed).  `make test-fast` leaves out the slow end-to-end tests, for quick local runs.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# `make bench`: micro-benchmarks (pytest-benchmark) saved under .benchmarks/; once a run
# is saved, each new one is compared with the last and a slowdown beyond BENCH_FAIL fails.
# The ratio tests time both of their sides themselves and check the speed targets; their
# figures and the profiles print in a "speed ratios and profiles" section at the end.
BENCH_FAIL ?= min:25%
bench: $(STAMP)
	@gate=""; if ls .benchmarks/*/*.json >/dev/null 2>&1; then \
	  gate="--benchmark-compare --benchmark-compare-fail=$(BENCH_FAIL)"; fi; \
	$(BIN)/python -m pytest tests/benchmarks --benchmark-enable --benchmark-autosave $$gate

clean:
	rm -rf $(VENV) .bench .pytest_cache .benchmarks build *.egg-info
