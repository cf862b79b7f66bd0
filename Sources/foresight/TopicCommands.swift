import ArgumentParser
import ForesightBus
import ForesightWire
import Foundation

/// `foresight topic`: what is being published on an endpoint, like `ros2 topic list|hz|bw`.
struct TopicCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topic",
        abstract: "Inspect the topics on one or more endpoints: list them, measure rates or bandwidth.",
        discussion: """
        Examples:
          foresight topic list tcp://127.0.0.1:5600
          foresight topic hz tcp://127.0.0.1:5600 --topic sensor/gnss
          foresight topic bw tcp://127.0.0.1:5600 tcp://127.0.0.1:5601 --duration 5
        """,
        subcommands: [TopicListCommand.self, TopicHzCommand.self, TopicBwCommand.self]
    )
}

/// Options shared by the `topic` subcommands.
struct TopicWatchOptions: ParsableArguments {
    @Argument(help: "Endpoint(s) to subscribe to, e.g. tcp://127.0.0.1:5600 (several are merged).")
    var endpoints: [String]

    @Option(help: "Topic prefix to subscribe to (repeatable; default: everything).")
    var topic: [String] = []

    @Option(help: "Only topics matching this regular expression (repeatable: any may match).")
    var topicRegex: [String] = []

    @Option(help: "Skip topics matching this regular expression (repeatable).")
    var exclude: [String] = []

    @OptionGroup var socket: SocketModeOptions

    @OptionGroup(title: "CURVE security") var curve: CurveOptions

    func validate() throws {
        if endpoints.isEmpty { throw ValidationError("give at least one endpoint, e.g. tcp://127.0.0.1:5600") }
        for pattern in topicRegex + exclude {
            do { _ = try NSRegularExpression(pattern: pattern) } catch {
                throw ValidationError("'\(pattern)' is not a valid regular expression")
            }
        }
    }

    /// Subscribes and calls `onMessage` for every message passing the filters until `duration`
    /// seconds pass (nil: until Ctrl-C); `tick` runs every `period` seconds.
    func watch(duration: Double?, period: Double, onMessage: @escaping @Sendable (BusMessage) -> Void,
               tick: @escaping @Sendable () -> Void) async throws {
        var options = Subscriber.Options()
        options.mode = socket.mode(default: .connect)
        options.topics = topic.isEmpty ? [""] : topic
        options.bufferCapacity = 10_000
        let context = try BusContext()
        let secured = try curve.setUp(context: context, mode: options.mode, endpointCount: endpoints.count, command: "topic")
        options.curve = secured?.0
        defer { secured?.1?.close() }
        let subscriber: Subscriber
        do {
            subscriber = try Subscriber(context: context, endpoints: endpoints, options: options)
        } catch {
            throw advise(error, "stop it, or leave out --bind to connect to the publisher there")
        }
        let trap = SignalTrap { _ in subscriber.close() }
        defer { subscriber.close(); _ = trap }
        let filter = try TopicFilter(include: topicRegex, exclude: exclude)
        printError("listening on \(subscriber.endpoints.joined(separator: ", "))" + (duration.map { " for \($0) s" } ?? " (Ctrl-C to stop)"))
        let stream = subscriber.messages
        let reader = Task {
            for await message in stream where filter.matches(message.topic ?? "") { onMessage(message) }
        }
        let clock = ContinuousClock()
        let start = clock.now
        var next = start.advanced(by: .seconds(period))
        while !trap.triggered {
            if let duration, clock.now >= start.advanced(by: .seconds(duration)) { break }
            var wake = next
            if let duration { wake = min(wake, start.advanced(by: .seconds(duration))) }
            try? await Task.sleep(until: wake, clock: clock)
            if clock.now >= next {
                tick()
                next = next.advanced(by: .seconds(period))
            }
        }
        subscriber.close()
        _ = await reader.value
    }
}

/// Per-topic arrivals: counts, receive-time periods and sizes over a sliding window.
final class TopicTally: Sendable {
    struct Entry {
        var count = 0
        var bytes = 0
        var type = "?"
        var last: Int64 = 0
        var periods: [Double] = []   // seconds, newest last, at most `window`
        var sizes: [Int] = []        // bytes, newest last, at most `window`
        var windowStart: Int64 = 0
    }
    private let entries = Locked<[String: Entry]>([:])
    let window: Int

    init(window: Int) { self.window = window }

    func add(_ message: BusMessage) {
        let topic = message.topic ?? "<non-UTF-8 topic>"
        let size = message.frames.reduce(0) { $0 + $1.count }
        entries.withLock { e in
            var entry = e[topic] ?? Entry()
            if entry.count == 0 {
                entry.type = EchoFormatter.type(of: topic)?.name ?? "unknown"
                entry.windowStart = message.receiveTime
            }
            if entry.last > 0 {
                entry.periods.append(Double(message.receiveTime - entry.last) / 1e9)
                if entry.periods.count > window { entry.periods.removeFirst(entry.periods.count - window) }
            }
            entry.sizes.append(size)
            if entry.sizes.count > window { entry.sizes.removeFirst(entry.sizes.count - window) }
            entry.last = message.receiveTime
            entry.count += 1
            entry.bytes += size
            e[topic] = entry
        }
    }

    var snapshot: [(topic: String, entry: Entry)] {
        entries.withLock { e in e.keys.sorted().compactMap { k in e[k].map { (k, $0) } } }
    }

