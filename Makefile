# MeetBridge developer commands. Nothing needs to be installed beforehand but Python 3.11 and git.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: help run test wp-test lint format bench screenshots clean

help:
	@echo "make run          the whole system locally (embedded Redis, TLS, sandbox, web, worker, cron)"
	@echo "make test         every test suite, lint included (what CI runs)"
	@echo "make bench        benchmarks -> bench/REPORT.md"
	@echo "make screenshots  connect screens and wp-bridge admin pages -> docs/screenshots/ (chromium, wordpress)"
	@echo "make wp-test      only the WordPress plugin's tests (php -l, PHPUnit, end to end, browser)"
	@echo "make lint/format  ruff"

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

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# pytest includes tests/wordpress: `php -l` of every wp-bridge file, PHPUnit (WordPress loaded in its
# bootstrap), and the end-to-end and browser tests against a real WordPress.
test: lint
	$(BIN)/python -m pytest

wp-test: $(VENV)/.dev
	$(BIN)/python -m pytest tests/wordpress

bench: $(VENV)/.dev
	$(BIN)/python -m bench.run

screenshots: $(VENV)/.dev
	$(BIN)/python -m scripts.screenshots
	$(BIN)/python -m scripts.wp_screenshots

clean:
	rm -rf var .pytest_cache
