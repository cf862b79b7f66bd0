import ArgumentParser
import ForesightBus
import ForesightWire
import Foundation

/// `foresight echo`: prints decoded messages from a ZeroMQ endpoint.
struct EchoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "Print decoded messages from one or more endpoints (arrays are summarized unless --full).",
        discussion: """
        Each message is validated against the protocol of its topic (matched by the topic's \
        ending, so site prefixes such as bs1/ work); a rejected message is printed like any other \
        (on standard output), with its reason in place of the type. Binary arrays are shown as \
        dtype, shape and min/max/mean; --full writes every element.

        Given a bag instead of an endpoint (an .mcap file, a split set or a folder), prints its \
        messages in log-time order with the log time as receive_time.

        Examples:
          foresight echo tcp://127.0.0.1:5555 --topic sensor/ --count 10
          foresight echo tcp://127.0.0.1:5555 --topic-regex 'gnss|beam' --field stamp,lat,lon
          foresight echo tcp://127.0.0.1:5555 tcp://127.0.0.1:5601 --exclude '^foresight/' --once --json
          foresight echo drive.mcap --topic sensor/gnss --count 5
        """
    )

    @Argument(help: "Endpoint(s) to subscribe to, e.g. tcp://127.0.0.1:5555 (several are merged), or one bag to read (drive.mcap).")
    var endpoints: [String]

    @Option(help: "Topic prefix to subscribe to (repeatable; default: everything).")
    var topic: [String] = []

    @Option(help: "Only print topics matching this regular expression (repeatable: any may match).")
    var topicRegex: [String] = []

    @Option(help: "Skip topics matching this regular expression (repeatable).")
    var exclude: [String] = []

    @Option(help: "Print only these fields, comma-separated (e.g. stamp,lat; dotted paths reach into maps).")
    var field: String?

    @Option(help: "Stop after this many messages.")
    var count: Int?

    @Flag(help: "Print the first message and exit (same as --count 1).")
    var once = false

    @Flag(help: "Print every element of binary arrays instead of a summary.")
    var full = false

    @Flag(help: "Print one JSON object per line instead of text.")
    var json = false

    @OptionGroup var socket: SocketModeOptions

    @OptionGroup(title: "CURVE security") var curve: CurveOptions

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if once && count != nil { throw ValidationError("--once and --count exclude each other") }
        if endpoints.isEmpty { throw ValidationError("give at least one endpoint, e.g. tcp://127.0.0.1:5555") }
        for pattern in topicRegex + exclude {
            do { _ = try NSRegularExpression(pattern: pattern) } catch {
                throw ValidationError("'\(pattern)' is not a valid regular expression")
            }
        }
        if let field, field.split(separator: ",").isEmpty { throw ValidationError("--field needs at least one field name") }
        if let bag = endpoints.first(where: BagEchoSource.isRecording), endpoints.count > 1 {
            throw ValidationError("give one bag (\(bag)) or endpoints, not both")
        }
        if endpoints.count == 1, BagEchoSource.isRecording(endpoints[0]) { return }
        for endpoint in endpoints { try checkEndpoint(endpoint) }
    }

    func run() async throws {
        let filter = try TopicFilter(include: topicRegex, exclude: exclude)
        let fields = field.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        let limit = once ? 1 : count
        if endpoints.count == 1, BagEchoSource.isRecording(endpoints[0]) {
            var source = try BagEchoSource(path: endpoints[0], prefixes: topic)
            var seen = 0
            while let message = source.next() {
                guard filter.matches(message.topic ?? "") else { continue }
                print(EchoFormatter.render(message, json: json, fields: fields, full: full))
                seen += 1
                if let limit, seen >= limit { break }
            }
            if let error = source.error { throw CLIError("\(error)") }
            return
        }
        let context = try BusContext()
        var options = Subscriber.Options()
        options.mode = socket.mode(default: .connect)
        options.topics = topic.isEmpty ? [""] : topic
        let secured = try curve.setUp(context: context, mode: options.mode, endpointCount: endpoints.count, command: "echo")
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
        if !json { printError("listening on \(subscriber.endpoints.joined(separator: ", ")) (Ctrl-C to stop)") }
        var seen = 0
        for await message in subscriber.messages {
            guard filter.matches(message.topic ?? "") else { continue }
            print(EchoFormatter.render(message, json: json, fields: fields, full: full))
            seen += 1
            if let limit, seen >= limit { break }
        }
    }
}

