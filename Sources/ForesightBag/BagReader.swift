/// A message read from a bag together with its channel.
public struct BagEntry: Sendable {
    /// The channel (topic, encoding, schema ID) of the message.
    public var channel: BagChannel
    /// The message itself.
    public var message: BagMessage
}

/// Reads MCAP files: the summary (fast, without touching the data), `info()`, and messages in
/// log-time order through the chunk indexes — or, for files without a usable summary, by a
/// sequential scan in file order. Unknown and unused records (attachments, metadata, private
/// records) are skipped. Every length is checked against the file and `limits` before memory
/// is allocated, and corrupt input ends in a typed `BagError`.
public final class BagReader: @unchecked Sendable {
    /// The file path.
    public let path: String
    /// The limits every read respects.
    public let limits: BagReaderLimits
    /// Size of the file in bytes.
    public var fileSize: UInt64 { file.size }

    let file: FileInput
    private var cachedSummary: BagSummary??

    /// Opens `path` and checks the leading magic.
    public init(path: String, limits: BagReaderLimits = BagReaderLimits()) throws(BagError) {
        self.path = path
        self.limits = limits
        file = try FileInput(path: path)
        guard file.size >= UInt64(mcapMagic.count),
              try file.read(at: 0, count: mcapMagic.count, what: "magic") == mcapMagic else {
            throw .badMagic(path: path, atEnd: false)
        }
    }

    /// The summary section read via the footer, or nil if the file has none (e.g. cut off, or
    /// written without one). Verifies the summary CRC when present.
    public func readSummary() throws(BagError) -> BagSummary? {
        if let cached = cachedSummary { return cached }
        let result = try loadSummary()
        cachedSummary = .some(result)
        return result
    }

    private func loadSummary() throws(BagError) -> BagSummary? {
        let tailLength = 9 + 20 + mcapMagic.count
        guard file.size >= UInt64(mcapMagic.count + tailLength) else { return nil }
        let tail = try file.read(at: file.size - UInt64(tailLength), count: tailLength, what: "footer")
        guard Array(tail[29...]) == mcapMagic else { return nil }
        let footerOffset = file.size - UInt64(tailLength)
        var src = ByteSource(tail, baseOffset: footerOffset, what: "footer")
        guard try src.u8() == Opcode.footer.rawValue, try src.u64() == 20 else {
            throw .malformed(what: "footer record expected before the trailing magic", offset: footerOffset)
        }
        let summaryStart = try src.u64()
        let summaryOffsetStart = try src.u64()
        let summaryCRC = try src.u32()
        guard summaryStart != 0 else { return nil }
        guard summaryStart >= UInt64(mcapMagic.count), summaryStart <= footerOffset,
              summaryOffsetStart == 0 || (summaryOffsetStart >= summaryStart && summaryOffsetStart <= footerOffset) else {
            throw .malformed(what: "footer points outside the file (summary start \(summaryStart))", offset: footerOffset)
        }
        let length = footerOffset - summaryStart
        guard length <= limits.maxSummarySize else {
            throw .absurdLength(what: "summary section", length: length, limit: limits.maxSummarySize, offset: summaryStart)
        }
        let bytes = try file.read(at: summaryStart, count: Int(length), what: "summary section")
        if summaryCRC != 0 {
            var crc = CRC32()
            crc.update(bytes)
            crc.update(Array(tail[0..<25]))
            if crc.value != summaryCRC {
                throw .crcMismatch(what: "summary section", expected: summaryCRC, actual: crc.value, offset: summaryStart)
            }
        }
        var summary = BagSummary()
        var sawStatistics = false
        var table = ChannelTable()
        var declared = (schemas: 0, channels: 0)
        try forEachRecord(in: bytes, baseOffset: summaryStart, what: "summary") { op, _, content throws(BagError) in
            if try table.register(op, &content) { return }
            switch Opcode(rawValue: op) {
            case .chunkIndex:
                summary.chunkIndexes.append(try content.chunkIndexRecord())
            case .statistics:
                let stats = try content.statisticsRecord()
                sawStatistics = true
                declared = (Int(stats.schemaCount), Int(stats.channelCount))
                summary.messageCount = stats.messageCount
                summary.startTime = stats.messageStartTime
                summary.endTime = stats.messageEndTime
                summary.channelMessageCounts = stats.channelMessageCounts
                summary.attachmentCount = UInt64(stats.attachmentCount)
                summary.metadataCount = UInt64(stats.metadataCount)
                summary.chunkCount = UInt64(stats.chunkCount)
            default:
                break  // attachment/metadata indexes, summary offsets, private records: not needed
            }
        }
        // Writers with repeated channels/schemas off (e.g. the Python `mcap` Writer's
        // repeat_channels=False) leave them out of the summary: take them from the data section.
        let referenced = Set(summary.channelMessageCounts.keys).union(summary.chunkIndexes.flatMap(\.messageIndexOffsets.keys))
        func complete(_ t: ChannelTable) -> Bool {
            t.channels.count >= declared.channels && t.schemas.count >= declared.schemas && referenced.isSubset(of: t.channels.keys)
        }
        if !complete(table) {
            let summaryTable = table
            try table.merge(dataSectionChannels { found in
                var all = found
                all.merge(summaryTable)
                return complete(all)
            })
        }
        summary.schemas = table.schemas
        summary.channels = table.channels
        for index in summary.chunkIndexes { summary.chunkCompressions[index.compression, default: 0] += 1 }
        if !sawStatistics { summary.chunkCount = UInt64(summary.chunkIndexes.count) }
        // Complete when statistics say there is nothing to find, or give per-channel counts and
        // chunk indexes to find it with. (An empty file's summary is all there is: its channels
        // may exist nowhere else — the Python writer never writes a chunk without messages.)
        summary.indexed = sawStatistics
            && (summary.messageCount == 0 || (!summary.channelMessageCounts.isEmpty && !summary.chunkIndexes.isEmpty))
        return summary
    }

