import ArgumentParser
import ForesightBag
import ForesightBus
import ForesightWire
import Foundation

/// Parses `--compression`.
extension BagCompression: ExpressibleByArgument {}

/// Compiles a `--topics`/`--exclude` pattern with a clear error.
private func compile(_ pattern: String?, option: String) throws -> Regex<AnyRegexOutput>? {
    guard let pattern else { return nil }
    do {
        return try Regex(pattern)
    } catch {
        throw ValidationError("\(option) '\(pattern)' is not a valid regular expression: \(error)")
    }
}

/// True if `topic` passes an include and an exclude pattern (search semantics: a match anywhere).
private func selected(_ topic: String, include: Regex<AnyRegexOutput>?, exclude: Regex<AnyRegexOutput>?) -> Bool {
    if let include, topic.firstMatch(of: include) == nil { return false }
    if let exclude, topic.firstMatch(of: exclude) != nil { return false }
    return true
}

/// The MCAP schema of a topic: the protocol type whose default topic ends the topic name.
func schema(for topic: String) -> BagTopicSchema? {
    guard let type = EchoFormatter.type(of: topic) else { return nil }
    return BagTopicSchema(name: type.name, encoding: "jsonschema", data: Array(type.jsonSchema.utf8))
}

private func megabytes(_ bytes: UInt64) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }

/// Rewrites the terminal's current line with `text` (carriage return, clear to end of line).
private func progressLine(_ text: String) {
    FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + text).utf8))
}

/// Whether standard output is a terminal (progress lines only then).
private var stdoutIsTerminal: Bool { isatty(STDOUT_FILENO) != 0 }

