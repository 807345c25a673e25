# Otvet: `make run` sets up a fresh machine and serves Otvet; `make test` sets up and runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PG_BIN := $(firstword $(wildcard /usr/lib/postgresql/*/bin))

.PHONY: run test soak lint lock bench quality wrk locales wheel clean postgres-server node chromium deploy-tools help

help:
	@echo "make run     - install into .venv, migrate, load the demo knowledge base, serve on 127.0.0.1:8000"
	@echo "make test    - install test extras, PostgreSQL, the Node.js test clients and Chromium, run lint and the whole suite"
	@echo "make soak    - the crash and signal tests with twenty rounds each (the suite runs three)"
	@echo "make bench   - run the benchmarks in bench/ and print one table (BENCH_ARGS=--quick: a smoke run)"
	@echo "make quality - answer quality on XQuAD (EN/RU) and on questions as users type them (docs/quality.md)"
	@echo "make locales - re-extract user-facing strings and update the ru/en catalogs"
	@echo "make lock    - resolve pyproject.toml's dependency ranges again into requirements/*.txt"

$(BIN)/python:
	@[ -n "$(PYTHON)" ] && $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
		{ echo "Otvet needs Python 3.11 or newer: set PYTHON=/path/to/python3.11 (found: '$(PYTHON)')"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

# Exact versions from the lock files (requirements/README.md), then Otvet itself without resolving again.
# Re-install when the project metadata or a lock file changes.
$(VENV)/.installed: pyproject.toml requirements/run.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements/run.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml requirements/test.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements/test.txt
	touch $@

# Resolve pyproject.toml's ranges again into the lock files: test.txt first, the others within its versions.
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --quiet --no-header
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv
	$(UV_COMPILE) --extra test --extra tracing --extra languages --upgrade -o requirements/test.txt
	$(UV_COMPILE) -c requirements/test.txt -o requirements/run.txt
	$(UV_COMPILE) --extra tracing --extra languages -c requirements/test.txt -o requirements/image.txt

run: $(VENV)/.installed
	$(BIN)/otvet migrate
	$(BIN)/otvet serve

# The tests start their own PostgreSQL cluster on 127.0.0.1; this only makes sure the server is installed.
postgres-server:
	@if [ -z "$(PG_BIN)" ] || [ ! -x "$(PG_BIN)/initdb" ]; then \
		echo "Installing the PostgreSQL server (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

# The GraphQL conformance tests run third-party clients in Node.js (tests/js): graphql-http's audits and
# graphql-ws. This makes sure node and npm are installed, then the packages pinned in package-lock.json.
node:
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
		echo "Installing Node.js and npm (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	fi

# The widget's browser tests drive Debian's Chromium through Playwright (never `playwright install`, which
# downloads a browser build of its own).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Chromium (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# The deployment tests (tests/deploy) render and check the manifests offline: kubectl for `kubectl kustomize`,
# docker compose (the v2 plugin, or else Debian's docker-compose 1.29) for `config`, promtool for PromQL.
# --no-install-recommends keeps Debian from adding a container engine (docker.io) along with docker-compose.
deploy-tools:
	@if ! docker compose version >/dev/null 2>&1 && ! docker-compose version >/dev/null 2>&1; then \
		echo "Installing docker-compose (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; \
	fi
	@if ! command -v kubectl >/dev/null; then \
		echo "Installing kubectl (apt-get kubernetes-client)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null; \
	fi
	@if ! command -v promtool >/dev/null; then \
		echo "Installing promtool (apt-get prometheus)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	fi

# npm writes node_modules/.package-lock.json on every install: newer than the lock file once installed.
tests/js/node_modules/.package-lock.json: tests/js/package-lock.json tests/js/package.json | node
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error

# mypy, strict on core/ (pyproject.toml [tool.mypy]), through a link named `otvet`: the repository's root
# is the package, which an editable install maps in a way mypy cannot follow.
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check --quiet core plugins frontends config testing tools tests bench __init__.py __main__.py || \
		{ echo "ruff format would change files: run $(BIN)/ruff format"; exit 1; }
	@mkdir -p $(VENV)/mypy-root && ln -sfn $(CURDIR) $(VENV)/mypy-root/otvet
	cd $(VENV)/mypy-root && $(CURDIR)/$(BIN)/python -m mypy --config-file $(CURDIR)/pyproject.toml -p otvet.core

test: $(VENV)/.installed-test postgres-server tests/js/node_modules/.package-lock.json chromium deploy-tools lint
	OTVET_TEST_REQUIRE_POSTGRES=1 OTVET_TEST_REQUIRE_NODE=1 OTVET_TEST_REQUIRE_CHROMIUM=1 OTVET_TEST_REQUIRE_DEPLOY_TOOLS=1 $(BIN)/python -m pytest

# Shutdowns and crashes, as real processes, twenty rounds of each signal test instead of the suite's three.
soak: $(VENV)/.installed-test postgres-server
	OTVET_TEST_REQUIRE_POSTGRES=1 OTVET_TEST_SIGNAL_ROUNDS=20 $(BIN)/python -m pytest -s \
		tests/integration/test_services.py tests/integration/test_webhook_crash.py

# The benchmarks start Otvet as real processes and load them with wrk (Debian's package); the PostgreSQL ones
# use a throwaway cluster, like the tests. BENCH_ARGS=--quick is a smoke run; BENCH_ARGS="--only graphql" one.
wrk:
	@if ! command -v wrk >/dev/null; then \
		echo "Installing wrk (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	fi

bench: $(VENV)/.installed-test postgres-server wrk
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Answer quality: every question of bench/quality/ asked through the engine, in a few minutes (docs/quality.md).
quality: $(VENV)/.installed-test
	$(BIN)/python bench/bench_quality.py $(QUALITY_ARGS)

locales: $(VENV)/.installed-test
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --project Otvet \
		--ignore-dirs ".venv tests bench build" -o locales/messages.pot .
	$(BIN)/pybabel update -i locales/messages.pot -d locales --no-fuzzy-matching --ignore-obsolete --width 110
	$(BIN)/python tools/catalogs.py
	$(BIN)/python tools/build_backend.py

wheel: $(VENV)/.installed-test
	$(BIN)/python -m pip wheel --no-deps --no-build-isolation -w dist .

clean:
	rm -rf $(VENV) build dist *.egg-info locales/*/LC_MESSAGES/*.mo tests/js/node_modules
