#!/usr/bin/env python3
"""Publish wire-like MessagePack messages over ZeroMQ, for ForesightBag's record tests.

usage: mcap_pub.py ENDPOINT [--rate HZ] [--seconds S] [--payload BYTES] [--topics a,b]
Binds a PUB socket on ENDPOINT and sends 2-frame messages (topic, msgpack map with stamp, seq,
frame_id, data) round-robin over the topics at RATE messages per second for S seconds
(default: until killed). Prints the number of messages sent when it stops normally.
"""
import argparse
import os
import time

import msgpack
import zmq


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--seconds", type=float, default=0.0)
    ap.add_argument("--payload", type=int, default=10000)
    ap.add_argument("--topics", default="sensor/camera,sensor/gnss")
    args = ap.parse_args()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUB)
    sock.setsockopt(zmq.SNDHWM, 100000)
    sock.bind(args.endpoint)
    topics = [t.encode() for t in args.topics.split(",")]
    blob = os.urandom(args.payload // 2) * 2
    start = time.monotonic()
    seq = 0
    while args.seconds <= 0 or time.monotonic() - start < args.seconds:
        topic = topics[seq % len(topics)]
        msg = msgpack.packb({"stamp": time.time_ns(), "seq": seq, "frame_id": "test", "data": blob}, use_bin_type=True)
        sock.send_multipart([topic, msg])
        seq += 1
        due = start + seq / args.rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(seq)
    sock.close(linger=1000)
    ctx.term()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
