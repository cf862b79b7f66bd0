import ArgumentParser
import ForesightBag
import ForesightWire
import Foundation

/// Opens a recording (one file, a split set or a folder) for a command that reads it, printing to
/// stderr how the path was resolved and a warning for every file that was never closed.
func openRecording(_ path: String) throws -> BagRecording {
    let recording: BagRecording
    do {
        recording = try BagRecording(path: path)
    } catch {
        throw CLIError("\(error)")
    }
    for note in recording.notes { printError(note) }
    for warning in recording.warnings { printError(warning) }
    return recording
}

/// Prints the not-closed warning for `path` if it is a recording that was never finished; for
/// commands that open the bag themselves (eval, preprocess). Errors are left to that command.
func warnIfUnclosed(_ path: String) {
    guard let recording = try? BagRecording(path: path) else { return }
    for note in recording.notes { printError(note) }
    for warning in recording.warnings { printError(warning) }
}

/// Checks the form of a ZeroMQ endpoint before any socket exists: a known transport, and for
/// tcp a host and a port in 1…65535 (or `*`). ZeroMQ itself accepts `tcp://127.0.0.1:99999` and
/// then waits forever.
func checkEndpoint(_ endpoint: String) throws {
    let examples = "endpoints look like tcp://127.0.0.1:5555, tcp://*:5555, ipc:///tmp/foresight.sock or inproc://name"
    guard let schemeEnd = endpoint.range(of: "://") else {
        throw ValidationError("'\(endpoint)' is not an endpoint (no transport such as tcp://); \(examples)")
    }
    let scheme = endpoint[..<schemeEnd.lowerBound]
    let rest = endpoint[schemeEnd.upperBound...]
    switch scheme {
    case "tcp":
        guard let colon = rest.lastIndex(of: ":"), colon != rest.startIndex else {
            throw ValidationError("'\(endpoint)' has no host:port; \(examples)")
        }
        let port = rest[rest.index(after: colon)...]
        if port == "*" || port == "0" { return }
        guard let number = Int(port), (1...65535).contains(number) else {
            throw ValidationError("'\(endpoint)': port \(port) is not a TCP port (1–65535, or * for any when binding)")
        }
    case "ipc", "inproc", "pgm", "epgm", "ws", "wss", "udp", "vmci", "tipc", "norm":
        guard !rest.isEmpty else { throw ValidationError("'\(endpoint)' names no address; \(examples)") }
    default:
        throw ValidationError("'\(endpoint)': unknown transport '\(scheme)'; \(examples)")
    }
}

/// What `bag filter` and `bag cat` select and how they write.
struct BagSelectionOptions: ParsableArguments {
    @Option(name: [.short, .customLong("output")], help: "The MCAP file to write.")
    var output: String

    @Option(help: "Keep only topics matching this regular expression.")
    var topics: String?

    @Option(help: "Drop topics matching this regular expression.")
    var exclude: String?

    @Option(parsing: .unconditional, help: "Keep messages from this long after the recording's first message (seconds, or 1m30s, 500ms).")
    var startOffset: DurationArgument?

    @Option(parsing: .unconditional, help: "Keep messages up to this long after the recording's first message.")
    var endOffset: DurationArgument?

    @Option(parsing: .unconditional, help: "Keep this long from --start-offset (instead of --end-offset).")
    var duration: DurationArgument?

    @Option(help: "Chunk compression of the output: zstd, lz4 or none.")
    var compression: BagCompression = .zstd

    @Option(parsing: .unconditional, help: "Uncompressed chunk size of the output (bytes, or 4MiB, 1M).")
    var chunkSize = ByteSizeArgument(bytes: 4 << 20)

    @Flag(help: "Replace the output file if it exists.")
    var overwrite = false

    func validate() throws {
        if let startOffset, startOffset.seconds < 0 { throw ValidationError("--start-offset must not be negative, got \(startOffset.seconds) s") }
        if let endOffset, endOffset.seconds < 0 { throw ValidationError("--end-offset must not be negative, got \(endOffset.seconds) s") }
        if let duration, !(duration.seconds > 0) { throw ValidationError("--duration must be positive, got \(duration.seconds) s") }
        if endOffset != nil && duration != nil { throw ValidationError("--end-offset and --duration exclude each other") }
        if let startOffset, let endOffset, endOffset.seconds < startOffset.seconds {
            throw ValidationError("--end-offset \(endOffset.seconds) s is before --start-offset \(startOffset.seconds) s")
        }
        if chunkSize.bytes < 1024 || chunkSize.bytes > 1 << 30 { throw ValidationError("--chunk-size must be between 1 KiB and 1 GiB, got \(chunkSize.bytes)") }
        _ = try regex(topics, option: "--topics")
        _ = try regex(exclude, option: "--exclude")
        if FileManager.default.fileExists(atPath: output), !overwrite {
            throw ValidationError("\(output) already exists; choose another -o, or pass --overwrite to replace it")
        }
    }

    private func regex(_ pattern: String?, option: String) throws -> Regex<AnyRegexOutput>? {
        guard let pattern else { return nil }
        do {
            return try Regex(pattern)
        } catch {
            throw ValidationError("\(option) '\(pattern)' is not a valid regular expression: \(error)")
        }
    }

