#!/usr/bin/env python3
"""Read an MCAP file with the official Python `mcap` reader and print JSON describing it.

Used by ForesightBag's interoperability tests as the oracle. Reads the file twice:
  - with the seeking reader (summary, chunk indexes, log-time order), validating chunk CRCs;
  - with the stream reader (linear scan), validating chunk and data-section CRCs.
Output: {"summary": {...}, "messages": [[topic, log_time, publish_time, sequence, sha256], ...],
         "stream_count": N, "compressions": [...]}
Exits 1 with a message on stderr if the reader rejects the file.
"""
import hashlib
import json
import sys

from mcap.reader import make_reader, NonSeekingReader
from mcap.records import Chunk


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: mcap_check.py FILE.mcap", file=sys.stderr)
        return 2
    path = sys.argv[1]
    try:
        with open(path, "rb") as f:
            reader = make_reader(f, validate_crcs=True)
            summary = reader.get_summary()
            if summary is None:
                print("no summary", file=sys.stderr)
                return 1
            stats = summary.statistics
            out = {
                "summary": {
                    "schemas": {str(k): {"name": s.name, "encoding": s.encoding, "data": s.data.decode("utf-8", "replace")}
                                for k, s in summary.schemas.items()},
                    "channels": {str(k): {"topic": c.topic, "message_encoding": c.message_encoding, "schema_id": c.schema_id}
                                 for k, c in summary.channels.items()},
                    "chunk_indexes": len(summary.chunk_indexes),
                    "statistics": None if stats is None else {
                        "message_count": stats.message_count,
                        "channel_message_counts": {str(k): v for k, v in stats.channel_message_counts.items()},
                        "message_start_time": stats.message_start_time,
                        "message_end_time": stats.message_end_time,
                        "chunk_count": stats.chunk_count,
                    },
                },
                "messages": [],
            }
            for schema, channel, message in reader.iter_messages(log_time_order=True):
                out["messages"].append([channel.topic, message.log_time, message.publish_time, message.sequence,
                                        hashlib.sha256(message.data).hexdigest()])
        with open(path, "rb") as f:
            stream = NonSeekingReader(f, validate_crcs=True)
            out["stream_count"] = sum(1 for _ in stream.iter_messages())
        with open(path, "rb") as f:
            from mcap.stream_reader import StreamReader
            comps = set()
            for record in StreamReader(f, emit_chunks=True, validate_crcs=True).records:
                if isinstance(record, Chunk):
                    comps.add(record.compression)
            out["compressions"] = sorted(comps)
    except Exception as exc:  # the oracle reports any rejection as a failure
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
