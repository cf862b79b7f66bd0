"""Parity fixtures for the Swift engine: a stream of frames, PyTorch's outputs for every frame as anchor.

Two uses:
  make parity  ->  --out Tests/ForesightInferenceTests/Fixtures
      writes small random-weight models (multitask/ and gru/: config.json + model.safetensors, batch-norm
      statistics, norms, embeddings and lag biases randomised so folding and every table are exercised) and
      each one's cases.safetensors.
  trained model ->  --model models/<name>   (make train calls this after export)
      reads the exported model and writes models/<name>/parity.safetensors from it; the Swift test
      `TrainedModelParityTests` checks every models/*/ folder that holds one.

The stream (N = history + 5 frames) has jittered stamps, a 250 ms gap, missing modalities in various frames
and a reset (a new segment) near the end, so the first H-1 positions of a window are exercised twice.
Camera/radar/LiDAR inputs are not stored: both sides generate them with `pattern` (exact integer hashing,
identical float32 values in Swift); per-frame stamps, presence, GNSS and beam power are stored.

Before writing, the script checks that the segment-mode outputs (tokenize/encode/predict/heads over the whole
stream with the banded mask) equal the frame-by-frame streaming reference with its key/value cache
(`StreamingSession`), within 1e-5, at every frame — the streaming contract of docs/inference.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import (CNNConfig, ConvSpec, GRUBaseline, GRUConfig, GRUStreamingSession, ModelConfig,  # noqa: E402
                   MultiTaskModel, PoolSpec, StreamingSession)
from export import export, load, write_safetensors  # noqa: E402

BASE_STAMP = 1_764_000_000_000_000_000   # ns; fixtures store stamps as µs offsets from it


def pattern(n: int, seed: int) -> np.ndarray:
    """Deterministic values in [-1, 1) that Swift reproduces bit for bit (see Tests/.../Support.swift)."""
    i = np.arange(n, dtype=np.uint64)
    u = (i * np.uint64(2654435761) + np.uint64(seed) * np.uint64(97531) + np.uint64(12345)) & np.uint64(0xFFFFFFFF)
    return (u >> np.uint64(8)).astype(np.float32) / np.float32(16777216) * np.float32(2) - np.float32(1)


def frame_inputs(c, t: int):
    """Camera, radar, lidar of frame t from `pattern` (seed 1000·t + modality)."""
    cam = pattern(c.vision.in_channels * c.vision.height * c.vision.width, 1000 * t)
    radar = (pattern(c.radar.height * c.radar.width, 1000 * t + 1) + np.float32(1)) / np.float32(2)
    lidar = (pattern(c.lidar.height * c.lidar.width, 1000 * t + 2) + np.float32(1)) * np.float32(1.5)
    return (cam.reshape(c.vision.in_channels, c.vision.height, c.vision.width),
            radar.reshape(c.radar.height, c.radar.width), lidar.reshape(c.lidar.height, c.lidar.width))


def make_stream(c, g: torch.Generator):
    H = c.history
    N = H + 5
    step_us = c.step_ms * 1000
    offs, t = [], 0
    for i in range(N):
        offs.append(t)
        jitter = int(torch.randint(-4000, 4001, (1,), generator=g))
        t += step_us + jitter + (150_000 if i == 3 else 0)       # a 250 ms gap after frame 3
    seg_start = np.zeros(N, dtype=np.float32)
    seg_start[0] = 1
    seg_start[N - 3] = 1                                          # a reset: the last 3 frames are a new segment
    present = np.ones((N, 5), dtype=np.float32)
    for fr, m in [(1, 0), (2, 3), (2, 4), (4, 1), (4, 2), (5, 3), (N - 3, 0), (N - 3, 3), (N - 1, 0), (N - 1, 1),
                  (N - 1, 2), (N - 1, 3), (H, 4)]:
        present[fr, m] = 0
    tt = np.arange(N, dtype=np.float32)
    gnss = np.stack([12.0 + 1.5 * tt, -4.0 + 0.7 * tt], 1).astype(np.float32)
    gnss += (torch.randn(N, 2, generator=g) * 0.1).numpy()
    power = torch.randn(N, c.num_beams, generator=g).numpy().astype(np.float32)
    power_dbm = (-75.0 + 8.0 * torch.randn(N, c.num_beams, generator=g)).numpy().astype(np.float32)
    # the classical estimates (used by models with coarse_inputs "classical"; frame 2 has no position)
    F, B = c.future, c.num_beams
    cpos = (np.repeat(gnss[:, None], F, 1) + 0.3 * torch.randn(N, F, 2, generator=g).numpy()).astype(np.float32)
    clog = (-30.0 * torch.rand(N, F, B, generator=g)).numpy().astype(np.float32)
    cpow = (-70.0 + 6.0 * torch.randn(N, F, generator=g)).numpy().astype(np.float32)
    cblk = torch.rand(N, F, generator=g).numpy().astype(np.float32)
    cblk[0, 0], cblk[1, 1] = 0.0, 1.0                             # clamped to [0.01, 0.99] by the heads
    known = np.ones(N, dtype=np.float32)
    known[2] = 0
    cpos[2] = 0
    return {"stamp_us": np.array(offs, dtype=np.float32), "segment_start": seg_start, "present": present,
            "gnss": gnss, "power": power, "power_dbm": power_dbm, "classical_position": cpos, "classical_beam_logits": clog,
            "classical_power_dbm": cpow, "classical_blockage": cblk, "classical_known": known}


def classical_of(c, s, t=None):
    """The stream's classical estimates as the model takes them (per frame [N, ...], or frame t), or None."""
    if getattr(c, "coarse_inputs", "window") != "classical":
        return None
    # stream inputs are named classical_* (coarse_position / coarse_power_dbm are expected outputs in the fixture)
    keys = {"classical_position": "position", "classical_beam_logits": "beam_logits", "classical_power_dbm": "power_dbm",
            "classical_blockage": "blockage", "classical_known": "known"}
    out = {}
    for k, v in keys.items():
        x = torch.from_numpy(s[k])
        if k == "classical_known":
            x = x.bool()
        out[v] = x if t is None else x[t]
    return out


