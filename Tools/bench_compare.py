"""`make bench-compare`: the Swift engine against its PyTorch twin on the same model and inputs, in one run.

Two workloads, both at batch 1 on the same exported folder (default models/foresight-learned, the shipped model):
  * streaming step: the window is full; one new frame (tokenize it, its tokens through the encoder against the
    cached keys/values, predictor queries, heads). PyTorch: `StreamingSession.step` (Tools/training/model.py).
  * full window: all H frames from an empty cache (tokenize and encode each, predictor + heads for the newest).
    PyTorch: tokenize the [1, H] batch, banded encoder over it, predictor and heads at the last anchor.
PyTorch is fixed so it cannot be sandbagged: the installed (latest PyPI) torch, torch.set_num_threads(N),
torch.inference_mode(), float32, eager; warm-up excluded; median of the timed runs (>= 50). torch.compile of the
full window is an extra row when it works here. The Swift side is `foresight-bench compare` (release build) with
the same thread count (the session's own team; OpenBLAS single-threaded inside). Frames come from the parity
fixtures' `pattern`, exactly as the Swift benchmark builds them, with classical estimates when the model takes them.

Prints one JSON object (both sides, ratio = PyTorch / Swift per workload, machine load, sgemm ceilings) and
writes it to --out.

  .venv/bin/python Tools/bench_compare.py [--model models/foresight-learned] [--threads 2] [--runs 200]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Tools" / "training"))
from export import load  # noqa: E402
from make_parity_fixtures import pattern  # noqa: E402
from model import GRUBaseline, GRUStreamingSession, StreamingSession  # noqa: E402

BASE_STAMP = 1_764_000_000_000_000_000


def frame(c, i: int, classical: bool):
    """Frame i as CompareBench.swift's benchFrame builds it."""
    cam = torch.from_numpy(pattern(c.vision.in_channels * c.vision.height * c.vision.width, 1000 * i)
                           .reshape(c.vision.in_channels, c.vision.height, c.vision.width))
    radar = torch.from_numpy(((pattern(c.radar.height * c.radar.width, 1000 * i + 1) + 1) / 2)
                             .astype(np.float32).reshape(c.radar.height, c.radar.width))
    lidar = torch.from_numpy(((pattern(c.lidar.height * c.lidar.width, 1000 * i + 2) + 1) * 1.5)
                             .astype(np.float32).reshape(c.lidar.height, c.lidar.width))
    power = torch.from_numpy(pattern(c.num_beams, 1000 * i + 4))
    gnss = torch.tensor([i * 1.2, 3 - i * 0.4], dtype=torch.float32)
    cl = None
    if classical:
        F, B = c.future, c.num_beams
        k = torch.arange(1, F + 1, dtype=torch.float32)
        cl = {"position": torch.stack([gnss[0] + 0.6 * k, gnss[1] - 0.2 * k], 1),
              "beam_logits": torch.from_numpy((pattern(F * B, 1000 * i + 5) + 1) * -15).reshape(F, B),
              "power_dbm": torch.from_numpy(-70 + 6 * pattern(F, 1000 * i + 6)),
              "blockage": torch.from_numpy((pattern(F, 1000 * i + 7) + 1) / 2),
              "known": torch.tensor(1.0)}
    return dict(camera=cam, radar=radar, lidar=lidar, gnss=gnss, power=power, power_dbm=power * 10 - 70,
                present=torch.ones(5, dtype=torch.bool), stamp=BASE_STAMP + i * 100_000_000, classical=cl)


def timed(fn, runs: int, warmup: int):
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        w0, c0 = time.perf_counter_ns(), time.process_time()
        fn()
        wall.append((time.perf_counter_ns() - w0) / 1e6)
        cpu.append((time.process_time() - c0) * 1e3)
    return {"p50 ms": round(float(np.percentile(wall, 50)), 3), "p99 ms": round(float(np.percentile(wall, 99)), 3),
            "CPU p50 ms": round(float(np.median(cpu)), 3), "runs": runs}


