# faktura: `make run` starts the whole system, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --constraint constraints.txt

.PHONY: run test lint bench chaos load clean-var

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit("faktura needs Python >= 3.11") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: $(VENV)/bin/python pyproject.toml constraints.txt
	$(PIP) --editable .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-run
	$(PIP) --editable '.[dev]'
	@touch $@

run: $(VENV)/.installed-run
	$(PY) -m devstack.run

test: $(VENV)/.installed-dev
	$(PY) -m pytest $(PYTEST_ARGS)

# Benchmarks print figures (docs/PERFORMANCE.md): make bench N=6000 WORKERS=2
N ?= 6000
WORKERS ?= 2
bench: $(VENV)/.installed-dev
	$(PY) bench/render_invoices.py 200
	$(PY) bench/chain.py --contracts $(N) --workers $(WORKERS)

# Fault injection while billing (tests/chaos; 150 contracts also run inside make test)
CHAOS_N ?= 1000
chaos: $(VENV)/.installed-dev
	FAKTURA_CHAOS_CONTRACTS=$(CHAOS_N) $(PY) -m pytest tests/chaos -s -q

# API load: 10,000 POST /v1/contracts at 50 concurrent against a live API (bench/api_load.py)
load: $(VENV)/.installed-dev
	$(PY) bench/api_load.py --requests 10000 --concurrency 50

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean-var:
	rm -rf var