def stream_tensors(c, s):
    N = len(s["stamp_us"])
    cams, radars, lidars = zip(*(frame_inputs(c, t) for t in range(N)))
    stamps = torch.tensor([BASE_STAMP + int(u) * 1000 for u in s["stamp_us"]], dtype=torch.long)
    return (torch.from_numpy(np.stack(cams)), torch.from_numpy(np.stack(radars)), torch.from_numpy(np.stack(lidars)),
            torch.from_numpy(s["gnss"]), torch.from_numpy(s["power"]), torch.from_numpy(s["power_dbm"]),
            torch.from_numpy(s["present"]).bool(), stamps, torch.from_numpy(s["segment_start"]).bool())


HEAD_KEYS = {"position": "position", "beam_logits": "beam_logits", "power_dbm": "beam_power_dbm",
             "blockage_logit": "blockage_logit", "coarse_position": "coarse_position",
             "coarse_power_dbm": "coarse_power_dbm"}


@torch.no_grad()
def run_case(model, s) -> dict[str, np.ndarray]:
    """Segment-mode outputs, checked against the streaming reference; returns fixture tensors."""
    c = model.c
    cam, radar, lidar, gnss, power, pdbm, present, stamps, seg = stream_tensors(c, s)
    N = cam.shape[0]
    b = lambda x: x[None]
    anchors = torch.arange(N)
    cl = classical_of(c, s)
    out = model(b(cam), b(radar), b(lidar), b(gnss), b(power), b(pdbm), b(present), b(stamps), anchors, b(seg),
                classical=None if cl is None else {k: b(v) for k, v in cl.items()})
    gru = isinstance(model, GRUBaseline)
    session = GRUStreamingSession(model) if gru else StreamingSession(model)
    worst = 0.0
    for t in range(N):
        if seg[t] and t > 0:
            session.reset()
        st = session.step(cam[t], radar[t], lidar[t], gnss[t], power[t], pdbm[t], present[t], int(stamps[t]),
                          classical=classical_of(c, s, t))
        pairs = [(st["latents"], out["latents"][0, t]), (st["tokens"], out["tokens"][0, t])]
        pairs.append((st["state"], out["context"][0, t]) if gru else (st["context"], out["context"][0, t]))
        pairs += [(st[k], out[k][0, t]) for k in HEAD_KEYS]
        for a, e in pairs:
            worst = max(worst, float((a - e).abs().max()))
    if worst > 1e-5 * 10:
        raise SystemExit(f"segment mode and streaming mode disagree by {worst:g} (> 1e-4)")
    print(f"  segment vs streaming max |diff| = {worst:.2e} over {N} frames")
    res = {k: v for k, v in s.items()}
    parts = []
    flat = lambda x: x.reshape(N, *x.shape[1:])
    parts.append(("vision", model.tok.vision(cam)))
    parts.append(("radar", model.tok.radar(radar[:, None])))
    parts.append(("lidar", model.tok.lidar(lidar[:, None])))
    for name, p in parts:
        res[f"parts.{name}"] = flat(p).numpy()
    res["tokens"] = out["tokens"][0].numpy()
    res["state" if gru else "context"] = out["context"][0].numpy()
    res["latents"] = out["latents"][0].numpy()
    for k, name in HEAD_KEYS.items():
        res[name] = out[k][0].numpy()
    return res


