# vtlbsim: `make run` installs into .venv and runs the flagship study; `make test` installs and runs the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the newest Python the project allows, for test-py313 (override with PY313=/path/to/python3.13)
PY313 ?= $(firstword $(wildcard /root/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13))
# packages make mutation mutates (comma-separated): MUTATE=arch,hyp for a part
MUTATE ?= arch,check,hyp,cost

comma := ,
.PHONY: run test test-all test-slow test-py313 lint typecheck bench mutation clean install census-plugin

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

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

# the fast suite on Python 3.13, in its own venv, so that nothing depends on the interpreter
test-py313:
	@test -x "$(PY313)" || { echo "test-py313: no python3.13 at '$(PY313)' (set PY313=...)"; exit 1; }
	$(MAKE) test PY="$(PY313)" VENV=.venv313

# mutation testing (mutmut, configured in pyproject.toml [tool.mutmut]); kill rate per package.
# numba's default threading layer here is GNU OpenMP, which kills (SIGTERM) a process forked
# after it ran a parallel loop: mutmut's forked children of exact-mode tests ended "suspicious".
# The workqueue layer survives the fork (docs/testing.md, cost/ exact mode and DVM).
mutation: $(STAMP)
	NUMBA_THREADING_LAYER=workqueue $(BIN)/mutmut run $(foreach p,$(subst $(comma), ,$(MUTATE)),'vtlbsim.$(p).*')
	$(BIN)/python tests/mutation_rates.py --survivors

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
	rm -rf $(VENV) .venv313 mutants .pytest_cache .mypy_cache .hypothesis
