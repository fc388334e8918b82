# Two commands for a new user: `make run` and `make test`. Everything else is installed into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test coverage lint bench clean

$(STAMP): pyproject.toml web/package-lock.json bench/peer/package-lock.json
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required" if sys.version_info < (3, 11) else 0)'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	# Browser assets (Uppy, Swagger UI) and the Node peers/clients used by tests and benchmarks.
	# Optional: without npm the page says so, and the Node-based tests are skipped.
	if command -v npm >/dev/null; then \
	  (cd web && npm ci --no-audit --no-fund --silent) && (cd bench/peer && npm ci --no-audit --no-fund --silent); \
	else echo "npm not found: skipping browser assets and Node peers"; fi
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/video-manager run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Tests run in parallel processes, each with its own Redis, servers, SeaweedFS and data (most
# tests wait on servers, workers and ffmpeg, so more processes than cores pay off).
TEST_PROCESSES ?= 4

test: lint
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist load $(PYTEST_ARGS)

# The suite once more, serially, measuring what it exercises (child processes included).
coverage: lint
	$(BIN)/python -m pytest --cov=server --cov=processor --cov=storage --cov=video_manager --cov-report=term $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .coverage
