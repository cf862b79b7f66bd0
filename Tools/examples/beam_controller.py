#!/usr/bin/env python3
"""A minimal downstream beam controller: subscribes to Foresight's `predict/beam` topic and
steers to the predicted best beam of the first horizon step (here it only prints the decision).

Usage: .venv/bin/python Tools/examples/beam_controller.py [ENDPOINT] [--prefix bs1/] [--count N] [--json]
                                                           [--curve-secret-key NAME.key_secret --curve-server-key DAEMON.key]

ENDPOINT defaults to tcp://127.0.0.1:5601 (the daemon's output in launch/sim.yaml). Each
message is a two-frame ZeroMQ message: the topic, then a msgpack map (docs/protocol.md).
With --json, one JSON line per prediction is printed (used by the end-to-end tests).

With CURVE (docs/security.md) the controller is a CURVE client: it proves itself with its own key
pair (its public NAME.key must be in the daemon's `output.security.curve.allowed_clients` folder)
and talks only to the daemon whose public certificate it is given. The certificates are the
ZeroMQ files that `foresight keygen` and `zmq.auth.create_certificates` write.
"""
import argparse
import json
import signal
import sys

import msgpack
import zmq
import zmq.auth


def main():
    # A launcher may hand us a signal mask that blocks SIGTERM/SIGINT; make sure they stop us.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    parser = argparse.ArgumentParser(description="Steer to Foresight's predicted beams.")
    parser.add_argument("endpoint", nargs="?", default="tcp://127.0.0.1:5601")
    parser.add_argument("--prefix", default="", help="site prefix of the daemon's output topics")
    parser.add_argument("--count", type=int, default=0, help="stop after N predictions (0: run until Ctrl-C)")
    parser.add_argument("--json", action="store_true", help="print one JSON line per prediction")
    parser.add_argument("--curve-secret-key", help="this controller's key pair (NAME.key_secret): turns CURVE on")
    parser.add_argument("--curve-server-key", help="the daemon's public certificate (DAEMON.key)")
    args = parser.parse_args()
    if bool(args.curve_secret_key) != bool(args.curve_server_key):
        parser.error("--curve-secret-key and --curve-server-key go together")

    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    if args.curve_secret_key:
        public, secret = zmq.auth.load_certificate(args.curve_secret_key)
        if secret is None:
            parser.error(f"{args.curve_secret_key} holds no secret key (give NAME.key_secret)")
        server_public, _ = zmq.auth.load_certificate(args.curve_server_key)
        sock.curve_publickey = public
        sock.curve_secretkey = secret
        sock.curve_serverkey = server_public
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
