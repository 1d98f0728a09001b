# The two commands of the README: `make run` and `make test`. Both set everything up first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/sentibot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/sentibot  ## set up, then start redis, workers and the bot (or the terminal chat)
	$(BIN)/sentibot up

test: $(BIN)/sentibot  ## set up, then lint and run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: $(BIN)/sentibot  ## the figures in the README
	$(BIN)/python bench/train_full.py
	$(BIN)/python bench/queue_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
