#!/usr/bin/env bash
# `make run`: the simulator and the daemon on the built-in default (launch/sim.yaml).
# Shows a live view (predictions vs truth, rates, latency) for ~30 s, then the final scores and
# the end-to-end latency percentiles. FORESIGHT_DEMO_SECONDS changes the length.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${FORESIGHT_BIN:-.build/release/foresight}
SECONDS_TO_RUN=${FORESIGHT_DEMO_SECONDS:-30}
[ -x "$BIN" ] || { echo "run-demo: $BIN is missing; run 'make release' first" >&2; exit 1; }

echo "Starting the simulator (tcp://127.0.0.1:5600) and the daemon (predictions on tcp://127.0.0.1:5601, metrics on http://127.0.0.1:9464/metrics)…"
"$BIN" sim --endpoint tcp://127.0.0.1:5600 --duration "$((SECONDS_TO_RUN + 3))" --quiet &
sim=$!
trap 'kill "$sim" 2>/dev/null || true' EXIT INT TERM
"$BIN" run launch/sim.yaml --view --duration "$SECONDS_TO_RUN" --log-level warning
wait "$sim" 2>/dev/null || true
