# MeetBridge developer commands. Nothing needs to be installed beforehand but Python 3.11 and git.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: help run test test-fast wp-test lint format bench bench-tools drill screenshots clean

help:
	@echo "make run          the whole system locally (embedded Redis, TLS, sandbox, web, worker, cron)"
	@echo "make test         every test suite, lint included (what CI runs)"
	@echo "make test-fast    everything but the stack and WordPress suites (about a minute)"
	@echo "make bench        benchmarks -> bench/REPORT.md"
	@echo "make drill        the multi-host Redis failover drill in network namespaces (root, iproute2)"
	@echo "make screenshots  connect screens and wp-bridge admin pages -> docs/screenshots/ (chromium, wordpress)"
	@echo "make wp-test      only the WordPress plugin's tests (php -l, PHPUnit, end to end, browser)"
	@echo "make lint/format  ruff, and the import contracts (lint-imports, pyproject.toml)"

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/python -m scripts.run_local

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# pytest includes tests/wordpress: `php -l` of every wp-bridge file, PHPUnit (WordPress loaded in its
# bootstrap), and the end-to-end and browser tests against a real WordPress.
test: lint
	$(BIN)/python -m pytest

# Unit tests and tests against a real redis-server; no gunicorn/RQ stacks, no WordPress.
test-fast: $(VENV)/.dev
	$(BIN)/python -m pytest -m "not stack" --ignore=tests/wordpress

wp-test: $(VENV)/.dev
	$(BIN)/python -m pytest tests/wordpress

# The benchmarks drive the service with wrk (Debian's package): installed here when missing and we
# may (root with apt-get), else a clear message says how.
bench: $(VENV)/.dev bench-tools
	$(BIN)/python -m bench.run

bench-tools:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "bench: installing wrk (apt-get)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null \
	      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }; \
	  else \
	    echo "make bench needs wrk: sudo apt-get install wrk (Debian/Ubuntu) or see https://github.com/wg/wrk" >&2; exit 1; \
	  fi; }

# Redis primary, two replicas and three Sentinels, two web hosts, two worker hosts with cron, each in a
# network namespace of this machine; the primary is killed mid-load, with durable acks off and on.
drill: $(VENV)/.dev
	$(BIN)/python -m scripts.drill

screenshots: $(VENV)/.dev
	$(BIN)/python -m scripts.screenshots
	$(BIN)/python -m scripts.wp_screenshots

clean:
	rm -rf var .pytest_cache
