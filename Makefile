# Two commands do all set-up: `make run` (embedded SQLite console) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
CHROMIUM ?= /usr/bin/chromium

# `make run` uses SQLite and the folder broker unless you name a database or Redis
# yourself (`make run REDIS_URL=redis://...` or in the environment); the defaults below
# are for the test suite only, so they must not leak into `make run`.
RUN_DATABASE_URL ?= $(if $(filter environment command%,$(origin DATABASE_URL)),$(DATABASE_URL))
RUN_REDIS_URL ?= $(if $(filter environment command%,$(origin REDIS_URL)),$(REDIS_URL))
PORT ?= 8000

DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/console
REDIS_URL ?= redis://127.0.0.1:6379/0
export DATABASE_URL REDIS_URL

.PHONY: install run test lint format check-deploy bench lock browser nginx partman services-check clean

# The checkout gets the dev lock (production dependencies plus the test tools); the
# production image installs requirements.lock alone (deploy/Dockerfile).
$(VENV)/.installed: requirements-dev.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "uv>=0.5"
	$(UV) pip sync --quiet --python $(PY) requirements-dev.lock
	touch $@

install: $(VENV)/.installed

# Both locks carry hashes. The production lock is constrained by the dev lock, so the
# packages they share have the same versions.
lock:
	$(UV) pip compile pyproject.toml --group dev --generate-hashes --quiet -o requirements-dev.lock
	$(UV) pip compile pyproject.toml --generate-hashes --quiet \
	  --constraint requirements-dev.lock -o requirements.lock

run: install
	unset DATABASE_URL REDIS_URL; \
	  [ -z "$(RUN_DATABASE_URL)" ] || export DATABASE_URL="$(RUN_DATABASE_URL)"; \
	  [ -z "$(RUN_REDIS_URL)" ] || export REDIS_URL="$(RUN_REDIS_URL)"; \
	  PORT="$(PORT)" DJANGO_SETTINGS_MODULE=console.settings.local bash deploy/run-local.sh

browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium for the browser tests..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; fi; }

# The proxy test runs the console behind Debian's nginx (deploy/nginx/).
nginx:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's nginx for the proxy test..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	  else echo "The proxy test needs Debian's nginx: sudo apt-get install nginx"; exit 1; fi; }

# The usage table is partitioned by day with pg_partman (docs/usage-partitions.md); the
# migration creates the extension, so the package must be on the database server.
PG_MAJOR ?= 15
partman:
	@test -f /usr/share/postgresql/$(PG_MAJOR)/extension/pg_partman.control || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's pg_partman for PostgreSQL $(PG_MAJOR)..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-$(PG_MAJOR)-partman >/dev/null; \
	  else echo "The usage table needs pg_partman: sudo apt-get install postgresql-$(PG_MAJOR)-partman"; exit 1; fi; }

services-check: install
	@$(PY) deploy/services_check.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check-deploy: install
	DJANGO_SETTINGS_MODULE=console.settings.production \
	SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))')" \
	ALLOWED_HOSTS=console.example.com EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend \
	CSRF_TRUSTED_ORIGINS=https://console.example.com SITE_URL=https://console.example.com \
	ENCRYPTION_KEYS="k1:$$($(PY) -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')" \
	AUDIT_CHAIN_KEYS="a1:$$($(PY) -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')" \
	API_KEY_PEPPERS="p1:$$($(PY) -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')" \
	GATEWAY_TOKENS="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(32))')" \
	  $(PY) manage.py check --deploy --fail-level WARNING

test: install partman services-check browser nginx lint check-deploy
	DJANGO_SETTINGS_MODULE=console.settings.test $(PY) -m pytest $(PYTEST_ARGS)

bench: install partman services-check
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else echo "The HTTP benchmark needs wrk: sudo apt-get install wrk"; exit 1; fi; }
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) staticfiles var db.sqlite3
