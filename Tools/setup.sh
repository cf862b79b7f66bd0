#!/usr/bin/env bash
# Foresight set-up: installs what is missing, idempotently. Safe to run again and again.
#   - system libraries the package links, with apt (only when a package is missing)
#   - a Python virtual environment under .venv/ with the packages the tests and tools need
# Extra Python packages for a target (e.g. PyTorch for `make parity`) are passed as arguments:
#   Tools/setup.sh torch
#   Tools/setup.sh sionna-rt==2.2.0      (the ray-traced check of the simulator, Tools/raytrace_check.py)
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
    pkg-config
    libzmq3-dev
    libmsgpack-dev
    libopenblas-dev
    libfftw3-dev
    libturbojpeg0-dev
    libzstd-dev
    liblz4-dev
    zlib1g-dev
    libpcl-dev
    python3-venv
)
PIP_PACKAGES=(pyzmq msgpack numpy mcap "mcap[lz4]" zstandard lz4 jsonschema pyyaml prometheus-client pillow rosbags foxglove-schemas-protobuf matplotlib websockets scipy)

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

# The independent ray tracer (Tools/raytrace_check.py: `Tools/setup.sh sionna-rt==2.2.0`) runs on
# Dr.Jit's LLVM backend, which needs LLVM >= 17 (Debian 12: libllvm19).
for arg in "$@"; do
    case "$arg" in sionna-rt*) APT_PACKAGES+=(libllvm19) ;; esac
done

missing=()
for p in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    say "installing with apt: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    say "system packages present"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    "$PY" -m venv .venv
fi
# `torch` brings the training extras with it: the safetensors reader of the dataset shards and the
# progress bar (Tools/training). PyPI's torch wheel; a GPU user may preinstall another build into .venv.
TORCH_EXTRAS=(safetensors tqdm)
extra=()
for p in "$@"; do
    extra+=("$p")
    if [ "$p" = torch ]; then extra+=("${TORCH_EXTRAS[@]}"); fi
done
want=("${PIP_PACKAGES[@]}" "${extra[@]}")
stamp=".venv/.foresight-requirements"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "${want[*]}" ]; then
    # Only install what is not already there (pip is slow even when nothing changes).
    need=()
    for p in "${want[@]}"; do
        name=${p%%[*}; name=${name%%[<>=]*}
        if ! .venv/bin/python -m pip show -q "$name" >/dev/null 2>&1; then need+=("$p"); fi
    done
    if ((${#need[@]})); then
        say "installing into .venv: ${need[*]}"
        .venv/bin/python -m pip install -q --disable-pip-version-check "${need[@]}"
    fi
    # Record the full list only for the base set, so `Tools/setup.sh torch` stays additive.
    if (($# == 0)); then printf '%s' "${want[*]}" > "$stamp"; fi
else
    say "python packages present"
fi
say "ready"
