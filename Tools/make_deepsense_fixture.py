#!/usr/bin/env python3
"""Writes a synthetic DeepSense 6G scenario folder in the published layout (docs/import.md).

    scenarioNN.csv                                 index, unit1_rgb, unit1_pwr_60ghz, unit1_lidar,
                                                   unit1_radar, unit1_loc, unit2_loc, unit1_beam,
                                                   unit1_max_pwr, time_stamp, seq_index
    unit1/camera_data/image_<i>.jpg                960×540 JPEG
    unit1/radar_data/radar_data_<i>.npy            complex64 [4, 256, 250]
                    (or radar_data_<i>.mat         with --radar-format mat / mat-zlib: the cube as
                                                   MATLAB variable 'data', scipy.io.savemat)
    unit1/lidar_data/lidar_data_<i>.ply            ASCII PLY, double x y z intensity
    unit1/mmWave_data/mmWave_power_<i>.txt         64 linear powers, one per line
    unit1/GPS_data/gps_location.txt                base station lat, lon
    unit2/GPS_data/gps_location_<i>.txt            UE lat, lon

The UE drives past the base station in `--sequences` separate drives (a gap of a minute
between them); samples come every ~92 ms with jitter. With --nan-sample one power vector
holds NaN; with --missing one file (the camera image of that sample) is left out.
Writes expected.json beside the CSV: what a correct import must produce.

    Tools/make_deepsense_fixture.py OUT --samples 40 --sequences 2 --nan-sample 5 --missing 7
"""
import argparse
import io
import json
import math
import os

import numpy as np
from PIL import Image

BS_LAT, BS_LON = 33.4209, -111.9288
R = 6371000.0


def local_to_geo(east, north):
    lat = BS_LAT + math.degrees(north / R)
    lon = BS_LON + math.degrees(east / (R * math.cos(math.radians(BS_LAT))))
    return lat, lon


def time_of_day_us(text):
    h, m, sec = text.strip("[]'").split("-")
    whole, frac = sec.split(".")
    return ((int(h) * 60 + int(m)) * 60 + int(whole)) * 1000000 + int(frac.ljust(6, "0"))


