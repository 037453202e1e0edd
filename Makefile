# RefDesk. `make dev` runs the whole stack locally; `make test` runs every test.
SHELL := /bin/bash
PYTHON312 ?= $(shell scripts/find-python312)
VENV := .venv
PY := $(abspath $(VENV))/bin/python
# sam build looks for python3.12 on PATH: the venv provides it.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
export AWS_EC2_METADATA_DISABLED := true

.PHONY: dev test lint build clean venv

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt layers/refdesk/requirements.txt
	@test -n "$(PYTHON312)" || { echo "Python 3.12 is required" >&2; exit 1; }
	$(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

dev: venv
	$(PY) -m local.devstack

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	sam validate --lint

build: venv
	sam build --parallel


clean:
	rm -rf $(VENV) .aws-sam .pytest_cache test-output
