/// Settings of a `BagWriter`.
public struct BagWriterOptions: Sendable {
    /// Chunk compression (default zstd).
    public var compression: BagCompression
    /// Compression level (zstd: 1…19, default 1 for recording speed; lz4: 0 = fast).
    public var compressionLevel: Int32
    /// A chunk is closed and written once its uncompressed records reach this many bytes.
    public var chunkSize: Int
    /// MCAP header `profile` (empty: no well-known profile).
    public var profile: String
    /// MCAP header `library`.
    public var library: String
    /// `fsync` after every chunk (survives power loss, slower); SIGKILL is survived either way.
    public var syncEveryChunk: Bool

    /// Options with the given values; defaults suit recording live sensor streams.
    public init(compression: BagCompression = .zstd, compressionLevel: Int32 = 1, chunkSize: Int = 4 << 20,
                profile: String = "", library: String = "foresight-bag 0.1", syncEveryChunk: Bool = false) {
        self.compression = compression
        self.compressionLevel = compressionLevel
        self.chunkSize = chunkSize
        self.profile = profile
        self.library = library
        self.syncEveryChunk = syncEveryChunk
    }
}

/// What a finished bag holds.
public struct BagWriteSummary: Sendable, Equatable {
    /// Path of the file.
    public var path: String
    /// Number of messages.
    public var messageCount: UInt64
    /// Number of chunks.
    public var chunkCount: Int
    /// File size in bytes.
    public var fileSize: UInt64
    /// Earliest log time (0 if empty).
    public var startTime: UInt64
    /// Latest log time (0 if empty).
    public var endTime: UInt64
}

/// Writes an indexed, chunked MCAP file: messages go into chunks (zstd, lz4 or none) that are
/// written as soon as they are full, each followed by its message indexes; `finish()` writes
/// the data-end CRC and a full summary (schemas, channels, statistics, chunk indexes, metadata
/// indexes, summary offsets) and the footer.
///
/// A writer owns its file; use it from one thread at a time. If the process dies before
/// `finish()`, every chunk already written can be recovered with `BagRecovery`.
public final class BagWriter {
    /// The file being written.
    public let path: String
    /// The options it was opened with.
    public let options: BagWriterOptions

    private let out: FileOutput
    private let compressor: ChunkCompressor
    private var chunk: ByteSink
    private var chunkStart: UInt64 = .max
    private var chunkEnd: UInt64 = 0
    private var chunkMessages = 0
    /// Message index entries (log time, offset in chunk) per channel for the open chunk.
    private var chunkIndexEntries: [UInt16: [(UInt64, UInt64)]] = [:]
    private var scratch = ByteSink(capacity: 4096)

    private var schemas: [UInt16: BagSchema] = [:]
    private var channels: [UInt16: BagChannel] = [:]
    private var nextSchemaID: UInt16 = 1
    private var nextChannelID: UInt16 = 0
    private var schemaKeys: [SchemaKey: UInt16] = [:]
    private var channelKeys: [ChannelKey: UInt16] = [:]
    private var topicChannels: [String: UInt16] = [:]
    private var chunkIndexes: [ChunkIndexRecord] = []
    private var metadataIndexes: [(offset: UInt64, length: UInt64, name: String)] = []
    private var stats = StatisticsRecord()
    private var finished = false

    private struct SchemaKey: Hashable {
        var name: String
        var encoding: String
        var data: [UInt8]
    }

    private struct ChannelKey: Hashable {
        var topic: String
        var encoding: String
        var schemaID: UInt16
        var metadata: [String: String]
    }

    /// Creates (or truncates) `path` and writes the magic and header.
    public init(path: String, options: BagWriterOptions = BagWriterOptions()) throws(BagError) {
        guard options.chunkSize > 0 else { throw .usage("chunk size must be positive, got \(options.chunkSize)") }
        self.path = path
        self.options = options
        out = try FileOutput(path: path)
        compressor = ChunkCompressor(options.compression, level: options.compressionLevel)
        chunk = ByteSink(capacity: options.chunkSize + (options.chunkSize >> 3))
        scratch.raw(mcapMagic)
        scratch.headerRecord(profile: options.profile, library: options.library)
        try out.write(scratch.bytes)
    }

    deinit {
        // An unfinished writer leaves a recoverable file; nothing else to do here.
    }

    /// Bytes written to the file so far (complete chunks only; the open chunk is in memory).
    public var bytesWritten: UInt64 { out.offset }

    /// Bytes buffered in the open chunk.
    public var bufferedBytes: Int { chunk.count }

    /// Messages written so far.
    public var messageCount: UInt64 { stats.messageCount }

