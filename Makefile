# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif
export UV_LINK_MODE ?= copy

.PHONY: setup ensure-uv run test bench clean

ensure-uv:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv

.venv/.synced: uv.lock pyproject.toml
	@$(MAKE) --no-print-directory ensure-uv
	$(UV) sync --frozen
	@touch $@

setup: .venv/.synced

run: setup
	$(UV) run --frozen svl init
	$(UV) run --frozen svl demo
	$(UV) run --frozen svl serve

# Two workers: these machines have two cores (pytest-xdist; each test keeps its own files and schema).
TEST_WORKERS ?= 2

test: setup
	$(UV) run --frozen pytest -q -p no:cacheprovider -n $(TEST_WORKERS) $(PYTEST_ARGS)

bench: setup
	$(UV) run --frozen python benchmarks/append.py

clean:
	rm -rf .venv data/svl.db data/svl.db-wal data/svl.db-shm
