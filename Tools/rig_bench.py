#!/usr/bin/env python3
"""Runs rig scenarios against `foresight run` through the real sockets and prints figures.

Each scenario starts a fresh daemon (a temporary launch file on free ports), drives it with
Tools/loadgen.py and keeps the loadgen report, including the daemon's RSS and CPU from /proc.

  rig_bench.py [--binary .build/release/foresight] [--out bench-results/rig.json] [SCENARIO ...]
  rig_bench.py --soak        the long runs (100k-message malformed stream, 60 s pauses)

Without scenario names it runs the short set (the same shapes as Tests/.../RigTimingTests).
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = os.path.join(ROOT, ".venv", "bin", "python")
LOADGEN = os.path.join(ROOT, "Tools", "loadgen.py")

SYNC_10HZ = {"max_interval_ms": 100, "deadline_ms": 200, "inter_message_lower_bound_ms": 85}
SYNC_30HZ = {"max_interval_ms": 30, "deadline_ms": 100, "inter_message_lower_bound_ms": 28}

# name: (sync settings, loadgen arguments)
SHORT = {
    "identical": (SYNC_10HZ, ["--sets", "40", "--stamps", "identical"]),
    "staggered": (SYNC_10HZ, ["--sets", "40", "--stamps", "staggered"]),
    "reversed": (SYNC_10HZ, ["--sets", "30", "--stamps", "staggered", "--order", "reversed"]),
    "jitter": (SYNC_10HZ, ["--sets", "30", "--stamps", "staggered", "--order", "shuffled", "--jitter-ms", "30"]),
    "no-lower-bound": (dict(SYNC_10HZ, inter_message_lower_bound_ms=0), ["--sets", "30", "--stamps", "staggered"]),
    "pauses-1s-5s": (SYNC_10HZ, ["--sets", "30", "--stamps", "staggered", "--pause", "10:1", "--pause", "20:5"]),
    "replay-pause": (SYNC_10HZ, ["--sets", "20", "--stamps", "staggered", "--pause", "10:1.5", "--pause-replay"]),
    "speed-0.5": (SYNC_10HZ, ["--sets", "20", "--stamps", "staggered", "--speed", "0.5"]),
    "speed-2": (SYNC_10HZ, ["--sets", "40", "--stamps", "staggered", "--speed", "2"]),
    "30hz": (SYNC_30HZ, ["--sets", "90", "--rate", "30", "--stamps", "staggered", "--stagger-ms", "20"]),
    "dead-lidar": (SYNC_10HZ, ["--sets", "40", "--stamps", "staggered", "--dead", "lidar"]),
    "dead-radar-gnss": (SYNC_10HZ, ["--sets", "40", "--stamps", "staggered", "--dead", "radar,gnss"]),
    "malformed-90": (SYNC_10HZ, ["--sets", "50", "--after", "5", "--malformed", "0.9", "--stamps", "staggered",
                                 "--camera", "96x64"]),
    "deepsense-sizes": (SYNC_10HZ, ["--sets", "30", "--stamps", "identical", "--camera", "960x540",
                                    "--radar", "4,256,250", "--points", "17000"]),
    # Throughput: as fast as possible with at most 4 sets without a fusion/frame yet.
    "as-fast-4-in-flight": (SYNC_10HZ, ["--sets", "1000", "--stamps", "staggered", "--max-in-flight", "4", "--warmup", "0"]),
}
# Issue 13's load: DeepSense-size sensors (960x540 JPEG, 4x256x250 radar cube, 17k points) at 10 Hz with
# staggered stamps, and as fast as possible with at most 4 sets in flight. Run with --learned for the model.
PERFORMANCE = {
    "deepsense-10hz": (SYNC_10HZ, ["--sets", "300", "--stamps", "staggered", "--camera", "960x540",
                                   "--radar", "4,256,250", "--points", "17000", "--warmup", "20"]),
    "deepsense-as-fast": (SYNC_10HZ, ["--sets", "600", "--stamps", "staggered", "--camera", "960x540",
                                      "--radar", "4,256,250", "--points", "17000", "--max-in-flight", "4", "--warmup", "0"]),
}
SOAK = {
    # 2,000 sets × (5 good + 45 bad) = 100,000 messages at 500 messages/s.
    "malformed-100k": (SYNC_10HZ, ["--sets", "2000", "--after", "5", "--malformed", "0.9", "--stamps", "staggered",
                                   "--camera", "96x64", "--warmup", "30"]),
    "pause-60s": (SYNC_10HZ, ["--sets", "30", "--stamps", "staggered", "--pause", "15:60"]),
    "replay-pause-60s": (SYNC_10HZ, ["--sets", "30", "--stamps", "staggered", "--pause", "15:60", "--pause-replay"]),
}
# Issue 13's memory check (`make soak` runs it with --learned): 30 minutes at 10 Hz with DeepSense sizes;
# RSS ≤ 300 MB and ≤ 10 MB growth after the warm-up.
MEMORY = {
    "deepsense-10hz-30min": (SYNC_10HZ, ["--sets", "18000", "--stamps", "staggered", "--camera", "960x540",
                                         "--radar", "4,256,250", "--points", "17000", "--warmup", "60"]),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def learned_block(model):
    """Launch-file lines for the learned predictor (launch/sim-learned.yaml's front end and predictor)."""
    return ("preprocess:\n  camera: {width: 96, height: 96, reduced_jpeg_decode: true}\n"
            "predictor:\n  kind: learned\n  model: %s\n  history: 8\n  horizon: 5\n  step_ms: 100\n"
            "  threads: 1\n  blas_threads: 1\n" % os.path.abspath(model))


def run(name, sync, arguments, binary, log, learned=None):
    ports = [free_port() for _ in range(3)]
    folder = tempfile.mkdtemp(prefix="rig-")
    launch = os.path.join(folder, "launch.yaml")
    with open(launch, "w") as f:
        f.write("name: rig\nsite: %s\ninputs:\n  endpoints: [tcp://127.0.0.1:%d]\n  buffer: 4096\nsync:\n" %
                (os.path.join(ROOT, "Calibration", "sim-site.yaml"), ports[0]))
        for key, value in sync.items():
            f.write("  %s: %s\n" % (key, value))
        f.write("output:\n  endpoint: tcp://127.0.0.1:%d\n  diagnostics_period_ms: 500\n" % ports[1])
        f.write("metrics:\n  address: 127.0.0.1:%d\nlog_level: error\n" % ports[2])
        if learned:
            f.write(learned_block(learned))
    daemon = subprocess.Popen([binary, "run", launch], stdout=subprocess.DEVNULL, stderr=log)
    try:
        out = subprocess.run([PY, LOADGEN, "--endpoint", "tcp://127.0.0.1:%d" % ports[0],
                              "--output", "tcp://127.0.0.1:%d" % ports[1], "--name", name, "--pid", str(daemon.pid)] + arguments,
                             capture_output=True, text=True)
        lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
        report = json.loads(lines[-1]) if lines else {"scenario": name, "error": out.stderr[-2000:]}
        report["daemon_alive"] = daemon.poll() is None
    finally:
        daemon.terminate()
        try:
            daemon.wait(10)
        except subprocess.TimeoutExpired:
            daemon.kill()
    return report


def line(report):
    if "error" in report:
        return "%-18s ERROR %s" % (report["scenario"], report["error"][-300:])
    main = report["phases"].get("main", {})
    after = report["phases"].get("after")
    text = "%-18s sets %4d  own frame %6.2f %%  predicted %6.2f %%  frames %4d (complete %4d, partial %4d, mixed %d)" % (
        report["scenario"], main.get("sets", 0), main.get("exact_pct") or 0, main.get("predicted_pct") or 0,
        report["frames"], report["complete_frames"], report["partial_frames"], report["mixed_frames"])
    if after:
        text += "  after: %d/%d predicted" % (after["predicted"], after["sets"])
    if report.get("latency_ms"):
        text += "  latency p50 %.1f p99 %.1f ms" % (report["latency_ms"]["p50"], report["latency_ms"]["p99"])
    process = report.get("process")
    if process:
        text += "  rss %.0f→%.0f MB (growth after warm-up %.1f MB) cpu %s %%" % (
            process["rss_mb_start"], process["rss_mb_end"], process["rss_growth_after_warmup_mb"], process["cpu_percent"])
    if not report.get("daemon_alive", True):
        text += "  DAEMON DIED"
    return text


def check(report, soak):
    """The acceptance figures of issue 11 for one report; returns the failures."""
    if "error" in report:
        return ["no report"]
    failures = []
    main = report["phases"].get("main", {})
    malformed = report.get("malformed", 0) > 0
    if (main.get("predicted_pct") or 0) < 99:
        failures.append("%.2f %% of good sets predicted (< 99 %%)" % (main.get("predicted_pct") or 0))
    if not malformed and (main.get("exact_pct") or 0) < 99:
        failures.append("%.2f %% of sets came out as their own frame (< 99 %%)" % (main.get("exact_pct") or 0))
    if report.get("mixed_frames"):
        failures.append("%d frames mix two sets" % report["mixed_frames"])
    after = report["phases"].get("after")
    if after and after["predicted"] != after["sets"]:
        failures.append("%d of %d good sets after the stream predicted" % (after["predicted"], after["sets"]))
    process = report.get("process") or {}
    if soak and malformed and process.get("rss_growth_after_warmup_mb", 0) >= 20:
        failures.append("RSS grew %.1f MB after warm-up (>= 20 MB)" % process["rss_growth_after_warmup_mb"])
    if report.get("scenario") == "deepsense-10hz-30min":
        if process.get("rss_growth_after_warmup_mb", 0) > 10:
            failures.append("RSS grew %.1f MB after warm-up (> 10 MB)" % process["rss_growth_after_warmup_mb"])
        if process.get("rss_mb_max", 0) > 300:
            failures.append("RSS reached %.0f MB (> 300 MB)" % process["rss_mb_max"])
    if not report.get("daemon_alive", True):
        failures.append("the daemon died")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*")
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "foresight"))
    parser.add_argument("--soak", action="store_true", help="run the long scenarios")
    parser.add_argument("--out", help="write all reports here (JSON)")
    parser.add_argument("--log", default=os.devnull, help="daemon stderr")
    parser.add_argument("--check", action="store_true", help="exit 1 unless every scenario meets issue 11's figures")
    parser.add_argument("--learned", action="store_true",
                        help="run the daemon with the learned predictor (--model) and the 96x96 camera front end it was trained with")
    parser.add_argument("--model", default=os.path.join(ROOT, "models", "foresight-learned"),
                        help="model folder for --learned (default models/foresight-learned)")
    parser.add_argument("--performance", action="store_true",
                        help="run issue 13's DeepSense-size scenarios (deepsense-10hz, deepsense-as-fast)")
    args = parser.parse_args()
    table = dict(SHORT, **SOAK, **PERFORMANCE, **MEMORY)
    names = args.scenarios or list(SOAK if args.soak else PERFORMANCE if args.performance else SHORT)
    reports = []
    with open(args.log, "a") as log:
        for name in names:
            if name not in table:
                parser.error("unknown scenario %s; known: %s" % (name, ", ".join(table)))
            sync, arguments = table[name]
            report = run(name, sync, arguments, args.binary, log, args.model if args.learned else None)
            report.setdefault("scenario", name)
            report["predictor"] = "learned:%s" % os.path.basename(args.model.rstrip("/")) if args.learned else "classical-ctrv"
            report["failures"] = check(report, name in SOAK)
            reports.append(report)
            print(line(report), flush=True)
            for failure in report["failures"]:
                print("    FAIL %s: %s" % (name, failure), flush=True)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump({"binary": args.binary, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "reports": reports}, f, indent=1)
        print("wrote %s" % args.out)
    if args.check and any(r["failures"] for r in reports):
        sys.exit(1)


if __name__ == "__main__":
    main()
