/// An accepted incoming message: its topic, its decoded value and the raw payload.
public struct IngestedMessage: Sendable {
    /// The full topic (with any site prefix).
    public var topic: String
    /// The message type it decoded as.
    public var type: MessageType
    /// The decoded, validated message.
    public var message: any WireMessage
    /// What the stream rules observed.
    public var observation: StreamObservation
}

/// The whole acceptance path of one subscriber: framing, size limits, decoding, validation and
/// the per-topic stream rules — with every rejection counted under its documented reason.
///
/// It is a value type owned by a single ingest task; share the `counters` for reporting.
public struct WireIngest: Sendable {
    /// Topic (full, with prefix) → the type to decode it as. Topics are compared exactly.
    public var routes: [String: MessageType]
    /// Size limits.
    public var limits: WireLimits
    /// Stamp and seq rules.
    public var monitor: StreamMonitor
    /// Where rejections and stream events are counted.
    public let counters: WireCounters

    /// Creates an ingest path for `routes`.
    public init(routes: [String: MessageType], limits: WireLimits = .default,
                monitor: StreamMonitor = StreamMonitor(), counters: WireCounters = WireCounters()) {
        self.routes = routes
        self.limits = limits
        self.monitor = monitor
        self.counters = counters
    }

    /// Routes for the default topics of `types` under a site `prefix` (e.g. `bs1/`).
    public static func defaultRoutes(_ types: [MessageType], prefix: String = "") -> [String: MessageType] {
        Dictionary(uniqueKeysWithValues: types.map { (prefix + $0.defaultTopic, $0) })
    }

    /// Accepts one multipart ZeroMQ message (`frames`), or counts and returns its rejection.
    public mutating func accept(frames: [[UInt8]]) -> Result<IngestedMessage, WireError> {
        accept(frames: frames) { _, _ in nil }
    }

    /// Like ``accept(frames:)``, with `admit` consulted after decoding and before the stream
    /// rules: a non-nil error rejects the message (counted) without touching the topic's state.
    public mutating func accept(frames: [[UInt8]],
                                admit: (_ topic: String, _ header: Header) -> WireError?) -> Result<IngestedMessage, WireError> {
        let topic = frames.first.flatMap { String(validating: $0, as: UTF8.self) } ?? ""
        guard frames.count == 2, !topic.isEmpty else {
            let detail = frames.count == 2 ? "the topic frame is empty or not UTF-8"
                : "expected 2 frames (topic, payload), got \(frames.count)"
            return rejected(WireError(topic: topic, reason: .framing, detail: detail))
        }
        return accept(topic: topic, payload: frames[1], admit: admit)
    }

    /// Accepts one message given as topic and payload.
    public mutating func accept(topic: String, payload: [UInt8]) -> Result<IngestedMessage, WireError> {
        accept(topic: topic, payload: payload) { _, _ in nil }
    }

    /// Like ``accept(topic:payload:)``, with an admission check (see ``accept(frames:admit:)``).
    public mutating func accept(topic: String, payload: [UInt8],
                                admit: (_ topic: String, _ header: Header) -> WireError?) -> Result<IngestedMessage, WireError> {
        guard let type = routes[topic] else {
            return rejected(WireError(topic: topic, reason: .unknownTopic,
                                      detail: "no input is configured for topic '\(Self.printable(topic))' (topics are compared exactly)"))
        }
        let message: any WireMessage
        do {
            message = try type.decode(payload, topic: topic, limits: limits)
        } catch {
            return rejected(error)
        }
        if var refusal = admit(topic, message.header) {
            refusal.topic = topic
            return rejected(refusal)
        }
        switch monitor.observe(topic: topic, header: message.header) {
        case .failure(let error):
            return rejected(error)
        case .success(let observation):
            counters.count(observation, topic: topic)
            if let cloud = message as? PointCloud, cloud.droppedNonFinite > 0 {
                counters.count(.nonFinitePointsDropped, topic: topic, by: Int64(cloud.droppedNonFinite))
            }
            return .success(IngestedMessage(topic: topic, type: type, message: message, observation: observation))
        }
    }

    /// Counts a rejection. Only configured topics get a counter of their own: anything else is
    /// counted under ``WireCounters/unknownTopicLabel``, so junk topic names (a prefix match such
    /// as `sensor/camera_raw`, or a 1,000-character name) cannot grow the counters without bound.
    private func rejected(_ error: WireError) -> Result<IngestedMessage, WireError> {
        var error = error
        if routes[error.topic] == nil { error.topic = WireCounters.unknownTopicLabel }
        counters.reject(error)
        return .failure(error)
    }

    /// A topic as it may be logged: at most 80 characters, control characters escaped.
    static func printable(_ topic: String) -> String {
        let shown = topic.unicodeScalars.prefix(80).map { $0.properties.generalCategory == .control ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
        return topic.unicodeScalars.count > 80 ? shown + "… (\(topic.utf8.count) bytes)" : shown
    }
}
