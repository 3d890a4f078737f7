# The commands the README gives. The virtual environment lives in .venv.
VENV := .venv
PYTHON := $(VENV)/bin/python
PORT ?= 8000

.PHONY: help install run test lint format clean bench bench-quick chaos chaos-quick

## This list
help:
	@awk '/^## /{text=substr($$0, 4); next} /^[a-z-]+:/{if (text) printf "  make %-12s %s\n", substr($$1, 1, length($$1)-1), text; text=""}' $(MAKEFILE_LIST)

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

## Start the app on SQLite and the in-process cache, at http://127.0.0.1:8000/
run: install
	$(PYTHON) manage.py migrate --noinput
	$(PYTHON) manage.py runserver 127.0.0.1:$(PORT)

## Every test, against PostgreSQL (127.0.0.1:5432) and a SASL memcached it starts itself
test: install $(VENV)/django-tests/.unpacked
	$(PYTHON) -m pytest

# Django's own cache tests, from its source distribution (see requirements-django-tests.txt).
$(VENV)/django-tests/.unpacked: $(VENV)/.installed requirements-django-tests.txt
	rm -rf $(VENV)/django-tests && mkdir -p $(VENV)/django-tests
	$(PYTHON) -m pip download --quiet --no-deps --no-binary :all: --require-hashes \
		-r requirements-django-tests.txt -d $(VENV)/django-tests
	tar xzf $(VENV)/django-tests/django-*.tar.gz -C $(VENV)/django-tests --strip-components=1 --wildcards '*/tests'
	rm $(VENV)/django-tests/django-*.tar.gz
	touch $@

## The benchmark (see README): make bench, or make bench-quick (under 2 minutes)
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
