# The commands the README gives. The virtual environment lives in .venv.
VENV := .venv
PYTHON := $(VENV)/bin/python
PORT ?= 8000
STACK_PORT ?= 8080

.PHONY: help install system-packages run superuser stack test test-fast package package-test lint format clean bench bench-quick chaos chaos-quick

# Debian packages the tests start themselves (memcached with SASL, nginx for make stack's test,
# Chromium for the browser tests); installed when missing, as root on Debian or Ubuntu.
SYSTEM_PACKAGES := memcached sasl2-bin libsasl2-modules chromium nginx

## This list
help:
	@awk '/^## /{text=substr($$0, 4); next} /^[a-z-]+:/{if (text) printf "  make %-12s %s\n", substr($$1, 1, length($$1)-1), text; text=""}' $(MAKEFILE_LIST)

# The memcached backend is a package of this repository (packages/sasl-memcached); requirements.txt
# installs it from there. Installed, not linked: a change to its sources installs it again.
PACKAGE_DIR := packages/sasl-memcached
PACKAGE_SOURCES := $(PACKAGE_DIR)/pyproject.toml $(wildcard $(PACKAGE_DIR)/src/sasl_memcached/*.py)
# The package's test matrix needs Python 3.10 to 3.13: pyenv's, put on PATH as python3.10 ... python3.13.
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
MATRIX_PYTHONS = $(shell ls -d $(PYENV_ROOT)/versions/3.1[0-3].*/bin 2>/dev/null | tr '\n' ':')

# What running the app needs; the test and lint tools come on top, for make test.
$(VENV)/.runtime-installed: requirements.txt $(PACKAGE_SOURCES)
	test -d $(VENV) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt
	$(PYTHON) -m pip install --quiet --force-reinstall --no-deps ./$(PACKAGE_DIR)
	touch $@

$(VENV)/.installed: $(VENV)/.runtime-installed requirements-dev.txt
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# Installed means dpkg's "install ok installed": `dpkg -s` also succeeds for a package removed with its
# configuration left ("deinstall ok config-files"), whose programs are gone.
system-packages:
	@missing=$$(for package in $(SYSTEM_PACKAGES); do \
		[ "$$(dpkg-query -W -f='$${Status}' $$package 2>/dev/null)" = "install ok installed" ] || echo $$package; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

## Start the app on SQLite and the in-process cache, at http://127.0.0.1:8000/
run: $(VENV)/.runtime-installed
	$(PYTHON) manage.py migrate --noinput
	$(PYTHON) manage.py runserver 127.0.0.1:$(PORT)

## Create a staff user for /admin/ and /stats/ (asks; or set DJANGO_SUPERUSER_USERNAME, _EMAIL, _PASSWORD)
superuser: $(VENV)/.runtime-installed
	$(PYTHON) manage.py migrate --noinput
	$(PYTHON) manage.py createsuperuser $(if $(DJANGO_SUPERUSER_PASSWORD),--noinput)

## The production topology here: nginx on STACK_PORT (8080) before 2 gunicorn instances, PostgreSQL, SASL memcached
stack: $(VENV)/.runtime-installed system-packages
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
	$(PYTHON) -m testsupport.stack --port $(STACK_PORT)

## Every test: the app's, against PostgreSQL (127.0.0.1:5432) and a SASL memcached; then the backend's matrix
test: install system-packages
	$(PYTHON) -m pytest
	$(MAKE) package-test

## The memcached backend's tests on every pair of Python (3.10-3.13) and Django (5.2, 6.0, 6.1), from its wheel
package-test: install system-packages
	cd $(PACKAGE_DIR) && PATH="$(MATRIX_PYTHONS)$$PATH" $(CURDIR)/$(VENV)/bin/nox

## The memcached backend's wheel and source distribution, in packages/sasl-memcached/dist, checked by twine
package: install
	rm -rf $(PACKAGE_DIR)/dist
	$(PYTHON) -m build --outdir $(PACKAGE_DIR)/dist $(PACKAGE_DIR)
	$(PYTHON) -m twine check --strict $(PACKAGE_DIR)/dist/*

## The tests that need no server (forms, views, bad input, CSRF, the chaos judge), on SQLite: under a minute
test-fast: install
	TASKLIST_TEST_SERVERS=none $(PYTHON) -m pytest -m fast -p no:cacheprovider

## The benchmark (see docs/bench.md): make bench (about 10 minutes), or make bench-quick (about 3)
bench: $(VENV)/.bench-installed
	$(PYTHON) -m bench.run $(BENCH_ARGS)

bench-quick: $(VENV)/.bench-installed
	$(PYTHON) -m bench.run --quick $(BENCH_ARGS)

$(VENV)/.bench-installed: $(VENV)/.installed requirements-bench.txt
	$(PYTHON) -m pip install --quiet -r requirements-bench.txt
	command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
	touch $@

## Faults under load (see docs/chaos.md): make chaos (about 7 minutes), or make chaos-quick (about 3)
chaos: install
	$(PYTHON) -m chaos.run $(CHAOS_ARGS)

chaos-quick: install
	$(PYTHON) -m chaos.run --quick $(CHAOS_ARGS)

## ruff: lint and format check, as CI runs it
lint: install
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

## ruff: fix what it can and format
format: install
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

## Remove the virtual environment, collected static files and the SQLite database
clean:
	rm -rf $(VENV) staticfiles db.sqlite3 .pytest_cache .ruff_cache