def torch_side(model_dir: Path, threads: int, runs: int) -> dict:
    torch.set_num_threads(threads)
    model = load(model_dir).eval()
    c = model.c
    classical = getattr(c, "coarse_inputs", "window") == "classical"
    frames = [frame(c, i, classical) for i in range(16)]
    H = c.history
    gru = isinstance(model, GRUBaseline)
    out: dict = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    with torch.inference_mode():
        session = GRUStreamingSession(model) if gru else StreamingSession(model)
        for i in range(H + 5):
            f = frames[i % 16]
            session.step(f["camera"], f["radar"], f["lidar"], f["gnss"], f["power"], f["power_dbm"], f["present"],
                         f["stamp"], classical=f["classical"])
        index = [H + 5]

        def stream():
            f = frames[index[0] % 16]
            index[0] += 1
            session.step(f["camera"], f["radar"], f["lidar"], f["gnss"], f["power"], f["power_dbm"], f["present"],
                         f["stamp"], classical=f["classical"])
        out["streaming step"] = timed(stream, runs, 5)

        w = frames[:H]
        batch = {k: torch.stack([f[k] for f in w])[None] for k in ("camera", "radar", "lidar", "gnss", "power",
                                                                   "power_dbm", "present")}
        stamps = torch.tensor([[f["stamp"] for f in w]], dtype=torch.long)
        anchors = torch.tensor([[H - 1]])
        cl = None if not classical else {k: v[None, None] for k, v in w[-1]["classical"].items()}

        def window(m=model):
            tokens = m.tokenize(batch["camera"], batch["radar"], batch["lidar"], batch["gnss"], batch["power"],
                                batch["present"])
            ctx = m.encode(tokens, stamps)
            z = m.predict(ctx, stamps, anchors)
            return m.heads(z, batch["gnss"], batch["present"], batch["power_dbm"], anchors, stamps, classical=cl)
        out["full window"] = timed(window, runs, 3)
        try:
            compiled = torch.compile(model)
            t0 = time.perf_counter()
            out["full window, torch.compile"] = timed(lambda: window(compiled), runs, 3)
            out["full window, torch.compile"]["compile + warm-up s"] = round(time.perf_counter() - t0, 1)
        except Exception as e:  # noqa: BLE001 — reported, not fatal
            out["full window, torch.compile"] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
    return out


def swift_side(binary: Path, model_dir: Path, threads: int, runs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "compare.json"
        env = dict(os.environ, FORESIGHT_BENCH_MODEL=str(model_dir), FORESIGHT_BENCH_THREADS=str(threads),
                   FORESIGHT_BENCH_RUNS=str(runs))
        subprocess.run([str(binary), "compare", "--out", str(path)], env=env, check=True, stdout=subprocess.DEVNULL)
        figures = {f["name"]: f["value"] for f in json.loads(path.read_text())}

    def workload(name: str) -> dict:
        return {"p50 ms": round(figures[f"{name} p50"] / 1e3, 3), "p99 ms": round(figures[f"{name} p99"] / 1e3, 3),
                "CPU p50 ms": round(figures[f"{name} CPU p50"] / 1e3, 3), "runs": runs}
    return {"threads": int(figures["threads"]), "openblas threads": int(figures["openblas threads"]),
            "MFLOP per streamed frame": round(figures["MFLOP per streamed frame"], 1),
            "sgemm 559x512x128 GFLOP/s (1 OpenBLAS thread)": round(figures["sgemm 559x512x128 GFLOP/s (p50)"], 1),
            "streaming step": workload("streaming step"), "full window": workload("full window")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "foresight-learned", help="exported model folder")
    ap.add_argument("--threads", type=int, default=2, help="threads for both sides (default 2)")
    ap.add_argument("--runs", type=int, default=200, help="timed runs per workload (>= 50)")
    ap.add_argument("--binary", type=Path, default=ROOT / ".build" / "release" / "foresight-bench")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "compare.json")
    args = ap.parse_args()
    runs = max(50, args.runs)
    if not args.binary.exists():
        sys.exit(f"bench_compare: {args.binary} is missing; build it with `swift build -c release --product foresight-bench`")
    load_before = os.getloadavg()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    swift = swift_side(args.binary, args.model, args.threads, runs)
    pt = torch_side(args.model, args.threads, runs)
    result = {
        "started": started, "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                        "load average before": [round(x, 2) for x in load_before],
                                        "load average after": [round(x, 2) for x in os.getloadavg()]},
        "model": str(args.model), "swift": swift, "pytorch": pt,
        "speed-up (PyTorch p50 / Swift p50)": {
            w: round(pt[w]["p50 ms"] / swift[w]["p50 ms"], 2) for w in ("streaming step", "full window")},
        "CPU ratio (PyTorch / Swift)": {
            w: round(pt[w]["CPU p50 ms"] / swift[w]["CPU p50 ms"], 2) for w in ("streaming step", "full window")},
    }
    if "p50 ms" in pt.get("full window, torch.compile", {}):
        result["speed-up (PyTorch p50 / Swift p50)"]["full window vs torch.compile"] = round(
            pt["full window, torch.compile"]["p50 ms"] / swift["full window"]["p50 ms"], 2)
    text = json.dumps(result, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
