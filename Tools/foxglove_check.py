#!/usr/bin/env python3
"""Checks a bag written by `foresight bag export --foxglove` against Foxglove's own schema definitions.

For every channel whose schema is a Foxglove well-known type (`foxglove.X`), every message is
checked field by field against the protobuf descriptor of that type as shipped in the PyPI
package `foxglove-schemas-protobuf` (not a copy of our own):

  - every key is a field of the type; every field that is not `optional` is present;
  - doubles/floats are JSON numbers, fixed32/uint32 non-negative integers, strings strings,
    booleans booleans, bytes base64 strings that decode, enums integers among the enum's values,
    repeated fields lists, nested messages objects (recursively);
  - google.protobuf.Timestamp/Duration are {sec, nsec} with 0 <= nsec < 1e9 (Foxglove's JSON time);
  - the channel's message encoding is `json`, its schema encoding `jsonschema`, and the embedded
    JSON Schema names the same required properties as the descriptor;
  - a `foxglove.RawImage` has an encoding Foxglove's Image panel decodes (rgb8, bgr8, mono8, …),
    a step of at least width × bytes per pixel and exactly step × height bytes of data;
  - every topic carries one schema (a panel decodes a topic as one type).

Every other JSON channel is validated against its embedded JSON Schema with the `jsonschema` package.
Prints a JSON summary; exit status 1 when anything fails.

    Tools/foxglove_check.py drive-foxglove.mcap
"""
import base64
import binascii
import importlib
import json
import sys

import jsonschema
from google.protobuf.descriptor import FieldDescriptor as F
from mcap.reader import make_reader

NUMBER = {F.TYPE_DOUBLE, F.TYPE_FLOAT}
UNSIGNED = {F.TYPE_FIXED32, F.TYPE_UINT32, F.TYPE_FIXED64, F.TYPE_UINT64}
SIGNED = {F.TYPE_INT32, F.TYPE_INT64, F.TYPE_SINT32, F.TYPE_SINT64, F.TYPE_SFIXED32, F.TYPE_SFIXED64}


def descriptor(full_name):
    name = full_name.split(".", 1)[1]
    module = importlib.import_module("foxglove_schemas_protobuf.%s_pb2" % name)
    return getattr(module, name).DESCRIPTOR


def is_repeated(field):
    if hasattr(field, "is_repeated"):
        return field.is_repeated
    return field.label == F.LABEL_REPEATED


def required_fields(desc):
    return {f.name for f in desc.fields if f.containing_oneof is None}


def check_scalar(field, value, path, errors):
    t = field.type
    if t in NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.append("%s: expected a number, got %r" % (path, type(value).__name__))
    elif t in UNSIGNED:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value >= 2 ** (32 if t in (F.TYPE_FIXED32, F.TYPE_UINT32) else 64):
            errors.append("%s: expected an unsigned integer, got %r" % (path, value))
    elif t in SIGNED:
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append("%s: expected an integer, got %r" % (path, value))
    elif t == F.TYPE_BOOL:
        if not isinstance(value, bool):
            errors.append("%s: expected a boolean, got %r" % (path, value))
    elif t == F.TYPE_STRING:
        if not isinstance(value, str):
            errors.append("%s: expected a string, got %r" % (path, type(value).__name__))
    elif t == F.TYPE_BYTES:
        if not isinstance(value, str):
            errors.append("%s: bytes must be a base64 string, got %r" % (path, type(value).__name__))
        else:
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError) as e:
                errors.append("%s: not valid base64 (%s)" % (path, e))
    elif t == F.TYPE_ENUM:
        allowed = {v.number for v in field.enum_type.values}
        names = {v.name for v in field.enum_type.values}
        if not ((isinstance(value, int) and not isinstance(value, bool) and value in allowed) or value in names):
            errors.append("%s: %r is not a value of %s %s" % (path, value, field.enum_type.full_name, sorted(allowed)))
    else:
        errors.append("%s: unexpected field type %d" % (path, t))


def check_message(desc, obj, path, errors):
    if not isinstance(obj, dict):
        errors.append("%s: expected an object for %s" % (path, desc.full_name))
        return
    if desc.full_name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
        if set(obj) != {"sec", "nsec"}:
            errors.append("%s: time must be {sec, nsec}, got keys %s" % (path, sorted(obj)))
            return
        for k in ("sec", "nsec"):
            if isinstance(obj[k], bool) or not isinstance(obj[k], int) or obj[k] < 0:
                errors.append("%s.%s: expected a non-negative integer" % (path, k))
        if isinstance(obj.get("nsec"), int) and obj["nsec"] >= 1_000_000_000:
            errors.append("%s.nsec: %d is not below 1e9" % (path, obj["nsec"]))
        return
    fields = {f.name: f for f in desc.fields}
    for key in obj:
        if key not in fields:
            errors.append("%s: %s has no field %r" % (path, desc.full_name, key))
    for name in required_fields(desc):
        if name not in obj:
            errors.append("%s: required field %r of %s is missing" % (path, name, desc.full_name))
    for key, value in obj.items():
        field = fields.get(key)
        if field is None:
            continue
        values = value if is_repeated(field) else [value]
        if is_repeated(field) and not isinstance(value, list):
            errors.append("%s.%s: expected a list" % (path, key))
            continue
        for i, v in enumerate(values):
            p = "%s.%s" % (path, key) + ("[%d]" % i if is_repeated(field) else "")
            if field.type == F.TYPE_MESSAGE:
                check_message(field.message_type, v, p, errors)
            else:
                check_scalar(field, v, p, errors)