    /// The stored summary, or nil when the file has none or it is damaged (CRC mismatch,
    /// malformed records): readers then scan the data section instead. I/O errors are thrown.
    private func usableSummary() throws(BagError) -> BagSummary? {
        do {
            return try readSummary()
        } catch {
            if case .io = error { throw error }
            return nil
        }
    }

    /// What is wrong with the stored summary when it is damaged (nil when it is fine or absent);
    /// `summary()` and `messages()` then fall back to a sequential scan.
    public var summaryDamage: String? {
        do {
            _ = try readSummary()
            return nil
        } catch {
            return error.description
        }
    }

    /// A summary for any readable file: the stored one when it is complete, otherwise one
    /// built by scanning every record (slower; needed for files without statistics).
    public func summary() throws(BagError) -> BagSummary {
        let stored = try usableSummary()
        if let stored, stored.indexed { return stored }
        var scanned = try scanSummary()
        // A summary without statistics still lists schemas and channels, and may be the only
        // place a channel without messages appears.
        if let stored {
            scanned.schemas.merge(stored.schemas) { fromData, _ in fromData }
            scanned.channels.merge(stored.channels) { fromData, _ in fromData }
        }
        return scanned
    }

    private func scanSummary() throws(BagError) -> BagSummary {
        var summary = BagSummary()
        var table = ChannelTable()
        var scanner = RecordScanner(file: file, limits: limits)
        func take(_ message: BagMessage) {
            if summary.messageCount == 0 {
                summary.startTime = message.logTime
                summary.endTime = message.logTime
            }
            summary.messageCount += 1
            summary.startTime = min(summary.startTime, message.logTime)
            summary.endTime = max(summary.endTime, message.logTime)
            summary.channelMessageCounts[message.channelID, default: 0] += 1
        }
        scan: while true {
            let record: RawRecord
            do throws(BagError) {
                guard let next = try scanner.next() else { break scan }
                record = next
            } catch {
                // A file cut off by a crash: report what is readable (bag info still works).
                guard case .truncated = error else { throw error }
                summary.cutOff = (scanner.position, error.description)
                break scan
            }
            var src = ByteSource(record.content, baseOffset: record.offset + 9, what: "record")
            if try table.register(record.opcode, &src) { continue }
            switch Opcode(rawValue: record.opcode) {
            case .message:
                take(try src.messageRecord())
            case .chunk:
                let (header, records) = try openChunk(record.content, at: record.offset, limits: limits)
                summary.chunkCount += 1
                summary.chunkCompressions[header.compression, default: 0] += 1
                try forEachRecord(in: records, baseOffset: 0, what: "chunk at \(record.offset)") { op, _, content throws(BagError) in
                    if try table.register(op, &content) { return }
                    if op == Opcode.message.rawValue { take(try content.messageRecord()) }
                }
            case .attachment:
                summary.attachmentCount += 1
            case .metadata:
                summary.metadataCount += 1
            case .dataEnd, .footer:
                break scan
            default:
                break
            }
        }
        summary.schemas = table.schemas
        summary.channels = table.channels
        return summary
    }

