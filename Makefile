# Two entry points that work on a fresh machine with only Python and pip: `make run`, `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test lint bench clean vendor

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

PORT ?= 8000
# Links in emails and in the demo's summary point at the port served, unless set otherwise.
ACCORD_BASE_URL ?= http://127.0.0.1:$(PORT)

run: $(STAMP)
	ACCORD_BASE_URL=$(ACCORD_BASE_URL) $(BIN)/accord demo --if-empty
	ACCORD_BASE_URL=$(ACCORD_BASE_URL) $(BIN)/accord serve --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -n auto

# Each prints one JSON object; docs/benchmarks.md says what each figure means. Add
# `--database-url postgresql://...` to any of them for PostgreSQL (a scratch database).
bench: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[dev,bench]"
	$(BIN)/python -m bench lifecycle
	$(BIN)/python -m bench sweep   # 100k tasks cold/idle/next day, then idle ticks at 1M
	$(BIN)/python -m bench audit   # audit verify over 1M chained events, peak RSS
	$(BIN)/python -m bench queue   # approval queue at 10k and 1M tasks (p99 ratio)
	$(BIN)/python -m bench http    # accord serve under 16 clients: healthz, queue, page, completion
# The PostgreSQL figures: the same with --database-url postgresql://…, and for processes
# `python -m bench lifecycle --no-spiff --processes 1` (then 2, 4); docs/benchmarks.md has each.

# Re-fetch htmx and Pico from the npm registry into api/static/vendor (no build step).
vendor:
	api/static/vendor/fetch.sh

clean:
	rm -rf $(VENV) accord.db accord.db-wal accord.db-shm var
