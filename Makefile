# The two commands of the quick start. Both build .venv from scratch on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
PYTEST_ARGS ?=

.PHONY: demo test lint bench bench-data bench-ledger bench-metrics bench-simulate bench-yolo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Stamp files record which install a venv has, so repeated runs are fast.
$(VENV)/.installed-core: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e .
	@touch $@

$(VENV)/.installed-all: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[all]'
	@touch $@ $(VENV)/.installed-core

demo: $(VENV)/.installed-core
	$(BIN)/tailguard demo --out demo-report

# Two pytest workers on two cores: one BLAS/OpenMP thread each, or small products oversubscribe.
test: $(VENV)/.installed-all
	$(BIN)/ruff check src tests benchmarks
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --timeout=1800 $(PYTEST_ARGS)

lint: $(VENV)/.installed-all
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: bench-data bench-ledger bench-metrics bench-simulate

bench-data: $(VENV)/.installed-all
	$(BIN)/python benchmarks/data.py

bench-ledger: $(VENV)/.installed-all
	$(BIN)/python benchmarks/ledger.py

bench-metrics: $(VENV)/.installed-all
	$(BIN)/python benchmarks/metrics.py

bench-simulate: $(VENV)/.installed-all
	$(BIN)/python benchmarks/simulate.py

bench-yolo: $(VENV)/.installed-all
	$(BIN)/python benchmarks/yolo_loop.py

clean:
	rm -rf $(VENV) .pytest_cache demo-report .tailguard
