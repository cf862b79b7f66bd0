/// What `BagRecovery.recover` kept and dropped.
public struct BagRecoveryReport: Sendable, Equatable {
    /// Complete, verified chunks copied verbatim.
    public var chunksKept: Int = 0
    /// Chunks skipped because they failed to decompress or their CRC did not match.
    public var corruptChunksSkipped: Int = 0
    /// Messages in the recovered file.
    public var messagesKept: UInt64 = 0
    /// Metadata records copied.
    public var metadataKept: Int = 0
    /// Attachments skipped (recovery keeps messages and metadata only).
    public var attachmentsSkipped: Int = 0
    /// Bytes at the end of the input that were cut off or unreadable and were dropped.
    public var bytesDropped: UInt64 = 0
    /// Why the scan stopped before the end of the input, if it did.
    public var stopReason: String?

    /// A one-paragraph human-readable account.
    public var text: String {
        var s = "recovered \(messagesKept) messages in \(chunksKept) chunks"
        if metadataKept > 0 { s += ", \(metadataKept) metadata records" }
        if corruptChunksSkipped > 0 { s += "; skipped \(corruptChunksSkipped) corrupt chunks" }
        if attachmentsSkipped > 0 { s += "; skipped \(attachmentsSkipped) attachments" }
        if bytesDropped > 0 { s += "; dropped \(bytesDropped) trailing bytes" }
        if let stopReason { s += " (\(stopReason))" }
        return s
    }
}

/// Rebuilds a valid, indexed MCAP file from one cut off by a crash or power loss.
///
/// Scans the input front to back; every complete chunk whose records decompress and match their
/// CRC is copied byte for byte, with fresh message indexes; schemas, channels, messages and
/// metadata outside chunks are carried over; the scan stops at the first cut-off or implausible
/// record. The output gets a full summary and footer.
public enum BagRecovery {
    /// Recovers `input` into a new file at `output` and says what was kept.
    public static func recover(input: String, output: String, options: BagWriterOptions = BagWriterOptions(),
                               limits: BagReaderLimits = BagReaderLimits()) throws(BagError) -> BagRecoveryReport {
        guard input != output else { throw .usage("recovery needs a different output path than the input \(input)") }
        let file = try FileInput(path: input)
        guard file.size >= UInt64(mcapMagic.count),
              try file.read(at: 0, count: mcapMagic.count, what: "magic") == mcapMagic else {
            throw .badMagic(path: input, atEnd: false)
        }
        var writerOptions = options
        writerOptions.library = "foresight-bag recover"
        let writer = try BagWriter(path: output, options: writerOptions)
        var report = BagRecoveryReport()
        var scanner = RecordScanner(file: file, limits: limits)
        var lastGood = scanner.position
        scan: while true {
            let record: RawRecord
            do throws(BagError) {
                guard let next = try scanner.next() else { break scan }
                record = next
            } catch {
                report.stopReason = error.description
                break scan
            }
            var src = ByteSource(record.content, baseOffset: record.offset + 9, what: "record")
            switch Opcode(rawValue: record.opcode) {
            case .schema:
                guard let schema = try? src.schemaRecord() else { report.stopReason = "bad schema record"; break scan }
                writer.adopt(schema: schema, writeRecord: true)
            case .channel:
                guard let channel = try? src.channelRecord() else { report.stopReason = "bad channel record"; break scan }
                writer.adopt(channel: channel, writeRecord: true)
            case .message:
                guard let m = try? src.messageRecord() else { report.stopReason = "bad message record"; break scan }
                if writer.hasChannel(m.channelID) {
                    try writer.write(channelID: m.channelID, sequence: m.sequence, logTime: m.logTime,
                                     publishTime: m.publishTime, data: m.data)
                }
            case .chunk:
                do throws(BagError) {
                    let (header, records) = try openChunk(record.content, at: record.offset, limits: limits)
                    var found: [(channel: UInt16, logTime: UInt64, offset: UInt64)] = []
                    var innerSchemas: [BagSchema] = []
                    var innerChannels: [BagChannel] = []
                    try forEachRecord(in: records, baseOffset: 0, what: "chunk") { op, at, content throws(BagError) in
                        switch Opcode(rawValue: op) {
                        case .schema: innerSchemas.append(try content.schemaRecord())
                        case .channel: innerChannels.append(try content.channelRecord())
                        case .message:
                            let channel = try content.u16()
                            _ = try content.u32()
                            found.append((channel, try content.u64(), UInt64(at)))
                        default: break
                        }
                    }
                    for s in innerSchemas { writer.adopt(schema: s, writeRecord: false) }
                    for c in innerChannels { writer.adopt(channel: c, writeRecord: false) }
                    try writer.appendVerbatimChunk(record: record, header: header, messages: found)
                    report.chunksKept += 1
                } catch {
                    if case .io = error { throw error }
                    report.corruptChunksSkipped += 1
                }
            case .metadata:
                if let name = try? src.string(), let values = try? src.stringMap() {
                    try writer.writeMetadata(name: name, values: values)
                    report.metadataKept += 1
                }
            case .attachment:
                report.attachmentsSkipped += 1
            case .dataEnd, .footer:
                lastGood = scanner.position
                break scan
            default:
                break  // header, message indexes (rebuilt), private records
            }
            lastGood = scanner.position
        }
        if report.stopReason == nil && lastGood < file.size {
            // Stopped at Data End: the summary and footer after it are rebuilt, not dropped data.
            lastGood = file.size
        }
        report.bytesDropped = file.size - lastGood
        let summary = try writer.finish()
        report.messagesKept = summary.messageCount
        return report
    }
}
