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
# What runs for each vLLM pod of the local cluster: sim (llm-d simulator) or vllm (the real vLLM CPU build);
# empty: a new cluster gets sim, a running one keeps its engine.
ENGINE ?=
PYTEST_ARGS ?=
# make test's pytest workers (pytest-xdist; each test module runs whole on one worker). Each worker past the first
# gets a local cluster of its own under .state/workers/ (tests/conftest.py). 0: one process, no xdist.
PYTEST_WORKERS ?= 2

.PHONY: help setup tools vllm-env vllm-env-required cluster-up cluster-down demo preview promote drift test test-unit lint bench destroy clean

help:
	@echo "make demo         deploy the 'local' stack to the built-in local cluster (builds tools on first run)"
	@echo "make demo ENGINE=vllm   the same on the real vLLM (CPU build, tiny model; first run builds it)"
	@echo "make test         run every test (unit, integration, end-to-end)"
	@echo "make test-unit    only the tests that need no cluster and no built tools"
	@echo "make lint         ruff check . and shellcheck on every bash script (CI runs it before the tests)"
	@echo "make preview STACK=development   pulumi preview with the policy pack"
	@echo "make promote FROM=development TO=staging   preview TO with FROM's verified image and chart"
	@echo "make drift STACK=local   pulumi preview --refresh --expect-no-changes (fails on drift)"
	@echo "make bench        benchmarks -> bench/results/"
	@echo "make cluster-down stop the local cluster; make destroy tears down the local stack"

# The project-local virtualenv, brought up to date whenever requirements.txt differs from what was installed
# (by content, not by file time: a checkout or merge can leave requirements.txt older than the stamp).
setup:
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@cmp -s requirements.txt $(VENV)/.requirements.stamp || { \
	  $(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt && \
	  cp requirements.txt $(VENV)/.requirements.stamp; }

tools:
	$(ROOT)/tools/build

# The real vLLM (CPU build) and its tiny model in the user cache (cold: minutes and ~6 GB; warm: a no-op).
# A machine that cannot build it still runs every other test: the real-vLLM tests then skip, saying why.
vllm-env:
	@$(ROOT)/tools/vllm-env >/dev/null || echo "vllm-env: the vLLM environment could not be built; real-vLLM tests will skip" >&2

cluster-up: tools $(if $(filter vllm,$(ENGINE)),vllm-env-required)
	$(ROOT)/tools/cluster up $(if $(ENGINE),--engine $(ENGINE))

vllm-env-required:
	$(ROOT)/tools/vllm-env >/dev/null

# The worktree's cluster, then the test workers' own clusters (.state/workers/*, see tests/conftest.py).
cluster-down:
	$(ROOT)/tools/cluster down
	@for state in $(ROOT)/.state/workers/*/; do \
	  [ -d "$$state" ] && VLLM_DEPLOY_STATE="$$state" $(ROOT)/tools/cluster down; done; true

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
	$(VENV)/bin/python -m pytest -m "not cluster and not e2e and not tools and not vllm" $(PYTEST_ARGS)

test: setup tools vllm-env
	$(ENV) python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: setup cluster-up
	$(ENV) python -m bench

clean: cluster-down
	rm -rf $(ROOT)/.state
