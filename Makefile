# Two commands for a new machine (see README): `make drill` and `make test`.
# Each bootstraps .venv on first use; nothing else needs to be installed by hand.
# `make test`: tests are handed to the 2 workers one at a time (--maxschedchunk 1), so the long
# drills near the start of the collection spread over both instead of queueing on one.
# `make bench` prints the speed table (issue 14); `make bench BENCH_ARGS=--suite` also times the suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: drill test bench clean node-example

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

drill: $(STAMP)
	$(VENV)/bin/chaos-harness drill us-east-1-2025-10-20 --report-dir reports --repeat 3

# examples/node-orders' npm dependencies, from its lock file (skipped without npm: its tests skip too).
node-example:
	@if command -v npm >/dev/null 2>&1; then cd examples/node-orders && npm ci --no-audit --no-fund --silent; fi

test: $(STAMP) node-example
	$(PY) -m pytest -n 2 --maxschedchunk 1 -q tests
	$(PY) -m pytest -q -p no:cacheprovider examples/downstream

bench: $(STAMP)
	$(PY) bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) reports examples/node-orders/node_modules
