# Two entry points a new machine needs (see README): `make up` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
ENV := source scripts/env.sh $(STACK) &&
PY := .venv/bin/python
STACK ?= dev
# `make up K8S_VERSION=1.36.3`: the lab and the dev stack at that version (default: the version the
# lab runs, or the newest for a new lab); exported so lab/lab.sh and scripts/stack.py both see it.
K8S_VERSION ?=
export K8S_VERSION

.PHONY: setup test unit matrix fuzz lint bench lab-up lab-down lab-status lab-reset up status down preview prometheus

setup:
	bash scripts/setup.sh

## Unit tests (mocks), then the suites that need the toolchain and the lab.
test: setup
	$(ENV) $(PY) -m pytest -q -p no:cacheprovider --durations=25

unit: setup
	$(ENV) $(PY) -m pytest -q -p no:cacheprovider -m "not lab and not toolchain"

## Every supported minor's real kube-scheduler and source (make test runs the oldest and newest).
matrix: setup
	$(ENV) KSCHED_MATRIX=all $(PY) -m pytest -q -p no:cacheprovider tests/test_matrix.py

## Generated configs, many more than `make test` runs (HYPOTHESIS_PROFILE=fuzz: 3,000 per property).
fuzz: setup
	$(ENV) HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -p no:cacheprovider tests/test_config_properties.py tests/test_scheduler_accepts.py

lint: setup
	bash scripts/actionlint.sh
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy --explicit-package-bases components plumbing harness __main__.py scripts tests bench tools
	MYPYPATH=lab $(PY) -m mypy --strict --explicit-package-bases lab
	MYPYPATH=policy $(PY) -m mypy --python-executable policy/.venv/bin/python --cache-dir .mypy_cache/policy --explicit-package-bases policy/__main__.py policy/rules.py

## Figures: mock scale, then the lab (restarted fresh, taken down at the end), then scheduling
## throughput and latency at scale with plots in docs/bench (bench/scheduling.py --replot redraws).
bench: setup
	$(ENV) $(PY) bench/mock_scale.py
	$(ENV) $(PY) bench/lab_bench.py
	$(ENV) $(PY) bench/scheduling.py

lab-up:
	bash lab/lab.sh up

lab-down:
	bash lab/lab.sh down

lab-status:
	bash lab/lab.sh status

## Wipe the lab's cluster and machines' disks (lab-down keeps them); the next lab-up starts anew.
lab-reset:
	bash lab/lab.sh reset

preview: setup lab-up
	$(ENV) $(PY) -m scripts.stack preview $(STACK)

## The main job: deploy the dev stack into the lab (reading what is there first), start the lab's
## Prometheus on its monitoring outputs (docs/monitoring.md), summarize.
up: setup lab-up
	$(ENV) $(PY) -m scripts.stack up $(STACK)
	$(ENV) $(PY) -m scripts.monitoring --lab $(STACK)
	$(ENV) $(PY) -m scripts.stack status $(STACK)

## The lab's Prometheus on the stack's monitoring outputs again (`make lab-down` stops it).
prometheus: setup
	$(ENV) $(PY) -m scripts.monitoring --lab $(STACK)

status:
	$(ENV) $(PY) -m scripts.stack status $(STACK)

down: setup
	$(ENV) $(PY) -m scripts.stack destroy $(STACK)
	bash lab/lab.sh down
