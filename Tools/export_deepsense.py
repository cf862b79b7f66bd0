#!/usr/bin/env python3
"""Writes a Foresight bag (e.g. from `foresight sim --bag`) as a DeepSense 6G scenario folder.

The inverse of `foresight import deepsense`, written independently of it (NumPy, Pillow and the
official `mcap` reader), so that a round trip checks our reading of the format against a second
implementation. One sample per `truth/beam` message (or per `sensor/beam_power` message when the
bag has no truth); every sensor message whose stamp is within --tolerance-ms of the sample's stamp
goes into that sample. DeepSense keeps one time stamp per sample (microseconds), so a sensor whose
stamp differs from the sample's loses that difference (the spread is reported).

    Tools/export_deepsense.py sim.mcap OUT --site Calibration/sim-site.yaml

Layout and value formats: see Tools/make_deepsense_fixture.py and docs/import.md. Float32 values
(power, LiDAR) are written as the exact float64 text of the float32, so they read back bit-identical.
unit1_beam is truth/beam's `best` + 1 (DeepSense beams are 1-based).
"""
import argparse
import datetime
import io
import math
import os
import sys

import msgpack
import numpy as np
import yaml
from mcap.reader import make_reader

SENSORS = ["sensor/camera", "sensor/radar", "sensor/lidar", "sensor/gnss", "sensor/beam_power"]


def load(path, prefix):
    """Messages per topic as (stamp, payload dict), in stamp order."""
    topics = {}
    with open(path, "rb") as f:
        for _schema, channel, message in make_reader(f).iter_messages():
            topic = channel.topic[len(prefix):] if channel.topic.startswith(prefix) else channel.topic
            if topic in SENSORS or topic == "truth/beam":
                payload = msgpack.unpackb(message.data, raw=False)
                topics.setdefault(topic, []).append((int(payload["stamp"]), payload))
    for v in topics.values():
        v.sort(key=lambda x: x[0])
    return topics


def nearest(messages, stamp, tolerance):
    import bisect
    stamps = [m[0] for m in messages]
    i = bisect.bisect_left(stamps, stamp)
    best = None
    for j in (i - 1, i):
        if 0 <= j < len(messages) and abs(messages[j][0] - stamp) <= tolerance:
            if best is None or abs(messages[j][0] - stamp) < abs(best[0] - stamp):
                best = messages[j]
    return best


