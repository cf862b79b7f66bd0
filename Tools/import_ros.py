#!/usr/bin/env python3
"""Converts a ROS 2 (sqlite3 or MCAP) or ROS 1 bag into a Foresight bag (docs/import.md).

    Tools/import_ros.py BAG -o drive.mcap --map topics.yaml [--site Calibration/site.yaml]

Reads with the `rosbags` package (no ROS installation; CDR decoded in Python) and writes MCAP
with the official `mcap` writer: msgpack payloads of wire protocol v1 (docs/protocol.md), one
jsonschema schema per protocol type (docs/schemas/), log_time = the bag's receive time,
publish_time = the message's header stamp (kept as the Foresight `stamp`; messages without a
header, such as std_msgs/*MultiArray, use the receive time). `seq` counts per topic from 0.

The map file (YAML) names the ROS topics; every entry is optional:

    camera:     {topic: /camera/image_raw/compressed}          # sensor_msgs/CompressedImage (jpeg kept; png → rgb8) or sensor_msgs/Image
    lidar:      {topic: /ouster/points}                        # sensor_msgs/PointCloud2 → x, y, z (+ intensity) float32
    gnss:       {topic: /ue/fix}                               # sensor_msgs/NavSatFix
    beam_power: {topic: /mmwave/power, field: data, unit: mw}  # any message with a numeric array at `field` (default std_msgs/Float32MultiArray.data)
    radar:      {topic: /radar/cube, field: data, shape: [4, 256, 128], iq: interleaved}
                # any numeric array message; `shape` [rx, samples, chirps] (default: from the layout's dims);
                # iq: interleaved (I, Q pairs; float → cf32, int16 → ci16) or real (no Q: Q = 0)
    truth:
      beam_from_power: true      # also write truth/beam = NaN-aware argmax of each power vector
      ue_from_gnss: true         # also write truth/ue = each usable GNSS fix in the site frame (--site, else the first fix is the origin)
    prefix: ""                   # Foresight topic prefix, e.g. bs1/
    frame_ids: {camera: camera, lidar: lidar, radar: radar, gnss: ue_gnss, beam_power: mmwave}

Messages that cannot be converted are counted per topic and reason, the first few printed; a
summary ends the run.
"""
import argparse
import io
import json
import math
import os
import sys
from pathlib import Path

import msgpack
import numpy as np
import yaml
from mcap.writer import CompressionType, Writer
from rosbags.highlevel import AnyReader

ROOT = Path(__file__).resolve().parent.parent
R = 6371000.0

TYPES = {
    "sensor/camera": "foresight.Image", "sensor/radar": "foresight.RadarCube", "sensor/lidar": "foresight.PointCloud",
    "sensor/gnss": "foresight.GnssFix", "sensor/beam_power": "foresight.BeamPower", "truth/beam": "foresight.TruthBeam",
    "truth/ue": "foresight.TruthUE",
}
# sensor_msgs/PointField datatypes → NumPy
POINT_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 8: "f8"}


class Skip(Exception):
    """A message that cannot be converted: reason (a short name) and detail."""

    def __init__(self, reason, detail):
        super().__init__(detail)
        self.reason = reason


def stamp_of(msg, log_time):
    header = getattr(msg, "header", None)
    if header is None:
        return log_time
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def jpeg_size(data):
    from PIL import Image
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception as e:  # noqa: BLE001 - any decoder error is a bad image
        raise Skip("bad_image", "not a readable image: %s" % e)