/// Topic selection by regular expressions: any of `include` (or everything) and none of `exclude`.
struct TopicFilter {
    private let include: [NSRegularExpression]
    private let exclude: [NSRegularExpression]

    init(include: [String], exclude: [String]) throws {
        self.include = try include.map { try NSRegularExpression(pattern: $0) }
        self.exclude = try exclude.map { try NSRegularExpression(pattern: $0) }
    }

    func matches(_ topic: String) -> Bool {
        let range = NSRange(topic.startIndex..., in: topic)
        func hit(_ r: NSRegularExpression) -> Bool { r.firstMatch(in: topic, range: range) != nil }
        if !include.isEmpty && !include.contains(where: hit) { return false }
        return !exclude.contains(where: hit)
    }
}

/// Formats received messages for `echo`.
enum EchoFormatter {
    /// The message type whose default topic ends `topic` (so `bs1/sensor/camera` is an Image).
    static func type(of topic: String) -> MessageType? {
        MessageType.allCases.first { topic == $0.defaultTopic || topic.hasSuffix("/" + $0.defaultTopic) }
    }

    /// The value at a dotted `path` of a JSON object, if present.
    static func lookup(_ path: String, in value: JSONText.Value) -> JSONText.Value? {
        var current = value
        for key in path.split(separator: ".") {
            guard case .object(let pairs) = current, let next = pairs.first(where: { $0.0 == key })?.1 else { return nil }
            current = next
        }
        return current
    }

    static func render(_ message: BusMessage, json: Bool, fields: [String]? = nil, full: Bool = false) -> String {
        let topic = message.topic ?? "<non-UTF-8 topic>"
        guard message.frames.count == 2 else {
            return "\(topic): rejected (framing): expected 2 frames, got \(message.frames.count)"
        }
        var verdict = "unvalidated (unknown topic)"
        if let type = type(of: topic) {
            do {
                _ = try type.decode(message.payload, topic: topic)
                verdict = type.name
            } catch {
                verdict = "\(error)"
            }
        }
        let value: MessagePackValue
        do {
            value = try MessagePackReader.decode(message.payload)
        } catch {
            return "\(topic): not MessagePack: \(error)"
        }
        var summary = WireJSON.summarized(value, full: full)
        if let fields {
            let picked = fields.map { ($0, lookup($0, in: summary) ?? .null) }
            if !json {
                return "\(topic) " + picked.map { "\($0.0)=\(JSONText.write($0.1))" }.joined(separator: " ")
            }
            summary = .object(picked)
        }
        if json {
            return JSONText.object([("message", summary), ("receive_time", .int(message.receiveTime)),
                                    ("topic", .string(topic)), ("type", .string(verdict))])
        }
        return "--- \(topic) [\(verdict)]\n\(JSONText.write(summary, pretty: true))"
    }
}