def time_of_day(stamp_ns):
    us = stamp_ns // 1000
    day_us = us % 86_400_000_000
    date = datetime.datetime.fromtimestamp(us // 1_000_000 - (day_us // 1_000_000), tz=datetime.timezone.utc).date()
    h, rem = divmod(day_us, 3_600_000_000)
    m, rem = divmod(rem, 60_000_000)
    s, micro = divmod(rem, 1_000_000)
    return "['%02d-%02d-%02d.%06d']" % (h, m, s, micro), date.isoformat()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bag")
    ap.add_argument("out")
    ap.add_argument("--site", required=True, help="the site calibration of the bag (its origin is the base station GPS)")
    ap.add_argument("--prefix", default="", help="topic prefix of the bag, e.g. bs1/")
    ap.add_argument("--tolerance-ms", type=float, default=50.0)
    ap.add_argument("--scenario", type=int, default=90)
    ap.add_argument("--sequence-gap-s", type=float, default=1.0, help="a gap longer than this starts a new seq_index")
    args = ap.parse_args()

    with open(args.site) as f:
        origin = yaml.safe_load(f)["origin"]
    topics = load(args.bag, args.prefix)
    anchor = "truth/beam" if "truth/beam" in topics else "sensor/beam_power"
    if anchor not in topics:
        sys.exit("export_deepsense: the bag has neither truth/beam nor sensor/beam_power")
    root = args.out
    for d in ["unit1/camera_data", "unit1/radar_data", "unit1/lidar_data", "unit1/mmWave_data", "unit1/GPS_data", "unit2/GPS_data"]:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    with open(os.path.join(root, "unit1/GPS_data/gps_location.txt"), "w") as f:
        f.write("%r\n%r\n" % (float(origin["lat"]), float(origin["lon"])))
    tolerance = int(args.tolerance_ms * 1e6)
    rows = []
    spread_max = 0
    seq_index, last = 1, None
    for n, (stamp, truth) in enumerate(topics[anchor]):
        i = n + 1
        if last is not None and stamp - last > args.sequence_gap_s * 1e9:
            seq_index += 1
        last = stamp
        cells = {k: "" for k in ["rgb", "pwr", "lidar", "radar", "loc2"]}
        found = {t: nearest(topics.get(t, []), stamp, tolerance) for t in SENSORS}
        for t, m in found.items():
            if m is not None:
                spread_max = max(spread_max, abs(m[0] - stamp))
        if found["sensor/camera"]:
            p = found["sensor/camera"][1]
            cells["rgb"] = "./unit1/camera_data/image_%d.jpg" % i
            data = p["data"]
            if p["encoding"] != "jpeg":
                from PIL import Image
                channels = 1 if p["encoding"] == "mono8" else 3
                arr = np.frombuffer(data, np.uint8).reshape(p["height"], p["width"], channels)
                if p["encoding"] == "bgr8":
                    arr = arr[:, :, ::-1]
                buf = io.BytesIO()
                Image.fromarray(arr.squeeze()).save(buf, format="JPEG", quality=95)
                data = buf.getvalue()
            with open(os.path.join(root, cells["rgb"]), "wb") as f:
                f.write(data)
        if found["sensor/radar"]:
            p = found["sensor/radar"][1]
            shape = tuple(p["shape"])
            if p["dtype"] == "cf32":
                cube = np.frombuffer(p["data"], "<c8").reshape(shape)
            else:  # ci16: interleaved int16 I/Q
                iq = np.frombuffer(p["data"], "<i2").astype(np.float32).reshape(shape + (2,))
                cube = (iq[..., 0] + 1j * iq[..., 1]).astype("<c8")
            cells["radar"] = "./unit1/radar_data/radar_data_%d.npy" % i
            np.save(os.path.join(root, cells["radar"]), cube)
        if found["sensor/lidar"]:
            p = found["sensor/lidar"][1]
            fields = p["fields"]
            pts = np.frombuffer(p["data"], "<f4").reshape(-1, len(fields))
            cols = [pts[:, fields.index(k)] for k in ("x", "y", "z")]
            cols.append(pts[:, fields.index("intensity")] if "intensity" in fields else np.zeros(len(pts), np.float32))
            arr = np.column_stack(cols).astype(np.float64)
            cells["lidar"] = "./unit1/lidar_data/lidar_data_%d.ply" % i
            with open(os.path.join(root, cells["lidar"]), "w") as f:
                f.write("ply\nformat ascii 1.0\nelement vertex %d\nproperty double x\nproperty double y\n"
                        "property double z\nproperty double intensity\nend_header\n" % len(arr))
                f.write("".join(" ".join(repr(v) for v in row) + "\n" for row in arr.tolist()))
        best = ""
        max_power = ""
        if found["sensor/beam_power"]:
            p = found["sensor/beam_power"][1]
            power = np.frombuffer(p["power"], "<f4")
            if p["unit"] == "dbm":
                power = (10.0 ** (power.astype(np.float64) / 10.0)).astype(np.float32)
            cells["pwr"] = "./unit1/mmWave_data/mmWave_power_%d.txt" % i
            with open(os.path.join(root, cells["pwr"]), "w") as f:
                f.write("".join(repr(float(v)) + "\n" for v in power.astype(np.float64)))
            if not np.all(np.isnan(power)):
                max_power = repr(float(np.nanmax(power)))
        if anchor == "truth/beam":
            best = str(int(truth["best"]) + 1)
        if found["sensor/gnss"]:
            p = found["sensor/gnss"][1]
            cells["loc2"] = "./unit2/GPS_data/gps_location_%d.txt" % i
            with open(os.path.join(root, cells["loc2"]), "w") as f:
                f.write("%r\n%r\n" % (float(p["lat"]), float(p["lon"])))
        stamp_text, date = time_of_day(stamp)
        rows.append([i, cells["rgb"], cells["pwr"], cells["lidar"], cells["radar"], "./unit1/GPS_data/gps_location.txt",
                     cells["loc2"], best, max_power, stamp_text, seq_index, date])
    with open(os.path.join(root, "scenario%d.csv" % args.scenario), "w") as f:
        f.write("index,unit1_rgb,unit1_pwr_60ghz,unit1_lidar,unit1_radar,unit1_loc,unit2_loc,unit1_beam,unit1_max_pwr,"
                "time_stamp,seq_index,date\n")
        for r in rows:
            f.write(",".join(str(v) for v in r) + "\n")
    print("wrote %d samples (%d sequence(s)) to %s; largest sensor stamp spread within a sample: %.3f ms"
          % (len(rows), seq_index, root, spread_max / 1e6))


if __name__ == "__main__":
    main()