def ply_text(points, precise):
    header = ("ply\nformat ascii 1.0\ncomment synthetic DeepSense-like scan\nelement vertex %d\n"
              "property double x\nproperty double y\nproperty double z\nproperty double intensity\nend_header\n") % len(points)
    if precise:  # float32 values as exact float64 text: the import must return them bit-identical
        rows = "\n".join(" ".join(repr(float(v)) for v in p) for p in points.astype(np.float64))
    else:        # what scanners usually write
        buf = io.StringIO()
        np.savetxt(buf, points, fmt="%.6f")
        rows = buf.getvalue().rstrip("\n")
    return header + rows + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--sequences", type=int, default=2)
    ap.add_argument("--points", type=int, default=2000, help="LiDAR points per scan (DeepSense: 16000–18000)")
    ap.add_argument("--chirps", type=int, default=250)
    ap.add_argument("--nan-sample", type=int, default=None, help="sample whose power vector gets NaN entries")
    ap.add_argument("--missing", type=int, default=None, help="sample whose camera image is not written")
    ap.add_argument("--date", default="2022-04-11", help="only recorded in expected.json")
    ap.add_argument("--scenario", type=int, default=32)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--radar-format", choices=["npy", "mat", "mat-zlib"], default="npy",
                    help="radar files as .npy, or as MATLAB .mat (variable 'data', uncompressed or zlib-compressed)")
    ap.add_argument("--precise-ply", action="store_true", help="write LiDAR values as exact float64 text")
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    root = args.out
    for d in ["unit1/camera_data", "unit1/radar_data", "unit1/lidar_data", "unit1/mmWave_data", "unit1/GPS_data", "unit2/GPS_data"]:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    with open(os.path.join(root, "unit1/GPS_data/gps_location.txt"), "w") as f:
        f.write("%r\n%r\n" % (BS_LAT, BS_LON))

    # One JPEG reused with a per-sample tint (encoding 960×540 per sample is what makes the fixture slow).
    base = (rng.random((540, 960, 3)) * 60 + np.linspace(60, 180, 960)[None, :, None]).astype(np.uint8)

    per_seq = [args.samples // args.sequences + (1 if i < args.samples % args.sequences else 0) for i in range(args.sequences)]
    rows = []
    expected = {"date": args.date, "samples": [], "bs": [BS_LAT, BS_LON], "nan_sample": args.nan_sample,
                "missing": args.missing}
    t = 10 * 3600 + 12 * 60 + 35.178930  # seconds since midnight of the first sample
    index = 0
    beams = 64
    angles = np.arcsin(np.clip((-1 + (2 * np.arange(beams) + 1) / beams), -1, 1))
    for s, n in enumerate(per_seq):
        east0 = -30.0 if s % 2 == 0 else 30.0
        speed = 8.0 if s % 2 == 0 else -8.0
        for k in range(n):
            i = index + 1  # DeepSense indexes from 1
            east = east0 + speed * 0.092 * k
            north = 12.0 + 0.2 * math.sin(k / 5)
            lat, lon = local_to_geo(east, north)
            # Beam power: a main lobe towards the UE's bearing plus noise; linear, positive.
            bearing = math.atan2(east, north)  # array faces north; positive bearing = to the east (right)
            power = (1e-3 * np.exp(-((angles + bearing) / 0.08) ** 2) + 1e-6 * rng.random(beams)).astype(np.float32)
            if args.nan_sample == i:
                power[[3, 40]] = np.nan
            best = int(np.nanargmax(power)) + 1
            stamp_text = "['%02d-%02d-%09.6f']" % (int(t // 3600), int(t % 3600 // 60), t % 60)
            names = {
                "rgb": "./unit1/camera_data/image_%d.jpg" % i,
                "radar": "./unit1/radar_data/radar_data_%d.%s" % (i, "npy" if args.radar_format == "npy" else "mat"),
                "lidar": "./unit1/lidar_data/lidar_data_%d.ply" % i,
                "pwr": "./unit1/mmWave_data/mmWave_power_%d.txt" % i,
                "loc1": "./unit1/GPS_data/gps_location.txt",
                "loc2": "./unit2/GPS_data/gps_location_%d.txt" % i,
            }
            if args.missing != i:
                img = np.clip(base.astype(np.int16) + (k * 7) % 40, 0, 255).astype(np.uint8)
                Image.fromarray(img).save(os.path.join(root, names["rgb"]), quality=85)
            cube = (rng.standard_normal((4, 256, args.chirps)) + 1j * rng.standard_normal((4, 256, args.chirps))).astype("<c8")
            if args.radar_format == "npy":
                np.save(os.path.join(root, names["radar"]), cube)
            else:
                import scipy.io
                scipy.io.savemat(os.path.join(root, names["radar"]), {"data": cube}, do_compression=args.radar_format == "mat-zlib")
            pts = np.column_stack([rng.uniform(-40, 40, args.points), rng.uniform(0, 40, args.points),
                                   rng.uniform(-2, 3, args.points), rng.uniform(0, 255, args.points)]).astype(np.float32)
            with open(os.path.join(root, names["lidar"]), "w") as f:
                f.write(ply_text(pts, args.precise_ply))
            with open(os.path.join(root, names["pwr"]), "w") as f:
                f.write("\n".join(repr(float(v)) for v in power.astype(np.float64)) + "\n")
            with open(os.path.join(root, names["loc2"]), "w") as f:
                f.write("%r\n%r\n" % (lat, lon))
            rows.append([i, names["rgb"], names["pwr"], names["lidar"], names["radar"], names["loc1"], names["loc2"],
                         best, float(np.nanmax(power)), stamp_text, s + 1])
            expected["samples"].append({"index": i, "seq_index": s + 1, "time_of_day_us": time_of_day_us(stamp_text), "best0": best - 1,
                                        "lat": lat, "lon": lon, "power": [None if math.isnan(v) else float(v) for v in power]})
            index += 1
            t += 0.092 + rng.uniform(-0.004, 0.004)
        t += 60.0  # a minute between drives
    csv_path = os.path.join(root, "scenario%d.csv" % args.scenario)
    with open(csv_path, "w") as f:
        f.write("index,unit1_rgb,unit1_pwr_60ghz,unit1_lidar,unit1_radar,unit1_loc,unit2_loc,unit1_beam,unit1_max_pwr,time_stamp,seq_index\n")
        for r in rows:
            f.write(",".join(str(v) for v in r) + "\n")
    with open(os.path.join(root, "expected.json"), "w") as f:
        json.dump(expected, f)
    print("wrote %d samples in %d sequences to %s" % (len(rows), args.sequences, root))


if __name__ == "__main__":
    main()
