# Two commands for a new user: `make run` and `make test` (see README.md).
# Only Python 3.12+ and make are needed; everything else is installed into .venv from uv.lock.

SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
# Loopback only: the dev server has a fixed secret key and the sandbox's unauthenticated tools
# (switch user, faults, request log). `HOST=0.0.0.0 make run` exposes it to the network.
HOST ?= 127.0.0.1
PORT ?= 8000
# The sandbox portal also answers as a real portal does: HTTPS, REST at /rest/ (sandbox/https.py).
HTTPS_PORT ?= 8443
# The portal and the app are two sites on one server: localhost for the portal, 127.0.0.1 for
# the app (so the embedded tab is cross-site, as in production).
export SANDBOX_PORTAL_URL ?= http://localhost:$(PORT)/sandbox/
export APP_PUBLIC_URL ?= http://127.0.0.1:$(PORT)/
export SANDBOX_HTTPS_URL ?= https://localhost:$(HTTPS_PORT)/
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Extra pytest arguments for `make test` (.ci/run's first pass leaves the multi-process tests to its second).
PYTEST_ARGS ?=

.PHONY: run test setup lint format typecheck bench clean messages

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is required (python3 --version)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.synced: $(BIN)/python uv.lock pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv>=0.8"
	$(BIN)/python -m uv sync --locked --inexact --python $(BIN)/python
	touch $@

# The Russian catalogue (locale/ru), compiled from its .po: by gettext's msgfmt where it is
# installed, else by our own pure-Python compiler (widgets/common/i18n_compile.py), so Python and make suffice.
messages: $(VENV)/.synced
	@if command -v msgfmt >/dev/null 2>&1; then \
		$(BIN)/python manage.py compilemessages --ignore=.venv --ignore=node_modules -v 0; \
	else $(BIN)/python -m widgets.common.i18n_compile; fi

setup: messages
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py migrate --noinput --database sandbox
	$(BIN)/python manage.py sandbox_seed
	$(BIN)/python manage.py sandbox_tls

# Two servers: Django's for the app and the portal, and the portal's HTTPS address beside it
# (stopped with the first).
run: setup
	@echo
	@echo "  Sandbox portal:  http://localhost:$(PORT)/sandbox/"
	@echo "  Deal Desk app:   http://127.0.0.1:$(PORT)/"
	@echo
	$(BIN)/python manage.py sandbox_https --host $(HOST) --port $(HTTPS_PORT) & https_pid=$$!; \
	trap 'kill $$https_pid 2>/dev/null' EXIT; \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: messages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/pytest $(PYTEST_ARGS)

# The benchmark suite (bench/, docs/performance.md): its own dependency group, never part of `make test`.
bench: $(VENV)/.synced
	$(BIN)/python -m uv sync --locked --inexact --group bench --python $(BIN)/python
	$(BIN)/python -m bench

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck:
	$(BIN)/mypy .

clean:
	rm -rf $(VENV) db.sqlite3 sandbox.sqlite3