    /// Earliest and latest log time written so far, or nil before the first message.
    public var timeRange: ClosedRange<UInt64>? {
        stats.messageCount == 0 ? nil : stats.messageStartTime...stats.messageEndTime
    }

    /// The channels registered so far.
    public var registeredChannels: [BagChannel] { channels.values.sorted { $0.id < $1.id } }

    /// Registers a schema (or returns the ID of an identical one) and returns its ID.
    public func addSchema(name: String, encoding: String, data: [UInt8]) throws(BagError) -> UInt16 {
        let key = SchemaKey(name: name, encoding: encoding, data: data)
        if let id = schemaKeys[key] { return id }
        try requireOpen()
        guard nextSchemaID < UInt16.max else { throw .usage("too many schemas (MCAP allows 65535)") }
        let schema = BagSchema(id: nextSchemaID, name: name, encoding: encoding, data: data)
        nextSchemaID += 1
        schemas[schema.id] = schema
        schemaKeys[key] = schema.id
        chunk.schemaRecord(schema)
        stats.schemaCount = UInt16(schemas.count)
        return schema.id
    }

    /// Registers a channel (or returns the ID of an identical one) and returns its ID.
    /// `schemaID` 0 means no schema; otherwise it must come from `addSchema`.
    public func addChannel(topic: String, messageEncoding: String, schemaID: UInt16,
                           metadata: [String: String] = [:]) throws(BagError) -> UInt16 {
        let key = ChannelKey(topic: topic, encoding: messageEncoding, schemaID: schemaID, metadata: metadata)
        if let id = channelKeys[key] { return id }
        try requireOpen()
        guard schemaID == 0 || schemas[schemaID] != nil else {
            throw .usage("channel \(topic) refers to unknown schema \(schemaID); register it with addSchema first")
        }
        guard nextChannelID < UInt16.max else { throw .usage("too many channels (MCAP allows 65535)") }
        let channel = BagChannel(id: nextChannelID, schemaID: schemaID, topic: topic,
                                 messageEncoding: messageEncoding, metadata: metadata)
        nextChannelID += 1
        channels[channel.id] = channel
        channelKeys[key] = channel.id
        chunk.channelRecord(channel)
        stats.channelCount = UInt32(channels.count)
        return channel.id
    }

    /// Appends one message; the payload bytes are stored exactly as given.
    public func write(channelID: UInt16, sequence: UInt32, logTime: UInt64, publishTime: UInt64,
                      data: [UInt8]) throws(BagError) {
        try withBytes(data) { d throws(BagError) in
            try write(channelID: channelID, sequence: sequence, logTime: logTime, publishTime: publishTime, data: d)
        }
    }

    /// Appends one message from a raw buffer; the payload bytes are stored exactly as given.
    public func write(channelID: UInt16, sequence: UInt32, logTime: UInt64, publishTime: UInt64,
                      data: UnsafeRawBufferPointer) throws(BagError) {
        try requireOpen()
        guard channels[channelID] != nil else {
            throw .usage("message on unknown channel \(channelID); register it with addChannel first")
        }
        let offsetInChunk = UInt64(chunk.count)
        chunk.messageRecord(channelID: channelID, sequence: sequence, logTime: logTime, publishTime: publishTime, data: data)
        chunkIndexEntries[channelID, default: []].append((logTime, offsetInChunk))
        chunkStart = min(chunkStart, logTime)
        chunkEnd = max(chunkEnd, logTime)
        chunkMessages += 1
        if stats.messageCount == 0 {
            stats.messageStartTime = logTime
            stats.messageEndTime = logTime
        } else {
            stats.messageStartTime = min(stats.messageStartTime, logTime)
            stats.messageEndTime = max(stats.messageEndTime, logTime)
        }
        stats.messageCount += 1
        stats.channelMessageCounts[channelID, default: 0] += 1
        if chunk.count >= options.chunkSize { try flushChunk() }
    }

    /// Appends one message on `topic` (message encoding `msgpack`), registering the topic's
    /// channel and `schema` the first time the topic is seen. The simplest way to drive a writer
    /// from a producer such as the simulator: one call per message.
    public func write(topic: String, schema: BagTopicSchema?, sequence: UInt32, logTime: UInt64, publishTime: UInt64,
                      data: [UInt8]) throws(BagError) {
        let channel: UInt16
        if let known = topicChannels[topic] {
            channel = known
        } else {
            let schemaID = try schema.map { s throws(BagError) in try addSchema(name: s.name, encoding: s.encoding, data: s.data) } ?? 0
            channel = try addChannel(topic: topic, messageEncoding: "msgpack", schemaID: schemaID)
            topicChannels[topic] = channel
        }
        try write(channelID: channel, sequence: sequence, logTime: logTime, publishTime: publishTime, data: data)
    }

