#!/usr/bin/env python3
"""A minimal downstream beam controller: subscribes to Foresight's `predict/beam` topic and
steers to the predicted best beam of the first horizon step (here it only prints the decision).

Usage: .venv/bin/python Tools/examples/beam_controller.py [ENDPOINT] [--prefix bs1/] [--count N] [--json]

ENDPOINT defaults to tcp://127.0.0.1:5601 (the daemon's output in launch/sim.yaml). Each
message is a two-frame ZeroMQ message: the topic, then a msgpack map (docs/protocol.md).
With --json, one JSON line per prediction is printed (used by the end-to-end tests).
"""
import argparse
import json
import sys

import msgpack
import zmq


def main():
    parser = argparse.ArgumentParser(description="Steer to Foresight's predicted beams.")
    parser.add_argument("endpoint", nargs="?", default="tcp://127.0.0.1:5601")
    parser.add_argument("--prefix", default="", help="site prefix of the daemon's output topics")
    parser.add_argument("--count", type=int, default=0, help="stop after N predictions (0: run until Ctrl-C)")
    parser.add_argument("--json", action="store_true", help="print one JSON line per prediction")
    args = parser.parse_args()

    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    topic = (args.prefix + "predict/beam").encode()
    sock.setsockopt(zmq.SUBSCRIBE, topic)
    sock.connect(args.endpoint)
    print("ready", flush=True)
    seen = 0
    try:
        while args.count == 0 or seen < args.count:
            frames = sock.recv_multipart()
            if len(frames) != 2 or frames[0] != topic:
                continue  # prefix subscriptions also deliver longer topics
            msg = msgpack.unpackb(frames[1], raw=False)
            best_now = msg["best"][0]
            if args.json:
                print(json.dumps({"stamp": msg["stamp"], "seq": msg["seq"], "model": msg["model"], "best": msg["best"],
                                  "topk": msg["topk"], "prob": msg["prob"], "horizon": msg["horizon"]}), flush=True)
            else:
                lead_ms = (msg["horizon"][0] - msg["stamp"]) / 1e6
                print(f"frame {msg['seq']}: steer to beam {best_now} (p={msg['prob'][0][0]:.2f}, +{lead_ms:.0f} ms); "
                      f"next steps {msg['best'][1:]} [{msg['model']}]", flush=True)
            seen += 1
    except KeyboardInterrupt:
        pass
    finally:
        sock.close(linger=0)
        ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
