#!/usr/bin/env python3
"""A rig-like load generator for the Foresight daemon, through the real ZeroMQ sockets.

It binds a PUB socket where the daemon's inputs connect (default tcp://127.0.0.1:5600), waits
until the daemon has subscribed to every sensor topic, publishes five sensors the way real rigs
do, and subscribes to the daemon's outputs (`fusion/frame`, `predict/beam`,
`foresight/diagnostics`). At the end it prints one JSON report on stdout (and writes it with
--json): frames, complete/partial counts, for every sent set the frame that carried it, good sets
predicted, latency percentiles and the last diagnostics message.

Sensors (sizes configurable; DeepSense sizes: --camera 960x540 --radar 4,256,250 --points 20000):
  sensor/camera      JPEG (libjpeg-turbo through ctypes)
  sensor/radar       cf32 cube [rx, samples, chirps]
  sensor/lidar       x, y, z, intensity point cloud
  sensor/gnss        fix
  sensor/beam_power  64 linear powers (mW)

Timing modes (combine freely):
  --rate HZ            sets per second of sensor time (10, 30, ...)
  --stamps identical   every sensor of a set carries the same (trigger) stamp   [default]
  --stamps staggered   stamps spread over --stagger-ms of the period, delivered as one burst
  --order reversed     a set's messages arrive in reverse sensor order (also: shuffled)
  --jitter-ms J        each message leaves up to J ms after its set's burst (order per sensor kept)
  --pause K:S          before set K stop every sensor for S seconds (repeatable); stamps follow
                       the wall clock unless --pause-replay (a paused replay: stamps continue)
  --speed X            replay at X times real time (stamps advance one period per set; the
                       wall clock advances period / X)
  --dead camera,gnss   sensors that never publish; --die lidar@15 stops lidar from set 15 on
  --malformed F        fraction F of all messages are bad (bad msgpack, wrong types, truncated
                       JPEG, absurd sizes, wrong topics, duplicate keys, stale and future stamps)
  --after N            N more good sets after the main stream (reported separately)
  --junk-topics N      N messages on topics that only prefix-match the daemon's subscriptions
  --truth              also publish truth/ue at the set rate
  --max-in-flight N    benchmark mode: as fast as possible, at most N sets without a fusion/frame

Example (daemon running with launch/sim.yaml):
  .venv/bin/python Tools/loadgen.py --sets 100 --stamps staggered --order reversed
"""
import argparse
import ctypes
import ctypes.util
import json
import os
import random
import sys
import threading
import time

import msgpack
import numpy as np
import zmq

SENSORS = ["camera", "radar", "lidar", "gnss", "beam_power"]


# ----------------------------------------------------------------------------------------------
# Payloads


class Jpeg:
    """libjpeg-turbo's compressor through ctypes (no Pillow needed)."""

    def __init__(self):
        path = ctypes.util.find_library("turbojpeg") or "libturbojpeg.so.0"
        self.lib = ctypes.CDLL(path)
        self.lib.tjInitCompress.restype = ctypes.c_void_p
        self.lib.tjCompress2.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                         ctypes.c_int, ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte)),
                                         ctypes.POINTER(ctypes.c_ulong), ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.tjFree.argtypes = [ctypes.c_void_p]
        self.lib.tjDestroy.argtypes = [ctypes.c_void_p]

    def encode(self, rgb):
        height, width, _ = rgb.shape
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        handle = self.lib.tjInitCompress()
        out = ctypes.POINTER(ctypes.c_ubyte)()
        size = ctypes.c_ulong(0)
        rc = self.lib.tjCompress2(handle, rgb.ctypes.data, width, 0, height, 0, ctypes.byref(out), ctypes.byref(size),
                                  2, 85, 0)  # TJPF_RGB, TJSAMP_420, quality 85
        if rc != 0:
            raise RuntimeError("libjpeg-turbo could not compress the test image")
        data = ctypes.string_at(out, size.value)
        self.lib.tjFree(out)
        self.lib.tjDestroy(handle)
        return data