def small_cnns():
    return dict(
        vision=CNNConfig(3, 32, 32, [ConvSpec(8, 5, 2, 2), ConvSpec(16, 3, 2, 1)], PoolSpec([3, 3], [2, 2])),
        radar=CNNConfig(1, 16, 32, [ConvSpec(8, 3, 2, 1), ConvSpec(16, 3, 2, 1)], PoolSpec([1, 2], [1, 2])),
        lidar=CNNConfig(1, 16, 32, [ConvSpec(8, 3, 2, 1), ConvSpec(16, 3, 2, 1)], PoolSpec([1, 2], [1, 2])))


def small_multitask() -> ModelConfig:
    return ModelConfig(d_model=32, heads=2, encoder_layers=2, predictor_layers=2, mlp_ratio=2, history=4, future=3,
                       num_beams=64, head_hidden=32, queries_per_step=3, preprocessing_version="parity-fixture",
                       coarse_inputs="classical", head_power_profile=True, **small_cnns())


def small_multitask_filter() -> ModelConfig:
    """The small model with the filter beam head plus absolute logits (head_beam "filter+absolute")."""
    c = small_multitask()
    c.head_beam, c.beam_filter_taps = "filter+absolute", 3
    return c


def small_gru() -> GRUConfig:
    return GRUConfig(d_model=16, hidden=24, history=4, future=3, num_beams=64, head_hidden=32,
                     preprocessing_version="parity-fixture", **small_cnns())


def randomise(model, g: torch.Generator) -> None:
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("running_mean"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.2)
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith("num_batches_tracked"):
                continue
            elif (".bn." in name or "norm" in name) and name.endswith("weight"):
                t.copy_(1.0 + torch.randn(t.shape, generator=g) * 0.2)
            elif name.endswith("bias") or name.startswith(("embed.", "missing", "predictor.mask_token",
                                                              "predictor.step", "predictor.query", "step")):
                t.copy_(torch.randn(t.shape, generator=g) * 0.3)
            elif name.endswith("gain"):                           # classical heads' per-step gains
                t.copy_(0.5 + torch.randn(t.shape, generator=g) * 0.5)
            elif name.endswith("lag_bias"):
                t.copy_(torch.randn(t.shape, generator=g) * 1.0)


def write_cases(model, path: Path, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    s = make_stream(model.c, g)
    tensors = run_case(model, s)
    write_safetensors(path, tensors, {"seed": str(seed), "base_stamp_ns": str(BASE_STAMP)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, help="fixture directory to (re)create (random small models)")
    ap.add_argument("--model", type=Path, action="append", default=[],
                    help="exported model folder: write <folder>/parity.safetensors from its weights (repeatable)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if not args.out and not args.model:
        ap.error("give --out and/or --model")
    torch.manual_seed(args.seed)
    if args.out:
        for sub, model in (("multitask", MultiTaskModel(small_multitask())), ("gru", GRUBaseline(small_gru())),
                           ("multitask-filter", MultiTaskModel(small_multitask_filter()))):
            g = torch.Generator().manual_seed(args.seed)
            model.eval()
            randomise(model, g)
            d = args.out / sub
            export(model, d)
            print(f"{sub}:")
            write_cases(model, d / "cases.safetensors", args.seed)
        total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
        print(f"wrote parity fixtures to {args.out} ({total} bytes)")
    for folder in args.model:
        model = load(folder)
        print(f"{folder}:")
        write_cases(model, folder / "parity.safetensors", args.seed)
        print(f"wrote {folder / 'parity.safetensors'}")


if __name__ == "__main__":
    main()