    /// Schemas and channels from the data section (top level and inside chunks), for files whose
    /// summary does not repeat them. Reads chunk after chunk until `enough` holds (checked after
    /// each record), the data end or a cut-off record.
    private func dataSectionChannels(until enough: (ChannelTable) -> Bool) throws(BagError) -> ChannelTable {
        var table = ChannelTable()
        var scanner = RecordScanner(file: file, limits: limits)
        while !enough(table) {
            let record: RawRecord
            do throws(BagError) {
                guard let next = try scanner.next() else { return table }
                record = next
            } catch {
                guard case .truncated = error else { throw error }
                return table
            }
            var src = ByteSource(record.content, baseOffset: record.offset + 9, what: "record")
            if try table.register(record.opcode, &src) { continue }
            switch Opcode(rawValue: record.opcode) {
            case .chunk:
                let (_, records) = try openChunk(record.content, at: record.offset, limits: limits)
                try forEachRecord(in: records, baseOffset: 0, what: "chunk at \(record.offset)") { op, _, content throws(BagError) in
                    _ = try table.register(op, &content)
                }
            case .dataEnd, .footer, .summaryOffset, .chunkIndex, .statistics:
                return table
            default:
                break
            }
        }
        return table
    }

    /// True if the file ends with a footer record and the closing magic — what every writer
    /// leaves when it finishes. A recorder killed (SIGKILL, power loss) leaves neither.
    public var isClosed: Bool {
        let tailLength = 9 + 20 + mcapMagic.count
        guard file.size >= UInt64(mcapMagic.count + tailLength),
              let tail = try? file.read(at: file.size - UInt64(tailLength), count: tailLength, what: "footer") else { return false }
        return tail[0] == Opcode.footer.rawValue && Array(tail[29...]) == mcapMagic
    }

    /// Duration, start/end, size, compression and the topic table.
    public func info() throws(BagError) -> BagInfo {
        let summary = try summary()
        return BagInfo(path: path, fileSize: file.size, summary: summary, topics: BagReader.topicTable(summary))
    }

    /// One row per channel of `summary`, sorted by topic.
    static func topicTable(_ summary: BagSummary) -> [BagTopicInfo] {
        let seconds = Double(summary.endTime &- summary.startTime) / 1e9
        return summary.channels.values.map { channel in
            let count = summary.channelMessageCounts[channel.id] ?? 0
            return BagTopicInfo(topic: channel.topic, schemaName: summary.schemas[channel.schemaID]?.name ?? "",
                                messageEncoding: channel.messageEncoding, messageCount: count,
                                frequency: seconds > 0 && count > 1 ? Double(count - 1) / seconds : 0)
        }.sorted { ($0.topic, $0.messageEncoding) < ($1.topic, $1.messageEncoding) }
    }

    /// A cursor over the messages whose channel passes `include` and whose log time lies in
    /// `startTime...endTime`; in log-time order for indexed files, file order otherwise.
    public func messages(startTime: UInt64 = 0, endTime: UInt64 = .max,
                         include: @escaping (BagChannel) -> Bool = { _ in true }) throws(BagError) -> BagMessageCursor {
        let stored = try usableSummary()
        if let stored, stored.indexed {
            return BagMessageCursor(reader: self, summary: stored, startTime: startTime, endTime: endTime, include: include)
        }
        return BagMessageCursor(reader: self, scanFrom: UInt64(mcapMagic.count), startTime: startTime,
                                endTime: endTime, include: include,
                                known: ChannelTable(schemas: stored?.schemas ?? [:], channels: stored?.channels ?? [:]))
    }
}

/// Iterates the messages of a bag; obtain one from `BagReader.messages`.
public final class BagMessageCursor {
    private let reader: BagReader
    private let startTime: UInt64
    private let endTime: UInt64
    private let include: (BagChannel) -> Bool
    /// Schemas and channels known so far (all of them for indexed files).
    private var table: ChannelTable
    /// Channels known so far (all of them for indexed files).
    public var channels: [UInt16: BagChannel] { table.channels }
    /// Schemas known so far (all of them for indexed files).
    public var schemas: [UInt16: BagSchema] { table.schemas }
    /// True if messages come in log-time order (indexed file).
    public let logTimeOrdered: Bool

