#!/usr/bin/env python3
"""Checks the Foxglove live view of a running `foresight run` as a Foxglove client would.

Speaks the Foxglove WebSocket protocol (subprotocol `foxglove.websocket.v1`) with the
`websockets` package, against a daemon whose launch file has `foxglove: {address: ...}`:

  1. a client that does not offer the subprotocol is refused; a viewer connects: the server
     selects the subprotocol, sends `serverInfo` first and an
     `advertise` listing the expected channels (JSON encoding, `jsonschema` schemas; every
     `foxglove.*` schema requires exactly the fields of the type's descriptor in the PyPI package
     `foxglove-schemas-protobuf`);
  2. a subscription to an unknown channel gets an error `status`;
  3. the viewer subscribes to every channel; a second, *stalled* viewer (tiny socket buffer,
     never reads) subscribes to the heavy ones (camera, LiDAR, radar map);
  4. `foresight sim` is started on the daemon's input; every binary `messageData` the first
     viewer receives is checked: opcode 0x01, one of its subscription ids, a plausible receive
     timestamp, JSON whose fields, types and required members match the descriptor of its
     `foxglove.*` type (the same checks as Tools/foxglove_check.py), or its advertised JSON
     Schema for the plain JSON channels;
  5. the check passes once every channel delivered a valid message, the daemon's /metrics count
     messages dropped for a full viewer queue, and, after the first drop, the reading viewer
     still receives camera frames and the daemon still predicts frames (the stalled viewer holds
     up nobody).

With --raw-camera (instead of the simulator): the check binds the daemon's input endpoint
itself and publishes raw-pixel `sensor/camera` images (rgb8, bgr8 and mono8, round robin); it
passes once `/camera/raw` is advertised as `foxglove.RawImage` (and `/camera` still as
`foxglove.CompressedImage`) and the viewer received, for every encoding, a message that passes
the descriptor checks, has the same encoding, a step of width × bytes per pixel and exactly the
pixels published.

Prints a JSON summary; exit status 1 when anything fails.

    Tools/foxglove_live_check.py --url ws://127.0.0.1:8765 --metrics http://127.0.0.1:9464/metrics \\
        --foresight .build/debug/foresight --input tcp://127.0.0.1:5600 [--raw-camera]
"""
import argparse
import asyncio
import base64
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlparse

import jsonschema
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from foxglove_check import check_message, check_raw_image, descriptor, required_fields  # noqa: E402

SUBPROTOCOL = "foxglove.websocket.v1"
EXPECTED = ["/camera", "/lidar", "/gnss", "/radar/range_angle", "/predict/position_fix", "/scene", "/tf",
            "/predict/beam", "/predict/position", "/predict/power", "/predict/blockage", "/fusion/frame",
            "/foresight/diagnostics", "/sensor/gnss", "/sensor/beam_power"]
HEAVY = ["/camera", "/lidar", "/radar/range_angle"]


def metric(text, name, labels=None):
    """Sum of the samples of `name` (with `labels` a subset of the sample's labels)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)', line)
        if not m or m.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        if labels and any(found.get(k) != v for k, v in labels.items()):
            continue
        total += float(m.group(4))
    return total


def layout_topics(path):
    """The topics a saved Foxglove layout's panels read."""
    with open(path) as f:
        layout = json.load(f)
    topics = set()
    for panel, config in layout["configById"].items():
        kind = panel.split("!", 1)[0]
        if kind == "Image":
            topics.add(config["imageMode"]["imageTopic"])
        elif kind == "3D":
            topics.update(config.get("topics", {}))
        elif kind == "map":
            topics.update(config.get("topicColors", {}))
        elif kind == "Plot":
            topics.update(p["value"].split(".", 1)[0] for p in config["paths"])
        elif kind == "RawMessages":
            topics.add(config["topicPath"].split(".", 1)[0])
    return topics


def scrape(url):
    try:
        return urllib.request.urlopen(url, timeout=5).read().decode()
    except OSError:
        return ""