    /// `ros2 topic hz`-style line: average rate and min/max/std of the period over the window.
    static func rateLine(_ topic: String, _ e: Entry) -> String {
        guard !e.periods.isEmpty else { return "\(topic): 1 message, no rate yet" }
        let n = Double(e.periods.count)
        let mean = e.periods.reduce(0, +) / n
        let std = (e.periods.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
        return String(format: "%@: average rate %.3f Hz  min %.4f s  max %.4f s  std dev %.5f s  window %d",
                      topic, mean > 0 ? 1 / mean : 0, e.periods.min() ?? 0, e.periods.max() ?? 0, std, e.periods.count)
    }

    /// `ros2 topic bw`-style line: bandwidth over the window and message sizes.
    static func bandwidthLine(_ topic: String, _ e: Entry) -> String {
        let span = e.periods.suffix(max(0, e.sizes.count - 1)).reduce(0, +)
        let windowBytes = e.sizes.suffix(max(1, e.sizes.count - 1)).reduce(0, +)
        let rate = span > 0 ? Double(windowBytes) / span : 0
        let mean = Double(e.sizes.reduce(0, +)) / Double(max(1, e.sizes.count))
        return "\(topic): \(ByteSize.text(rate))/s from \(e.sizes.count) messages  mean \(ByteSize.text(mean))  "
            + "min \(ByteSize.text(Double(e.sizes.min() ?? 0)))  max \(ByteSize.text(Double(e.sizes.max() ?? 0)))"
    }
}

/// `foresight topic list`: topics heard within the listening time.
struct TopicListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the topics published on the endpoint(s) within --duration seconds, with type and count.",
        discussion: "ZeroMQ has no registry of topics: a topic shows up once a message on it arrives."
    )

    @OptionGroup var watch: TopicWatchOptions

    @Option(parsing: .unconditional, help: "How long to listen (seconds, or e.g. 500ms, 1m).")
    var duration = DurationArgument(seconds: 2)

    @Flag(help: "Also print the message type and the number of messages heard.")
    var verbose = false

    func validate() throws {
        if !(duration.seconds > 0) { throw ValidationError("--duration must be positive, got \(duration.seconds) s") }
    }

    func run() async throws {
        let tally = TopicTally(window: 2)
        try await watch.watch(duration: duration.seconds, period: duration.seconds, onMessage: { tally.add($0) }, tick: {})
        let rows = tally.snapshot
        if rows.isEmpty { printError("no messages within \(duration.seconds) s (is the publisher running? try a longer --duration)") }
        for (topic, e) in rows {
            print(verbose ? "\(topic)  [\(e.type)]  \(e.count) messages" : topic)
        }
    }
}

extension TopicWatchOptions {
    /// Tallies every message until `duration` (or Ctrl-C), printing one `line` per topic every
    /// second and once more after `-- final` (what `topic hz` and `topic bw` share).
    func report(duration: Double?, window: Int, line: @escaping @Sendable (String, TopicTally.Entry) -> String) async throws {
        let tally = TopicTally(window: window)
        let lines: @Sendable () -> String = { tally.snapshot.map { line($0.topic, $0.entry) }.joined(separator: "\n") }
        try await watch(duration: duration, period: 1, onMessage: { tally.add($0) }, tick: { emitLine(lines()) })
        emitLine("-- final")
        emitLine(lines())
    }
}

/// `foresight topic hz`: arrival rates per topic.
struct TopicHzCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hz",
        abstract: "Print the arrival rate of each topic every second: average, min/max/std dev of the period.",
        discussion: "Periods are measured between receive times over the last --window messages of each topic."
    )

    @OptionGroup var watch: TopicWatchOptions

    @Option(parsing: .unconditional, help: "Stop after this long and print the final figures (seconds, or e.g. 1m30s; default: until Ctrl-C).")
    var duration: DurationArgument?

    @Option(help: "Periods per topic kept for the statistics.")
    var window: Int = 100

    func validate() throws {
        if let duration, !(duration.seconds > 0) { throw ValidationError("--duration must be positive, got \(duration.seconds) s") }
        if window < 2 { throw ValidationError("--window must be at least 2") }
    }

    func run() async throws {
        try await watch.report(duration: duration?.seconds, window: window, line: TopicTally.rateLine)
    }
}

/// `foresight topic bw`: bandwidth per topic.
struct TopicBwCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bw",
        abstract: "Print the bandwidth of each topic every second, with mean/min/max message size.",
        discussion: "Sizes count both frames of a message (topic and payload), as received."
    )

    @OptionGroup var watch: TopicWatchOptions

    @Option(parsing: .unconditional, help: "Stop after this long and print the final figures (seconds, or e.g. 1m30s; default: until Ctrl-C).")
    var duration: DurationArgument?

    @Option(help: "Messages per topic kept for the statistics.")
    var window: Int = 100

    func validate() throws {
        if let duration, !(duration.seconds > 0) { throw ValidationError("--duration must be positive, got \(duration.seconds) s") }
        if window < 2 { throw ValidationError("--window must be at least 2") }
    }

    func run() async throws {
        try await watch.report(duration: duration?.seconds, window: window, line: TopicTally.bandwidthLine)
    }
}

/// Writes a line to standard output at once (unbuffered: a pipe sees each report as it comes).
func emitLine(_ text: String) {
    guard !text.isEmpty else { return }
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
