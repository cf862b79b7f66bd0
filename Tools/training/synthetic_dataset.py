"""Write a tiny dataset in exactly the `foresight dataset` format, for the training tests only.

The real dataset comes from the daemon's own front end (`foresight dataset --sim ...`); this script
exists so that the training code can be tested quickly and without the Swift build: a toy street
(a UE driving past a base station at the origin, occasional blockers) rendered into small camera,
radar and LiDAR tensors, a noisy GNSS fix, a measured beam sweep, and truth targets computed the way
the contract says (truth at stamp + (k+1)*step). Learnable on purpose (the beam follows the UE's
bearing, blockage follows the blocker), so a test can require the training loss to fall.

Format (CONTRACT-learned.md section 1): DIR/manifest.json + one safetensors shard per drive.

    .venv/bin/python Tools/training/synthetic_dataset.py --out /tmp/ds --train 6 --val 2 --test 1
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

MODALITIES = ("camera", "radar", "lidar", "gnss", "beam_power")
PREPROCESSING_VERSION = "synthetic-0001"
FLOOR_DBM = -120.0


def beam_of(east: np.ndarray, north: np.ndarray, beams: int) -> np.ndarray:
    """Best beam of a UE at (east, north): the codebook spans direction cosines -1..1 across the street."""
    u = east / np.maximum(np.hypot(east, north), 1e-6)
    return np.clip(np.round((u + 1.0) / 2.0 * (beams - 1)), 0, beams - 1).astype(np.int64)


def beam_powers(east, north, blocked, beams: int) -> np.ndarray:
    """Noiseless per-beam power in dBm: free-space-like decay, a sinc^2-like pattern, 25 dB body loss."""
    r = np.maximum(np.hypot(east, north), 1.0)
    u = east / r
    centres = np.linspace(-1.0, 1.0, beams)
    x = (u[..., None] - centres) * beams / 4.0
    pattern = 10.0 * np.log10(np.sinc(x) ** 2 + 1e-4)
    p = -49.0 - 20.0 * np.log10(r / 10.0)
    return (p[..., None] + pattern - 25.0 * blocked[..., None]).astype(np.float32)


def drive(seed: int, frames: int, future: int, step_ms: int, beams: int, shapes: dict, gap_at: int | None):
    rng = np.random.default_rng(seed)
    n_ext = frames + future + 2
    t = np.arange(n_ext) * step_ms / 1000.0
    lane = rng.choice([8.0, 11.5, 15.0, 18.5])
    speed = rng.uniform(5.0, 14.0) * rng.choice([-1.0, 1.0])
    accel = rng.uniform(-0.6, 0.6)
    east_true = -speed / abs(speed) * 45.0 + speed * t + 0.5 * accel * t ** 2
    north_true = np.full_like(east_true, lane)
    # a blocker (a bus) passing in a nearer lane during a random interval
    blocked = np.zeros(n_ext, dtype=np.float32)
    start = rng.integers(0, max(1, n_ext - 30))
    blocked[start:start + rng.integers(8, 25)] = 1.0
    # stamps with jitter, and an optional clock jump that starts a new segment
    stamps = (1_767_225_600_000_000_000 + seed * 10**12 + (t * 1e9).astype(np.int64)
              + rng.integers(-2_000_000, 2_000_000, n_ext))
    segment = np.zeros(n_ext, dtype=np.int32)
    if gap_at is not None:
        stamps[gap_at:] += 5_000_000_000
        segment[gap_at:] = 1

    n = frames
    present = (rng.random((n, 5)) > 0.03).astype(np.uint8)
    present[0] = 1
    gnss = np.stack([east_true[:n], north_true[:n]], 1) + rng.normal(0, 0.7, (n, 2))
    gnss = (gnss * present[:, 3:4]).astype(np.float32)
    meas_dbm = beam_powers(east_true[:n], north_true[:n], blocked[:n], beams) + rng.normal(0, 1.0, (n, beams))
    meas_dbm = np.maximum(meas_dbm, FLOOR_DBM).astype(np.float32)
    power_dbm = (meas_dbm * present[:, 4:5]).astype(np.float32)
    power = ((meas_dbm - FLOOR_DBM) / 100.0 * present[:, 4:5]).astype(np.float32)

    ch, hc, wc = shapes["camera"]
    ra, rr = shapes["radar"]
    lh, lw = shapes["lidar"]
    camera = rng.normal(0, 0.1, (n, ch, hc, wc)).astype(np.float32)
    radar = rng.random((n, ra, rr)).astype(np.float32) * 0.05
    lidar = np.zeros((n, lh, lw), dtype=np.float32)
    for i in range(n):
        col = int(np.clip((east_true[i] + 50.0) / 100.0 * wc, 0, wc - 1))
        row = int(np.clip((north_true[i] - 5.0) / 20.0 * hc, 0, hc - 1))
        camera[i, :, max(0, row - 2):row + 2, max(0, col - 2):col + 2] += 2.0
        rng_bin = int(np.clip(np.hypot(east_true[i], north_true[i]) / 60.0 * rr, 0, rr - 1))
        ang_bin = int(np.clip((east_true[i] / max(np.hypot(east_true[i], north_true[i]), 1) + 1) / 2 * ra, 0, ra - 1))
        radar[i, ang_bin, rng_bin] = 1.0
        lcol = int(np.clip((east_true[i] + 50.0) / 100.0 * lw, 0, lw - 1))
        lidar[i, lh // 2:, lcol] = np.hypot(east_true[i], north_true[i]) / 100.0
        if blocked[i] > 0 or (i + 3 < n_ext and blocked[i + 3] > 0):
            lidar[i, lh // 3:, max(0, lcol - 3):lcol + 3] = 0.05
            camera[i, 2, :, max(0, col - 4):col + 4] += 1.0
    camera *= present[:, 0, None, None, None]
    radar *= present[:, 1, None, None]
    lidar *= present[:, 2, None, None]

    tv = np.zeros((n, future), dtype=np.uint8)
    tp = np.zeros((n, future, 2), dtype=np.float32)
    tb = np.full((n, future), -1, dtype=np.int64)
    tpow = np.zeros((n, future, beams), dtype=np.float32)
    tblk = np.full((n, future), 255, dtype=np.uint8)
    for k in range(future):
        j = np.arange(n) + k + 1
        ok = (j < frames) & (segment[np.minimum(j, n_ext - 1)] == segment[:n])
        tv[:, k] = ok
        tp[ok, k] = np.stack([east_true[j[ok]], north_true[j[ok]]], 1)
        tb[ok, k] = beam_of(east_true[j[ok]], north_true[j[ok]], beams)
        tpow[ok, k] = beam_powers(east_true[j[ok]], north_true[j[ok]], blocked[j[ok]], beams)
        tblk[ok, k] = blocked[j[ok]].astype(np.uint8)
    # "classical" estimates: constant velocity from the noisy fixes, ranker logits of its beam, last best power
    cpos = np.zeros((n, future, 2), dtype=np.float32)
    clog = np.zeros((n, future, beams), dtype=np.float32)
    vel = np.zeros((n, 2))
    vel[1:] = (gnss[1:] - gnss[:-1]) / (step_ms / 1000.0)
    for k in range(future):
        cpos[:, k] = gnss + vel * 0.5 * (k + 1) * step_ms / 1000.0
        cb = beam_of(cpos[:, k, 0].astype(np.float64), cpos[:, k, 1].astype(np.float64), beams)
        clog[:, k] = -np.minimum((np.arange(beams)[None] - cb[:, None]) ** 2, 30.0)
    known = present[:, 3].astype(np.uint8)
    cpos *= known[:, None, None]
    cpow = np.repeat(meas_dbm.max(1, keepdims=True), future, 1).astype(np.float32)
    cblk = np.repeat(np.clip(blocked[:n, None] * 0.7 + 0.15, 0, 1), future, 1).astype(np.float32)
    # per dead sensor (modality order camera, radar, lidar, gnss, beam_power): without GNSS no position and flat
    # logits, without the power scan the fallback power; the others leave these stand-in estimates unchanged
    M = 5
    dpos = np.repeat(cpos[:, None], M, 1)
    dlog = np.repeat(clog[:, None], M, 1)
    dpow = np.repeat(cpow[:, None], M, 1)
    dblk = np.repeat(cblk[:, None], M, 1)
    dknown = np.repeat(known[:, None], M, 1)
    dpos[:, 3] = 0
    dlog[:, 3] = 0
    dknown[:, 3] = 0
    dpow[:, 4] = -90.0
    return {
        "coarse_dropped_position": dpos,
        "coarse_dropped_beam_logits": dlog,
        "coarse_dropped_power_dbm": dpow,
        "coarse_dropped_blockage": dblk,
        "coarse_dropped_known": dknown,
        "coarse_position": cpos,
        "coarse_beam_logits": clog,
        "coarse_power_dbm": cpow,
        "coarse_blockage": cblk,
        "coarse_known": known,
        "stamp": stamps[:n].astype(np.int64),
        "segment": segment[:n],
        "camera": camera.astype(np.float16),
        "radar": radar.astype(np.float16),
        "lidar": lidar.astype(np.float16),
        "gnss": gnss,
        "power": power,
        "power_dbm": power_dbm,
        "present": present,
        "target_valid": tv,
        "target_position": tp,
        "target_beam": tb,
        "target_power": tpow,
        "target_blocked": tblk,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--train", type=int, default=6, help="training drives (seeds 1.., val seeds are multiples of 10)")
    ap.add_argument("--val", type=int, default=2)
    ap.add_argument("--test", type=int, default=1, help="test drives (seeds 1000..)")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--history", type=int, default=8)
    ap.add_argument("--future", type=int, default=5)
    ap.add_argument("--camera", type=int, nargs=3, default=[3, 32, 32], metavar=("C", "H", "W"))
    ap.add_argument("--radar", type=int, nargs=2, default=[16, 32], metavar=("A", "R"))
    ap.add_argument("--lidar", type=int, nargs=2, default=[16, 32], metavar=("H", "W"))
    args = ap.parse_args()
    shapes = {"camera": args.camera, "radar": args.radar, "lidar": args.lidar}
    args.out.mkdir(parents=True, exist_ok=True)
    seeds = [("train", s) for s in range(1, 10 * args.train) if s % 10][:args.train]
    seeds += [("val", 10 * (i + 1)) for i in range(args.val)]
    seeds += [("test", 1000 + i) for i in range(args.test)]
    shards = []
    for i, (split, seed) in enumerate(seeds):
        gap = args.frames // 2 if i == 0 else None
        tensors = drive(seed, args.frames, args.future, 100, 64, shapes, gap)
        name = f"synthetic-{seed}.safetensors"
        tmp = args.out / (name + ".tmp")
        save_file(tensors, str(tmp), metadata={"seed": str(seed)})
        os.replace(tmp, args.out / name)
        shards.append({"file": name, "scenario": "synthetic", "seed": seed, "split": split,
                       "frames": args.frames, "duration_s": args.frames / 10.0})
    manifest = {"format": "foresight-dataset", "version": 1, "preprocessing_version": PREPROCESSING_VERSION,
                "history": args.history, "future": args.future, "step_ms": 100, "beams": 64,
                "launch": "synthetic", "site": "synthetic", "git_commit": "none", "shapes": shapes,
                "shards": shards}
    tmp = args.out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, args.out / "manifest.json")
    print(f"wrote {len(shards)} synthetic drives to {args.out}")


if __name__ == "__main__":
    main()