async def next_text(ws, timeout):
    """The next text message as JSON (binary messages before it are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        message = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
        if isinstance(message, str):
            return json.loads(message)


async def open_viewer(url, stalled=False):
    sock = None
    if stalled:
        # A viewer that stops reading: a tiny receive buffer and a one-message client queue, so the
        # server's socket backs up at once.
        u = urlparse(url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((u.hostname, u.port))
    ws = await connect(url, subprotocols=[SUBPROTOCOL], max_size=None, ping_interval=None,
                       max_queue=1 if stalled else 64, sock=sock, open_timeout=10)
    return ws


RAW_ENCODINGS = {"rgb8": 3, "bgr8": 3, "mono8": 1}


async def open_viewer_when_up(url, timeout=60.0):
    """A viewer connection, retried every 0.2 s while the daemon may still be starting (raises after `timeout`)."""
    started = time.monotonic()
    while True:
        try:
            return await open_viewer(url)
        except OSError:
            if time.monotonic() - started > timeout:
                raise
            await asyncio.sleep(0.2)


async def run_raw(args):
    """Raw-pixel camera images in, foxglove.RawImage out on /camera/raw, pixels unchanged."""
    import msgpack
    import zmq

    errors = []
    summary = {"errors": errors, "mode": "raw-camera"}
    ws = await open_viewer_when_up(args.url)
    await asyncio.wait_for(ws.recv(), 10)  # serverInfo
    advertise = json.loads(await asyncio.wait_for(ws.recv(), 10))
    by_topic = {c["topic"]: c for c in advertise.get("channels", [])}
    for topic, name in (("/camera/raw", "foxglove.RawImage"), ("/camera", "foxglove.CompressedImage")):
        if by_topic.get(topic, {}).get("schemaName") != name:
            errors.append("%s advertised as %s, expected %s" % (topic, by_topic.get(topic, {}).get("schemaName"), name))
    if errors:
        print(json.dumps(summary, indent=1))
        return 1
    raw, compressed = by_topic["/camera/raw"], by_topic["/camera"]
    validator = jsonschema.Draft202012Validator(json.loads(raw["schema"]))
    await ws.send(json.dumps({"op": "subscribe", "subscriptions": [{"id": 1, "channelId": raw["id"]},
                                                                   {"id": 2, "channelId": compressed["id"]}]}))
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    pub.bind(args.input)
    sent = {}
    verified = {}
    counts = {"/camera/raw": 0, "/camera": 0}
    rng = __import__("random").Random(3)
    encodings = sorted(RAW_ENCODINGS)
    seq = 0
    deadline = time.monotonic() + args.timeout
    next_send = 0.0
    try:
        while time.monotonic() < deadline and len(errors) < 20 and len(verified) < len(encodings):
            if time.monotonic() >= next_send:
                next_send = time.monotonic() + 0.05
                encoding = encodings[seq % len(encodings)]
                width, height = 40 + seq % 7, 24 + seq % 5
                pixels = bytes(rng.randrange(256) for _ in range(width * height * RAW_ENCODINGS[encoding]))
                stamp = time.time_ns()
                sent[stamp] = (encoding, width, height, pixels)
                pub.send_multipart([b"sensor/camera", msgpack.packb(
                    {"stamp": stamp, "seq": seq, "frame_id": "camera", "width": width, "height": height,
                     "encoding": encoding, "data": pixels}, use_bin_type=True)])
                seq += 1
            try:
                message = await asyncio.wait_for(ws.recv(), 0.05)
            except asyncio.TimeoutError:
                continue
            if not isinstance(message, bytes):
                continue
            sub = struct.unpack_from("<I", message, 1)[0]
            obj = json.loads(message[13:])
            if sub == 2:
                counts["/camera"] += 1
                errors.append("/camera (CompressedImage) delivered a message for a raw-pixel image: %s" % str(obj)[:120])
                continue
            counts["/camera/raw"] += 1
            where = "/camera/raw#%d" % counts["/camera/raw"]
            for e in list(validator.iter_errors(obj))[:3]:
                errors.append("%s: advertised JSON Schema: %s" % (where, e.message[:200]))
            check_message(descriptor("foxglove.RawImage"), obj, where, errors)
            check_raw_image(obj, where, errors)
            stamp = obj["timestamp"]["sec"] * 1_000_000_000 + obj["timestamp"]["nsec"]
            if stamp not in sent:
                errors.append("%s: stamp %d was never published" % (where, stamp))
                continue
            encoding, width, height, pixels = sent[stamp]
            if (obj["encoding"], obj["width"], obj["height"], obj["step"]) != (encoding, width, height, width * RAW_ENCODINGS[encoding]):
                errors.append("%s: %s %d×%d step %d, published %s %d×%d" % (where, obj["encoding"], obj["width"], obj["height"],
                                                                         obj["step"], encoding, width, height))
            elif base64.b64decode(obj["data"]) != pixels:
                errors.append("%s: the pixels differ from those published" % where)
            else:
                verified[encoding] = verified.get(encoding, 0) + 1
    finally:
        pub.close(linger=0)
        context.term()
        await ws.close()
    summary["messages"] = counts
    summary["verified"] = verified
    summary["foxglove_schemas_checked"] = ["foxglove.RawImage"] if verified else []
    if len(verified) < len(encodings) and not errors:
        errors.append("not done within %s s: verified %s of %s" % (args.timeout, sorted(verified), encodings))
    summary["passed"] = not errors
    print(json.dumps(summary, indent=1))
    return 0 if summary["passed"] else 1


async def run(args):
    errors = []
    summary = {"errors": errors}
    ws = await open_viewer_when_up(args.url)
    if ws.subprotocol != SUBPROTOCOL:
        errors.append("server selected subprotocol %r" % ws.subprotocol)
    info = json.loads(await asyncio.wait_for(ws.recv(), 10))
    if info.get("op") != "serverInfo" or not isinstance(info.get("name"), str) or not isinstance(info.get("capabilities"), list):
        errors.append("first message is not a serverInfo: %s" % str(info)[:200])
    advertise = json.loads(await asyncio.wait_for(ws.recv(), 10))
    if advertise.get("op") != "advertise":
        errors.append("second message is not an advertise: %s" % str(advertise)[:200])
    channels = {c["id"]: c for c in advertise.get("channels", [])}
    by_topic = {c["topic"]: c for c in channels.values()}
    summary["server"] = info.get("name")
    summary["channels"] = sorted(by_topic)
    for topic in EXPECTED:
        if topic not in by_topic:
            errors.append("channel %s not advertised" % topic)
    # Raw-pixel cameras have a channel of their own (the simulator's camera is JPEG: it stays empty here).
    if by_topic.get("/camera/raw", {}).get("schemaName") != "foxglove.RawImage":
        errors.append("/camera/raw is not advertised as foxglove.RawImage")
    if args.layout:
        # Every topic the saved layout shows is advertised (truth topics only when the launch follows them).
        for topic in sorted(layout_topics(args.layout)):
            if topic not in by_topic and not topic.startswith("/truth/"):
                errors.append("the layout %s shows %s, which is not advertised" % (args.layout, topic))
    validators = {}
    for c in channels.values():
        for key in ("id", "topic", "encoding", "schemaName", "schema", "schemaEncoding"):
            if key not in c:
                errors.append("%s: advertise lacks %s" % (c.get("topic"), key))
        if c.get("encoding") != "json" or c.get("schemaEncoding") != "jsonschema":
            errors.append("%s: encoding %s/%s, expected json/jsonschema" % (c["topic"], c.get("encoding"), c.get("schemaEncoding")))
        schema = json.loads(c["schema"])
        validators[c["id"]] = jsonschema.Draft202012Validator(schema)
        if c["schemaName"].startswith("foxglove."):
            wanted = required_fields(descriptor(c["schemaName"]))
            if set(schema.get("required", [])) != wanted:
                errors.append("%s: schema requires %s, the descriptor %s" % (c["topic"], sorted(schema.get("required", [])), sorted(wanted)))

    # A client that does not offer the subprotocol is refused.
    try:
        plain = await connect(args.url, open_timeout=10)
        errors.append("a client without the %s subprotocol was accepted" % SUBPROTOCOL)
        await plain.close()
    except InvalidStatus:
        pass

    # An unknown channel is refused with an error status.
    await ws.send(json.dumps({"op": "subscribe", "subscriptions": [{"id": 9999, "channelId": 987654}]}))
    status = await next_text(ws, 10)
    if status.get("op") != "status" or status.get("level") != 2:
        errors.append("subscribing to an unknown channel gave %s, expected an error status" % str(status)[:200])

    subscriptions = {}
    for i, c in enumerate(sorted(channels.values(), key=lambda c: c["id"])):
        subscriptions[100 + i] = c
    await ws.send(json.dumps({"op": "subscribe", "subscriptions": [{"id": s, "channelId": c["id"]} for s, c in subscriptions.items()]}))

    stalled = await open_viewer(args.url, stalled=True)
    await asyncio.wait_for(stalled.recv(), 10)  # serverInfo
    await asyncio.wait_for(stalled.recv(), 10)  # advertise
    await stalled.send(json.dumps({"op": "subscribe", "subscriptions": [{"id": i, "channelId": by_topic[t]["id"]}
                                                                         for i, t in enumerate(HEAVY) if t in by_topic]}))

    sim = subprocess.Popen([args.foresight, "sim", "--endpoint", args.input, "--duration", str(args.sim_seconds), "--quiet"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    counts = {}
    checked_fields = set()
    first_drop = None
    after = {"camera": 0, "frames": 0.0}
    passed = False
    deadline = time.monotonic() + args.timeout
    next_scrape = 0.0
    try:
        while time.monotonic() < deadline and len(errors) < 50:
            try:
                message = await asyncio.wait_for(ws.recv(), 1.0)
            except asyncio.TimeoutError:
                message = None
            if isinstance(message, bytes):
                if len(message) < 13 or message[0] != 0x01:
                    errors.append("binary message with opcode %r, length %d" % (message[:1], len(message)))
                    continue
                sub, stamp = struct.unpack_from("<IQ", message, 1)
                channel = subscriptions.get(sub)
                if channel is None:
                    errors.append("messageData for subscription %d, which was never made" % sub)
                    continue
                if abs(stamp - time.time_ns()) > 120e9:
                    errors.append("%s: receive timestamp %d is not near now" % (channel["topic"], stamp))
                try:
                    obj = json.loads(message[13:])
                except ValueError as e:
                    errors.append("%s: payload is not JSON (%s)" % (channel["topic"], e))
                    continue
                where = "%s#%d" % (channel["topic"], counts.get(channel["topic"], 0))
                for e in list(validators[channel["id"]].iter_errors(obj))[:3]:
                    errors.append("%s: advertised JSON Schema: %s at %s" % (where, e.message[:200], list(e.absolute_path)))
                if channel["schemaName"].startswith("foxglove."):
                    check_message(descriptor(channel["schemaName"]), obj, where, errors)
                    checked_fields.add(channel["schemaName"])
                counts[channel["topic"]] = counts.get(channel["topic"], 0) + 1
                if channel["topic"] == "/camera" and first_drop is not None:
                    after["camera"] += 1
            elif isinstance(message, str):
                text = json.loads(message)
                if text.get("op") == "status" and text.get("level", 0) >= 1:
                    errors.append("unexpected status: %s" % message[:200])
            if time.monotonic() >= next_scrape:
                next_scrape = time.monotonic() + 0.5
                text = scrape(args.metrics)
                dropped = metric(text, "foresight_foxglove_messages_dropped_total", {"reason": "viewer_queue_full"})
                frames = metric(text, "foresight_frames_total")
                if first_drop is None and dropped > 0:
                    first_drop = {"dropped": dropped, "frames": frames, "reader_camera": counts.get("/camera", 0)}
                if first_drop is not None:
                    after["frames"] = frames - first_drop["frames"]
                    summary["dropped_viewer_queue_full"] = dropped
                    summary["sent"] = metric(text, "foresight_foxglove_messages_sent_total")
                    summary["viewers"] = metric(text, "foresight_foxglove_viewers")
                if (first_drop is not None and after["camera"] >= args.progress and after["frames"] >= args.progress
                        and all(counts.get(t, 0) > 0 for t in EXPECTED)):
                    passed = True
                    break
            if sim.poll() is not None and sim.returncode != 0:
                errors.append("foresight sim failed: %s" % sim.stderr.read().decode()[-400:])
                break
    finally:
        if sim.poll() is None:
            sim.terminate()
            try:
                sim.wait(10)
            except subprocess.TimeoutExpired:
                sim.kill()
        await ws.close()
        stalled.transport.abort()

    summary["messages"] = counts
    summary["foxglove_schemas_checked"] = sorted(checked_fields)
    summary["first_drop"] = first_drop
    summary["after_first_drop"] = after
    if not passed and not errors:
        missing = [t for t in EXPECTED if counts.get(t, 0) == 0]
        errors.append("not done within %s s: first drop %s, after it %s, channels without messages %s"
                      % (args.timeout, first_drop, after, missing))
    summary["passed"] = passed and not errors
    print(json.dumps(summary, indent=1))
    return 0 if summary["passed"] else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="ws://host:port of the live view")
    parser.add_argument("--metrics", required=True, help="http://host:port/metrics of the daemon")
    parser.add_argument("--foresight", required=True, help="the foresight executable (runs `foresight sim`)")
    parser.add_argument("--input", required=True, help="the daemon's input endpoint, where the simulator publishes")
    parser.add_argument("--layout", help="a saved Foxglove layout whose topics must all be advertised")
    parser.add_argument("--sim-seconds", type=float, default=120)
    parser.add_argument("--timeout", type=float, default=120, help="give up after this many seconds")
    parser.add_argument("--progress", type=int, default=10,
                        help="camera messages the reading viewer and frames the daemon must get after the first drop")
    parser.add_argument("--raw-camera", action="store_true",
                        help="instead of the simulator, publish raw-pixel camera images on --input and check /camera/raw")
    args = parser.parse_args()
    sys.exit(asyncio.run(run_raw(args) if args.raw_camera else run(args)))


if __name__ == "__main__":
    main()
