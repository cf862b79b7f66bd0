#!/usr/bin/env python3
"""Write every variant of the official Python `mcap` Writer's options, for ForesightBag's reader tests.

usage: mcap_sweep.py OUT_DIR

The sweep (1,008 files): use_chunking (unchunked, or chunked with compression none/zstd/lz4 and
chunk size 64 B / 1 MiB) × index_types (all/none/chunk) × use_statistics × repeat_channels
(= repeat_schemas) × use_summary_offsets × six inputs: no messages, one message, ten messages on
two channels, a schemaless channel, one attachment, one metadata record (each input but the
schemaless one has a `sensor/gnss` channel; "no messages" registers it without writing to it,
the attachment and metadata inputs write one message beside their record).

Writes OUT_DIR/manifest.json: one entry per file with what was written — the topics and their
message counts, the messages in write order ([topic, log_time, sha256]), attachments and metadata
counts — taken from the inputs, not from reading the files back (the Python reader itself fails on
some of them).
"""
import hashlib
import itertools
import json
import os
import sys

from mcap.writer import CompressionType, IndexType, Writer

BASE = 1_700_000_000_000_000_000


def write_input(writer: Writer, kind: str) -> dict:
    """Writes one of the six inputs; returns what a reader must find."""
    messages = []
    topics = {}
    attachments = 0
    metadata = 0

    def add(channel: int, topic: str, t: int, data: bytes, seq: int) -> None:
        writer.add_message(channel_id=channel, log_time=t, publish_time=t - 1000, data=data, sequence=seq)
        messages.append([topic, t, hashlib.sha256(data).hexdigest()])
        topics[topic] = topics.get(topic, 0) + 1

    def gnss_channel() -> int:
        s = writer.register_schema(name="foresight.GnssFix", encoding="jsonschema", data=b'{"type":"object"}')
        return writer.register_channel(topic="sensor/gnss", message_encoding="msgpack", schema_id=s)

    if kind == "empty":
        # A channel is registered but carries no message: it must be listed with count 0.
        gnss_channel()
        topics["sensor/gnss"] = 0
    elif kind == "one":
        add(gnss_channel(), "sensor/gnss", BASE, b"\x81\xa5stamp\x01", 0)
    elif kind == "ten":
        s1 = writer.register_schema(name="foresight.GnssFix", encoding="jsonschema", data=b'{"type":"object"}')
        s2 = writer.register_schema(name="foresight.Image", encoding="jsonschema", data=b'{"title":"img"}')
        c1 = writer.register_channel(topic="sensor/gnss", message_encoding="msgpack", schema_id=s1)
        c2 = writer.register_channel(topic="sensor/camera", message_encoding="msgpack", schema_id=s2,
                                     metadata={"frame": "cam0"})
        for i in range(10):
            channel, topic = (c1, "sensor/gnss") if i % 2 else (c2, "sensor/camera")
            add(channel, topic, BASE + i * 10_000_000, bytes((i * 7 + j) % 256 for j in range(20 + i * 30)), i)
    elif kind == "schemaless":
        c = writer.register_channel(topic="raw/bytes", message_encoding="application/octet-stream", schema_id=0)
        for i in range(3):
            add(c, "raw/bytes", BASE + i * 1_000_000, bytes([i]) * (5 + i), i)
    elif kind == "attachment":
        # One message beside the attachment, so the topic table has a row to lose.
        add(gnss_channel(), "sensor/gnss", BASE, b"\x81\xa5stamp\x02", 0)
        writer.add_attachment(log_time=BASE, create_time=BASE, name="calib.yaml", media_type="text/yaml",
                              data=b"fx: 1.0\n" * 30)
        attachments = 1
    elif kind == "metadata":
        add(gnss_channel(), "sensor/gnss", BASE, b"\x81\xa5stamp\x03", 0)
        writer.add_metadata(name="rig", data={"site": "bs1", "operator": "test"})
        metadata = 1
    else:
        raise ValueError(kind)
    return {"topics": topics, "messages": messages, "attachments": attachments, "metadata": metadata}


def variants():
    chunking = [(False, CompressionType.NONE, 0)] + [
        (True, comp, size)
        for comp in (CompressionType.NONE, CompressionType.ZSTD, CompressionType.LZ4)
        for size in (64, 1 << 20)
    ]
    index_types = {"all": IndexType.ALL, "none": IndexType.NONE, "chunk": IndexType.CHUNK}
    inputs = ["empty", "one", "ten", "schemaless", "attachment", "metadata"]
    for (chunked, comp, size), index, stats, repeat, offsets, kind in itertools.product(
            chunking, index_types, (True, False), (True, False), (True, False), inputs):
        name = "_".join([
            f"chunk-{comp.name.lower()}-{size}" if chunked else "unchunked",
            f"index-{index}", "stats" if stats else "nostats", "repeat" if repeat else "norepeat",
            "offsets" if offsets else "nooffsets", kind])
        options = dict(use_chunking=chunked, compression=comp, chunk_size=size or 1 << 20,
                       index_types=index_types[index], use_statistics=stats, repeat_channels=repeat,
                       repeat_schemas=repeat, use_summary_offsets=offsets)
        yield name, options, kind


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    manifest = []
    for name, options, kind in variants():
        path = os.path.join(out, name + ".mcap")
        with open(path, "wb") as f:
            writer = Writer(f, **options)
            writer.start(profile="", library="python-mcap-sweep")
            expected = write_input(writer, kind)
            writer.finish()
        if kind == "empty" and options["use_chunking"] and not options["repeat_channels"]:
            # The Python writer keeps schema and channel records in the open chunk and never writes
            # a chunk without messages; with repeat_channels off they are then nowhere in the file.
            expected["topics"] = {}
        manifest.append({"file": name + ".mcap", "input": kind, **expected})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f)
        f.write("\n")
    print(f"wrote {len(manifest)} files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
