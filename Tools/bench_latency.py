#!/usr/bin/env python3
"""End-to-end latency of the daemon beside the simulator, written into docs/launch.md.

Runs `foresight run launch/sim.yaml` and `foresight sim` (release build) for --seconds, reads the
daemon's closing summary ("end-to-end latency: p50 X ms, p99 Y ms", "N frames predicted") and
replaces the block between `<!-- bench:latency -->` and `<!-- /bench:latency -->` in
docs/launch.md. `make bench` runs it, so the documented figure is regenerated with the other
benchmarks instead of drifting.
"""
import argparse
import datetime
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", default=str(ROOT / ".build/release/foresight"))
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--doc", default=str(ROOT / "docs/launch.md"))
    ap.add_argument("--dry-run", action="store_true", help="print the block, do not edit the doc")
    a = ap.parse_args()

    daemon = subprocess.Popen([a.binary, "run", str(ROOT / "launch/sim.yaml"), "--log-level", "warning"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(1.5)
    sim = subprocess.run([a.binary, "sim", "--duration", str(a.seconds), "--quiet"], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    daemon.send_signal(signal.SIGTERM)
    out, _ = daemon.communicate(timeout=30)
    if sim.returncode != 0:
        print(sim.stderr, file=sys.stderr)
        return 1
    latency = re.search(r"end-to-end latency: p50 ([0-9.]+) ms, p99 ([0-9.]+) ms", out)
    frames = re.search(r"== ([0-9]+) frames predicted \(([0-9]+) partial", out)
    if not latency or not frames:
        print("no latency summary in the daemon's output:\n" + out, file=sys.stderr)
        return 1
    cores = os.cpu_count()
    load = os.getloadavg()[0]
    block = (f"<!-- bench:latency -->\n"
             f"Measured by `make bench` ({datetime.date.today().isoformat()}, release build, {cores} cores, load average "
             f"{load:.1f}, classical predictor, {a.seconds:.0f} s of `foresight sim`): {frames.group(1)} frames "
             f"({frames.group(2)} partial), end-to-end p50 {float(latency.group(1)):.1f} ms, "
             f"p99 {float(latency.group(2)):.1f} ms.\n"
             f"<!-- /bench:latency -->")
    print(block)
    if a.dry_run:
        return 0
    doc = pathlib.Path(a.doc)
    text = doc.read_text(encoding="utf-8")
    new, n = re.subn(r"<!-- bench:latency -->.*?<!-- /bench:latency -->", block, text, flags=re.S)
    if n != 1:
        print(f"{doc}: no bench:latency block to replace", file=sys.stderr)
        return 1
    doc.write_text(new, encoding="utf-8")
    print(f"updated {doc.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