/// `foresight pub`: publishes a message given as JSON.
struct PubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pub",
        abstract: "Publish a message given as JSON, for poking a running system by hand.",
        discussion: """
        The JSON object becomes the MessagePack map. Binary fields are written as \
        {"$base64": "..."} or {"$f32": [1.0, 2.5]} (packed little-endian float32). \
        "stamp": "now" (or a missing stamp) takes the current time at each send; a missing seq \
        counts up from 0. Messages on known topics are validated before anything is sent.

        Example: foresight pub tcp://127.0.0.1:5556 --topic sensor/gnss --file fix.json --rate 10 --count 50
        """
    )

    @Argument(help: "Endpoint to publish on, e.g. tcp://*:5556 (bound by default).")
    var endpoint: String

    @Option(help: "Topic to publish on.")
    var topic: String

    @Option(help: "JSON file with the message (- for standard input).")
    var file: String

    @Option(help: "Messages per second.")
    var rate: Double = 1

    @Option(help: "Number of messages to send.")
    var count: Int = 1

    @Option(parsing: .unconditional, help: "Wait this long after binding/connecting before the first send (seconds, or 500ms; subscribers need time to join).")
    var delay = DurationArgument(seconds: 0.5)

    @OptionGroup var socket: SocketModeOptions

    @OptionGroup(title: "CURVE security") var curve: CurveOptions

    func validate() throws {
        if !(rate > 0) { throw ValidationError("--rate must be positive") }
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if delay.seconds < 0 { throw ValidationError("--delay must not be negative, got \(delay.seconds) s") }
        try checkEndpoint(endpoint)
    }

    func run() async throws {
        let data: Data
        do {
            data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw ValidationError("cannot read --file \(file): \(error.localizedDescription)")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ValidationError("\(file) is not valid JSON: \(error.localizedDescription)")
        }
        guard json is [String: Any] else { throw ValidationError("\(file) must hold a JSON object (the message map)") }
        let template = try WireJSON.messagePack(fromJSON: json)
        guard case .map(let entries) = template else { throw ValidationError("\(file) must hold a JSON object") }

        // Validate the first message before opening any socket.
        _ = try message(number: 0, from: entries)

        let opened = try curve.openPublisher(endpoint: endpoint, mode: socket.mode(default: .bind), command: "pub",
                                             advice: "stop it, or publish on another port (e.g. tcp://*:5610), or use --connect when a proxy binds there")
        defer { opened.close() }
        let publisher = opened.publisher
        let trap = SignalTrap { _ in }
        printError("publishing \(count) message(s) on '\(topic)' at \(publisher.endpoints.joined(separator: ", "))")
        if delay.seconds > 0 { try await Task.sleep(for: .seconds(delay.seconds)) }

        let period = 1.0 / rate
        let start = ContinuousClock.now
        for i in 0..<count where !trap.triggered {
            publisher.send(topic: topic, payload: try message(number: i, from: entries))
            let next = start.advanced(by: .seconds(period * Double(i + 1)))
            if i < count - 1 { try await Task.sleep(until: next, clock: .continuous) }
        }
    }

    /// The `number`-th message: the template with `stamp` ("now" or absent → current time) and
    /// `seq` (absent → `number`) filled in, validated when the topic's type is known.
    private func message(number: Int, from entries: [(key: String, value: MessagePackValue)]) throws -> [UInt8] {
        var fields = entries.filter { $0.key != "stamp" && $0.key != "seq" }
        let stamp: MessagePackValue
        switch entries.first(where: { $0.key == "stamp" })?.value {
        case nil, .string("now")?: stamp = .int(wallClockNanoseconds())
        case let value?: stamp = value
        }
        let seq = entries.first { $0.key == "seq" }?.value ?? .uint(UInt64(number))
        fields.insert(("seq", seq), at: 0)
        fields.insert(("stamp", stamp), at: 0)
        var writer = MessagePackWriter()
        writer.write(.map(fields))
        if let type = EchoFormatter.type(of: topic) {
            do {
                _ = try type.decode(writer.bytes, topic: topic)
            } catch {
                throw CLIError("the message in \(file) is not a valid \(type.name): \(error)")
            }
        }
        return writer.bytes
    }
}

/// `foresight schema`: prints or writes the JSON Schema of each message type.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema of a message type, or write them all to a folder.",
        discussion: "Example: foresight schema foresight.Image    |    foresight schema --write docs/schemas"
    )

    @Argument(help: "Message type name (e.g. foresight.Image) or default topic (e.g. sensor/camera). Omit to list them.")
    var type: String?

    @Option(help: "Write every schema as <name>.json into this folder.")
    var write: String?

    func run() throws {
        if let write {
            try FileManager.default.createDirectory(atPath: write, withIntermediateDirectories: true)
            for t in MessageType.allCases {
                try (t.jsonSchema + "\n").write(toFile: "\(write)/\(t.name).json", atomically: true, encoding: .utf8)
            }
            print("wrote \(MessageType.allCases.count) schemas to \(write)")
            return
        }
        guard let type else {
            for t in MessageType.allCases { print("\(t.name.padding(toLength: 30, withPad: " ", startingAt: 0)) \(t.defaultTopic)") }
            return
        }
        guard let t = MessageType.allCases.first(where: { $0.name == type || $0.defaultTopic == type }) else {
            throw ValidationError("unknown message type '\(type)'; run `foresight schema` to list them")
        }
        print(t.jsonSchema)
    }
}
