#!/usr/bin/env python3
"""NumPy reference for ForesightPreprocess (one sub-command per modality).

Inputs are the exact wire bytes (.bin, little-endian) or .npy files; every output is written as
a float64 .npy so the Swift tests can compare within 1e-4 relative. The formulas follow
docs/preprocessing.md and are written independently of the Swift code, in plain NumPy.

  camera  --input raw.bin --width W --height H --encoding rgb8|bgr8|mono8 [--crop x,y,w,h]
          [--out-width 224 --out-height 224] --out out.npy            -> [3, oh, ow]
  radar   --input cube.bin --rx R --samples S --chirps C --dtype cf32|ci16
          [--angle-bins 64] [--no-normalize] --out out.npy            -> [angle, range]
  lidar   --input points.bin --count N --fields x,y,z,intensity [--rows 64 --cols 256
          --fov-up 15 --fov-down -15 --max-range 100] [--crop x0,y0,z0,x1,y1,z1] --out out.npy
  gnss    --input fixes.bin (float64 lat,lon pairs) --ref lat,lon [--radius 6371000]
          [--mode reference|mean] --out out.npy                       -> [N, 2] east, north
  beam    --input power.bin (float32) --unit mw|dbm [--floor -120]
          [--norm none|minmax:lo,hi|standard:mean,std|pervector|linearmax|abovefloor] --out out.npy
"""
import argparse
import sys

import numpy as np


def load(path, dtype):
    if path.endswith(".npy"):
        return np.load(path)
    return np.fromfile(path, dtype=dtype)


def camera(a):
    raw = load(a.input, np.uint8)
    bpp = 1 if a.encoding == "mono8" else 3
    img = raw.reshape(a.height, a.width, bpp).astype(np.float64)
    if a.encoding == "bgr8":
        img = img[:, :, ::-1]
    elif a.encoding == "mono8":
        img = np.repeat(img, 3, axis=2)
    if a.crop:
        x, y, w, h = (int(v) for v in a.crop.split(","))
        img = img[y:y + h, x:x + w]
    ih, iw = img.shape[:2]

    def axis(n_in, n_out):
        # Half-pixel centres (align_corners=False), clamped below at 0.
        src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0

    y0, y1, wy = axis(ih, a.out_height)
    x0, x1, wx = axis(iw, a.out_width)
    wx = wx[None, :, None]
    top = img[y0][:, x0] * (1 - wx) + img[y0][:, x1] * wx
    bottom = img[y1][:, x0] * (1 - wx) + img[y1][:, x1] * wx
    out = top * (1 - wy[:, None, None]) + bottom * wy[:, None, None]
    mean = np.array([0.485, 0.456, 0.406])
    std = np.array([0.229, 0.224, 0.225])
    out = (out / 255.0 - mean) / std
    return out.transpose(2, 0, 1)


def radar(a):
    if a.dtype == "cf32":
        flat = load(a.input, "<f4").astype(np.float64)
    else:
        flat = load(a.input, "<i2").astype(np.float64)
    iq = flat.reshape(a.rx, a.samples, a.chirps, 2)
    data = iq[..., 0] + 1j * iq[..., 1]
    # DeepSense range-angle recipe.
    data = np.fft.fft(data, axis=1)                      # range FFT over ADC samples
    data = data - np.mean(data, axis=2, keepdims=True)   # static clutter removal over chirps
    data = np.fft.fft(data, a.angle_bins, axis=0)        # angle FFT, rx zero-padded
    data = np.fft.fftshift(data, axes=0)
    out = np.abs(data).sum(axis=2)                       # [angle, range]
    if not a.no_normalize and out.max() > 0:
        out = out / out.max()
    return out