def camera(msg, msgtype):
    if msgtype.endswith("CompressedImage"):
        fmt = msg.format.lower()
        data = bytes(msg.data)
        if "jpeg" in fmt or "jpg" in fmt or data[:2] == b"\xff\xd8":
            w, h = jpeg_size(data)
            return {"width": w, "height": h, "encoding": "jpeg", "data": data}
        from PIL import Image
        try:
            im = Image.open(io.BytesIO(data)).convert("RGB")
        except Exception as e:  # noqa: BLE001
            raise Skip("bad_image", "compressed image format %r not readable: %s" % (msg.format, e))
        return {"width": im.width, "height": im.height, "encoding": "rgb8", "data": im.tobytes()}
    # sensor_msgs/Image
    enc = msg.encoding.lower()
    channels = {"rgb8": 3, "bgr8": 3, "mono8": 1, "rgba8": 4, "bgra8": 4, "mono16": 2}.get(enc)
    if channels is None:
        raise Skip("unsupported_encoding", "image encoding %r" % msg.encoding)
    raw = np.frombuffer(bytes(msg.data), np.uint8)
    if msg.step < msg.width * channels or raw.size < msg.step * msg.height:
        raise Skip("shape_mismatch", "step %d × height %d does not fit %d bytes" % (msg.step, msg.height, raw.size))
    rows = raw[: msg.step * msg.height].reshape(msg.height, msg.step)[:, : msg.width * channels]
    if enc == "mono16":
        px = rows.view(">u2" if msg.is_bigendian else "<u2").reshape(msg.height, msg.width)
        return {"width": msg.width, "height": msg.height, "encoding": "mono8", "data": (px >> 8).astype(np.uint8).tobytes()}
    px = rows.reshape(msg.height, msg.width, channels)
    if enc in ("rgba8", "bgra8"):
        px = px[:, :, :3]
        enc = "rgb8" if enc == "rgba8" else "bgr8"
    return {"width": msg.width, "height": msg.height, "encoding": enc, "data": np.ascontiguousarray(px).tobytes()}


def cloud(msg):
    fields = {f.name: f for f in msg.fields}
    for k in ("x", "y", "z"):
        if k not in fields:
            raise Skip("missing_field", "PointCloud2 without %r (fields %s)" % (k, sorted(fields)))
    names = ["x", "y", "z"] + (["intensity"] if "intensity" in fields else [])
    order = ">" if msg.is_bigendian else "<"
    n = msg.width * msg.height
    dtype = np.dtype({"names": names, "formats": [order + POINT_TYPES[fields[k].datatype] for k in names],
                      "offsets": [fields[k].offset for k in names], "itemsize": msg.point_step})
    data = bytes(msg.data)
    if len(data) < n * msg.point_step:
        raise Skip("shape_mismatch", "%d points × %d bytes do not fit %d bytes" % (n, msg.point_step, len(data)))
    if msg.row_step != msg.width * msg.point_step:  # padded rows: take each row's points
        rows = [np.frombuffer(data[r * msg.row_step: r * msg.row_step + msg.width * msg.point_step], dtype) for r in range(msg.height)]
        pts = np.concatenate(rows)
    else:
        pts = np.frombuffer(data[: n * msg.point_step], dtype)
    values = np.column_stack([pts[k].astype("<f4") for k in names]) if n else np.zeros((0, len(names)), "<f4")
    return {"fields": names, "dtype": "f32", "count": int(n), "data": values.astype("<f4").tobytes()}


def gnss(msg):
    status = int(msg.status.status)
    fix = {-1: "none", 0: "3d", 1: "3d", 2: "rtk"}.get(status, "3d")
    lat, lon, alt = float(msg.latitude), float(msg.longitude), float(msg.altitude)
    cov = list(msg.position_covariance)
    if fix == "none":
        hdop = float("nan")
    elif int(msg.position_covariance_type) > 0 and cov[0] >= 0 and cov[4] >= 0:
        hdop = math.sqrt(cov[0] + cov[4]) / 2.5  # horizontal sigma over a ~2.5 m UERE
    else:
        hdop = 1.0
    if fix != "none" and not (math.isfinite(lat) and math.isfinite(lon)):
        fix, hdop = "none", float("nan")
    return {"lat": lat, "lon": lon, "alt": alt if not math.isinf(alt) else float("nan"), "hdop": hdop, "fix": fix}


def array_field(msg, path):
    value = msg
    for part in path.split("."):
        value = getattr(value, part)
    return np.asarray(value)


