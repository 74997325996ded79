# Pressline. On a fresh clone: `make run` (local stack) and `make test` (every test).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .venv-tools
# The SAM CLI and cfn-lint pin their own boto3 and pydantic: they live in their own venv.
TOOLS_PACKAGES := aws-sam-cli==1.170.0 cfn-lint==1.58.0

.PHONY: install tools test run lint typecheck invoke clean

install: $(BIN)/.installed
$(BIN)/.installed: pyproject.toml shared/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

tools: $(TOOLS)/.installed
$(TOOLS)/.installed: Makefile
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install -q --upgrade pip
	$(TOOLS)/bin/python -m pip install -q $(TOOLS_PACKAGES)
	@touch $@

test: install tools
	PRESSLINE_TOOLS_BIN=$(abspath $(TOOLS))/bin $(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check shared functions tests
	$(BIN)/mypy

run: install
	$(BIN)/pressline local

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam .pytest_cache .mypy_cache .ruff_cache
