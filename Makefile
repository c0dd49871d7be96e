# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif
export UV_LINK_MODE ?= copy

.PHONY: setup ensure-uv ensure-npm ensure-chromium run test bench clean

ensure-uv:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv

# Bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set (as on these machines) Python would
# otherwise compile every module it imports from source in every process, several seconds per `svl` command.
.venv/.synced: uv.lock pyproject.toml
	@$(MAKE) --no-print-directory ensure-uv
	$(UV) sync --frozen --compile-bytecode
	@touch $@

# The browser assets (GOV.UK Frontend, Swagger UI) as package-lock.json pins them, served from node_modules.
ensure-npm:
	@command -v npm >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q npm; }

node_modules/.installed: package.json package-lock.json
	@$(MAKE) --no-print-directory ensure-npm
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

# The browser tests (tests/browser) drive Debian's Chromium: Playwright cannot download its own here.
ensure-chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q chromium; } \
	  || echo "chromium could not be installed: the browser tests will be skipped (and fail with CI=true)"

setup: .venv/.synced node_modules/.installed
	@$(UV) run --frozen python -m compileall -q api domain projections infrastructure >/dev/null

run: setup
	$(UV) run --frozen svl init
	$(UV) run --frozen svl demo
	$(UV) run --frozen svl serve

# Two workers: these machines have two cores (pytest-xdist; each test keeps its own files and schema).
TEST_WORKERS ?= 2

test: setup ensure-chromium
	$(UV) run --frozen pytest -q -p no:cacheprovider -n $(TEST_WORKERS) $(PYTEST_ARGS)

bench: setup
	$(UV) run --frozen python benchmarks/append.py

clean:
	rm -rf .venv node_modules test-output data/svl.db data/svl.db-wal data/svl.db-shm