    // Indexed mode.
    private var chunks: [ChunkIndexRecord] = []
    private var nextChunk = 0
    private var heap = MessageHeap()
    private var order: UInt64 = 0
    // Merge mode: several files' cursors and their next entries.
    private var sources: [BagMessageCursor] = []
    private var heads: [BagEntry?] = []
    private var started = false
    // Scan mode.
    private var scanner: RecordScanner?
    private var pending: [BagMessage] = []
    private var pendingIndex = 0

    init(reader: BagReader, summary: BagSummary, startTime: UInt64, endTime: UInt64,
         include: @escaping (BagChannel) -> Bool) {
        self.reader = reader
        self.startTime = startTime
        self.endTime = endTime
        self.include = include
        table = ChannelTable(schemas: summary.schemas, channels: summary.channels)
        logTimeOrdered = true
        let wanted = Set(summary.channels.values.filter(include).map(\.id))
        chunks = summary.chunkIndexes.filter { chunk in
            guard chunk.messageEndTime >= startTime, chunk.messageStartTime <= endTime else { return false }
            return chunk.messageIndexOffsets.isEmpty || chunk.messageIndexOffsets.keys.contains(where: wanted.contains)
        }.sorted { ($0.messageStartTime, $0.chunkStartOffset) < ($1.messageStartTime, $1.chunkStartOffset) }
    }

    init(reader: BagReader, scanFrom: UInt64, startTime: UInt64, endTime: UInt64,
         include: @escaping (BagChannel) -> Bool, known: ChannelTable = ChannelTable()) {
        self.reader = reader
        self.startTime = startTime
        self.endTime = endTime
        self.include = include
        table = known
        logTimeOrdered = false
        scanner = RecordScanner(file: reader.file, limits: reader.limits, from: scanFrom)
    }

    /// Merges the cursors of several files (channel IDs stay those of each entry's own file).
    init(merging cursors: [BagMessageCursor]) {
        reader = cursors[0].reader
        startTime = 0
        endTime = .max
        include = { _ in true }
        table = ChannelTable()
        logTimeOrdered = cursors.allSatisfy(\.logTimeOrdered)
        sources = cursors
    }

    /// The next message, or nil at the end.
    public func next() throws(BagError) -> BagEntry? {
        if !sources.isEmpty { return try nextMerged() }
        while true {
            if scanner != nil {
                guard let message = try nextScanned() else { return nil }
                if let entry = accept(message) { return entry }
                continue
            }
            if nextChunk < chunks.count, heap.isEmpty || chunks[nextChunk].messageStartTime <= heap.minLogTime {
                try load(chunks[nextChunk])
                nextChunk += 1
                continue
            }
            guard let message = heap.pop() else { return nil }
            if let channel = channels[message.channelID] { return BagEntry(channel: channel, message: message) }
        }
    }

    private func nextMerged() throws(BagError) -> BagEntry? {
        if !started {
            started = true
            heads = []
            for source in sources { heads.append(try source.next()) }
        }
        var best: Int?
        for (i, head) in heads.enumerated() {
            guard let head else { continue }
            if let b = best, let current = heads[b], current.message.logTime <= head.message.logTime { continue }
            best = i
        }
        guard let best, let entry = heads[best] else { return nil }
        // The schema of `entry` is looked up before its source moves on.
        pendingSchema = sources[best].schema(of: entry)
        heads[best] = try sources[best].next()
        return entry
    }

    private var pendingSchema: BagSchema?

    /// The schema of `entry`, which must be the entry `next()` returned last (channel IDs and
    /// schema IDs belong to the file it came from); nil for a schemaless channel.
    public func schema(of entry: BagEntry) -> BagSchema? {
        if !sources.isEmpty { return pendingSchema }
        return entry.channel.schemaID == 0 ? nil : table.schemas[entry.channel.schemaID]
    }

    private func accept(_ message: BagMessage) -> BagEntry? {
        guard message.logTime >= startTime, message.logTime <= endTime,
              let channel = channels[message.channelID], include(channel) else { return nil }
        return BagEntry(channel: channel, message: message)
    }