def lidar(a):
    fields = a.fields.split(",")
    pts = load(a.input, "<f4").reshape(a.count, len(fields)).astype(np.float64)
    xyz = pts[:, [fields.index("x"), fields.index("y"), fields.index("z")]]
    xyz = xyz[np.all(np.isfinite(xyz), axis=1)]
    if a.crop:
        c = np.array([float(v) for v in a.crop.split(",")])
        inside = np.all((xyz >= c[:3]) & (xyz <= c[3:]), axis=1)
        xyz = xyz[inside]
    r = np.linalg.norm(xyz, axis=1)
    keep = (r > 0) & (r <= a.max_range)
    xyz, r = xyz[keep], r[keep]
    up, down = np.radians(a.fov_up), np.radians(a.fov_down)
    pitch = np.arcsin(xyz[:, 2] / r)
    keep = (pitch >= down) & (pitch <= up)
    xyz, r, pitch = xyz[keep], r[keep], pitch[keep]
    yaw = np.arctan2(xyz[:, 1], xyz[:, 0])
    col = np.clip(np.floor(0.5 * (1 - yaw / np.pi) * a.cols).astype(np.int64), 0, a.cols - 1)
    row = np.clip(np.floor((1 - (pitch - down) / (up - down)) * a.rows).astype(np.int64), 0, a.rows - 1)
    depth = np.full(a.rows * a.cols, np.inf)
    np.minimum.at(depth, row * a.cols + col, r / a.max_range)
    depth[np.isinf(depth)] = 0.0
    return depth.reshape(a.rows, a.cols)


def gnss(a):
    fixes = load(a.input, "<f8").reshape(-1, 2)
    lat0, lon0 = (float(v) for v in a.ref.split(","))
    lat, lon = fixes[:, 0], fixes[:, 1]
    dlon = (lon - lon0 + 180.0) % 360.0 - 180.0
    phi = np.full_like(lat, lat0) if a.mode == "reference" else (lat + lat0) / 2
    east = a.radius * np.radians(dlon) * np.cos(np.radians(phi))
    north = a.radius * np.radians(lat - lat0)
    return np.stack([east, north], axis=1)


def beam(a):
    p = load(a.input, "<f4").astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if a.unit == "mw":
            db = np.where((p > 0) & np.isfinite(p), 10 * np.log10(np.where(p > 0, p, 1.0)), a.floor)
        else:
            db = np.where(np.isfinite(p), p, a.floor)
    db = np.maximum(db, a.floor)
    kind, _, args = a.norm.partition(":")
    if kind == "minmax":
        lo, hi = (float(v) for v in args.split(","))
        db = (db - lo) / (hi - lo)
    elif kind == "standard":
        m, s = (float(v) for v in args.split(","))
        db = (db - m) / s
    elif kind == "pervector":
        span = db.max() - db.min()
        db = (db - db.min()) / span if span > 0 else np.zeros_like(db)
    elif kind == "linearmax":
        lin = 10.0 ** (db / 10.0)
        db = lin / lin.max()
    elif kind == "abovefloor":
        db = db - a.floor
    return db


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("camera")
    c.add_argument("--width", type=int, required=True)
    c.add_argument("--height", type=int, required=True)
    c.add_argument("--encoding", choices=["rgb8", "bgr8", "mono8"], default="rgb8")
    c.add_argument("--crop")
    c.add_argument("--out-width", type=int, default=224)
    c.add_argument("--out-height", type=int, default=224)

    r = sub.add_parser("radar")
    r.add_argument("--rx", type=int, required=True)
    r.add_argument("--samples", type=int, required=True)
    r.add_argument("--chirps", type=int, required=True)
    r.add_argument("--dtype", choices=["cf32", "ci16"], default="cf32")
    r.add_argument("--angle-bins", type=int, default=64)
    r.add_argument("--no-normalize", action="store_true")

    lp = sub.add_parser("lidar")
    lp.add_argument("--count", type=int, required=True)
    lp.add_argument("--fields", default="x,y,z")
    lp.add_argument("--rows", type=int, default=64)
    lp.add_argument("--cols", type=int, default=256)
    lp.add_argument("--fov-up", type=float, default=15.0)
    lp.add_argument("--fov-down", type=float, default=-15.0)
    lp.add_argument("--max-range", type=float, default=100.0)
    lp.add_argument("--crop")

    g = sub.add_parser("gnss")
    g.add_argument("--ref", required=True)
    g.add_argument("--radius", type=float, default=6371000.0)
    g.add_argument("--mode", choices=["reference", "mean"], default="reference")

    b = sub.add_parser("beam")
    b.add_argument("--unit", choices=["mw", "dbm"], default="mw")
    b.add_argument("--floor", type=float, default=-120.0)
    b.add_argument("--norm", default="none")

    for p in (c, r, lp, g, b):
        p.add_argument("--input", required=True)
        p.add_argument("--out", required=True)

    a = parser.parse_args(argv)
    out = {"camera": camera, "radar": radar, "lidar": lidar, "gnss": gnss, "beam": beam}[a.cmd](a)
    np.save(a.out, np.ascontiguousarray(out, dtype="<f8"))


if __name__ == "__main__":
    main(sys.argv[1:])
