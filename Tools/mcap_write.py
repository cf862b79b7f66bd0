#!/usr/bin/env python3
"""Write an MCAP file with the official Python `mcap` writer, for ForesightBag's reader tests.

usage: mcap_write.py OUT.mcap COMPRESSION(zstd|lz4|none) [--unchunked]
Writes two topics (msgpack, jsonschema), an attachment and a metadata record between messages,
and prints JSON [[topic, log_time, publish_time, sequence, sha256], ...] of what it wrote,
in write order.
"""
import hashlib
import json
import sys

from mcap.writer import CompressionType, Writer


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, comp = sys.argv[1], sys.argv[2]
    unchunked = "--unchunked" in sys.argv[3:]
    compression = {"zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4, "none": CompressionType.NONE}[comp]
    written = []
    with open(path, "wb") as f:
        writer = Writer(f, chunk_size=2000, compression=compression, use_chunking=not unchunked)
        writer.start(profile="", library="python-mcap-test")
        s1 = writer.register_schema(name="GnssFix", encoding="jsonschema", data=b'{"type":"object"}')
        s2 = writer.register_schema(name="Image", encoding="jsonschema", data=b'{"type":"object","title":"img"}')
        c1 = writer.register_channel(topic="sensor/gnss", message_encoding="msgpack", schema_id=s1)
        c2 = writer.register_channel(topic="sensor/camera", message_encoding="msgpack", schema_id=s2,
                                     metadata={"k": "v"})
        for i in range(50):
            t = 1_700_000_000_000_000_000 + i * 10_000_000
            channel, topic = (c1, "sensor/gnss") if i % 3 else (c2, "sensor/camera")
            data = bytes((i * 7 + j) % 256 for j in range(20 + (i % 5) * 100))
            writer.add_message(channel_id=channel, log_time=t, publish_time=t - 1000, data=data, sequence=i)
            written.append([topic, t, t - 1000, i, hashlib.sha256(data).hexdigest()])
            if i == 20:
                writer.add_attachment(log_time=t, create_time=t, name="calib.yaml", media_type="text/yaml",
                                      data=b"fx: 1.0\n" * 30)
                writer.add_metadata(name="session", data={"site": "test", "operator": "ci"})
        writer.finish()
    json.dump(written, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
