# RefDesk. `make dev` runs the whole stack locally; `make test` runs every test.
SHELL := /bin/bash
PYTHON312 ?= $(shell scripts/find-python312)
VENV := .venv
PY := $(abspath $(VENV))/bin/python
# sam build looks for python3.12 on PATH: the venv provides it.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
export AWS_EC2_METADATA_DISABLED := true

# checkov pins its own boto3, which clashes with the project's: it gets a venv of its own.
TOOLS_VENV := .venv-tools
CHECKOV_REQUIREMENTS := tests/security/requirements-checkov.txt

.PHONY: dev test lint build clean venv tools load bench screenshots redrive deploy

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt layers/refdesk/requirements.txt
	@test -n "$(PYTHON312)" || { echo "Python 3.12 is required" >&2; exit 1; }
	$(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# The '*' .gitignore keeps the tools venv out of git.
tools: $(TOOLS_VENV)/.installed

$(TOOLS_VENV)/.installed: $(CHECKOV_REQUIREMENTS)
	@test -n "$(PYTHON312)" || { echo "Python 3.12 is required" >&2; exit 1; }
	$(PYTHON312) -m venv $(TOOLS_VENV)
	echo '*' > $(TOOLS_VENV)/.gitignore
	$(TOOLS_VENV)/bin/python -m pip install -q -r $(CHECKOV_REQUIREMENTS)
	touch $@

dev: venv
	$(PY) -m local.devstack

# Test files run in parallel (pytest-xdist): each worker has its own moto server, stand-ins and
# local stacks (every port is picked free), and a file's tests stay together. One worker more than
# the cores: much of the suite waits on local servers and browsers, and the spare worker uses that
# time (on 2 cores, 446 s against 490 s with 2 workers). Files are handed out slowest tier first
# (tests/conftest.py), not most tests first. PYTEST_WORKERS=0 runs them in this process.
PYTEST_WORKERS ?= $(shell python3 -c 'import os; print((os.cpu_count() or 1) + 1)' 2>/dev/null || echo 3)
test: venv tools
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# A bounded load test of the local stack on loopback (starts and stops its own stack).
load: venv
	$(PY) scripts/load.py $(LOAD_ARGS)

# Speed and cost, measured in one run and printed as ratios and counts.
bench: venv
	$(PY) scripts/bench.py $(BENCH_ARGS)

# The README's pictures of the staff side (docs/card.png, docs/home-tab.png): a scripted desk on a
# local stack of its own, photographed in headless chromium (Debian's, as the browser tests).
screenshots: venv
	$(PY) scripts/screenshots.py $(SCREENSHOTS_ARGS)

# Move dead-lettered jobs back to the jobs queue of the running `make dev` stack (PORT, default
# 3000). Against AWS: $(PY) scripts/redrive.py --stack <stack name>.
redrive: venv
	$(PY) scripts/redrive.py --local http://127.0.0.1:$${PORT:-3000}

lint: venv
	sam validate --lint

build: venv
	sam build --parallel

# The guided deploy (README "Deploying"): checks the account, stores the secrets in SSM, runs
# `make build` and `sam deploy` (--guided the first time; samconfig.toml keeps the answers) and
# writes the Slack app manifest with the deployed URLs. Options: make deploy DEPLOY_ARGS=--help
deploy: venv
	$(PY) scripts/deploy.py $(DEPLOY_ARGS)

clean:
	rm -rf $(VENV) $(TOOLS_VENV) .aws-sam .pytest_cache test-output