# foxglove.RawImage encodings Foxglove's Image panel decodes, with bytes per pixel (packed YUV 4:2:2
# averages 2; Bayer patterns are one byte per pixel).
RAW_ENCODINGS = {"rgb8": 3, "rgba8": 4, "bgr8": 3, "bgra8": 4, "mono8": 1, "8UC1": 1, "8UC3": 3, "mono16": 2,
                 "16UC1": 2, "32FC1": 4, "yuv422": 2, "uyvy": 2, "yuyv": 2, "yuv422_yuy2": 2,
                 "bayer_rggb8": 1, "bayer_bggr8": 1, "bayer_gbrg8": 1, "bayer_grbg8": 1}


def check_raw_image(obj, where, errors):
    """A foxglove.RawImage the Image panel can draw: a known encoding, a step of at least
    width × bytes per pixel, and exactly step × height bytes of data."""
    try:
        width, height, step, encoding = obj["width"], obj["height"], obj["step"], obj["encoding"]
        data = base64.b64decode(obj["data"], validate=True)
    except (KeyError, TypeError, binascii.Error, ValueError):
        return  # reported by the field checks
    bpp = RAW_ENCODINGS.get(encoding)
    if bpp is None:
        errors.append("%s: RawImage encoding %r is not one Foxglove decodes (%s)" % (where, encoding, sorted(RAW_ENCODINGS)))
        return
    if width < 1 or height < 1:
        errors.append("%s: RawImage of %d×%d pixels" % (where, width, height))
    if step < width * bpp:
        errors.append("%s: step %d is less than width %d × %d bytes (%s)" % (where, step, width, bpp, encoding))
    if len(data) != step * height:
        errors.append("%s: %d data bytes, step × height is %d" % (where, len(data), step * height))


def schema_required(schema):
    return set(schema.get("required", []))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    errors = []
    counts = {}
    schemas_checked = set()
    validators = {}
    topic_schemas = {}
    raw_images = {}
    with open(path, "rb") as f:
        reader = make_reader(f, validate_crcs=True)
        for schema, channel, message in reader.iter_messages():
            topic = channel.topic
            name = schema.name if schema else ""
            # One topic, one schema: Foxglove panels pick a topic and decode it as one type.
            if channel.message_encoding == "json" and topic_schemas.setdefault(topic, name) != name:
                errors.append("%s: messages with schema %s and %s on one topic" % (topic, topic_schemas[topic], name))
            counts.setdefault(topic, {"schema": name, "encoding": channel.message_encoding, "messages": 0})
            counts[topic]["messages"] += 1
            if channel.message_encoding != "json":
                continue  # msgpack originals kept with --keep-original
            if schema is None or schema.encoding != "jsonschema":
                errors.append("%s: a JSON channel needs a jsonschema schema" % topic)
                continue
            where = "%s@%d" % (topic, message.log_time)
            try:
                obj = json.loads(message.data)
            except ValueError as e:
                errors.append("%s: not JSON (%s)" % (where, e))
                continue
            key = (schema.id, topic)
            if key not in validators:
                embedded = json.loads(schema.data)
                validators[key] = jsonschema.Draft202012Validator(embedded)
                if name.startswith("foxglove."):
                    desc = descriptor(name)
                    if schema_required(embedded) != required_fields(desc):
                        errors.append("%s: embedded schema requires %s, the descriptor %s"
                                      % (topic, sorted(schema_required(embedded)), sorted(required_fields(desc))))
                    schemas_checked.add(name)
            for e in list(validators[key].iter_errors(obj))[:3]:
                errors.append("%s: embedded JSON Schema: %s at %s" % (where, e.message[:200], list(e.absolute_path)))
            if name.startswith("foxglove."):
                check_message(descriptor(name), obj, where, errors)
            if name == "foxglove.RawImage":
                check_raw_image(obj, where, errors)
                key = "%s %s" % (topic, obj.get("encoding"))
                raw_images[key] = raw_images.get(key, 0) + 1
    print(json.dumps({"topics": counts, "foxglove_schemas_checked": sorted(schemas_checked), "raw_images": raw_images,
                      "errors": errors[:50], "error_count": len(errors)}, indent=1))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
