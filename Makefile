# SAMIA Chat. `make run` starts the app on a fresh machine; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run setup setup-test browser-deps test test-unit test-browser lint format bench bench-quick bench-import setup-bench chaos

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt

setup-test: $(BIN)/python browser-deps
	$(BIN)/pip install -q -r requirements-dev.txt

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads one).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null; }

run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "SAMIA Chat on http://$(HOST):$(PORT)/"
	@# The emergency ladder: with REDIS_URL a worker process beside the server (stopped with
	@# it); without, the server runs it itself (chat/worker.py).
	@if [ -n "$$REDIS_URL" ]; then $(BIN)/python manage.py run_emergency_worker & worker=$$!; fi; \
		trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
		$(BIN)/daphne -b $(HOST) -p $(PORT) samia_chat.asgi:application

# Unit, API and socket tests first; the browser tests in their own process, because
# Playwright's sync API and pytest-asyncio do not share one event loop.
test: setup-test test-unit test-browser

test-unit:
	$(BIN)/pytest tests --ignore=tests/browser -q

test-browser:
	$(BIN)/pytest tests/browser -q -p no:asyncio -W ignore::pytest.PytestConfigWarning

lint: $(BIN)/python
	$(BIN)/pip install -q ruff==0.17.5
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The load harness: starts Daphne on PostgreSQL + Redis, drives the workloads, and rewrites
# docs/performance.md from the run (about 10 minutes). bench-quick only checks it works.
setup-bench: setup-test
	$(BIN)/pip install -q -r bench/requirements.txt

bench: setup-bench
	scripts/services.sh
	$(BIN)/python -m bench.harness

bench-quick: setup-bench
	scripts/services.sh
	$(BIN)/python -m bench.harness --quick

# The legacy import at scale (about 100,000 messages, 2,000 file references; ~1 minute).
bench-import: setup-test
	scripts/services.sh
	$(BIN)/python -m bench.legacy_import --scale 100 --out bench/results/legacy-import-$$(date -u +%Y%m%dT%H%M%SZ).json

# Faults under traffic (Redis, PostgreSQL and server processes killed), longer than CI's run.
chaos: setup-test
	scripts/services.sh
	$(BIN)/python -m bench.chaos --duration 15 --rate 30 --sessions 20 --saturate-rate 600
