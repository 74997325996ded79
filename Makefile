# Pressline. On a fresh clone: `make run` (local stack) and `make test` (every test).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .venv-tools
# The SAM CLI, cfn-lint, bandit and pip-audit (pinned in .ci/requirements-tools.txt) pin their
# own boto3 and pydantic: they live apart from .venv. checkov pins an older boto3 than the SAM
# CLI, so it has a venv of its own inside the tools one.
CHECKOV := $(TOOLS)/checkov
# The AWS tools run offline: fake credentials, a region, no telemetry, never a real account.
OFFLINE_AWS := env -u AWS_PROFILE SAM_CLI_TELEMETRY=0 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
	AWS_SESSION_TOKEN=testing AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1

.PHONY: install tools test run lint typecheck invoke bench build clean

install: $(BIN)/.installed
$(BIN)/.installed: pyproject.toml shared/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,import,images]'
	@touch $@

tools: $(TOOLS)/.installed $(CHECKOV)/.installed
$(TOOLS)/.installed: .ci/requirements-tools.txt
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install -q --upgrade pip
	$(TOOLS)/bin/python -m pip install -q -r .ci/requirements-tools.txt
	@touch $@
$(CHECKOV)/.installed: .ci/requirements-checkov.txt | $(TOOLS)/.installed
	@test -x $(CHECKOV)/bin/python || $(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/python -m pip install -q --upgrade pip
	$(CHECKOV)/bin/python -m pip install -q -r .ci/requirements-checkov.txt
	@touch $@

# The AWS CLI v1 (.ci/requirements-awscli.txt), as authors use it: `aws s3 cp/rm/sync` against the
# local stack in tests and benchmarks. It pins botocore exactly, so it has a venv of its own.
AWSCLI := .venv-aws
.PHONY: awscli
awscli: $(AWSCLI)/.installed
$(AWSCLI)/.installed: .ci/requirements-awscli.txt
	@test -x $(AWSCLI)/bin/python || $(PYTHON) -m venv $(AWSCLI)
	$(AWSCLI)/bin/python -m pip install -q --upgrade pip
	$(AWSCLI)/bin/python -m pip install -q -r .ci/requirements-awscli.txt
	@touch $@

# Every test, slow ones (local stack, sam build) included, on every core (pytest-xdist: ~8 min on
# 2 cores, ~15 serially). One test: make test PYTEST_ARGS="-n 0 tests/unit/indexing -k batch"
PYTEST_ARGS ?= -n auto
test: install tools awscli
	PRESSLINE_TOOLS_BIN=$(abspath $(TOOLS))/bin PRESSLINE_AWSCLI_BIN=$(abspath $(AWSCLI))/bin $(BIN)/python -m pytest $(PYTEST_ARGS)

# Each tests/bench/bench_*.py is a standalone script (run from the repository root) that prints
# medians and ratios against a baseline measured in the same run; a non-zero exit fails the target
# (after every script has printed its figures). Hugo (bench_hugo) is Debian's, installed if root;
# Chromium and Playwright (bench_image_bytes) come with e2e-install.
bench: install awscli e2e-install $(BIN)/.bench-installed
	@command -v hugo >/dev/null || [ "$$(id -u)" != 0 ] || { apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q hugo; } || echo "hugo not installed: bench_hugo skips"
	@failed=""; for script in tests/bench/bench_*.py; do \
		test -e "$$script" || { echo "no benchmarks in tests/bench/"; exit 0; }; \
		echo "== $$script"; $(OFFLINE_AWS) $(BIN)/python "$$script" || failed="$$failed $$script"; \
	done; test -z "$$failed" || { echo "missed targets:$$failed"; exit 1; }
$(BIN)/.bench-installed: pyproject.toml $(BIN)/.installed
	$(BIN)/python -m pip install -q -e '.[dev,import,bench]'
	@touch $@

# `sam build` without a container: every function and the layers (shared/Makefile) into
# .aws-sam/build, then each layer's unzipped size (ImagesLayer: the image function's only). SAM
# needs the runtime's Python (3.12) on PATH: pyenv's newest 3.12 if pyenv has one, else python3.12
# from PATH.
build: tools
	@bin=""; \
	for version in $$(pyenv versions --bare 2>/dev/null | grep -E '^3\.12\.[0-9]+$$' | sort -rV); do \
		bin="$$(pyenv prefix "$$version")/bin"; break; done; \
	[ -n "$$bin" ] || bin="$$(dirname "$$(command -v python3.12 || echo /none/python3.12)")"; \
	"$$bin/python3.12" -c pass 2>/dev/null || { echo "sam build needs Python 3.12 (pyenv or PATH)" >&2; exit 2; }; \
	$(OFFLINE_AWS) PATH="$$bin:$$PATH" $(TOOLS)/bin/sam build --template template.yaml --build-dir .aws-sam/build
	@for name in SharedLayer ImagesLayer; do layer=.aws-sam/build/$$name; \
	total=$$(find $$layer -type f -printf '%s\n' | awk '{s += $$1} END {print s}'); \
	bytecode=$$(find $$layer -type f -name '*.pyc' -printf '%s\n' | awk '{s += $$1} END {print s}'); \
	awk -v n=$$name -v t=$$total -v b=$$bytecode 'BEGIN {printf "%s, unzipped: %.1f MB (%.1f MB of it bytecode)\n", n, t / 1e6, b / 1e6}'; \
	done

# Style, types, code and dependency security, template checks. Every step runs offline except
# the dependency audit, which needs PyPI's JSON API for advisories: where that is unreachable it
# says NOT AUDITED and goes on, unless PRESSLINE_REQUIRE_AUDIT=1 (see .ci/audit_dependencies.py).
# Both layers: the shared one and ImagesLayer (Pillow decodes what authors upload).
lint: install tools
	$(BIN)/ruff check shared functions tests
	$(BIN)/mypy
	$(TOOLS)/bin/bandit -q -c .ci/bandit.yaml -r shared/pressline functions
	$(TOOLS)/bin/python .ci/audit_dependencies.py shared/requirements.txt
	$(TOOLS)/bin/python .ci/audit_dependencies.py shared/requirements-images.txt
	$(OFFLINE_AWS) $(TOOLS)/bin/sam validate --lint --template template.yaml
	$(OFFLINE_AWS) $(TOOLS)/bin/cfn-lint template.yaml
	$(CHECKOV)/bin/checkov --quiet --compact --config-file .ci/checkov.yaml --file template.yaml

# The whole pipeline on moto, no Docker: site and API on :8080, AWS endpoint on :5000.
# Extra options: make run ARGS="--no-examples --retry-after 5" (see pressline local --help).
run: install
	$(BIN)/pressline local $(ARGS)

# Call one function's handler with an event file against the running `make run` stack.
invoke: install
	@if [ -z "$(FN)" ] || [ -z "$(EVENT)" ]; then \
		echo "usage: make invoke FN=Validate EVENT=events/<file>.json   (with \`make run\` running)" >&2; exit 2; fi
	$(BIN)/pressline local invoke $(FN) $(EVENT)

# Browser tests (tests/e2e) against the local stack: Debian's Chromium driven by Playwright from
# PyPI (which never downloads a browser here), axe-core from the npm registry. Installs only what
# is missing; installing Chromium needs root (CI runs as root).
E2E := tests/e2e
CHROMIUM := /usr/bin/chromium
.PHONY: e2e e2e-install screenshots

e2e-install: install $(BIN)/.e2e-installed $(E2E)/node_modules/.installed $(CHROMIUM)
$(BIN)/.e2e-installed: pyproject.toml $(BIN)/.installed
	$(BIN)/python -m pip install -q -e '.[dev,import,e2e]'
	@touch $@
$(E2E)/node_modules/.installed: $(E2E)/package.json $(E2E)/package-lock.json
	cd $(E2E) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
$(CHROMIUM):
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-liberation fonts-dejavu-core

# Not part of `make test`: tests/e2e is collected only when `-m e2e` selects it.
# Extra pytest arguments: make e2e E2E_ARGS="-k search -x"
E2E_ARGS ?=
e2e: e2e-install
	$(OFFLINE_AWS) $(BIN)/python -m pytest -m e2e $(E2E) $(E2E_ARGS)

# docs/screenshots/: the home page and a post page at 375 and 1280 px, light (and one dark).
screenshots: e2e-install
	$(OFFLINE_AWS) $(BIN)/python $(E2E)/screenshots.py docs/screenshots

clean:
	rm -rf $(VENV) $(TOOLS) $(AWSCLI) .aws-sam .pytest_cache .mypy_cache .ruff_cache
