/// Appends MCAP primitive values (little-endian integers, length-prefixed strings, bytes, maps)
/// to a growable byte buffer. The buffer keeps its capacity across `reset()`.
struct ByteSink {
    /// The bytes written so far.
    var bytes: [UInt8]

    init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    var count: Int { bytes.count }

    mutating func reset() { bytes.removeAll(keepingCapacity: true) }

    mutating func u8(_ v: UInt8) { bytes.append(v) }

    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            u32(UInt32(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func raw(_ data: [UInt8]) { bytes.append(contentsOf: data) }

    mutating func raw(_ data: UnsafeRawBufferPointer) { bytes.append(contentsOf: data) }

    mutating func u32Bytes(_ data: [UInt8]) {
        u32(UInt32(data.count))
        bytes.append(contentsOf: data)
    }

    mutating func stringMap(_ map: [String: String]) {
        let start = beginLength32()
        for key in map.keys.sorted() {
            string(key)
            string(map[key] ?? "")
        }
        endLength32(start)
    }

    mutating func u16u64Map(_ map: [UInt16: UInt64]) {
        u32(UInt32(map.count * 10))
        for key in map.keys.sorted() {
            u16(key)
            u64(map[key] ?? 0)
        }
    }

    /// Reserves a uint32 length slot and returns its position.
    mutating func beginLength32() -> Int {
        let at = bytes.count
        u32(0)
        return at
    }

    /// Fills a slot reserved by `beginLength32` with the byte count written since.
    mutating func endLength32(_ at: Int) {
        patch32(at, UInt32(bytes.count - at - 4))
    }

    /// Starts a record: opcode plus a uint64 length slot; returns the slot position.
    mutating func beginRecord(_ op: Opcode) -> Int {
        bytes.append(op.rawValue)
        let at = bytes.count
        u64(0)
        return at
    }

    /// Fills the length slot of a record started with `beginRecord`.
    mutating func endRecord(_ at: Int) {
        let length = UInt64(bytes.count - at - 8)
        withUnsafeBytes(of: length.littleEndian) { src in
            for i in 0..<8 { bytes[at + i] = src[i] }
        }
    }

    private mutating func patch32(_ at: Int, _ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { src in
            for i in 0..<4 { bytes[at + i] = src[i] }
        }
    }
}

/// Reads MCAP primitive values from a byte range with bounds checks on every field.
///
/// Every read that would pass the end throws `BagError.truncated`; every length prefix is
/// checked against the bytes actually left, so corrupt lengths never cause big allocations.
struct ByteSource {
    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int
    /// File offset of `bytes[0]`, for error messages.
    let baseOffset: UInt64
    let what: String

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil, baseOffset: UInt64 = 0, what: String) {
        self.bytes = bytes
        self.position = start
        self.end = min(end ?? bytes.count, bytes.count)
        self.baseOffset = baseOffset
        self.what = what
    }

    var remaining: Int { end - position }

    var offset: UInt64 { baseOffset + UInt64(position) }

    private func need(_ n: Int) throws(BagError) {
        if n < 0 || n > remaining { throw .truncated(what: what, offset: offset) }
    }

    mutating func u8() throws(BagError) -> UInt8 {
        try need(1)
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16() throws(BagError) -> UInt16 {
        try need(2)
        defer { position += 2 }
        return UInt16(bytes[position]) | UInt16(bytes[position + 1]) << 8
    }

    mutating func u32() throws(BagError) -> UInt32 {
        try need(4)
        let v = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: UInt32.self) }
        position += 4
        return UInt32(littleEndian: v)
    }

    mutating func u64() throws(BagError) -> UInt64 {
        try need(8)
        let v = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: UInt64.self) }
        position += 8
        return UInt64(littleEndian: v)
    }

    mutating func bytes(count: Int) throws(BagError) -> [UInt8] {
        try need(count)
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }

    mutating func skip(_ count: Int) throws(BagError) {
        try need(count)
        position += count
    }

    /// A uint32-length-prefixed byte string.
    mutating func u32Bytes() throws(BagError) -> [UInt8] {
        let n = try u32()
        guard UInt64(n) <= UInt64(remaining) else {
            throw .absurdLength(what: "\(what) field", length: UInt64(n), limit: UInt64(remaining), offset: offset)
        }
        return try bytes(count: Int(n))
    }

    /// A uint64-length-prefixed byte string.
    mutating func u64Bytes() throws(BagError) -> [UInt8] {
        let n = try u64()
        guard n <= UInt64(remaining) else {
            throw .absurdLength(what: "\(what) field", length: n, limit: UInt64(remaining), offset: offset)
        }
        return try bytes(count: Int(n))
    }

    mutating func string() throws(BagError) -> String {
        let raw = try u32Bytes()
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw .malformed(what: "\(what): string is not valid UTF-8", offset: offset)
        }
        return s
    }

    mutating func stringMap() throws(BagError) -> [String: String] {
        let n = try u32()
        guard UInt64(n) <= UInt64(remaining) else {
            throw .absurdLength(what: "\(what) map", length: UInt64(n), limit: UInt64(remaining), offset: offset)
        }
        let stop = position + Int(n)
        var map: [String: String] = [:]
        while position < stop {
            let k = try string()
            let v = try string()
            map[k] = v
        }
        guard position == stop else { throw .malformed(what: "\(what): map length mismatch", offset: offset) }
        return map
    }

    mutating func u16u64Map() throws(BagError) -> [UInt16: UInt64] {
        let n = try u32()
        guard UInt64(n) <= UInt64(remaining), n % 10 == 0 else {
            throw .absurdLength(what: "\(what) map", length: UInt64(n), limit: UInt64(remaining), offset: offset)
        }
        var map: [UInt16: UInt64] = [:]
        map.reserveCapacity(Int(n) / 10)
        for _ in 0..<(Int(n) / 10) {
            let k = try u16()
            map[k] = try u64()
        }
        return map
    }
}

/// `withUnsafeBytes` that keeps the typed `BagError` (the standard one only rethrows `any Error`).
func withBytes<R>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(BagError) -> R) throws(BagError) -> R {
    let result: Result<R, BagError> = array.withUnsafeBytes { raw in
        do throws(BagError) { return .success(try body(raw)) } catch { return .failure(error) }
    }
    return try result.get()
}

/// Runs `body` on a sub-range of a buffer, keeping the typed `BagError`.
func withBytes<R>(_ array: [UInt8], count: Int, _ body: (UnsafeRawBufferPointer) throws(BagError) -> R) throws(BagError) -> R {
    try withBytes(array) { raw throws(BagError) in try body(UnsafeRawBufferPointer(rebasing: raw[0..<count])) }
}
