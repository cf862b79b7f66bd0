"""PyTorch twin of `foresight-bench inference`: the same exported model, the same frames, one streaming step.

Times `StreamingSession.step` (Tools/training/model.py: tokenize the new frame, its tokens through the
encoder against the cached keys/values of the window, predictor queries, heads) in eager mode under
`torch.inference_mode()`, float32, `torch.set_num_threads(N)`, warm-up excluded. Frames come from the
parity fixtures' `pattern`, exactly as the Swift benchmark builds them. Prints JSON.

  .venv/bin/python Tools/bench_torch_inference.py --model /tmp/bench-model [--export] [--threads 2]
  FORESIGHT_BENCH_MODEL=/tmp/bench-model .build/release/foresight-bench inference
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent / "training"))
from export import export, load  # noqa: E402
from make_parity_fixtures import pattern  # noqa: E402
from model import GRUBaseline, GRUStreamingSession, ModelConfig, MultiTaskModel, StreamingSession  # noqa: E402


def frame(c, i: int):
    cam = torch.from_numpy(pattern(c.vision.in_channels * c.vision.height * c.vision.width, 1000 * i)
                           .reshape(c.vision.in_channels, c.vision.height, c.vision.width))
    radar = torch.from_numpy(((pattern(c.radar.height * c.radar.width, 1000 * i + 1) + 1) / 2)
                             .astype(np.float32).reshape(c.radar.height, c.radar.width))
    lidar = torch.from_numpy(((pattern(c.lidar.height * c.lidar.width, 1000 * i + 2) + 1) * 1.5)
                             .astype(np.float32).reshape(c.lidar.height, c.lidar.width))
    power = torch.from_numpy(pattern(c.num_beams, 1000 * i + 4))
    gnss = torch.tensor([i * 1.2, 3 - i * 0.4], dtype=torch.float32)
    return (cam, radar, lidar, gnss, power, power * 10 - 70, torch.ones(5, dtype=torch.bool),
            1_764_000_000_000_000_000 + i * 100_000_000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, required=True, help="exported model folder")
    ap.add_argument("--export", action="store_true", help="first export the default v2 model with random weights there")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.export:
        torch.manual_seed(42)
        export(MultiTaskModel(ModelConfig()).eval(), args.model)
    model = load(args.model)
    c = model.c
    session = GRUStreamingSession(model) if isinstance(model, GRUBaseline) else StreamingSession(model)
    frames = [frame(c, i) for i in range(16)]
    lat, cpu = [], []
    with torch.inference_mode():
        for i in range(c.history + 5):                      # fill the window + warm up
            session.step(*frames[i % 16])
        for i in range(args.runs):
            f = frames[(c.history + 5 + i) % 16]
            w0, c0 = time.perf_counter_ns(), time.process_time()
            session.step(*f)
            lat.append(time.perf_counter_ns() - w0)
            cpu.append(time.process_time() - c0)
    lat_ms = np.array(lat) / 1e6
    print(json.dumps({
        "torch": torch.__version__, "threads": torch.get_num_threads(), "model": str(args.model),
        "format": c.FORMAT, "runs": args.runs,
        "streaming step p50 ms": round(float(np.percentile(lat_ms, 50)), 3),
        "streaming step p99 ms": round(float(np.percentile(lat_ms, 99)), 3),
        "CPU per frame p50 ms": round(float(np.median(cpu)) * 1e3, 3),
    }, indent=2))


if __name__ == "__main__":
    main()