/// `foresight record`: records topics from ZeroMQ endpoints into MCAP.
struct RecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record topics from ZeroMQ endpoints into an indexed, chunked MCAP file.",
        discussion: """
        Payloads are stored byte for byte (message encoding msgpack) with one jsonschema schema \
        per protocol type; log_time is the receive time and publish_time the message's stamp. \
        Completed chunks are written as they fill (and at least every second), so a crash loses \
        at most the open chunk; `foresight bag recover` rebuilds such a file. SIGINT/SIGTERM \
        finish the file properly. The receive path never waits for the disk: beyond \
        --buffer-size bytes in flight, messages are dropped and counted.

        An existing output is never replaced unless --overwrite is given. Sizes take units \
        (4G = 4×10⁹ bytes, 4GiB = 4×2³⁰), durations too (90, 1m30s, 2h, 500ms).

        Example: foresight record tcp://127.0.0.1:5600 -o drive.mcap --topics '^sensor/' --split-size 4G
        """
    )

    @Argument(help: "Endpoints to subscribe to, e.g. tcp://127.0.0.1:5600 (where `foresight sim` publishes).")
    var endpoints: [String]

    @Option(name: [.short, .customLong("output")], help: "Output file (with splitting: NAME_0000.mcap, NAME_0001.mcap, …).")
    var output: String

    @Option(help: "Record only topics matching this regular expression.")
    var topics: String?

    @Option(help: "Do not record topics matching this regular expression.")
    var exclude: String?

    @Option(help: "Chunk compression: zstd, lz4 or none.")
    var compression: BagCompression = .zstd

    @Option(parsing: .unconditional, help: "Uncompressed chunk size (bytes, or with a unit: 4MiB, 1M).")
    var chunkSize = ByteSizeArgument(bytes: 4 << 20)

    @Option(parsing: .unconditional, help: "Start a new file when the current one reaches this size (4G, 500MB, 2GiB or bytes).")
    var splitSize: ByteSizeArgument?

    @Option(parsing: .unconditional, help: "Start a new file when the current one spans this long (600, 10m, 1h30m).")
    var splitDuration: DurationArgument?

    @Option(parsing: .unconditional, help: "Received bytes that may wait for the disk before messages are dropped (512MiB, 1G).")
    var bufferSize = ByteSizeArgument(bytes: 512 << 20)

    @Option(parsing: .unconditional, help: "Stop after this long (seconds, or 1m30s, 2h; default: until SIGINT/SIGTERM).")
    var duration: DurationArgument?

    @Flag(help: "Replace the output file(s) if they exist (by default an existing recording is never overwritten).")
    var overwrite = false

    @OptionGroup var socket: SocketModeOptions

    @OptionGroup(title: "CURVE security") var curve: CurveOptions

    func validate() throws {
        if endpoints.isEmpty { throw ValidationError("give at least one endpoint to record from") }
        if splitSize != nil && splitDuration != nil { throw ValidationError("--split-size and --split-duration exclude each other") }
        if chunkSize.bytes < 1024 { throw ValidationError("--chunk-size must be at least 1024 bytes, got \(chunkSize.bytes)") }
        if chunkSize.bytes > 1 << 30 { throw ValidationError("--chunk-size must be at most 1 GiB, got \(chunkSize.bytes)") }
        if let splitSize, splitSize.bytes < 4096 { throw ValidationError("--split-size must be at least 4096 bytes, got \(splitSize.bytes)") }
        if let splitDuration, !(splitDuration.seconds > 0) { throw ValidationError("--split-duration must be positive, got \(splitDuration.seconds) s") }
        if let duration, !(duration.seconds > 0) { throw ValidationError("--duration must be positive, got \(duration.seconds) s") }
        if bufferSize.bytes < 1 << 20 { throw ValidationError("--buffer-size must be at least 1 MiB, got \(bufferSize.bytes) bytes") }
        for endpoint in endpoints { try checkEndpoint(endpoint) }
        _ = try compile(topics, option: "--topics")
        _ = try compile(exclude, option: "--exclude")
        let existing = existingOutputs()
        if let first = existing.first, !overwrite {
            let more = existing.count > 1 ? " (and \(existing.count - 1) more file\(existing.count > 2 ? "s" : "") of its split set)" : ""
            throw ValidationError("\(first) already exists\(more); recording would overwrite it. "
                                  + "Choose another -o, or pass --overwrite to replace it")
        }
    }

    /// The files this recording would replace: the output, or with splitting its numbered files.
    private func existingOutputs() -> [String] {
        if splitSize != nil || splitDuration != nil { return BagRecording.splitSet(of: output) }
        return FileManager.default.fileExists(atPath: output) ? [output] : []
    }

    func run() async throws {
        let include = try compile(topics, option: "--topics")
        let excluded = try compile(exclude, option: "--exclude")
        // With --overwrite, the old split set goes entirely: a stale NAME_0007.mcap would
        // otherwise be read back as part of the new recording.
        for stale in existingOutputs() where stale != output { try? FileManager.default.removeItem(atPath: stale) }
        let split = BagSplitPolicy(maxBytes: splitSize.map { UInt64($0.bytes) }, maxDuration: splitDuration.map { UInt64($0.nanoseconds) })
        let recorder: BagRecorder
        do {
            recorder = try BagRecorder(
                path: output, options: BagWriterOptions(compression: compression, chunkSize: Int(chunkSize.bytes),
                                                        library: "foresight \(ForesightVersion.string)"),
                split: split, bufferLimit: UInt64(bufferSize.bytes),
                metadata: ["endpoints": endpoints.joined(separator: " "), "topics": topics ?? "", "exclude": exclude ?? "",
                           "foresight_version": ForesightVersion.string],
                schemaFor: schema(for:))
        } catch {
            throw CLIError("\(error)")
        }
        let context = try BusContext()
        var options = Subscriber.Options()
        options.mode = socket.mode(default: .connect)
        options.bufferCapacity = 16_384
        options.receiveHighWaterMark = 10_000
        let secured = try curve.setUp(context: context, mode: options.mode, endpointCount: endpoints.count, command: "record")
        options.curve = secured?.0
        defer { secured?.1?.close() }
        let subscriber = try Subscriber(context: context, endpoints: endpoints, options: options)
        let trap = SignalTrap { _ in subscriber.close() }
        defer { _ = trap }
        if let duration {
            let stop = DispatchTime.now() + duration.seconds
            DispatchQueue.global().asyncAfter(deadline: stop) { subscriber.close() }
        }
        printError("recording \(subscriber.endpoints.joined(separator: ", ")) to \(output) (Ctrl-C to stop)")
        let progress = stdoutIsTerminal
        var lastProgress = DispatchTime.now().uptimeNanoseconds
        var skipped: UInt64 = 0
        for await message in subscriber.messages {
            guard message.frames.count == 2, let topic = message.topic else {
                skipped += 1
                continue
            }
            if selected(topic, include: include, exclude: excluded) {
                recorder.submit(topic: topic, payload: message.payload, receiveTime: UInt64(max(0, message.receiveTime)))
            }
            if progress {
                let now = DispatchTime.now().uptimeNanoseconds
                if now - lastProgress > 500_000_000 {
                    lastProgress = now
                    let s = recorder.currentStats
                    progressLine("recorded \(s.written) msgs, \(megabytes(s.writtenBytes)), buffered \(megabytes(s.bufferedBytes)), dropped \(s.dropped)")
                }
            }
        }
        // Joining the socket thread and flushing the file wait: on their own thread, off the pool.
        let stats = await OffPool.run("foresight-finish") { () -> BagRecorderStats in
            subscriber.close()
            return recorder.finish()
        }
        if progress { print("") }
        let receiveDrops = subscriber.statistics.dropped
        printError("recorded \(stats.written) messages (\(megabytes(stats.writtenBytes))) into \(stats.files.joined(separator: ", "))")
        if stats.dropped > 0 || receiveDrops > 0 || skipped > 0 {
            printError("dropped \(stats.dropped) messages (\(megabytes(stats.droppedBytes))) because the disk fell behind; "
                       + "\(receiveDrops) dropped in the receive queue; \(skipped) malformed (not topic + payload)")
        }
        if let error = stats.error { throw CLIError("recording failed: \(error)") }
    }
}

