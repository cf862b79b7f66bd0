/// Reads and rewrites the `stamp` and `seq` entries of a wire message without decoding it.
///
/// Foresight wire messages are MessagePack maps whose top level holds `stamp` (int, ns since
/// the epoch) and `seq` (uint). Recording needs them for MCAP `publish_time`/`sequence`, and
/// replay rewrites `stamp` for `--restamp`/`--loop`; both must be fast on multi-megabyte
/// payloads, so this walks the top-level keys and skips values (binary blobs in O(1)).
public enum PayloadHeader {
    /// Nesting deeper than this is treated as malformed (protects the skipper's recursion).
    static let maxDepth = 32

    /// The `stamp` and `seq` of a payload, or nil if it is not a map holding an integer `stamp`.
    /// A missing or non-integer `seq` reads as 0.
    public static func peek(_ payload: [UInt8]) -> (stamp: Int64, seq: UInt32)? {
        payload.withUnsafeBytes { raw in
            guard let location = locate(raw) else { return nil }
            var seq: UInt32 = 0
            if let s = location.seq, let v = readInt(raw, at: s.lowerBound) { seq = UInt32(truncatingIfNeeded: v) }
            guard let stampValue = readInt(raw, at: location.stamp.lowerBound) else { return nil }
            return (stampValue, seq)
        }
    }

    /// A copy of `payload` whose `stamp` is `newStamp` (written as int64), or nil if the payload
    /// has no integer `stamp`. Every other byte is kept.
    public static func restamped(_ payload: [UInt8], stamp newStamp: Int64) -> [UInt8]? {
        let found: Range<Int>? = payload.withUnsafeBytes { raw in
            guard let location = locate(raw), readInt(raw, at: location.stamp.lowerBound) != nil else { return nil }
            return location.stamp
        }
        guard let range = found else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(payload.count + 9)
        out.append(contentsOf: payload[0..<range.lowerBound])
        out.append(0xD3)
        withUnsafeBytes(of: newStamp.bigEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: payload[range.upperBound...])
        return out
    }

    /// Byte ranges of the `stamp` and `seq` values in the top-level map.
    private static func locate(_ raw: UnsafeRawBufferPointer) -> (stamp: Range<Int>, seq: Range<Int>?)? {
        var pos = 0
        guard let count = mapCount(raw, &pos) else { return nil }
        var stamp: Range<Int>?
        var seq: Range<Int>?
        for _ in 0..<count {
            let key = keyName(raw, &pos)
            let valueStart = pos
            guard skip(raw, &pos, depth: 0) else { return nil }
            if key == 1 { stamp = valueStart..<pos }
            if key == 2 { seq = valueStart..<pos }
            if stamp != nil && seq != nil { break }
        }
        guard let stamp else { return nil }
        return (stamp, seq)
    }

    private static func byte(_ raw: UnsafeRawBufferPointer, _ at: Int) -> UInt8? {
        at >= 0 && at < raw.count ? raw[at] : nil
    }

    private static func bigEndian(_ raw: UnsafeRawBufferPointer, _ at: Int, _ width: Int) -> UInt64? {
        guard at >= 0, width <= 8, at + width <= raw.count else { return nil }
        var v: UInt64 = 0
        for i in 0..<width { v = v << 8 | UInt64(raw[at + i]) }
        return v
    }

    private static func mapCount(_ raw: UnsafeRawBufferPointer, _ pos: inout Int) -> Int? {
        guard let b = byte(raw, pos) else { return nil }
        switch b {
        case 0x80...0x8F: pos += 1; return Int(b & 0x0F)
        case 0xDE: guard let n = bigEndian(raw, pos + 1, 2) else { return nil }; pos += 3; return Int(n)
        case 0xDF: guard let n = bigEndian(raw, pos + 1, 4) else { return nil }; pos += 5; return Int(n)
        default: return nil
        }
    }

    /// Reads a key; returns 1 for "stamp", 2 for "seq", 0 for anything else (skipped). On a
    /// malformed key, moves `pos` past the end so the caller's skip fails.
    private static func keyName(_ raw: UnsafeRawBufferPointer, _ pos: inout Int) -> Int {
        guard let b = byte(raw, pos) else { return 0 }
        var length = -1
        var start = pos
        switch b {
        case 0xA0...0xBF: length = Int(b & 0x1F); start = pos + 1
        case 0xD9: if let n = bigEndian(raw, pos + 1, 1) { length = Int(n); start = pos + 2 }
        default: break
        }
        guard length >= 0, start + length <= raw.count else {
            _ = skip(raw, &pos, depth: 0)
            return 0
        }
        pos = start + length
        if length == 5, raw[start] == 0x73, raw[start + 1] == 0x74, raw[start + 2] == 0x61, raw[start + 3] == 0x6D,
           raw[start + 4] == 0x70 { return 1 }  // "stamp"
        if length == 3, raw[start] == 0x73, raw[start + 1] == 0x65, raw[start + 2] == 0x71 { return 2 }  // "seq"
        return 0
    }

