# our/place: `make dev` runs the whole system locally, `make test` runs every test
# (ruff, svelte-check, Vitest, then pytest: unit, integration, end-to-end with Chromium).
# Both install what they need first (Debian packages as root, the Python venv, npm packages).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FRONTEND_SOURCES := $(shell find frontend/src frontend/index.html frontend/embed.html frontend/stats.html \
	frontend/vite.config.ts frontend/package-lock.json -type f 2>/dev/null)

.PHONY: setup system python frontend firebase dev test lint bench soak clean

setup: system python frontend firebase

system:
	@scripts/install-system-packages

python: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

frontend: frontend/dist/index.html

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(FRONTEND_SOURCES)
	cd frontend && npm run build

# the Firebase Auth emulator, for the auth tests only
firebase: tests/firebase/node_modules/.package-lock.json

tests/firebase/node_modules/.package-lock.json: tests/firebase/package-lock.json
	cd tests/firebase && npm ci --no-audit --no-fund

dev: system python frontend
	$(BIN)/place dev

lint: python
	$(BIN)/ruff check .
	$(BIN)/ruff format --check place tests

test: setup lint
	cd frontend && npm run check && npm test
	$(BIN)/pytest

bench: setup
	$(BIN)/python -m bench.run

# 10 minutes of steady load: memory and latency must stay flat (not in CI; docs/performance.md)
soak: python
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist tests/firebase/node_modules var \
		.pytest_cache .ruff_cache
