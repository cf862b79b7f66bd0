/// Bounds that keep a reader's memory use finite whatever a (corrupt) file claims.
public struct BagReaderLimits: Sendable {
    /// Largest record (including a whole compressed chunk) read into memory.
    public var maxRecordSize: UInt64
    /// Largest uncompressed chunk accepted.
    public var maxChunkSize: UInt64
    /// Largest summary section read at once.
    public var maxSummarySize: UInt64

    /// Limits with the given values (defaults: 1 GiB records and chunks, 512 MiB summary).
    public init(maxRecordSize: UInt64 = 1 << 30, maxChunkSize: UInt64 = 1 << 30, maxSummarySize: UInt64 = 512 << 20) {
        self.maxRecordSize = maxRecordSize
        self.maxChunkSize = maxChunkSize
        self.maxSummarySize = maxSummarySize
    }
}

/// One record read from a file: opcode, file offset of the opcode byte, and its content.
struct RawRecord {
    var opcode: UInt8
    var offset: UInt64
    var content: [UInt8]
    /// Opcode + length + content.
    var totalLength: UInt64 { 9 + UInt64(content.count) }
}

/// Reads records one by one from a file, front to back, checking every length against the
/// bytes left in the file and against the limits before allocating.
struct RecordScanner {
    let file: FileInput
    let limits: BagReaderLimits
    private(set) var position: UInt64

    init(file: FileInput, limits: BagReaderLimits, from position: UInt64 = UInt64(mcapMagic.count)) {
        self.file = file
        self.limits = limits
        self.position = position
    }

    /// The next record, or nil when the file ends exactly at a record boundary.
    /// Throws `truncated` if a record is cut off and `absurdLength` if its length is implausible.
    mutating func next() throws(BagError) -> RawRecord? {
        if position == file.size { return nil }
        let head = try file.read(at: position, count: 9, what: "record header")
        let op = head[0]
        var src = ByteSource(head, from: 1, baseOffset: position, what: "record header")
        let length = try src.u64()
        guard op != 0 else { throw .malformed(what: "record with opcode 0", offset: position) }
        let left = file.size - position - 9
        guard length <= left else {
            if length > limits.maxRecordSize && length > file.size {
                throw .absurdLength(what: "record 0x\(String(op, radix: 16))", length: length, limit: left, offset: position)
            }
            throw .truncated(what: "record 0x\(String(op, radix: 16)) of \(length) bytes", offset: position)
        }
        guard length <= limits.maxRecordSize else {
            throw .absurdLength(what: "record 0x\(String(op, radix: 16))", length: length, limit: limits.maxRecordSize, offset: position)
        }
        let content = try file.read(at: position + 9, count: Int(length), what: "record 0x\(String(op, radix: 16))")
        let record = RawRecord(opcode: op, offset: position, content: content)
        position += 9 + length
        return record
    }
}

/// Calls `body` with every record inside `bytes` (e.g. a decompressed chunk or a summary):
/// opcode, offset of the record within `bytes`, and a source over its content.
func forEachRecord(in bytes: [UInt8], baseOffset: UInt64, what: String,
                   _ body: (UInt8, Int, inout ByteSource) throws(BagError) -> Void) throws(BagError) {
    var pos = 0
    while pos < bytes.count {
        var head = ByteSource(bytes, from: pos, baseOffset: baseOffset, what: what)
        let op = try head.u8()
        let length = try head.u64()
        guard op != 0 else { throw .malformed(what: "\(what): record with opcode 0", offset: baseOffset + UInt64(pos)) }
        guard length <= UInt64(head.remaining) else {
            throw .absurdLength(what: "\(what) record 0x\(String(op, radix: 16))", length: length,
                                limit: UInt64(head.remaining), offset: baseOffset + UInt64(pos))
        }
        let start = pos + 9
        let end = start + Int(length)
        var content = ByteSource(bytes, from: start, to: end, baseOffset: baseOffset, what: "\(what) record 0x\(String(op, radix: 16))")
        try body(op, pos, &content)
        pos = end
    }
}

/// Decodes a chunk record's content (`content` from index `start` on, e.g. 9 to skip the record's
/// opcode and length without copying): checks sizes against the limits, decompresses and verifies
/// the CRC. Returns the header and the uncompressed records.
func openChunk(_ content: [UInt8], from start: Int = 0, at offset: UInt64, limits: BagReaderLimits) throws(BagError) -> (ChunkHeader, [UInt8]) {
    var src = ByteSource(content, from: start, baseOffset: offset + 9 - UInt64(start), what: "chunk")
    let header = try src.chunkHeader()
    guard header.uncompressedSize <= limits.maxChunkSize else {
        throw .absurdLength(what: "chunk uncompressed size", length: header.uncompressedSize,
                            limit: limits.maxChunkSize, offset: offset)
    }
    if header.compression.isEmpty && header.uncompressedSize != header.recordsSize {
        throw .malformed(what: "uncompressed chunk sizes disagree (\(header.recordsSize) vs \(header.uncompressedSize))", offset: offset)
    }
    let recordsStart = src.position
    let records = try withBytes(content) { raw throws(BagError) in
        try decompressChunk(UnsafeRawBufferPointer(rebasing: raw[recordsStart..<(recordsStart + Int(header.recordsSize))]),
                            compression: header.compression, uncompressedSize: Int(header.uncompressedSize), offset: offset)
    }
    if header.uncompressedCRC != 0 {
        let actual = CRC32.checksum(records)
        if actual != header.uncompressedCRC {
            throw .crcMismatch(what: "chunk records", expected: header.uncompressedCRC, actual: actual, offset: offset)
        }
    }
    return (header, records)
}
