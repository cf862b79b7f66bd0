#!/usr/bin/env python3
"""Render the simulator's documentation pictures from a live `foresight sim` stream.

Subscribes to a running simulator, takes the first camera image and radar cube at or after
--at seconds of simulated time, and writes
  <out>/sim-camera.jpg       the JPEG exactly as published on sensor/camera
  <out>/sim-range-angle.png  the DeepSense range-angle map of the radar cube: FFT over samples,
                             subtract the mean over chirps, FFT over rx zero-padded to 64,
                             sum of magnitudes over chirps (dB, fftshifted angle axis)
Needs numpy, pyzmq, msgpack (Tools/setup.sh installs them). PNGs are written with zlib only.

    foresight sim --endpoint tcp://*:5612 --as-fast-as-possible --duration 20 &
    .venv/bin/python Tools/sim_render.py --endpoint tcp://127.0.0.1:5612 --at 5 --near 6 --out docs/img
"""
import argparse
import os
import struct
import zlib

import msgpack
import numpy as np
import zmq


def write_png(path, rgb):
    """Writes an (h, w, 3) uint8 array as an 8-bit RGB PNG."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def colormap(x):
    """Maps values in [0, 1] to a dark-blue → yellow ramp (viridis-like), uint8 RGB."""
    stops = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=float)
    pos = np.clip(x, 0, 1) * (len(stops) - 1)
    i = np.minimum(pos.astype(int), len(stops) - 2)
    f = (pos - i)[..., None]
    return (stops[i] * (1 - f) + stops[i + 1] * f).astype(np.uint8)


def range_angle(cube):
    """DeepSense recipe on a complex cube shaped (rx, samples, chirps)."""
    r = np.fft.fft(cube, axis=1)
    r = r - r.mean(axis=2, keepdims=True)
    a = np.fft.fftshift(np.fft.fft(r, n=64, axis=0), axes=0)
    return np.abs(a).sum(axis=2)  # (64 angle bins, samples range bins)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5612")
    parser.add_argument("--at", type=float, default=12.0, help="simulated seconds after the start")
    parser.add_argument("--out", default="docs/img")
    parser.add_argument("--near", type=float, default=None,
                        help="additionally wait until the UE is within this many metres east/west of the mast")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()

    sock = zmq.Context().socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, 100000)
    sock.connect(args.endpoint)
    for topic in (b"sensor/camera", b"sensor/radar", b"truth/ue"):
        sock.setsockopt(zmq.SUBSCRIBE, topic)
    sock.setsockopt(zmq.RCVTIMEO, int(args.timeout * 1000))
    first = None
    camera = radar = None
    ue_near = args.near is None
    while camera is None or radar is None:
        topic, payload = sock.recv_multipart()
        msg = msgpack.unpackb(payload, raw=False)
        first = first if first is not None else msg["stamp"]
        if topic == b"truth/ue" and args.near is not None and camera is None:
            ue_near = abs(msg["east"]) < args.near
        if (msg["stamp"] - first) / 1e9 < args.at - 0.2 or not ue_near:
            continue
        if topic == b"sensor/camera" and camera is None:
            camera = msg
        elif topic == b"sensor/radar" and radar is None:
            radar = msg
        elif topic == b"truth/ue" and camera is None:
            print("UE at east %.1f m, north %.1f m" % (msg["east"], msg["north"]))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "sim-camera.jpg"), "wb") as f:
        f.write(camera["data"])
    rx, samples, chirps = radar["shape"]
    cube = np.frombuffer(radar["data"], dtype="<f4").view(np.complex64).reshape(rx, samples, chirps)
    ra = range_angle(cube)
    db = 20 * np.log10(ra + 1e-9)
    db = (db - (db.max() - 40)) / 40  # 40 dB dynamic range
    # rows = range up to half the maximum range (near at the bottom), columns = angle
    image = colormap(db.T[: samples // 2][::-1])
    image = np.repeat(np.repeat(image, 4, axis=0), 6, axis=1)
    write_png(os.path.join(args.out, "sim-range-angle.png"), image)
    print("wrote %s/sim-camera.jpg (%d bytes) and %s/sim-range-angle.png" % (args.out, len(camera["data"]), args.out))


if __name__ == "__main__":
    main()
