# Foresight — the two commands a person needs: `make run` and `make test`.
SWIFT        ?= swift
JOBS         ?= 2
BUILD_FLAGS  ?= -j $(JOBS)
RELEASE      := -c release $(BUILD_FLAGS)
PY           := .venv/bin/python

.PHONY: all setup build release test run bench bench-compare bench-live bench-import soak rig parity results train raytrace clean install defaults

all: build

## Install what is missing (apt packages, .venv). Idempotent.
setup:
	@Tools/setup.sh

## Debug build of everything, tests included.
build: setup
	$(SWIFT) build $(BUILD_FLAGS) --build-tests

release: setup
	$(SWIFT) build $(RELEASE)

## Every test (Swift Testing, including the cross-language Python checks; PyTorch goes into .venv for them).
test: setup
	@Tools/setup.sh torch
	$(SWIFT) build $(BUILD_FLAGS) --build-tests
	$(SWIFT) test $(BUILD_FLAGS) --skip-build

## The main job on the built-in default (see README).
run: release
	@Tools/run-demo.sh

## Benchmarks: print figures and write them to bench-results/.
bench: release
	@mkdir -p bench-results
	.build/release/foresight-bench all --out bench-results/latest.json
	$(PY) Tools/bench_latency.py     # end-to-end latency, written into docs/launch.md

## The Swift engine against its PyTorch twin on the same model and inputs, in one run (streaming step and
## full window, 2 threads each; installs torch into .venv): prints JSON with both and the ratio,
## writes bench-results/compare.json. MODEL=DIR picks another exported folder.
MODEL ?= models/foresight-learned
bench-compare: release
	@Tools/setup.sh torch
	@mkdir -p bench-results
	$(PY) Tools/bench_compare.py --model $(MODEL) --out bench-results/compare.json

## The learned model live through the real sockets (Tools/loadgen.py, a separate process): DeepSense-size
## sensors at 10 Hz with staggered stamps, and as fast as possible with 4 sets in flight. Latency from the
## frame's last message to its predict/beam, frames/s, daemon CPU/RSS and stage latencies (docs/performance.md).
bench-live: release
	@mkdir -p bench-results
	$(PY) Tools/rig_bench.py --performance --learned --out bench-results/live.json

## Rig scenarios through the real sockets (Tools/loadgen.py against `foresight run`): complete,
## partial and predicted frames per timing shape, latency, daemon RSS/CPU. Prints figures.
rig: release
	@mkdir -p bench-results
	$(PY) Tools/rig_bench.py --out bench-results/rig.json

## Long runs, not in CI: a 100k-message stream that is 90 % malformed (RSS growth after warm-up,
## good frames predicted, answering afterwards), 60 s pauses, and 30 minutes of DeepSense-size sensors at
## 10 Hz with the learned model (RSS ≤ 300 MB, ≤ 10 MB growth). Prints figures, writes bench-results/soak*.json.
soak: release
	@mkdir -p bench-results
	$(PY) Tools/rig_bench.py --soak --out bench-results/soak.json --check
	$(PY) Tools/rig_bench.py --learned deepsense-10hz-30min --out bench-results/soak-learned.json --check

## DeepSense import speed and memory on a generated 500-sample scenario (docs/import.md).
bench-import: release
	@mkdir -p bench-results
	.build/release/foresight-bench import --out bench-results/import.json

## Regenerate the inference parity fixtures with PyTorch (installs torch into .venv).
parity:
	@Tools/setup.sh torch
	$(PY) Tools/training/make_parity_fixtures.py --out Tests/ForesightInferenceTests/Fixtures

## Independent ray-traced check of the simulator's channel (Sionna RT; ~15 min for a 60 s drive).
raytrace: release
	@Tools/setup.sh sionna-rt==2.2.0
	$(PY) Tools/raytrace_check.py --scenario $(or $(SCENARIO),street) --duration 60 --ue-body

## Training (docs/training.md): regenerate the dataset with the daemon's own front end, train the
## learned model (JEPA + heads) and the GRU baseline, export both to models/, regenerate their parity
## fixtures and print an evaluation summary on unseen drives. `time make train` fits in 60 minutes on
## 2 CPU cores. Sizes: TRAIN_SEEDS (street drives, split by seed; 1..34 = 31 training + 3 validation drives),
## TRAIN_EXTRA (drives of other street geometries as SCENARIO=SEEDS words, for a model that generalises —
## never the held-out boulevard; TRAIN_EXTRA= to leave out), TRAIN_DURATION (s per drive), TRAIN_ARGS
## (extra train.py options, e.g. --set pretrain_epochs=2), TRAIN_NPROC (processes: torchrun DDP).
TRAIN_SEEDS    ?= 1..34
TRAIN_EXTRA    ?= crossing=1..13 avenue=1..13
TRAIN_DURATION ?= 60
TRAIN_DATA     ?= data/train
TRAIN_RUN      ?= runs/train
TRAIN_ARGS     ?=
TRAIN_NPROC    ?= 1
TRAIN_EVAL_SEEDS ?= 1020..1022
TRAIN_CMD = $(if $(filter 1,$(TRAIN_NPROC)),$(PY),.venv/bin/torchrun --standalone --nproc_per_node $(TRAIN_NPROC))
train: release
	@Tools/setup.sh torch
	rm -rf $(TRAIN_DATA) $(TRAIN_RUN)
	.build/release/foresight dataset --sim --seeds $(TRAIN_SEEDS) --duration $(TRAIN_DURATION) \
	    --launch launch/sim-learned.yaml --out $(TRAIN_DATA) --jobs 2
	$(foreach x,$(TRAIN_EXTRA),.build/release/foresight dataset --sim --scenario $(word 1,$(subst =, ,$(x))) \
	    --seeds $(word 2,$(subst =, ,$(x))) --duration $(TRAIN_DURATION) --launch launch/sim-learned.yaml \
	    --out $(TRAIN_DATA) --jobs 2 &&) true
	$(TRAIN_CMD) Tools/training/train.py --data $(TRAIN_DATA) --out $(TRAIN_RUN) \
	    --export-learned models/foresight-learned --export-gru models/foresight-gru \
	    --command "make train TRAIN_SEEDS=$(TRAIN_SEEDS) TRAIN_EXTRA='$(TRAIN_EXTRA)' TRAIN_DURATION=$(TRAIN_DURATION) TRAIN_ARGS='$(TRAIN_ARGS)'" $(TRAIN_ARGS)
	$(PY) Tools/training/make_parity_fixtures.py --model models/foresight-learned --model models/foresight-gru
	$(PY) Tools/training/eval_summary.py --seeds $(TRAIN_EVAL_SEEDS) --duration $(TRAIN_DURATION) --out $(TRAIN_RUN)/eval

## Every predictor (classical, persistence, models/*) on the test drives (seeds 1000–1019, 60 s)
## and the held-out scenario: bootstrap intervals, pass/fail, docs/results.md + plots.
results: release
	$(PY) Tools/results.py run

## Install the release binary: make install PREFIX=$$HOME/.local (default /usr/local).
PREFIX ?= /usr/local
install: release
	install -d "$(PREFIX)/bin"
	install -m 755 .build/release/foresight "$(PREFIX)/bin/foresight"
	@echo "installed $(PREFIX)/bin/foresight"

## Re-embed the built-in default files (site, scenario, launch) after editing them.
defaults:
	python3 Tools/embed_defaults.py

clean:
	rm -rf .build bench-results
