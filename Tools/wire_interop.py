#!/usr/bin/env python3
"""Cross-language checks of Foresight's wire protocol v1, from Python (pyzmq + msgpack).

  publish ENDPOINT [--seconds S]
      Binds a PUB socket and publishes one message of every sensor type, repeatedly, the way a
      Python client would (msgpack-python packs stamps as uint64). Used by the Swift tests.

  subscribe ENDPOINT --schemas DIR --expect TOPIC... [--timeout S] [--all]
      Connects a SUB socket, prints "ready", then decodes one message of each expected topic,
      validates it against its JSON Schema and prints one JSON line per topic with the decoded
      fields (binary fields summarized). Exits 0 when every topic was seen, 1 otherwise.
      With --all it validates every message of the expected topics until --timeout or until
      nothing arrives for --idle seconds after the first message, then prints one JSON summary
      line per topic: {"topic", "count", "invalid", "errors"}.
"""
import argparse
import base64
import json
import signal
import math
import struct
import sys
import time

import msgpack
import numpy as np
import zmq

STAMP0 = 1_700_000_000_123_456_789  # > 2**32: msgpack-python sends it as uint64


def sensor_messages(seq):
    stamp = STAMP0 + seq * 100_000_000
    head = {"stamp": stamp, "seq": seq, "frame_id": "bs1"}
    rng = np.random.default_rng(seq)
    radar = (rng.standard_normal((4, 16, 8)) + 1j * rng.standard_normal((4, 16, 8))).astype(np.complex64)
    cloud = np.array([[1.0, 2.0, 3.0, 0.5], [4.0, 5.0, 6.0, 0.25], [np.nan, 0.0, 0.0, 1.0]], dtype="<f4")
    image = np.arange(2 * 3 * 3, dtype=np.uint8)
    power = np.array([0.5, 1.5, np.nan, 0.0], dtype="<f4")
    return {
        "sensor/camera": dict(head, width=3, height=2, encoding="rgb8", data=image.tobytes()),
        "sensor/radar": dict(head, shape=[4, 16, 8], dtype="cf32", data=radar.astype("<c8").tobytes()),
        "sensor/lidar": dict(head, fields=["x", "y", "z", "intensity"], dtype="f32", count=3, data=cloud.tobytes()),
        "sensor/gnss": dict(head, lat=33.4255, lon=-111.9400, alt=352.5, hdop=0.8, fix="rtk"),
        "sensor/beam_power": dict(head, power=power.tobytes(), dtype="f32", shape=[4], unit="mw"),
    }


def publish(args):
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUB)
    sock.bind(args.endpoint)
    print("ready", flush=True)
    deadline = time.time() + args.seconds
    seq = 0
    while time.time() < deadline:
        for topic, message in sensor_messages(seq).items():
            sock.send_multipart([topic.encode(), msgpack.packb(message, use_bin_type=True)])
        seq += 1
        time.sleep(0.02)
    sock.close(linger=0)
    ctx.term()


def jsonable(value):
    """The JSON view the schemas describe: bin as base64, non-finite floats as strings."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def summarize(value):
    if isinstance(value, bytes):
        return {"bytes": len(value)}
    if isinstance(value, dict):
        return {k: summarize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [summarize(v) for v in value]
    return value


def subscribe(args):
    import jsonschema

    schemas = {}
    import glob
    import os

    for path in glob.glob(os.path.join(args.schemas, "*.json")):
        with open(path) as f:
            schema = json.load(f)
        schemas[schema["description"].rsplit("Default topic: ", 1)[1].rstrip(".")] = schema
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(args.endpoint)
    print("ready", flush=True)
    if args.all:
        return validate_all(args, sock, schemas)
    pending = set(args.expect)
    deadline = time.time() + args.timeout
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    while pending and time.time() < deadline:
        if not poller.poll(100):
            continue
        frames = sock.recv_multipart()
        topic = frames[0].decode()
        if topic not in pending:
            continue
        message = msgpack.unpackb(frames[1], raw=False, strict_map_key=True)
        schema = schemas[topic]
        try:
            jsonschema.validate(jsonable(message), schema)
            valid = True
            error = ""
        except jsonschema.ValidationError as e:
            valid = False
            error = e.message
        print(json.dumps({"topic": topic, "valid": valid, "error": error, "message": summarize(message)}), flush=True)
        pending.discard(topic)
    sock.close(linger=0)
    ctx.term()
    return 0 if not pending else 1


def validate_all(args, sock, schemas):
    import jsonschema

    counts = {t: {"topic": t, "count": 0, "invalid": 0, "errors": []} for t in args.expect}
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    deadline = time.time() + args.timeout
    last = None
    while time.time() < deadline:
        if last is not None and time.time() - last > args.idle:
            break
        if not poller.poll(100):
            continue
        frames = sock.recv_multipart()
        topic = frames[0].decode()
        if topic not in counts:
            continue
        last = time.time()
        entry = counts[topic]
        entry["count"] += 1
        try:
            message = msgpack.unpackb(frames[1], raw=False, strict_map_key=True)
            jsonschema.validate(jsonable(message), schemas[topic])
        except Exception as e:  # noqa: BLE001 - every failure is reported
            entry["invalid"] += 1
            if len(entry["errors"]) < 3:
                entry["errors"].append(str(e)[:200])
    for entry in counts.values():
        print(json.dumps(entry), flush=True)
    sock.close(linger=0)
    return 0


def main():
    # A launcher may hand us a signal mask that blocks SIGTERM/SIGINT; make sure they stop us.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("publish")
    p.add_argument("endpoint")
    p.add_argument("--seconds", type=float, default=20)
    s = sub.add_parser("subscribe")
    s.add_argument("endpoint")
    s.add_argument("--schemas", required=True)
    s.add_argument("--expect", nargs="+", required=True)
    s.add_argument("--timeout", type=float, default=20)
    s.add_argument("--all", action="store_true")
    s.add_argument("--idle", type=float, default=3)
    args = parser.parse_args()
    if args.command == "publish":
        publish(args)
        return 0
    return subscribe(args)


if __name__ == "__main__":
    sys.exit(main())
