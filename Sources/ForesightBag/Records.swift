/// MCAP record opcodes (spec section "Records").
enum Opcode: UInt8 {
    case header = 0x01
    case footer = 0x02
    case schema = 0x03
    case channel = 0x04
    case message = 0x05
    case chunk = 0x06
    case messageIndex = 0x07
    case chunkIndex = 0x08
    case attachment = 0x09
    case attachmentIndex = 0x0A
    case statistics = 0x0B
    case metadata = 0x0C
    case metadataIndex = 0x0D
    case summaryOffset = 0x0E
    case dataEnd = 0x0F
}

/// The 8 magic bytes at both ends of an MCAP file: `0x89 M C A P 0 \r \n`.
let mcapMagic: [UInt8] = [0x89, 0x4D, 0x43, 0x41, 0x50, 0x30, 0x0D, 0x0A]

/// A schema record: how messages on the channels that use it are described.
public struct BagSchema: Sendable, Hashable {
    /// File-unique ID (never 0).
    public var id: UInt16
    /// Schema name; Foresight uses the protocol message type name.
    public var name: String
    /// Schema encoding, e.g. `jsonschema`.
    public var encoding: String
    /// Schema text/bytes in that encoding.
    public var data: [UInt8]

    /// A schema with the given fields.
    public init(id: UInt16, name: String, encoding: String, data: [UInt8]) {
        self.id = id
        self.name = name
        self.encoding = encoding
        self.data = data
    }
}

/// A channel record: one topic with its message encoding and schema.
public struct BagChannel: Sendable, Equatable {
    /// File-unique channel ID.
    public var id: UInt16
    /// The schema ID of its messages (0: no schema).
    public var schemaID: UInt16
    /// The topic name, e.g. `sensor/camera`.
    public var topic: String
    /// Message encoding, e.g. `msgpack`.
    public var messageEncoding: String
    /// Free-form channel metadata.
    public var metadata: [String: String]

    /// A channel with the given fields.
    public init(id: UInt16, schemaID: UInt16, topic: String, messageEncoding: String, metadata: [String: String] = [:]) {
        self.id = id
        self.schemaID = schemaID
        self.topic = topic
        self.messageEncoding = messageEncoding
        self.metadata = metadata
    }
}

/// One recorded message.
public struct BagMessage: Sendable, Equatable {
    /// The channel it was recorded on.
    public var channelID: UInt16
    /// Sequence number (Foresight stores the wire header's `seq`).
    public var sequence: UInt32
    /// Receive time in ns since the Unix epoch.
    public var logTime: UInt64
    /// The message's own stamp in ns since the Unix epoch.
    public var publishTime: UInt64
    /// Payload bytes exactly as received.
    public var data: [UInt8]

    /// A message with the given fields.
    public init(channelID: UInt16, sequence: UInt32, logTime: UInt64, publishTime: UInt64, data: [UInt8]) {
        self.channelID = channelID
        self.sequence = sequence
        self.logTime = logTime
        self.publishTime = publishTime
        self.data = data
    }
}

/// A chunk index record: where a chunk and its message indexes are.
struct ChunkIndexRecord: Equatable {
    var messageStartTime: UInt64
    var messageEndTime: UInt64
    var chunkStartOffset: UInt64
    var chunkLength: UInt64
    var messageIndexOffsets: [UInt16: UInt64]
    var messageIndexLength: UInt64
    var compression: String
    var compressedSize: UInt64
    var uncompressedSize: UInt64
}

/// The statistics record of a summary.
struct StatisticsRecord: Equatable {
    var messageCount: UInt64 = 0
    var schemaCount: UInt16 = 0
    var channelCount: UInt32 = 0
    var attachmentCount: UInt32 = 0
    var metadataCount: UInt32 = 0
    var chunkCount: UInt32 = 0
    var messageStartTime: UInt64 = 0
    var messageEndTime: UInt64 = 0
    var channelMessageCounts: [UInt16: UInt64] = [:]
}

/// The fixed fields of a chunk record before its (possibly compressed) records.
struct ChunkHeader {
    var messageStartTime: UInt64
    var messageEndTime: UInt64
    var uncompressedSize: UInt64
    var uncompressedCRC: UInt32
    var compression: String
    var recordsSize: UInt64
}

// MARK: - Encoding

extension ByteSink {
    mutating func headerRecord(profile: String, library: String) {
        let at = beginRecord(.header)
        string(profile)
        string(library)
        endRecord(at)
    }

    mutating func schemaRecord(_ s: BagSchema) {
        let at = beginRecord(.schema)
        u16(s.id)
        string(s.name)
        string(s.encoding)
        u32Bytes(s.data)
        endRecord(at)
    }

