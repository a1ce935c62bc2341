# vtlbsim: `make run` installs into .venv and runs the flagship study; `make test` installs and runs the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-all lint typecheck bench clean install census-plugin

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m vtlbsim.flagship

test: $(STAMP)
	$(BIN)/python -m pytest

test-all: $(STAMP)
	$(BIN)/python -m pytest -m ''

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

# The census's QEMU plugin, with the system C compiler (vtlbsim census builds it on demand too).
census-plugin:
	$(MAKE) -C src/vtlbsim/data/census OUT=$(CURDIR)/build/census

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .hypothesis
