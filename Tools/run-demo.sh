#!/usr/bin/env bash
# `make run`: the simulator and the daemon with a live view (predictions vs truth, rates, latency)
# for ~30 s, then the final scores and the end-to-end latency percentiles.
#
# Which launch file runs is one choice, FORESIGHT_DEMO_LAUNCH: by default the learned model
# (launch/sim-learned.yaml) when models/foresight-learned holds a trained model that loads, shown
# side by side with the classical predictor (--compare classical-ctrv); otherwise the classical
# default, launch/sim.yaml. Set FORESIGHT_DEMO_LAUNCH=launch/sim.yaml to force the classical one.
# FORESIGHT_DEMO_COMPARE sets the reference kind for a launch file that is not classical
# (classical-ctrv, persistence, or "none"); FORESIGHT_DEMO_SECONDS changes the length.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${FORESIGHT_BIN:-.build/release/foresight}
LEARNED_LAUNCH=launch/sim-learned.yaml
LEARNED_MODEL=models/foresight-learned
if [ -f "$LEARNED_MODEL/config.json" ]; then DEFAULT_LAUNCH=$LEARNED_LAUNCH; else DEFAULT_LAUNCH=launch/sim.yaml; fi
CHOSEN_LAUNCH=${FORESIGHT_DEMO_LAUNCH:-}
FORESIGHT_DEMO_LAUNCH=${FORESIGHT_DEMO_LAUNCH:-$DEFAULT_LAUNCH}
SECONDS_TO_RUN=${FORESIGHT_DEMO_SECONDS:-30}
[ -x "$BIN" ] || { echo "run-demo: $BIN is missing; run 'make release' first" >&2; exit 1; }

launch=$FORESIGHT_DEMO_LAUNCH
# `run --check` loads the launch file and its predictor (a model folder is checked against it)
# without binding a socket. The default learned launch falls back to the classical one, saying
# why; a launch file chosen with FORESIGHT_DEMO_LAUNCH fails instead.
if [ "$launch" != launch/sim.yaml ] && ! problem=$("$BIN" run "$launch" --check 2>&1 >/dev/null); then
    if [ -n "$CHOSEN_LAUNCH" ]; then
        echo "run-demo: $launch does not load: $problem" >&2
        exit 1
    fi
    echo "run-demo: $launch does not load, running launch/sim.yaml instead: $problem" >&2
    launch=launch/sim.yaml
fi
# The classical predictor as the reference beside any other launch file.
reference=${FORESIGHT_DEMO_COMPARE:-classical-ctrv}
compare=()
if [ "$launch" != launch/sim.yaml ] && [ "$reference" != none ]; then compare=(--compare "$reference"); fi
shown=${compare[*]+" ${compare[*]}"}

echo "Starting the simulator (tcp://127.0.0.1:5600) and the daemon on $launch$shown (predictions on tcp://127.0.0.1:5601, metrics on http://127.0.0.1:9464/metrics)…"
"$BIN" sim --endpoint tcp://127.0.0.1:5600 --duration "$((SECONDS_TO_RUN + 3))" --quiet &
sim=$!
trap 'kill "$sim" 2>/dev/null || true' EXIT INT TERM
"$BIN" run "$launch" --view ${compare[@]+"${compare[@]}"} --duration "$SECONDS_TO_RUN" --log-level warning
wait "$sim" 2>/dev/null || true