    mutating func channelRecord(_ c: BagChannel) {
        let at = beginRecord(.channel)
        u16(c.id)
        u16(c.schemaID)
        string(c.topic)
        string(c.messageEncoding)
        stringMap(c.metadata)
        endRecord(at)
    }

    mutating func messageRecord(channelID: UInt16, sequence: UInt32, logTime: UInt64, publishTime: UInt64,
                                data: UnsafeRawBufferPointer) {
        u8(Opcode.message.rawValue)
        u64(UInt64(2 + 4 + 8 + 8 + data.count))
        u16(channelID)
        u32(sequence)
        u64(logTime)
        u64(publishTime)
        raw(data)
    }

    mutating func chunkIndexRecord(_ c: ChunkIndexRecord) {
        let at = beginRecord(.chunkIndex)
        u64(c.messageStartTime)
        u64(c.messageEndTime)
        u64(c.chunkStartOffset)
        u64(c.chunkLength)
        u16u64Map(c.messageIndexOffsets)
        u64(c.messageIndexLength)
        string(c.compression)
        u64(c.compressedSize)
        u64(c.uncompressedSize)
        endRecord(at)
    }

    mutating func statisticsRecord(_ s: StatisticsRecord) {
        let at = beginRecord(.statistics)
        u64(s.messageCount)
        u16(s.schemaCount)
        u32(s.channelCount)
        u32(s.attachmentCount)
        u32(s.metadataCount)
        u32(s.chunkCount)
        u64(s.messageStartTime)
        u64(s.messageEndTime)
        u16u64Map(s.channelMessageCounts)
        endRecord(at)
    }

    mutating func messageIndexRecord(channelID: UInt16, entries: [(UInt64, UInt64)]) {
        let at = beginRecord(.messageIndex)
        u16(channelID)
        u32(UInt32(entries.count * 16))
        for (time, offset) in entries {
            u64(time)
            u64(offset)
        }
        endRecord(at)
    }

    mutating func summaryOffsetRecord(opcode: Opcode, start: UInt64, length: UInt64) {
        let at = beginRecord(.summaryOffset)
        u8(opcode.rawValue)
        u64(start)
        u64(length)
        endRecord(at)
    }
}

// MARK: - Decoding

extension ByteSource {
    mutating func schemaRecord() throws(BagError) -> BagSchema {
        BagSchema(id: try u16(), name: try string(), encoding: try string(), data: try u32Bytes())
    }

    mutating func channelRecord() throws(BagError) -> BagChannel {
        BagChannel(id: try u16(), schemaID: try u16(), topic: try string(), messageEncoding: try string(),
                   metadata: try stringMap())
    }

    /// Decodes a message record whose content spans the rest of this source.
    mutating func messageRecord() throws(BagError) -> BagMessage {
        let channel = try u16()
        let sequence = try u32()
        let logTime = try u64()
        let publishTime = try u64()
        let data = try bytes(count: remaining)
        return BagMessage(channelID: channel, sequence: sequence, logTime: logTime, publishTime: publishTime, data: data)
    }

    mutating func chunkIndexRecord() throws(BagError) -> ChunkIndexRecord {
        ChunkIndexRecord(messageStartTime: try u64(), messageEndTime: try u64(), chunkStartOffset: try u64(),
                         chunkLength: try u64(), messageIndexOffsets: try u16u64Map(), messageIndexLength: try u64(),
                         compression: try string(), compressedSize: try u64(), uncompressedSize: try u64())
    }

    mutating func statisticsRecord() throws(BagError) -> StatisticsRecord {
        StatisticsRecord(messageCount: try u64(), schemaCount: try u16(), channelCount: try u32(),
                         attachmentCount: try u32(), metadataCount: try u32(), chunkCount: try u32(),
                         messageStartTime: try u64(), messageEndTime: try u64(),
                         channelMessageCounts: try u16u64Map())
    }

    /// Decodes the fixed fields of a chunk; leaves the position at the start of its records.
    mutating func chunkHeader() throws(BagError) -> ChunkHeader {
        let start = try u64()
        let end = try u64()
        let usize = try u64()
        let crc = try u32()
        let compression = try string()
        let rsize = try u64()
        guard rsize <= UInt64(remaining) else {
            throw .absurdLength(what: "chunk records", length: rsize, limit: UInt64(remaining), offset: offset)
        }
        return ChunkHeader(messageStartTime: start, messageEndTime: end, uncompressedSize: usize,
                           uncompressedCRC: crc, compression: compression, recordsSize: rsize)
    }
}