    /// Writes a metadata record (name and string pairs) outside the chunks, indexed in the summary.
    public func writeMetadata(name: String, values: [String: String]) throws(BagError) {
        try requireOpen()
        scratch.reset()
        let at = scratch.beginRecord(.metadata)
        scratch.string(name)
        scratch.stringMap(values)
        scratch.endRecord(at)
        metadataIndexes.append((out.offset, UInt64(scratch.count), name))
        try out.write(scratch.bytes)
        stats.metadataCount += 1
    }

    /// Closes the open chunk (if it holds any record) and writes it with its message indexes.
    public func flushChunk() throws(BagError) {
        guard chunk.count > 0 else { return }
        let chunkOffset = out.offset
        let uncompressedSize = UInt64(chunk.count)
        let crc = CRC32.checksum(chunk.bytes)
        let start = chunkMessages > 0 ? chunkStart : 0
        let end = chunkMessages > 0 ? chunkEnd : 0
        let compression = options.compression.mcapName
        var compressedSize: UInt64 = 0
        let compressor = self.compressor
        let out = self.out
        var header = ByteSink(capacity: 64)
        try withBytes(chunk.bytes) { raw throws(BagError) in
            try compressor.compress(raw) { packed throws(BagError) in
                compressedSize = UInt64(packed.count)
                header.u8(Opcode.chunk.rawValue)
                header.u64(UInt64(8 + 8 + 8 + 4 + 4 + compression.utf8.count + 8) + compressedSize)
                header.u64(start)
                header.u64(end)
                header.u64(uncompressedSize)
                header.u32(crc)
                header.string(compression)
                header.u64(compressedSize)
                try out.write(header.bytes)
                // Uncompressed, the records were just checksummed: fold that CRC into the
                // data-section CRC instead of reading every byte again.
                if compression.isEmpty { try out.write(packed, crc: crc) } else { try out.write(packed) }
            }
        }
        let chunkLength = out.offset - chunkOffset
        // Message indexes, one per channel, in channel order.
        scratch.reset()
        var indexOffsets: [UInt16: UInt64] = [:]
        for id in chunkIndexEntries.keys.sorted() {
            guard let entries = chunkIndexEntries[id], !entries.isEmpty else { continue }
            indexOffsets[id] = out.offset + UInt64(scratch.count)
            scratch.messageIndexRecord(channelID: id, entries: entries)
        }
        let indexStart = out.offset
        try out.write(scratch.bytes)
        chunkIndexes.append(ChunkIndexRecord(
            messageStartTime: start, messageEndTime: end, chunkStartOffset: chunkOffset, chunkLength: chunkLength,
            messageIndexOffsets: indexOffsets, messageIndexLength: out.offset - indexStart,
            compression: compression, compressedSize: compressedSize, uncompressedSize: uncompressedSize))
        stats.chunkCount += 1
        if options.syncEveryChunk { try out.sync() }
        chunk.reset()
        for key in chunkIndexEntries.keys { chunkIndexEntries[key]?.removeAll(keepingCapacity: true) }
        chunkStart = .max
        chunkEnd = 0
        chunkMessages = 0
    }

    /// Writes the last chunk, the data end, the summary and the footer, and closes the file.
    /// Calling it again returns the same summary without writing anything.
    @discardableResult
    public func finish() throws(BagError) -> BagWriteSummary {
        if finished { return summary }
        try flushChunk()
        // Data End: CRC of every byte before it.
        let dataCRC = out.crc.value
        scratch.reset()
        let at = scratch.beginRecord(.dataEnd)
        scratch.u32(dataCRC)
        scratch.endRecord(at)
        try out.write(scratch.bytes)

        // Summary, grouped by opcode, then summary offsets, then the footer.
        out.resetCRC()
        let summaryStart = out.offset
        scratch.reset()
        var groups: [(Opcode, UInt64, UInt64)] = []
        func group(_ op: Opcode, _ body: (inout ByteSink) -> Void) {
            let before = scratch.count
            body(&scratch)
            if scratch.count > before {
                groups.append((op, summaryStart + UInt64(before), UInt64(scratch.count - before)))
            }
        }
        group(.schema) { s in for id in schemas.keys.sorted() { if let x = schemas[id] { s.schemaRecord(x) } } }
        group(.channel) { s in for id in channels.keys.sorted() { if let x = channels[id] { s.channelRecord(x) } } }
        group(.statistics) { s in s.statisticsRecord(stats) }
        group(.chunkIndex) { s in for index in chunkIndexes { s.chunkIndexRecord(index) } }
        group(.metadataIndex) { s in
            for m in metadataIndexes {
                let at = s.beginRecord(.metadataIndex)
                s.u64(m.offset)
                s.u64(m.length)
                s.string(m.name)
                s.endRecord(at)
            }
        }
        let summaryOffsetStart = summaryStart + UInt64(scratch.count)
        for (op, start, length) in groups { scratch.summaryOffsetRecord(opcode: op, start: start, length: length) }
        scratch.u8(Opcode.footer.rawValue)
        scratch.u64(20)
        scratch.u64(summaryStart)
        scratch.u64(summaryOffsetStart)
        try out.write(scratch.bytes)
        let summaryCRC = out.crc.value
        scratch.reset()
        scratch.u32(summaryCRC)
        scratch.raw(mcapMagic)
        try out.write(scratch.bytes)
        if options.syncEveryChunk { try out.sync() }
        try out.close()
        finished = true
        return summary
    }

