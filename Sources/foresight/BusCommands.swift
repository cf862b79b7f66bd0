import ArgumentParser
import ForesightBus
import ForesightWire
import Foundation

/// `foresight echo`: prints decoded messages from a ZeroMQ endpoint.
struct EchoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "Print decoded messages from an endpoint (arrays are summarized, never dumped).",
        discussion: """
        Each message is validated against the protocol of its topic (matched by the topic's \
        ending, so site prefixes such as bs1/ work); rejected messages are printed to stderr with \
        their reason. Binary arrays are shown as dtype, shape and min/max/mean.

        Given a bag instead of an endpoint (an .mcap file, a split set or a folder), prints its \
        messages in log-time order with the log time as receive_time.

        Example: foresight echo tcp://127.0.0.1:5555 --topic sensor/ --count 10
                 foresight echo drive.mcap --topic sensor/gnss --count 5
        """
    )

    @Argument(help: "Endpoint to subscribe to (e.g. tcp://127.0.0.1:5555), or a bag to read (drive.mcap).")
    var endpoint: String

    @Option(help: "Topic prefix to subscribe to (repeatable; default: everything).")
    var topic: [String] = []

    @Option(help: "Stop after this many messages.")
    var count: Int?

    @Flag(help: "Print one JSON object per line instead of text.")
    var json = false

    @OptionGroup var socket: SocketModeOptions

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if !BagEchoSource.isRecording(endpoint) { try checkEndpoint(endpoint) }
    }

    func run() async throws {
        if BagEchoSource.isRecording(endpoint) {
            var source = try BagEchoSource(path: endpoint, prefixes: topic)
            var seen = 0
            while let message = source.next() {
                print(EchoFormatter.render(message, json: json))
                seen += 1
                if let count, seen >= count { break }
            }
            if let error = source.error { throw CLIError("\(error)") }
            return
        }
        let context = try BusContext()
        var options = Subscriber.Options()
        options.mode = socket.mode(default: .connect)
        options.topics = topic.isEmpty ? [""] : topic
        let subscriber = try Subscriber(context: context, endpoint: endpoint, options: options)
        let trap = SignalTrap { _ in subscriber.close() }
        defer { subscriber.close(); _ = trap }
        if !json { printError("listening on \(subscriber.endpoints.joined(separator: ", ")) (Ctrl-C to stop)") }
        var seen = 0
        for await message in subscriber.messages {
            print(EchoFormatter.render(message, json: json))
            seen += 1
            if let count, seen >= count { break }
        }
    }
}

/// Formats received messages for `echo`.
enum EchoFormatter {
    /// The message type whose default topic ends `topic` (so `bs1/sensor/camera` is an Image).
    static func type(of topic: String) -> MessageType? {
        MessageType.allCases.first { topic == $0.defaultTopic || topic.hasSuffix("/" + $0.defaultTopic) }
    }

    static func render(_ message: BusMessage, json: Bool) -> String {
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
        let summary = WireJSON.summarized(value)
        if json {
            let object: [String: Any] = ["topic": topic, "type": verdict, "receive_time": message.receiveTime, "message": summary]
            guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
            return String(decoding: data, as: UTF8.self)
        }
        let body = (try? JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys, .prettyPrinted]))
            .map { String(decoding: $0, as: UTF8.self) } ?? "\(summary)"
        return "--- \(topic) [\(verdict)]\n\(body)"
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

        var options = Publisher.Options()
        options.mode = socket.mode(default: .bind)
        let context = try BusContext()
        let publisher = try Publisher(context: context, endpoint: endpoint, options: options)
        defer { publisher.close() }
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