/// `foresight replay`: republishes a bag.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Republish an MCAP bag with its original timing (by log time) or as fast as possible.",
        discussion: """
        Payloads go out exactly as recorded, unless --restamp (stamps shifted so the bag starts \
        now) or --loop (each pass shifts stamps by the bag's span plus one mean gap, so time keeps \
        increasing) rewrites the stamp.

        A split recording (NAME_0000.mcap, NAME_0001.mcap, … as `record --split-size` writes) \
        replays as one when given as NAME.mcap or as its folder.

        Example: foresight replay drive.mcap --endpoint tcp://*:5600 --rate 2 --topics '^sensor/'
        """
    )

    @Argument(help: "The bag to replay: an .mcap file, a split set (NAME.mcap for NAME_0000.mcap, NAME_0001.mcap, …) or a folder.")
    var file: String

    @Option(help: "Endpoint to publish on (bound by default; the sensor port the daemon and `foresight sim` use).")
    var endpoint: String = "tcp://*:5600"

    @Option(parsing: .unconditional, help: "Playback speed factor (default 1; not with --as-fast-as-possible).")
    var rate: Double?

    @Flag(help: "Start again at the end, forever (until SIGINT/SIGTERM).")
    var loop = false

    @Option(parsing: .unconditional, help: "Skip this long from the start of the bag (seconds, or 1m30s, 500ms).")
    var startOffset = DurationArgument(seconds: 0)

    @Option(parsing: .unconditional, help: "Play only this long of the bag (seconds, or 1m30s, 500ms).")
    var duration: DurationArgument?

    @Option(help: "Replay only topics matching this regular expression.")
    var topics: String?

    @Flag(help: "Ignore the recorded timing and publish as fast as possible.")
    var asFastAsPossible = false

    @Flag(help: "Shift stamps so the bag's start maps to now.")
    var restamp = false

    @Flag(help: "Replay from a real-time (SCHED_FIFO) thread for tighter timing on a busy machine (needs CAP_SYS_NICE; ignored otherwise).")
    var realtime = false

    @Option(parsing: .unconditional, help: "Wait this long after binding/connecting before the first message (subscribers need time to join).")
    var delay = DurationArgument(seconds: 0.5)

    @OptionGroup var socket: SocketModeOptions

    @OptionGroup(title: "CURVE security") var curve: CurveOptions

    func validate() throws {
        if let rate, !(rate > 0 && rate.isFinite) { throw ValidationError("--rate must be a positive number, got \(rate)") }
        if asFastAsPossible, let rate {
            throw ValidationError("--as-fast-as-possible and --rate \(rate) contradict each other: "
                                  + "as fast as possible ignores the timing; drop one of them")
        }
        if startOffset.seconds < 0 { throw ValidationError("--start-offset must not be negative, got \(startOffset.seconds) s") }
        if let duration, !(duration.seconds > 0) { throw ValidationError("--duration must be positive, got \(duration.seconds) s") }
        if delay.seconds < 0 { throw ValidationError("--delay must not be negative, got \(delay.seconds) s") }
        try checkEndpoint(endpoint)
        _ = try compile(topics, option: "--topics")
    }

    func run() async throws {
        let options = BagReplayOptions(rate: rate ?? 1, loop: loop, startOffset: startOffset.seconds, duration: duration?.seconds,
                                       asFastAsPossible: asFastAsPossible, restamp: restamp, realtimePriority: realtime)
        let pattern = topics
        let file = self.file
        // Opened once up front: a missing file fails before any socket, and a bag that was never
        // closed (the recorder was killed) is reported.
        _ = try openRecording(file)
        var publisherOptions = Publisher.Options()
        publisherOptions.mode = socket.mode(default: .bind)
        publisherOptions.sendHighWaterMark = 100_000
        let context = try BusContext()
        let secured = try curve.setUp(context: context, mode: publisherOptions.mode, endpointCount: 1, command: "replay")
        publisherOptions.curve = secured?.0
        defer { secured?.1?.close() }
        let publisher = try Publisher(context: context, endpoint: endpoint, options: publisherOptions)
        defer { publisher.close() }
        let trap = SignalTrap { _ in }
        printError("replaying \(file) on \(publisher.endpoints.joined(separator: ", "))")
        if delay.seconds > 0 { try await Task.sleep(for: .seconds(delay.seconds)) }
        let progress = stdoutIsTerminal
        // Timed replay sleeps between messages: run it on its own thread, off the cooperative pool.
        let result: Result<BagReplayStats, BagError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                do throws(BagError) {
                    let include = try? compile(pattern, option: "--topics")
                    let player = try BagPlayer(path: file, options: options) { channel in
                        selected(channel.topic, include: include ?? nil, exclude: nil)
                    }
                    let stats = try player.run(shouldStop: { trap.triggered }, progress: { p in
                        guard progress else { return }
                        let pass = options.loop ? " pass \(p.pass + 1)" : ""
                        progressLine(String(format: "%.1f / %.1f s", p.position, p.total) + pass + ", \(p.published) messages")
                    }) { topic, payload in
                        publisher.send(topic: topic, payload: payload)
                    }
                    continuation.resume(returning: .success(stats))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            thread.name = "foresight-replay"
            thread.start()
        }
        if progress { print("") }
        switch result {
        case .success(let stats):
            let dropped = publisher.statistics.dropped
            printError("published \(stats.published) messages in \(stats.passes) pass(es)" + (dropped > 0 ? "; \(dropped) dropped by the publisher queue" : ""))
        case .failure(let error):
            throw CLIError("\(error)")
        }
    }
}