    /// Copies the selected messages of `inputs` (each an MCAP file, split set or folder; merged
    /// in log-time order) into a new chunked, indexed MCAP file with a summary.
    func copy(_ inputs: [String]) throws {
        let include = try regex(topics, option: "--topics")
        let excluded = try regex(exclude, option: "--exclude")
        let recording: BagRecording
        do {
            recording = try BagRecording(paths: inputs)
        } catch {
            throw CLIError("\(error)")
        }
        for note in recording.notes { printError(note) }
        for warning in recording.warnings { printError(warning) }
        let outputPath = URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath().path
        if recording.files.contains(where: { URL(fileURLWithPath: $0).standardizedFileURL.resolvingSymlinksInPath().path == outputPath }) {
            throw CLIError("-o \(output) is one of the inputs; write to another file")
        }
        let summary: BagSummary
        do {
            summary = try recording.summary()
        } catch {
            throw CLIError("\(error)")
        }
        let base = summary.startTime
        let start = base &+ UInt64(max(0, startOffset?.seconds ?? 0) * 1e9)
        var end = UInt64.max
        if let endOffset { end = base &+ UInt64(endOffset.seconds * 1e9) }
        if let duration { end = start &+ max(UInt64(duration.seconds * 1e9), 1) &- 1 }
        if summary.messageCount > 0, start > summary.endTime {
            throw CLIError(String(format: "--start-offset %g s is past the end of the recording (it spans %.3f s)",
                                  startOffset?.seconds ?? 0, Double(summary.endTime - base) / 1e9))
        }
        let temporary = output + ".partial-\(getpid())"
        do {
            let writer = try BagWriter(path: temporary, options: BagWriterOptions(
                compression: compression, chunkSize: Int(chunkSize.bytes), library: "foresight \(ForesightVersion.string)"))
            let cursor = try recording.messages(startTime: start, endTime: end) { channel in
                if let include, channel.topic.firstMatch(of: include) == nil { return false }
                if let excluded, channel.topic.firstMatch(of: excluded) != nil { return false }
                return true
            }
            struct ChannelKey: Hashable { var topic, encoding: String; var schema: BagSchema?; var metadata: [String: String] }
            var channelIDs: [ChannelKey: UInt16] = [:]
            var topicsWritten: Set<String> = []
            while let entry = try cursor.next() {
                let schema = cursor.schema(of: entry)
                var keySchema = schema
                keySchema?.id = 0  // IDs belong to the input file; the content identifies the schema
                let key = ChannelKey(topic: entry.channel.topic, encoding: entry.channel.messageEncoding, schema: keySchema,
                                     metadata: entry.channel.metadata)
                let channelID: UInt16
                if let known = channelIDs[key] {
                    channelID = known
                } else {
                    let schemaID = try schema.map { s throws(BagError) in try writer.addSchema(name: s.name, encoding: s.encoding, data: s.data) } ?? 0
                    channelID = try writer.addChannel(topic: entry.channel.topic, messageEncoding: entry.channel.messageEncoding,
                                                      schemaID: schemaID, metadata: entry.channel.metadata)
                    channelIDs[key] = channelID
                }
                topicsWritten.insert(entry.channel.topic)
                try writer.write(channelID: channelID, sequence: entry.message.sequence, logTime: entry.message.logTime,
                                 publishTime: entry.message.publishTime, data: entry.message.data)
            }
            let written = try writer.finish()
            if rename(temporary, output) != 0 {
                throw BagError.io(path: output, operation: "rename \(temporary) to", reason: String(cString: strerror(errno)))
            }
            print("wrote \(output): \(written.messageCount) messages on \(topicsWritten.count) topic(s), "
                  + "\(written.chunkCount) chunks, \(written.fileSize) bytes (from \(summary.messageCount) messages in \(recording.files.count) file(s))")
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw CLIError("\(error)")
        }
    }
}

/// `foresight bag filter`: cut a recording down by topic and time.
struct BagFilterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filter",
        abstract: "Write a new bag with only the chosen topics and time range of a recording.",
        discussion: """
        Times are relative to the recording's first message. The output is a chunked, indexed \
        MCAP file with a summary; messages keep their bytes, log and publish times and sequence \
        numbers; schemas and channels of the kept topics are carried over (metadata records and \
        attachments are not). An existing output is never replaced without --overwrite.

        Example: foresight bag filter drive.mcap -o camera.mcap --topics '^sensor/camera$' --start-offset 10 --duration 30s
        """
    )

    @Argument(help: "The recording: an .mcap file, a split set (NAME.mcap for NAME_0000.mcap, …) or a folder.")
    var input: String

    @OptionGroup var selection: BagSelectionOptions

    func run() throws {
        try selection.copy([input])
    }
}

/// `foresight bag cat`: join recordings into one bag.
struct BagCatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cat",
        abstract: "Concatenate recordings into one bag (messages merged in log-time order).",
        discussion: """
        Takes the same topic and time selection as `bag filter` (times relative to the first \
        message of all inputs). Typical use: join a split recording into one file.

        Example: foresight bag cat drive_0000.mcap drive_0001.mcap -o drive-all.mcap
        """
    )

    @Argument(help: "The recordings (files, split sets or folders), in any order.")
    var inputs: [String]

    @OptionGroup var selection: BagSelectionOptions

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one recording to concatenate") }
    }

    func run() throws {
        try selection.copy(inputs)
    }
}
