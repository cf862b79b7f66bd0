import Foundation

/// The summary of a bag: schemas, channels, statistics and where the chunks are.
public struct BagSummary: Sendable {
    /// Schemas by ID.
    public var schemas: [UInt16: BagSchema] = [:]
    /// Channels by ID.
    public var channels: [UInt16: BagChannel] = [:]
    /// Message count (from the statistics record, or counted by a scan).
    public var messageCount: UInt64 = 0
    /// Earliest message log time (0 if no messages).
    public var startTime: UInt64 = 0
    /// Latest message log time (0 if no messages).
    public var endTime: UInt64 = 0
    /// Messages per channel ID.
    public var channelMessageCounts: [UInt16: UInt64] = [:]
    /// Number of attachments.
    public var attachmentCount: UInt64 = 0
    /// Number of metadata records.
    public var metadataCount: UInt64 = 0
    /// Number of chunks.
    public var chunkCount: UInt64 = 0
    /// Chunks per MCAP compression name (`""` = none).
    public var chunkCompressions: [String: Int] = [:]
    /// True if the file has a summary with statistics and chunk indexes (no scan needed).
    public var indexed: Bool = false
    /// For a scanned file that ends in a cut-off record: where the readable part ends, and why.
    public var cutOff: (offset: UInt64, reason: String)?
    /// Chunk locations, as found in the summary.
    var chunkIndexes: [ChunkIndexRecord] = []

    /// An empty summary.
    public init() {}
}

/// One row of `bag info`'s topic table.
public struct BagTopicInfo: Sendable, Equatable {
    /// Topic name.
    public var topic: String
    /// Schema name (protocol message type), or empty.
    public var schemaName: String
    /// Message encoding (`msgpack` for Foresight bags).
    public var messageEncoding: String
    /// Messages on the topic.
    public var messageCount: UInt64
    /// Mean rate over the bag's duration in Hz (0 if the bag spans no time).
    public var frequency: Double
}

/// What `bag info` shows.
public struct BagInfo: Sendable {
    /// File path.
    public var path: String
    /// File size in bytes.
    public var fileSize: UInt64
    /// The summary it was built from.
    public var summary: BagSummary
    /// One row per channel, sorted by topic.
    public var topics: [BagTopicInfo]
    /// The files read, when the recording spans several (a split set or a folder); else empty.
    public var files: [String] = []

    /// Creates the report of one file (or of several, with `files` set afterwards).
    public init(path: String, fileSize: UInt64, summary: BagSummary, topics: [BagTopicInfo]) {
        self.path = path
        self.fileSize = fileSize
        self.summary = summary
        self.topics = topics
    }

    /// Duration from first to last log time in seconds.
    public var duration: Double { Double(summary.endTime &- summary.startTime) / 1e9 }

    /// A human-readable multi-line report (duration, start/end, size, compression, topics).
    public var text: String {
        var lines: [String] = []
        if files.count > 1 {
            lines.append("files:       \(files.count) (read as one recording)")
            for file in files { lines.append("             \(file)") }
        } else {
            lines.append("path:        \(path)")
        }
        lines.append("size:        \(formatBytes(fileSize))")
        lines.append("messages:    \(summary.messageCount)")
        lines.append(String(format: "duration:    %.3f s", duration))
        lines.append("start:       \(formatTime(summary.startTime))")
        lines.append("end:         \(formatTime(summary.endTime))")
        let comps = summary.chunkCompressions.keys.sorted().map { "\($0.isEmpty ? "none" : $0) (\(summary.chunkCompressions[$0] ?? 0) chunks)" }
        lines.append("compression: \(comps.isEmpty ? "-" : comps.joined(separator: ", "))")
        lines.append("indexed:     \(summary.indexed ? "yes (read from summary)" : "no (sequential scan)")")
        if let cut = summary.cutOff {
            lines.append("WARNING:     the file is cut off at byte \(cut.offset) (\(cut.reason)); figures cover the readable part. "
                         + "Rebuild it with `foresight bag recover \(path) -o FIXED.mcap`")
        }
        if summary.attachmentCount > 0 || summary.metadataCount > 0 {
            lines.append("attachments: \(summary.attachmentCount), metadata: \(summary.metadataCount)")
        }
        let width = max(5, topics.map(\.topic.count).max() ?? 0)
        let typeWidth = max(4, topics.map(\.schemaName.count).max() ?? 0)
        lines.append("topics:")
        lines.append("  " + "topic".padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                     + "type".padding(toLength: typeWidth, withPad: " ", startingAt: 0) + "  " + "   count     freq")
        for t in topics {
            lines.append("  " + t.topic.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                         + t.schemaName.padding(toLength: typeWidth, withPad: " ", startingAt: 0) + "  "
                         + String(format: "%8llu  %7.2f Hz", t.messageCount, t.frequency))
        }
        return lines.joined(separator: "\n")
    }
}

func formatBytes(_ n: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(n)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(n) B" : String(format: "%.2f ", value) + units[unit] + " (\(n) B)"
}

func formatTime(_ ns: UInt64) -> String {
    var seconds = time_t(ns / 1_000_000_000)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    let millis = (ns / 1_000_000) % 1000
    return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03lluZ (%llu ns)", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                  Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), millis, ns)
}