class Payloads:
    """Pre-built sensor data (built once: the generator must not be the bottleneck)."""

    def __init__(self, args):
        rng = np.random.default_rng(7)
        width, height = (int(v) for v in args.camera.split("x"))
        yy, xx = np.mgrid[0:height, 0:width]
        image = np.stack([(xx * 255 // max(1, width - 1)), (yy * 255 // max(1, height - 1)),
                          ((xx + yy) % 256)], axis=-1).astype(np.uint8)
        self.width, self.height = width, height
        self.jpeg = Jpeg().encode(image)
        self.radar_shape = [int(v) for v in args.radar.split(",")]
        cube = (rng.standard_normal(self.radar_shape) + 1j * rng.standard_normal(self.radar_shape)).astype("<c8")
        self.radar = cube.tobytes()
        n = args.points
        angle = rng.uniform(-np.pi / 3, np.pi / 3, n)
        dist = rng.uniform(3, 60, n)
        cloud = np.stack([dist * np.cos(angle), dist * np.sin(angle), rng.uniform(-1.5, 2.0, n), rng.uniform(0, 1, n)], axis=1)
        self.cloud = cloud.astype("<f4").tobytes()
        self.points = n
        self.power = (1e-6 * (1 + np.arange(64) % 17)).astype("<f4").tobytes()

    def message(self, sensor, stamp, seq):
        head = {"stamp": stamp, "seq": seq, "frame_id": sensor}
        if sensor == "camera":
            return dict(head, width=self.width, height=self.height, encoding="jpeg", data=self.jpeg)
        if sensor == "radar":
            return dict(head, shape=self.radar_shape, dtype="cf32", data=self.radar)
        if sensor == "lidar":
            return dict(head, fields=["x", "y", "z", "intensity"], dtype="f32", count=self.points, data=self.cloud)
        if sensor == "gnss":
            return dict(head, lat=33.420887 + seq * 1e-7, lon=-111.928835, alt=360.0, hdop=0.8, fix="3d")
        return dict(head, power=self.power, dtype="f32", shape=[64], unit="mw")


def pack(message):
    return msgpack.packb(message, use_bin_type=True)


def bad_message(kind, sensor, payloads, stamp, seq, rng):
    """(topic suffix, payload bytes) of one malformed or odd message of `kind`."""
    topic = "sensor/" + sensor
    if kind == "bad_msgpack":
        return topic, bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
    if kind == "wrong_type":
        message = payloads.message(sensor, stamp, seq)
        message["stamp"] = str(stamp)
        return topic, pack(message)
    if kind == "truncated_jpeg":
        message = payloads.message("camera", stamp, seq)
        message["data"] = payloads.jpeg[: max(200, len(payloads.jpeg) // 2)]
        return "sensor/camera", pack(message)
    if kind == "absurd_size":
        message = payloads.message(sensor, stamp, seq)
        if sensor == "camera":
            message.update(width=100_000, height=100_000)
        elif sensor == "radar":
            message["shape"] = [4, 256, 1_000_000]
        elif sensor == "lidar":
            message["count"] = 1_000_000_000
        elif sensor == "beam_power":
            message["shape"] = [1_000_000]
        else:
            message["hdop"] = -1.0
        return topic, pack(message)
    if kind == "wrong_topic":
        junk = rng.choice(["sensor/camera_raw", "sensor/camera/left", "sensor/camera\0",
                           "sensor/beam_power" + "x" * 1000, "sensor/gnss%d" % rng.randint(0, 1 << 30)])
        return junk, pack(payloads.message(sensor, stamp, seq))
    if kind == "duplicate_key":
        body = pack(payloads.message(sensor, stamp, seq))
        # A fixmap/map16 header followed by one more "seq" entry: the same key twice.
        extra = pack("seq") + pack(seq)
        count = len(payloads.message(sensor, stamp, seq)) + 1
        if body[0] & 0xF0 == 0x80 and count <= 15:
            return topic, bytes([0x80 | count]) + body[1:] + extra
        return topic, b"\xde" + count.to_bytes(2, "big") + body[3:] + extra
    if kind == "stale_stamp":  # a delayed retransmission (old stamp, old seq) or a rogue restart (seq 0)
        old_seq = 0 if rng.random() < 0.5 else (seq - 50) % (1 << 32)
        return topic, pack(payloads.message(sensor, stamp - 5_000_000_000, old_seq))
    if kind == "future_stamp":  # a clock glitch: the next seq with a stamp seconds or hours ahead
        ahead = rng.choice([3_000_000_000, 30_000_000_000, 3_600_000_000_000])
        return topic, pack(payloads.message(sensor, stamp + ahead, seq))
    raise ValueError(kind)


BAD_KINDS = ["bad_msgpack", "wrong_type", "truncated_jpeg", "absurd_size", "wrong_topic", "duplicate_key",
             "stale_stamp", "future_stamp"]


# ----------------------------------------------------------------------------------------------
# Schedule


class Event:
    __slots__ = ("wall", "topic", "payload", "set_index", "sensor", "stamp", "seq", "good", "phase")

    def __init__(self, wall, topic, payload, set_index=None, sensor=None, stamp=None, seq=None, good=False, phase="main"):
        self.wall, self.topic, self.payload = wall, topic, payload
        self.set_index, self.sensor, self.stamp, self.seq, self.good, self.phase = set_index, sensor, stamp, seq, good, phase


def build_schedule(args, payloads, start_ns):
    """Every message with its send time (seconds after start), in send order."""
    rng = random.Random(args.seed)
    period_ns = int(round(1e9 / args.rate))
    period_wall = 1.0 / args.rate / args.speed
    dead = set(filter(None, (args.dead or "").split(",")))
    if "all" in dead:
        dead = set(SENSORS)
    dies = {}
    for item in args.die or []:
        sensor, at = item.split("@")
        dies[sensor] = int(at)
    pauses = {}
    for item in args.pause or []:
        at, seconds = item.split(":")
        pauses[int(at)] = pauses.get(int(at), 0.0) + float(seconds)
    stagger = [int(i * args.stagger_ms * 1e6 / max(1, len(SENSORS) - 1)) for i in range(len(SENSORS))]
    seqs = {s: 0 for s in SENSORS}
    events, sets = [], []
    wall = 0.0
    stamp_base = start_ns
    total = args.sets + args.after
    bad_per_set = 0.0
    if args.malformed > 0:
        bad_per_set = args.malformed / (1 - args.malformed) * len(SENSORS)
    bad_credit = 0.0
    for k in range(total):
        phase = "main" if k < args.sets else "after"
        if k in pauses:
            wall += pauses[k]
            if not args.pause_replay:
                stamp_base += int(pauses[k] * 1e9 * args.speed)
        stamp = stamp_base + k * period_ns
        live = [s for s in SENSORS if s not in dead and not (s in dies and k >= dies[s])]
        order = list(live)
        if args.order == "reversed":
            order.reverse()
        elif args.order == "shuffled":
            rng.shuffle(order)
        members = {}
        for sensor in order:
            offset = stagger[SENSORS.index(sensor)] if args.stamps == "staggered" else 0
            s_stamp = stamp + offset
            seq = seqs[sensor]
            seqs[sensor] += 1
            delay = rng.uniform(0, args.jitter_ms / 1000.0) if args.jitter_ms > 0 else 0.0
            # Packed when sent: a long DeepSense-size run would not fit in memory packed ahead.
            events.append(Event(wall + delay, args.prefix + "sensor/" + sensor, None, k, sensor, s_stamp, seq, True, phase))
            members[sensor] = [s_stamp, seq]
        sets.append({"index": k, "phase": phase, "stamp": stamp, "members": members, "wall": wall})
        if phase == "main" and bad_per_set > 0:
            bad_credit += bad_per_set
            while bad_credit >= 1:
                bad_credit -= 1
                kind = rng.choice(BAD_KINDS)
                sensor = rng.choice(SENSORS)
                if kind == "truncated_jpeg":
                    # The camera itself sends a corrupt extra frame half a period after the set:
                    # well-formed on the wire, so it is accepted and reaches the synchronizer.
                    topic, payload = bad_message(kind, "camera", payloads, stamp + period_ns // 2, seqs["camera"], rng)
                    seqs["camera"] += 1
                else:
                    topic, payload = bad_message(kind, sensor, payloads, stamp, seqs[sensor], rng)
                events.append(Event(wall + rng.uniform(0, period_wall * 0.9), args.prefix + topic, payload, sensor=kind))
        if args.truth:
            truth = {"stamp": stamp, "seq": k, "frame_id": "ue", "east": 10.0 + k * 0.1, "north": 2.0,
                     "velocity_east": 1.0, "velocity_north": 0.0, "heading": 0.0}
            events.append(Event(wall, args.prefix + "truth/ue", pack(truth)))
        wall += period_wall
    for j in range(args.junk_topics):
        topic = rng.choice(["sensor/camera_raw", "sensor/camera/left", "sensor/camera\0", "sensor/beam_power" + "x" * 1000,
                            "sensor/gnss%d" % j, "sensor/lidar/%d" % j])
        at = rng.uniform(0, max(wall - period_wall, 0.01))
        events.append(Event(at, args.prefix + topic, pack(payloads.message("gnss", start_ns + j, j))))
    # Stable sort by send time: messages of one sensor keep their order (jitter < period).
    events.sort(key=lambda e: e.wall)
    return events, sets


# ----------------------------------------------------------------------------------------------
# Output collection


class Collector(threading.Thread):
    def __init__(self, ctx, endpoint, prefix):
        super().__init__(daemon=True)
        self.sock = ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.RCVHWM, 1_000_000)
        for topic in ["fusion/frame", "predict/beam", "foresight/diagnostics"]:
            self.sock.setsockopt(zmq.SUBSCRIBE, (prefix + topic).encode())
        self.sock.connect(endpoint)
        self.prefix = prefix
        self.frames, self.beams, self.diagnostics = {}, {}, []
        self.lock = threading.Lock()
        self.stopping = False
        self.last_receive = time.monotonic()

    def run(self):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while not self.stopping:
            if not poller.poll(50):
                continue
            while True:
                try:
                    topic, payload = self.sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                now = time.monotonic()
                message = msgpack.unpackb(payload, raw=False, strict_map_key=False)
                name = topic.decode()[len(self.prefix):]
                with self.lock:
                    self.last_receive = now
                    if name == "fusion/frame":
                        self.frames[message["seq"]] = (message, now)
                    elif name == "predict/beam":
                        self.beams[message["seq"]] = (message, now)
                    else:
                        self.diagnostics.append(message)
        self.sock.close(linger=0)

    def in_flight(self, sent_sets):
        with self.lock:
            return sent_sets - len(self.frames)


class ProcessSampler(threading.Thread):
    """Samples a process's resident memory and CPU time from /proc once per `period` seconds."""

    def __init__(self, pid, period=1.0):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.samples = []  # (monotonic seconds, rss MB, cpu seconds)
        self.stopping = False
        self.ticks = os.sysconf("SC_CLK_TCK")

    def sample(self):
        try:
            with open("/proc/%d/status" % self.pid) as f:
                rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024.0
            with open("/proc/%d/stat" % self.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / self.ticks  # utime + stime
            self.samples.append((time.monotonic(), rss, cpu))
        except (OSError, StopIteration, ValueError, IndexError):
            pass

    def run(self):
        while not self.stopping:
            self.sample()
            time.sleep(self.period)

    def summary(self, began, warmup):
        if not self.samples:
            return None
        after = [s for s in self.samples if s[0] - began >= warmup] or self.samples[-1:]
        first, last = self.samples[0], self.samples[-1]
        span = last[0] - first[0]
        return {"rss_mb_start": round(first[1], 1), "rss_mb_after_warmup": round(after[0][1], 1),
                "rss_mb_end": round(last[1], 1), "rss_mb_max": round(max(s[1] for s in self.samples), 1),
                "rss_growth_after_warmup_mb": round(last[1] - after[0][1], 1),
                "cpu_percent": round(100.0 * (last[2] - first[2]) / span, 1) if span > 0 else None,
                "samples": len(self.samples)}


def wait_for_subscribers(sock, topics, timeout):
    """XPUB: returns once every topic in `topics` has a subscriber (the daemon connected)."""
    wanted = set(topics)
    deadline = time.monotonic() + timeout
    seen = set()
    while time.monotonic() < deadline and not wanted <= seen:
        if sock.poll(100):
            message = sock.recv()
            if message and message[0] == 1:
                seen.add(message[1:].decode(errors="replace"))
    return wanted <= seen


# ----------------------------------------------------------------------------------------------
# Report


def percentiles(values, ps=(50, 90, 99, 100)):
    if not values:
        return None
    ordered = sorted(values)
    return {("max" if p == 100 else "p%d" % p): round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 3)
            for p in ps}


def report(args, sets, sent_at, collector, sent_messages, sent_bytes, elapsed, in_flight_max):
    with collector.lock:
        frames = dict(collector.frames)
        beams = dict(collector.beams)
        diagnostics = collector.diagnostics[-1] if collector.diagnostics else None
    by_member = {}
    for seq, (frame, _) in frames.items():
        for member in frame["members"]:
            by_member[(member["modality"], member["stamp"], member["seq"])] = seq
    owner = {}
    for s in sets:
        for sensor, (stamp, seq) in s["members"].items():
            owner[(sensor, stamp, seq)] = s["index"]
    mixed = 0
    complete = sum(1 for f, _ in frames.values() if not f["missing"])
    for frame, _ in frames.values():
        owners = {owner.get((m["modality"], m["stamp"], m["seq"])) for m in frame["members"]}
        if len(owners) > 1:
            mixed += 1
    phases = {}
    latencies, daemon_latencies = [], []
    per_set = []
    for s in sets:
        members = s["members"]
        seqs = {by_member.get((sensor, stamp, seq)) for sensor, (stamp, seq) in members.items()}
        exact = None
        if len(seqs) == 1 and None not in seqs and members:
            candidate = seqs.pop()
            frame = frames[candidate][0]
            if len(frame["members"]) == len(members):
                exact = candidate
        carried = [x for x in {by_member.get((sensor, stamp, seq)) for sensor, (stamp, seq) in members.items()} if x is not None]
        predicted = exact is not None and exact in beams
        any_predicted = any(x in beams for x in carried)
        p = phases.setdefault(s["phase"], {"sets": 0, "exact": 0, "predicted": 0, "touched_predicted": 0})
        p["sets"] += 1
        p["exact"] += exact is not None
        p["predicted"] += predicted
        p["touched_predicted"] += any_predicted
        if exact is not None:
            frame, frame_at = frames[exact]
            daemon_latencies.append(frame["latency_ns"] / 1e6)
            if exact in beams and s["index"] in sent_at:
                latencies.append((beams[exact][1] - sent_at[s["index"]]) * 1000)
        if args.members:
            per_set.append({"set": s["index"], "frame": exact, "frames": sorted(carried)})
    for p in phases.values():
        p["exact_pct"] = round(100.0 * p["exact"] / p["sets"], 2) if p["sets"] else None
        p["predicted_pct"] = round(100.0 * p["predicted"] / p["sets"], 2) if p["sets"] else None
    out = {
        "scenario": args.name,
        "rate_hz": args.rate, "speed": args.speed, "stamps": args.stamps, "order": args.order,
        "dead": args.dead or "", "die": args.die or [], "pauses": args.pause or [], "malformed": args.malformed,
        "sets_sent": len(sets), "messages_sent": sent_messages, "bytes_sent": sent_bytes,
        "seconds": round(elapsed, 3),
        "frames": len(frames), "complete_frames": complete, "partial_frames": len(frames) - complete,
        "mixed_frames": mixed, "predictions": len(beams),
        "phases": phases,
        "latency_ms": percentiles(latencies), "daemon_latency_ms": percentiles(daemon_latencies),
        "max_in_flight": in_flight_max,
    }
    if args.members:
        out["per_set"] = per_set
        out["frame_list"] = [{"seq": seq, "stamp": f["stamp"], "missing": f["missing"],
                              "members": [[m["modality"], m["stamp"], m["seq"]] for m in f["members"]]}
                             for seq, (f, _) in sorted(frames.items())]
    if diagnostics is not None:
        out["diagnostics"] = {"topics": [t["topic"] for t in diagnostics.get("topics", [])],
                              "rejections": {"%s|%s" % (r["topic"], r["reason"]): r["count"] for r in diagnostics.get("rejections", [])},
                              "dropped": {st["stage"]: st["dropped"] for st in diagnostics.get("stages", [])},
                              # the daemon's own stage latencies (recent window): sync, preprocess, predict, end_to_end
                              "stage_latency_ms": {st["stage"]: {"p50": round(st.get("p50_ms", 0), 3), "p99": round(st.get("p99_ms", 0), 3)}
                                                   for st in diagnostics.get("stages", [])}}
        # Frames the daemon built but dropped because a stage fell behind (CPU overload).
        out["daemon_dropped_frames"] = out["diagnostics"]["dropped"].get("preprocess", 0)
    return out


# ----------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5600", help="where to bind the sensor PUB socket")
    parser.add_argument("--output", default="tcp://127.0.0.1:5601", help="the daemon's output endpoint (connect)")
    parser.add_argument("--prefix", default="", help="site topic prefix, e.g. bs1/")
    parser.add_argument("--name", default="custom", help="scenario name for the report")
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--sets", type=int, default=40, help="sets in the main stream")
    parser.add_argument("--after", type=int, default=0, help="good sets after the main stream")
    parser.add_argument("--stamps", choices=["identical", "staggered"], default="identical")
    parser.add_argument("--stagger-ms", type=float, default=60.0, help="spread of staggered stamps within a set")
    parser.add_argument("--order", choices=["normal", "reversed", "shuffled"], default="normal")
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--pause", action="append", help="K:SECONDS, pause before set K")
    parser.add_argument("--pause-replay", action="store_true", help="stamps do not advance during pauses")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--dead", help="comma-separated sensors that never publish (or 'all')")
    parser.add_argument("--die", action="append", help="SENSOR@K: the sensor stops before set K")
    parser.add_argument("--malformed", type=float, default=0.0, help="fraction of bad messages in the main stream")
    parser.add_argument("--junk-topics", type=int, default=0)
    parser.add_argument("--truth", action="store_true")
    parser.add_argument("--camera", default="64x48", help="WIDTHxHEIGHT of the JPEG (DeepSense: 960x540)")
    parser.add_argument("--radar", default="4,16,8", help="rx,samples,chirps (DeepSense: 4,256,250)")
    parser.add_argument("--points", type=int, default=256, help="LiDAR points (DeepSense: ~17000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--drain", type=float, default=1.5, help="seconds to wait for outputs after the last message")
    parser.add_argument("--subscribe-timeout", type=float, default=15.0)
    parser.add_argument("--also-wait", action="append", default=[],
                        help="also wait for a subscription to this topic (e.g. '' for a recorder)")
    parser.add_argument("--max-in-flight", type=int, default=0, help="benchmark: as fast as possible, bounded")
    parser.add_argument("--members", action="store_true", help="include every frame and set in the report")
    parser.add_argument("--pid", type=int, help="sample this process's RSS and CPU from /proc (the daemon)")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds before the RSS baseline (with --pid)")
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args()
    if args.jitter_ms * 1e-3 >= 1.0 / args.rate / args.speed:
        parser.error("--jitter-ms must be below the period")

    payloads = Payloads(args)
    ctx = zmq.Context()
    pub = ctx.socket(zmq.XPUB)
    pub.setsockopt(zmq.SNDHWM, 1_000_000)
    pub.bind(args.endpoint)
    collector = Collector(ctx, args.output, args.prefix)
    collector.start()
    topics = [args.prefix + "sensor/" + s for s in SENSORS] + args.also_wait
    if not wait_for_subscribers(pub, topics, args.subscribe_timeout):
        print(json.dumps({"error": "the daemon did not subscribe to %s within %.0f s" % (topics, args.subscribe_timeout)}))
        sys.exit(2)
    time.sleep(0.5)  # our own subscription to the daemon's outputs settles
    print("ready", file=sys.stderr, flush=True)

    start_ns = time.time_ns()
    events, sets = build_schedule(args, payloads, start_ns)
    sent_at, sent_messages, sent_bytes, in_flight_max = {}, 0, 0, 0
    began = time.monotonic()
    sampler = ProcessSampler(args.pid) if args.pid else None
    if sampler:
        sampler.start()
    for event in events:
        if args.max_in_flight > 0:
            while event.set_index is not None and collector.in_flight(event.set_index) >= args.max_in_flight:
                time.sleep(0.0005)
            in_flight_max = max(in_flight_max, collector.in_flight(event.set_index or 0))
        else:
            delay = began + event.wall - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        payload = event.payload if event.payload is not None else pack(payloads.message(event.sensor, event.stamp, event.seq))
        pub.send_multipart([event.topic.encode("utf-8", "surrogatepass"), payload])
        sent_messages += 1
        sent_bytes += len(payload)
        if event.good:
            sent_at[event.set_index] = time.monotonic()
        while pub.poll(0):  # drain subscription notices
            pub.recv()
    elapsed = time.monotonic() - began
    deadline = time.monotonic() + args.drain
    while time.monotonic() < deadline:
        time.sleep(0.05)
    collector.stopping = True
    collector.join(2)
    result = report(args, sets, sent_at, collector, sent_messages, sent_bytes, elapsed, in_flight_max)
    if sampler:
        sampler.stopping = True
        sampler.sample()
        result["process"] = sampler.summary(began, args.warmup)
    text = json.dumps(result)
    print(text, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    pub.close(linger=0)
    ctx.term()


if __name__ == "__main__":
    main()