    private func load(_ index: ChunkIndexRecord) throws(BagError) {
        let file = reader.file
        guard index.chunkLength >= 9, index.chunkLength <= reader.limits.maxRecordSize,
              index.chunkStartOffset <= file.size, index.chunkLength <= file.size - index.chunkStartOffset else {
            throw .absurdLength(what: "chunk index entry", length: index.chunkLength,
                                limit: min(reader.limits.maxRecordSize, file.size), offset: index.chunkStartOffset)
        }
        let bytes = try file.read(at: index.chunkStartOffset, count: Int(index.chunkLength), what: "chunk")
        var head = ByteSource(bytes, baseOffset: index.chunkStartOffset, what: "chunk")
        guard try head.u8() == Opcode.chunk.rawValue, try head.u64() == index.chunkLength - 9 else {
            throw .malformed(what: "chunk index does not point at a chunk record", offset: index.chunkStartOffset)
        }
        // The content is read in place after the 9-byte record head (no copy of the chunk).
        let (_, records) = try openChunk(bytes, from: 9, at: index.chunkStartOffset, limits: reader.limits)
        try forEachRecord(in: records, baseOffset: 0, what: "chunk at \(index.chunkStartOffset)") { op, _, src throws(BagError) in
            switch Opcode(rawValue: op) {
            case .message:
                let message = try src.messageRecord()
                if let channel = channels[message.channelID], include(channel),
                   message.logTime >= startTime, message.logTime <= endTime {
                    heap.push(message, order: order)
                    order += 1
                }
            default:
                _ = try table.register(op, &src, keepExisting: true)
            }
        }
    }

    private func nextScanned() throws(BagError) -> BagMessage? {
        while true {
            if pendingIndex < pending.count {
                defer { pendingIndex += 1 }
                return pending[pendingIndex]
            }
            pending.removeAll(keepingCapacity: true)
            pendingIndex = 0
            guard var scan = scanner, let record = try scan.next() else { return nil }
            scanner = scan
            var src = ByteSource(record.content, baseOffset: record.offset + 9, what: "record")
            if try table.register(record.opcode, &src) { continue }
            switch Opcode(rawValue: record.opcode) {
            case .message:
                return try src.messageRecord()
            case .chunk:
                let (_, records) = try openChunk(record.content, at: record.offset, limits: reader.limits)
                try forEachRecord(in: records, baseOffset: 0, what: "chunk at \(record.offset)") { op, _, content throws(BagError) in
                    if try table.register(op, &content) { return }
                    if op == Opcode.message.rawValue { pending.append(try content.messageRecord()) }
                }
            case .dataEnd, .footer:
                scanner = RecordScanner(file: reader.file, limits: reader.limits, from: reader.file.size)
                return nil
            default:
                break  // attachments, metadata, indexes, private records
            }
        }
    }
}

/// Schemas and channels met while walking records — in the summary, at the top level of the data
/// section, or inside chunks. Every record walk registers them through `register`.
struct ChannelTable {
    /// Schemas by ID (ID 0, "no schema", is never stored).
    var schemas: [UInt16: BagSchema] = [:]
    /// Channels by ID.
    var channels: [UInt16: BagChannel] = [:]

    /// If `op` is a schema or channel record, decodes it from `content`, stores it and returns
    /// true; otherwise leaves `content` untouched and returns false. With `keepExisting`, a record
    /// whose ID is already known does not replace it.
    mutating func register(_ op: UInt8, _ content: inout ByteSource, keepExisting: Bool = false) throws(BagError) -> Bool {
        switch Opcode(rawValue: op) {
        case .schema:
            let schema = try content.schemaRecord()
            if schema.id != 0, !keepExisting || schemas[schema.id] == nil { schemas[schema.id] = schema }
            return true
        case .channel:
            let channel = try content.channelRecord()
            if !keepExisting || channels[channel.id] == nil { channels[channel.id] = channel }
            return true
        default:
            return false
        }
    }

    /// Adds what `other` knows and this table does not.
    mutating func merge(_ other: ChannelTable) {
        schemas.merge(other.schemas) { mine, _ in mine }
        channels.merge(other.channels) { mine, _ in mine }
    }
}

/// A binary min-heap of messages by (log time, arrival order).
struct MessageHeap {
    private var items: [(time: UInt64, order: UInt64, message: BagMessage)] = []

    var isEmpty: Bool { items.isEmpty }

    var minLogTime: UInt64 { items.first?.time ?? .max }

    private func less(_ a: Int, _ b: Int) -> Bool {
        (items[a].time, items[a].order) < (items[b].time, items[b].order)
    }

    mutating func push(_ message: BagMessage, order: UInt64) {
        items.append((message.logTime, order, message))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !less(i, parent) { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> BagMessage? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast().message
        var i = 0
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < items.count && less(l, m) { m = l }
            if r < items.count && less(r, m) { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return top
    }
}
