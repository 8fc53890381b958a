# ld-gateway: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: install demo test lint typecheck bench bench-pg bench-audit faults clean

# pip prints one line per package it collects, so a first install (about a minute) shows its progress.
$(STAMP): pyproject.toml
	@echo "Installing ld-gateway and its dependencies into $(VENV)/ (about a minute the first time)..."
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	@echo "Installed: $(BIN)/ld-gateway"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ld-gateway demo

# Parallel workers (pytest-xdist): files are handed out whole, the tests sharing a live server stay
# together (tests/fixtures/parallel.py). Many tests wait on servers and subprocesses, so more workers than
# cores pays; `make test TEST_WORKERS=0` runs it in this one process.
TEST_WORKERS ?= 4
# Bytecode caches on even where the environment turns them off: each worker, and each server and command
# the e2e tests start, would otherwise compile (and pytest assertion-rewrite) every module it imports anew.
test: export PYTHONDONTWRITEBYTECODE :=
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# Figures as ratios to a baseline measured in the same run (docs/benchmarks.md); results in bench/results/.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run

# The same on throw-away databases on a PostgreSQL server (PG_URL names it).
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
# The disclosure log: appends, verification, proofs at 1,000,000 entries, checkpoint lag (docs/audit.md).
bench-audit: $(BENCH_STAMP)
	$(BIN)/python -m bench.audit_log --postgres $(PG_URL)

bench-pg: $(BENCH_STAMP)
	$(BIN)/python -m bench.run --postgres $(PG_URL)

# Fault injection at full count (CI runs tests/faults at a reduced count): 100 SIGKILLs of the server
# under load on SQLite and on PostgreSQL, then PostgreSQL stopped and restarted under load 5 times.
faults: $(STAMP)
	$(BIN)/python -m bench.faults kill --kills 100
	$(BIN)/python -m bench.faults kill --kills 100 --postgres $(PG_URL)
	$(BIN)/python -m bench.faults pg-outage --outages 5

# ruff, then DESIGN.md's dependency rules as import-linter contracts ([tool.importlinter] in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# mypy --strict on the service and the adapters ([tool.mypy] in pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/mypy gateway adapters

clean:
	rm -rf $(VENV) var .pytest_cache