    // MARK: Recovery support (used by BagRecovery)

    /// Whether a channel with this ID is known.
    func hasChannel(_ id: UInt16) -> Bool { channels[id] != nil }

    /// Records a schema found in a recovered file under its original ID. If `writeRecord`, the
    /// schema record is also written into the open chunk (it was outside any copied chunk).
    func adopt(schema: BagSchema, writeRecord: Bool) {
        guard schema.id != 0, schemas[schema.id] == nil else { return }
        schemas[schema.id] = schema
        schemaKeys[SchemaKey(name: schema.name, encoding: schema.encoding, data: schema.data)] = schema.id
        nextSchemaID = max(nextSchemaID, schema.id &+ 1)
        stats.schemaCount = UInt16(schemas.count)
        if writeRecord { chunk.schemaRecord(schema) }
    }

    /// Records a channel found in a recovered file under its original ID (see `adopt(schema:)`).
    func adopt(channel: BagChannel, writeRecord: Bool) {
        guard channels[channel.id] == nil else { return }
        channels[channel.id] = channel
        channelKeys[ChannelKey(topic: channel.topic, encoding: channel.messageEncoding, schemaID: channel.schemaID,
                               metadata: channel.metadata)] = channel.id
        nextChannelID = max(nextChannelID, channel.id &+ 1)
        stats.channelCount = UInt32(channels.count)
        if writeRecord { chunk.channelRecord(channel) }
    }

    /// Copies a complete, verified chunk record verbatim and writes fresh message indexes for it.
    /// `messages` lists (channel, log time, offset in the uncompressed records) of its messages.
    func appendVerbatimChunk(record: RawRecord, header: ChunkHeader,
                             messages: [(channel: UInt16, logTime: UInt64, offset: UInt64)]) throws(BagError) {
        try requireOpen()
        try flushChunk()
        let chunkOffset = out.offset
        scratch.reset()
        scratch.u8(record.opcode)
        scratch.u64(UInt64(record.content.count))
        try out.write(scratch.bytes)
        try out.write(record.content)
        var perChannel: [UInt16: [(UInt64, UInt64)]] = [:]
        var start = UInt64.max
        var end: UInt64 = 0
        for m in messages {
            perChannel[m.channel, default: []].append((m.logTime, m.offset))
            start = min(start, m.logTime)
            end = max(end, m.logTime)
            stats.channelMessageCounts[m.channel, default: 0] += 1
        }
        if !messages.isEmpty {
            if stats.messageCount == 0 {
                stats.messageStartTime = start
                stats.messageEndTime = end
            }
            stats.messageStartTime = min(stats.messageStartTime, start)
            stats.messageEndTime = max(stats.messageEndTime, end)
            stats.messageCount += UInt64(messages.count)
        } else {
            start = 0
        }
        scratch.reset()
        var indexOffsets: [UInt16: UInt64] = [:]
        let indexStart = out.offset
        for id in perChannel.keys.sorted() {
            indexOffsets[id] = indexStart + UInt64(scratch.count)
            scratch.messageIndexRecord(channelID: id, entries: perChannel[id] ?? [])
        }
        try out.write(scratch.bytes)
        chunkIndexes.append(ChunkIndexRecord(
            messageStartTime: start, messageEndTime: end, chunkStartOffset: chunkOffset,
            chunkLength: record.totalLength, messageIndexOffsets: indexOffsets,
            messageIndexLength: out.offset - indexStart, compression: header.compression,
            compressedSize: header.recordsSize, uncompressedSize: header.uncompressedSize))
        stats.chunkCount += 1
    }

    private var summary: BagWriteSummary {
        BagWriteSummary(path: path, messageCount: stats.messageCount, chunkCount: Int(stats.chunkCount),
                        fileSize: out.offset, startTime: stats.messageStartTime, endTime: stats.messageEndTime)
    }

    private func requireOpen() throws(BagError) {
        if finished { throw .usage("the bag \(path) is already finished; open a new BagWriter") }
    }
}
