# Two commands on a fresh machine: `make serve` and `make test`. Everything else is set up on the way.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
WHEELHOUSE := $(VENV)/wheelhouse
EXAMPLE_REQUIREMENTS := $(wildcard functions/*/requirements.txt)
# What the tests' own functions need besides the examples' (installed offline from the wheelhouse).
TEST_REQUIREMENTS := tests/e2e/requirements-trace.txt

.PHONY: serve test install dev bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml $(EXAMPLE_REQUIREMENTS) $(TEST_REQUIREMENTS) | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	# The examples' dependencies as wheels, so the tests build their environments offline.
	$(BIN)/pip download --quiet --only-binary=:all: -d $(WHEELHOUSE) $(addprefix -r ,$(EXAMPLE_REQUIREMENTS) $(TEST_REQUIREMENTS))
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

serve: install
	$(BIN)/faas serve --config config.toml

test: dev
	$(BIN)/pytest

# Benchmarks with baselines measured side by side (docs/benchmarks.md); installs wrk if missing.
bench: install
	$(BIN)/python -m bench.run

# 30 minutes of mixed traffic; memory, fds and processes must stay flat (docs/reliability.md). Not in CI.
soak: dev
	$(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) data .pytest_cache
