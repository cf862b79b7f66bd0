# Foresight — the two commands a person needs: `make run` and `make test`.
SWIFT        ?= swift
JOBS         ?= 2
BUILD_FLAGS  ?= -j $(JOBS)
RELEASE      := -c release $(BUILD_FLAGS)
PY           := .venv/bin/python

.PHONY: all setup build release test run bench parity results clean

all: build

## Install what is missing (apt packages, .venv). Idempotent.
setup:
	@Tools/setup.sh

## Debug build of everything, tests included.
build: setup
	$(SWIFT) build $(BUILD_FLAGS) --build-tests

release: setup
	$(SWIFT) build $(RELEASE)

## Every test (Swift Testing, including the cross-language Python checks).
test: setup
	$(SWIFT) build $(BUILD_FLAGS) --build-tests
	$(SWIFT) test $(BUILD_FLAGS) --skip-build

## The main job on the built-in default (see README).
run: release
	@Tools/run-demo.sh

## Benchmarks: print figures and write them to bench-results/.
bench: release
	@mkdir -p bench-results
	.build/release/foresight-bench all --out bench-results/latest.json

## Regenerate the inference parity fixtures with PyTorch (installs torch into .venv).
parity:
	@Tools/setup.sh torch
	$(PY) Tools/training/make_parity_fixtures.py --out Tests/ForesightInferenceTests/Fixtures

## Every predictor (classical, persistence, models/*) on the test drives (seeds 1000–1019, 60 s)
## and the held-out scenario: bootstrap intervals, pass/fail, docs/results.md + plots.
results: release
	$(PY) Tools/results.py run

clean:
	rm -rf .build bench-results
