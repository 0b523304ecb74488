# Two commands matter: `make run` (the product on the embedded defaults) and `make test` (the suite).
# Everything else here is what those two need, installed on demand.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# The embedded engine needs Python >= 3.13: take it from PATH or from pyenv's install.
PYTHON313 ?= $(firstword $(shell command -v python3.13 2>/dev/null | xargs -r -I{} sh -c '{} -c "" 2>/dev/null && echo {}') $(wildcard /root/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13))
CHROMIUM := /usr/bin/chromium
# Bytecode caches on: with PYTHONDONTWRITEBYTECODE set (some images set it) every process the suite starts
# compiled the project again, and pytest rewrote every test module in each worker (collection 15.5 s -> 10.5 s).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run api test test-fast bench screenshots install browser clean

$(BIN)/python:
	@test -n "$(PYTHON313)" || { echo "Python 3.13 not found: install python3.13 (the embedded MongoDB engine needs it)"; exit 1; }
	$(PYTHON313) -m venv $(VENV)

# uv installs the pinned set in ~16 s where pip took ~50 s (the same versions: `pip freeze` is identical);
# bytecode is compiled at install as pip does, so no test pays for it. Where uv cannot be had, pip does it.
$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt
	@{ $(BIN)/pip install -q --disable-pip-version-check uv==0.13.10 2>/dev/null && \
	  $(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements-dev.txt; } || \
	  $(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed

# Debian's Chromium for the browser tests (`playwright install` cannot download browsers here).
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi

browser: $(CHROMIUM)

run: install
	$(BIN)/python scripts/run.py

api: install
	$(BIN)/python scripts/run.py --only api

# Three workers (pytest-xdist) on the 2-core machine, each test module kept on one worker (its module-scoped
# fixtures start once): a third of the suite's time is waiting (browsers, servers, kill loops), and a third
# worker fills it. A clean clone's pytest took 804 s with two, 709 s with three (same machine, quiet).
# The 25 slowest are printed.
XDIST := -n 3 --dist loadscope

test: install browser
	$(BIN)/python -m pytest -q -p no:cacheprovider $(XDIST) --durations=25 tests

test-fast: install
	$(BIN)/python -m pytest -q -p no:cacheprovider $(XDIST) tests -m "not slow and not browser"

bench: install
	$(BIN)/python bench/ledger.py
	@if [ -f bench/api.py ]; then $(BIN)/python bench/api.py; fi
	@if [ -f bench/dashboard.py ]; then $(BIN)/python bench/dashboard.py; fi

screenshots: install browser
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache
