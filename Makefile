# Coursepack developer and CI entry points. Needs only python3 (3.11+); uv is
# bootstrapped into .tools/ and the locked environment synced into .venv/.
#
#   make run        set up, migrate, load demo data, serve on 127.0.0.1:8000 (gunicorn + job worker)
#   make dev        the same with DEBUG on and the auto-reloading development server
#   make test       everything CI runs: lint + the suite on SQLite and on PostgreSQL
#   make test-fast  the suite on SQLite without browser tests
#   make lint       ruff, mypy, import-linter
#   make bench      scale benchmarks on SQLite and PostgreSQL (BENCH_SCALE=full|small|smoke)
#   make bench-smoke  the same benchmarks at a tiny scale, in seconds (part of make test)
#   make client     generate the typed Python client of API v1 into clients/python/ (warnings fail)
#   make screenshots  browser tests on SQLite; pages marked for docs saved to docs/screenshots/
#
# DATABASE_URL switches `make run` to PostgreSQL (default: SQLite under var/).
# PYTEST_ARGS passes options to pytest, e.g. make test-fast PYTEST_ARGS="-k publish -x".

SHELL := /bin/bash
.DEFAULT_GOAL := help
.SUFFIXES:

UV := .tools/bin/uv
# After `setup`, run tools from .venv/ without re-checking the lock each time.
RUN := $(UV) run --frozen --no-sync
PYTEST_ARGS ?=

# Bytecode caches (and pytest's rewritten-assert caches) save ~2 s per pytest
# start: re-enable them even if the environment turns them off, but keep them
# out of the source tree.
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX ?= $(or $(XDG_CACHE_HOME),$(if $(HOME),$(HOME)/.cache,/tmp))/coursepack/pycache
HOST_PORT := 127.0.0.1:8000

.PHONY: help setup run dev migrate lint client test test-fast test-sqlite test-postgresql test-deps bench bench-smoke screenshots

help:
	@sed -n 's/^#   //p' Makefile

setup:
	@scripts/bootstrap.sh

migrate: setup
	@mkdir -p "$${COURSEPACK_VAR_DIR:-var}"
	$(RUN) python manage.py migrate --noinput

# The production server (docs/deploy.md): gunicorn, static files collected and
# served by whitenoise, DEBUG off, the background-job worker beside it.
run: migrate
	$(RUN) python manage.py load_demo
	@echo "Coursepack: http://$(HOST_PORT)/  (demo logins: see above)"
	COURSEPACK_BIND=$(HOST_PORT) PYTHON=".venv/bin/python" scripts/serve.sh

# Development: DEBUG on, runserver reloads on every change (jobs run when you
# start `manage.py run_jobs` beside it).
dev: migrate
	$(RUN) python manage.py load_demo
	COURSEPACK_DEBUG=1 $(RUN) python manage.py runserver $(HOST_PORT)

# Runs every check even when one fails; fails if any did.
lint: setup
	@rc=0; \
	echo "==> uv lock --check";  $(UV) lock --check --quiet || rc=1; \
	echo "==> ruff check";       $(RUN) ruff check . || rc=1; \
	echo "==> mypy coursepack";  $(RUN) mypy coursepack || rc=1; \
	echo "==> lint-imports";     $(RUN) lint-imports || rc=1; \
	exit $$rc

# openapi-spec-validator + openapi-python-client; tests/http/test_api_client.py runs
# the same script (so `make test` does) and checks the committed client is current.
client: setup
	@scripts/client.sh

test:
	@scripts/test.sh $(PYTEST_ARGS)

test-deps:
	@scripts/install-test-deps.sh

test-fast: setup
	@echo "==> pytest on SQLite (no browser tests)"
	env -u DATABASE_URL $(RUN) pytest -m "not browser" $(PYTEST_ARGS)

test-sqlite: setup
	@echo "==> pytest on SQLite"
	env -u DATABASE_URL $(RUN) pytest $(PYTEST_ARGS)

test-postgresql: setup
	@echo "==> pytest on PostgreSQL (throwaway cluster)"
	scripts/with-postgres.sh $(RUN) pytest $(PYTEST_ARGS)

# See scripts/bench.sh and docs/benchmarks.md.
bench: setup
	@scripts/bench.sh

bench-smoke: setup
	@BENCH_SCALE=smoke scripts/bench.sh

# Browser tests on SQLite, keeping the pages they mark for docs in docs/screenshots/.
screenshots: setup test-deps
	rm -rf docs/screenshots.new && mkdir -p docs/screenshots.new
	env -u DATABASE_URL COURSEPACK_SCREENSHOTS_DIR=docs/screenshots.new $(RUN) pytest -m browser -q $(PYTEST_ARGS)
	rm -rf docs/screenshots && mv docs/screenshots.new docs/screenshots