    private static func readInt(_ raw: UnsafeRawBufferPointer, at pos: Int) -> Int64? {
        guard let b = byte(raw, pos) else { return nil }
        switch b {
        case 0x00...0x7F: return Int64(b)
        case 0xE0...0xFF: return Int64(Int8(bitPattern: b))
        case 0xCC: return bigEndian(raw, pos + 1, 1).map { Int64($0) }
        case 0xCD: return bigEndian(raw, pos + 1, 2).map { Int64($0) }
        case 0xCE: return bigEndian(raw, pos + 1, 4).map { Int64($0) }
        case 0xCF: return bigEndian(raw, pos + 1, 8).flatMap { $0 <= UInt64(Int64.max) ? Int64($0) : nil }
        case 0xD0: return bigEndian(raw, pos + 1, 1).map { Int64(Int8(truncatingIfNeeded: $0)) }
        case 0xD1: return bigEndian(raw, pos + 1, 2).map { Int64(Int16(truncatingIfNeeded: $0)) }
        case 0xD2: return bigEndian(raw, pos + 1, 4).map { Int64(Int32(truncatingIfNeeded: $0)) }
        case 0xD3: return bigEndian(raw, pos + 1, 8).map { Int64(bitPattern: $0) }
        default: return nil
        }
    }

    /// Skips one MessagePack value; false if it is malformed or runs past the end.
    private static func skip(_ raw: UnsafeRawBufferPointer, _ pos: inout Int, depth: Int) -> Bool {
        guard depth < maxDepth, let b = byte(raw, pos) else { return false }
        var items = 0  // nested values that follow (arrays count 1 per element, maps 2 per entry)
        var advance = 1
        switch b {
        case 0x00...0x7F, 0xE0...0xFF, 0xC0, 0xC2, 0xC3: advance = 1
        case 0x80...0x8F: items = Int(b & 0x0F) * 2
        case 0x90...0x9F: items = Int(b & 0x0F)
        case 0xA0...0xBF: advance = 1 + Int(b & 0x1F)
        case 0xCC, 0xD0: advance = 2
        case 0xCD, 0xD1: advance = 3
        case 0xCE, 0xD2, 0xCA: advance = 5
        case 0xCF, 0xD3, 0xCB: advance = 9
        case 0xD4: advance = 3
        case 0xD5: advance = 4
        case 0xD6: advance = 6
        case 0xD7: advance = 10
        case 0xD8: advance = 18
        case 0xC4, 0xD9: guard let n = bigEndian(raw, pos + 1, 1) else { return false }; advance = 2 + Int(n)
        case 0xC5, 0xDA: guard let n = bigEndian(raw, pos + 1, 2) else { return false }; advance = 3 + Int(n)
        case 0xC6, 0xDB: guard let n = bigEndian(raw, pos + 1, 4) else { return false }; advance = 5 + Int(n)
        case 0xC7: guard let n = bigEndian(raw, pos + 1, 1) else { return false }; advance = 3 + Int(n)
        case 0xC8: guard let n = bigEndian(raw, pos + 1, 2) else { return false }; advance = 4 + Int(n)
        case 0xC9: guard let n = bigEndian(raw, pos + 1, 4) else { return false }; advance = 6 + Int(n)
        case 0xDC: guard let n = bigEndian(raw, pos + 1, 2) else { return false }; advance = 3; items = Int(n)
        case 0xDD: guard let n = bigEndian(raw, pos + 1, 4) else { return false }; advance = 5; items = Int(n)
        case 0xDE: guard let n = bigEndian(raw, pos + 1, 2) else { return false }; advance = 3; items = Int(n) * 2
        case 0xDF: guard let n = bigEndian(raw, pos + 1, 4) else { return false }; advance = 5; items = Int(n) * 2
        default: return false  // 0xC1 is never used
        }
        guard pos + advance <= raw.count else { return false }
        pos += advance
        // Each nested value takes at least one byte: reject counts larger than what is left.
        guard items <= raw.count - pos else { return false }
        for _ in 0..<items where !skip(raw, &pos, depth: depth + 1) { return false }
        return true
    }
}
