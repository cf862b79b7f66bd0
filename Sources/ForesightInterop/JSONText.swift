import Foundation
import ForesightWire

/// A small JSON text writer appending UTF-8 to a byte buffer (no intermediate objects), for
/// messages that may carry megabytes of base64.
struct JSONText {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func rawString(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// A JSON string literal with the required escapes.
    mutating func string(_ text: String) {
        bytes.append(0x22)
        for b in text.utf8 {
            switch b {
            case 0x22: bytes += [0x5C, 0x22]
            case 0x5C: bytes += [0x5C, 0x5C]
            case 0x0A: bytes += [0x5C, 0x6E]
            case 0x0D: bytes += [0x5C, 0x72]
            case 0x09: bytes += [0x5C, 0x74]
            case 0..<0x20: bytes += Array(String(format: "\\u%04x", b).utf8)
            default: bytes.append(b)
            }
        }
        bytes.append(0x22)
    }

    /// A number; JSON has no NaN or infinity, so those are written as `fallback`.
    mutating func number(_ value: Double, fallback: Double = 0) {
        let v = value.isFinite ? value : fallback
        if v == v.rounded(), abs(v) < 1e15 { rawString(String(Int64(v))) } else { rawString("\(v)") }
    }

    mutating func integer(_ value: Int64) { rawString(String(value)) }

    mutating func bool(_ value: Bool) { rawString(value ? "true" : "false") }

    /// Bytes as a base64 string (the Foxglove JSON encoding of `bytes` fields).
    mutating func base64(_ data: some Collection<UInt8>) {
        bytes.append(0x22)
        bytes.append(contentsOf: Data(data).base64EncodedData())
        bytes.append(0x22)
    }

    /// `{"sec": …, "nsec": …}` of a nanosecond stamp (Foxglove's JSON time).
    mutating func time(_ stamp: Int64) {
        let (sec, nsec) = stamp.quotientAndRemainder(dividingBy: 1_000_000_000)
        let fixed = nsec < 0 ? (sec - 1, nsec + 1_000_000_000) : (sec, nsec)
        rawString("{\"sec\":\(fixed.0),\"nsec\":\(fixed.1)}")
    }

    /// Writes `"key":` (with a leading comma unless `first`).
    mutating func key(_ name: StaticString, first: Bool = false) {
        if !first { bytes.append(0x2C) }
        bytes.append(0x22)
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes += [0x22, 0x3A]
    }

    /// A MessagePack value as JSON: maps → objects, `bin` → base64 strings, NaN/∞ → null.
    mutating func value(_ v: MessagePackValue) {
        switch v {
        case .null: raw("null")
        case .bool(let b): bool(b)
        case .int(let i): integer(i)
        case .uint(let u): rawString(String(u))
        case .float32(let f): if f.isFinite { rawString("\(Double(f))") } else { raw("null") }
        case .float64(let d): if d.isFinite { rawString("\(d)") } else { raw("null") }
        case .string(let s): string(s)
        case .binary(let b): base64(b)
        case .array(let items):
            bytes.append(0x5B)
            for (i, item) in items.enumerated() {
                if i > 0 { bytes.append(0x2C) }
                value(item)
            }
            bytes.append(0x5D)
        case .map(let pairs):
            bytes.append(0x7B)
            for (i, pair) in pairs.enumerated() {
                if i > 0 { bytes.append(0x2C) }
                string(pair.key)
                bytes.append(0x3A)
                value(pair.value)
            }
            bytes.append(0x7D)
        case .ext:
            raw("null")
        }
    }
}