def beam_power(msg, spec):
    power = array_field(msg, spec.get("field", "data")).astype("<f4").ravel()
    if power.size == 0:
        raise Skip("empty", "empty power vector")
    unit = spec.get("unit", "mw")
    if np.isinf(power).any() or (unit == "mw" and (power[~np.isnan(power)] < 0).any()):
        raise Skip("out_of_range", "infinite or negative linear power")
    return {"power": power.tobytes(), "dtype": "f32", "shape": [int(power.size)], "unit": unit}, power


def radar(msg, spec):
    values = array_field(msg, spec.get("field", "data"))
    shape = spec.get("shape")
    if shape is None:
        dims = [int(d.size) for d in msg.layout.dim]
        shape = dims[:3]
        if len(shape) != 3:
            raise Skip("shape_mismatch", "give radar.shape [rx, samples, chirps] in the map (layout dims %s)" % dims)
    rx, samples, chirps = (int(v) for v in shape)
    iq = spec.get("iq", "interleaved")
    n = rx * samples * chirps
    integer = values.dtype.kind in "iu"
    if iq == "interleaved":
        if values.size != 2 * n:
            raise Skip("shape_mismatch", "%d values for shape %s with interleaved I/Q (need %d)" % (values.size, shape, 2 * n))
        pairs = values.reshape(n, 2)
    else:
        if values.size != n:
            raise Skip("shape_mismatch", "%d values for shape %s (need %d)" % (values.size, shape, n))
        pairs = np.column_stack([values.ravel(), np.zeros(n, values.dtype)])
    if integer:
        data, dtype = pairs.astype("<i2").tobytes(), "ci16"
    else:
        floats = pairs.astype("<f4")
        if not np.isfinite(floats).all():
            raise Skip("non_finite", "radar samples hold NaN or infinity")
        data, dtype = floats.tobytes(), "cf32"
    return {"shape": [rx, samples, chirps], "dtype": dtype, "data": data}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bag", help="rosbag2 folder (sqlite3 or mcap) or ROS 1 .bag file")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--map", required=True, help="topic map (YAML), see above")
    ap.add_argument("--site", help="site calibration: origin for truth/ue")
    ap.add_argument("--print-limit", type=int, default=5)
    args = ap.parse_args()

    with open(args.map) as f:
        mapping = yaml.safe_load(f) or {}
    known = {"camera", "lidar", "gnss", "beam_power", "radar", "truth", "prefix", "frame_ids"}
    unknown = set(mapping) - known
    if unknown:
        sys.exit("import_ros: unknown keys in %s: %s (allowed: %s)" % (args.map, sorted(unknown), sorted(known)))
    prefix = mapping.get("prefix", "") or ""
    frames = {"camera": "camera", "lidar": "lidar", "radar": "radar", "gnss": "ue_gnss", "beam_power": "mmwave"}
    frames.update(mapping.get("frame_ids") or {})
    truth = mapping.get("truth") or {}
    origin = None
    if args.site:
        with open(args.site) as f:
            o = yaml.safe_load(f)["origin"]
        origin = (float(o["lat"]), float(o["lon"]))
    by_topic = {}
    for kind in ("camera", "lidar", "gnss", "beam_power", "radar"):
        spec = mapping.get(kind)
        if spec:
            if "topic" not in spec:
                sys.exit("import_ros: %s needs a topic" % kind)
            by_topic[spec["topic"]] = (kind, spec)

    counts, skipped, printed, seqs = {}, {}, {}, {}
    out = open(args.output, "wb")
    writer = Writer(out, compression=CompressionType.ZSTD)
    writer.start(profile="", library="foresight import_ros.py")
    channels = {}

    def channel(topic):
        if topic not in channels:
            bare = topic[len(prefix):]
            name = TYPES[bare]
            schema = (ROOT / "docs" / "schemas" / (name + ".json")).read_bytes()
            sid = writer.register_schema(name=name, encoding="jsonschema", data=schema)
            channels[topic] = writer.register_channel(topic=topic, message_encoding="msgpack", schema_id=sid)
        return channels[topic]

    def emit(bare, payload, stamp, log_time):
        topic = prefix + bare
        seq = seqs.get(topic, 0)
        seqs[topic] = seq + 1
        message = {"stamp": int(stamp), "seq": seq & 0xFFFFFFFF}
        message.update(payload)
        writer.add_message(channel_id=channel(topic), log_time=int(log_time), publish_time=int(stamp), sequence=seq & 0xFFFFFFFF,
                           data=msgpack.packb(message, use_bin_type=True))
        counts[topic] = counts.get(topic, 0) + 1

    def skip(topic, reason, detail):
        key = "%s: %s" % (topic, reason)
        skipped[key] = skipped.get(key, 0) + 1
        n = printed.get(key, 0)
        if n < args.print_limit:
            print("skipped %s: %s" % (key, detail), file=sys.stderr)
        printed[key] = n + 1

    with AnyReader([Path(args.bag)]) as reader:
        present = {c.topic for c in reader.connections}
        for t in by_topic:
            if t not in present:
                print("warning: topic %s is not in the bag (topics: %s)" % (t, sorted(present)), file=sys.stderr)
        conns = [c for c in reader.connections if c.topic in by_topic]
        for conn, log_time, raw in reader.messages(connections=conns):
            kind, spec = by_topic[conn.topic]
            try:
                msg = reader.deserialize(raw, conn.msgtype)
                stamp = stamp_of(msg, log_time)
                base = {"frame_id": frames[kind]}
                if kind == "camera":
                    base.update(camera(msg, conn.msgtype)); emit("sensor/camera", base, stamp, log_time)
                elif kind == "lidar":
                    base.update(cloud(msg)); emit("sensor/lidar", base, stamp, log_time)
                elif kind == "radar":
                    base.update(radar(msg, spec)); emit("sensor/radar", base, stamp, log_time)
                elif kind == "gnss":
                    fix = gnss(msg)
                    base.update(fix); emit("sensor/gnss", base, stamp, log_time)
                    if truth.get("ue_from_gnss") and fix["fix"] != "none":
                        if origin is None:
                            origin = (fix["lat"], fix["lon"])
                            print("warning: no --site: the first fix is the truth/ue origin", file=sys.stderr)
                        north = math.radians(fix["lat"] - origin[0]) * R
                        east = math.radians(fix["lon"] - origin[1]) * R * math.cos(math.radians(origin[0]))
                        emit("truth/ue", {"frame_id": "site", "east": east, "north": north, "velocity_east": 0.0,
                                          "velocity_north": 0.0, "heading": 0.0}, stamp, log_time)
                elif kind == "beam_power":
                    payload, power = beam_power(msg, spec)
                    base.update(payload); emit("sensor/beam_power", base, stamp, log_time)
                    if truth.get("beam_from_power") and not np.isnan(power).all() and payload["unit"] == "mw":
                        emit("truth/beam", {"frame_id": frames["beam_power"], "best": int(np.nanargmax(power)),
                                            "power": payload["power"], "dtype": "f32", "shape": payload["shape"], "unit": "mw"},
                             stamp, log_time)
            except Skip as e:
                skip(conn.topic, e.reason, str(e))
            except Exception as e:  # noqa: BLE001 - a message the decoder or converter cannot handle
                skip(conn.topic, type(e).__name__, str(e))
    writer.finish()
    out.close()
    print("wrote %d messages to %s: %s" % (sum(counts.values()), args.output,
                                           ", ".join("%s %d" % kv for kv in sorted(counts.items())) or "none"))
    print("skipped: " + (", ".join("%s %d" % kv for kv in sorted(skipped.items())) if skipped else "nothing"))
    print(json.dumps({"messages": counts, "skipped": skipped}), file=sys.stderr if os.environ.get("IMPORT_ROS_QUIET") else sys.stdout)


if __name__ == "__main__":
    main()
