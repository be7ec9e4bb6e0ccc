# vllm-deploy: one entry point for people and CI.
#   make demo   build what is missing, start the local GPU cluster, `pulumi up --stack local`, print outputs
#   make test   unit, integration and end-to-end tests (real engine, real control plane, kwok GPU nodes)
#   make lint   ruff (pyproject.toml settings) and shellcheck on every bash script in the repository
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV := $(ROOT)/.venv
PYTHON ?= python3
ENV := source $(ROOT)/tools/env.sh &&
STACK ?= local
PYTEST_ARGS ?=

.PHONY: help setup tools cluster-up cluster-down demo preview promote drift test test-unit lint bench destroy clean

help:
	@echo "make demo         deploy the 'local' stack to the built-in local cluster (builds tools on first run)"
	@echo "make test         run every test (unit, integration, end-to-end)"
	@echo "make test-unit    only the tests that need no cluster and no built tools"
	@echo "make lint         ruff check . and shellcheck on every bash script (CI runs it before the tests)"
	@echo "make preview STACK=development   pulumi preview with the policy pack"
	@echo "make promote FROM=development TO=staging   preview TO with FROM's verified image and chart"
	@echo "make drift STACK=local   pulumi preview --refresh --expect-no-changes (fails on drift)"
	@echo "make bench        benchmarks -> bench/results/"
	@echo "make cluster-down stop the local cluster; make destroy tears down the local stack"

# The project-local virtualenv, rebuilt when requirements.txt changes.
$(VENV)/.requirements.stamp: requirements.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	@cp requirements.txt $@

setup: $(VENV)/.requirements.stamp

tools:
	$(ROOT)/tools/build

cluster-up: tools
	$(ROOT)/tools/cluster up

cluster-down:
	$(ROOT)/tools/cluster down

demo: setup cluster-up
	$(ROOT)/tools/demo

preview: setup tools
	$(ENV) pulumi stack select --create $(STACK) >/dev/null && \
	  pulumi preview --stack $(STACK) --policy-pack policies --policy-pack-config policies/config/$$(python -c "import yaml;print(yaml.safe_load(open('Pulumi.$(STACK).yaml'))['config']['vllm-deploy:environment'])").json

# Preview (never update) TO with the image and chart FROM deployed and verified; Pulumi.$(TO).yaml is untouched.
promote: setup tools
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make promote FROM=development TO=staging" >&2; exit 2; }
	$(ENV) python -m promotion.promote --from $(FROM) --to $(TO)

# The scheduled drift check of .github/workflows/drift.yml, for one stack.
drift: setup tools
	$(ENV) python -m promotion.drift --stack $(STACK)

destroy: setup tools
	$(ENV) pulumi destroy --stack $(STACK) --yes

# Bash scripts: tracked files whose first line is a bash shebang or a `# shellcheck shell=bash` directive.
SHELL_SCRIPTS = $(shell cd $(ROOT) && git ls-files -z | xargs -0 awk 'FNR == 1 { if ($$0 ~ /^#!.*[/ ](ba)?sh$$|^\# shellcheck shell=bash/) print FILENAME; nextfile }')

# Both linters always run; the target fails if either found something.
lint: setup
	@cd $(ROOT) && status=0; \
	  echo "ruff check ."; $(VENV)/bin/ruff check . || status=1; \
	  echo "shellcheck -x $(SHELL_SCRIPTS)"; $(VENV)/bin/shellcheck -x $(SHELL_SCRIPTS) || status=1; \
	  exit $$status

test-unit: setup
	$(VENV)/bin/python -m pytest -m "not cluster and not e2e and not tools" $(PYTEST_ARGS)

test: setup tools
	$(ENV) python -m pytest $(PYTEST_ARGS)

bench: setup cluster-up
	$(ENV) python -m bench

clean: cluster-down
	rm -rf $(ROOT)/.state