/// `foresight bag`: inspect and repair bags.
struct BagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bag",
        abstract: "Inspect and repair MCAP bags.",
        subcommands: [BagInfoCommand.self, BagRecoverCommand.self, BagFilterCommand.self, BagCatCommand.self, BagExportCommand.self]
    )
}

/// `foresight bag info`.
struct BagInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show duration, start/end, size, compression and a topic table (read from the summary).",
        discussion: """
        A split recording is summed up as one: give NAME.mcap for NAME_0000.mcap, NAME_0001.mcap, … \
        (what `record --split-size` writes) or the folder holding the files. A file that was not \
        closed (the recorder was killed) is read by a sequential scan, with a warning on stderr.

        Example: foresight bag info drive.mcap
        """
    )

    @Argument(help: "The bag: an .mcap file, a split set (NAME.mcap for NAME_0000.mcap, …) or a folder.")
    var file: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let recording = try openRecording(file)
        let info: BagInfo
        do {
            info = try recording.info()
        } catch {
            throw CLIError("\(error)")
        }
        guard json else {
            print(info.text)
            return
        }
        let s = info.summary
        var object: [String: Any] = [
            "path": info.path, "size": info.fileSize, "messages": s.messageCount, "start": s.startTime, "end": s.endTime,
            "duration": info.duration, "indexed": s.indexed, "chunks": s.chunkCount,
            "attachments": s.attachmentCount, "metadata": s.metadataCount,
            "files": recording.files, "unclosed": recording.unclosedFiles,
            "compression": s.chunkCompressions.mapValues { $0 }.reduce(into: [String: Int]()) { $0[$1.key.isEmpty ? "none" : $1.key] = $1.value },
            "topics": info.topics.map { ["topic": $0.topic, "type": $0.schemaName, "count": $0.messageCount, "frequency": $0.frequency] as [String: Any] },
        ]
        if let cut = s.cutOff { object["cut_off"] = ["offset": cut.offset, "reason": cut.reason] as [String: Any] }
        FileHandle.standardOutput.write(Data(JSONText.document(JSONText.Value(foundation: object)).utf8))
    }
}

/// `foresight bag recover`.
struct BagRecoverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Rebuild a valid, indexed bag from one cut off by a crash or power loss.",
        discussion: "Keeps every complete chunk (copied verbatim after its CRC is checked). Example: foresight bag recover broken.mcap -o fixed.mcap"
    )

    @Argument(help: "The damaged bag.")
    var file: String

    @Option(name: [.short, .customLong("output")], help: "Where to write the rebuilt bag.")
    var output: String

    func run() throws {
        do {
            let report = try BagRecovery.recover(input: file, output: output)
            print(report.text)
            print("wrote \(output)")
        } catch {
            throw CLIError("\(error)")
        }
    }
}
