# `make demo` and `make test` each bootstrap .venv on a fresh machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-replaying lint typecheck check dev worker docs clean

# The dashboard's JavaScript, from the npm registry at build time (checked against
# package-lock.json's integrity), shipped inside the package: never a CDN.
VENDOR_JS := nurture/dashboard/static/vendor/chart.js-chart.umd.min.js

$(VENDOR_JS): package-lock.json scripts/vendor_js.py
	$(PYTHON) scripts/vendor_js.py

$(STAMP): pyproject.toml $(VENDOR_JS)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { echo "Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/nurture demo

# The journey suites run a second time with the worker's sticky cache off, so every
# activation replays its whole history: a command sequence that replay would not reproduce
# fails here, not in production. Tests that replay their own long histories with the
# Replayer (marked replays_itself) prove the same and are left out of this pass.
JOURNEY_SUITES := tests/workflows tests/handoff/test_capacity.py \
	tests/broadcasts/test_broadcast_journeys.py tests/segments/test_segment_conditions.py

test: $(STAMP)
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory test-replaying

test-replaying: $(STAMP)
	NURTURE_WORKER_MAX_CACHED_WORKFLOWS=0 $(BIN)/python -m pytest -q -m "not replays_itself" $(JOURNEY_SUITES)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy nurture workflows activities bench tests

check: lint typecheck test

dev: $(STAMP)
	$(BIN)/nurture dev

worker: $(STAMP)
	$(BIN)/python worker.py

# The reference in docs/, served with live reload on http://127.0.0.1:8001 (mkdocs.yml).
docs: $(STAMP)
	$(BIN)/mkdocs serve

clean:
	rm -rf $(VENV) .nurture .pytest_cache .mypy_cache .ruff_cache
