/// One synchronized input stream: its name (used in frame summaries and health) and the
/// ApproximateTime inter-message lower bound for it.
public struct SyncTopic: Sendable, Hashable, Codable {
    /// Topic name, e.g. `"sensor/camera"`; must be non-empty and unique within a ``SyncConfig``.
    public var name: String
    /// The smallest possible gap between two consecutive stamps on this topic, in nanoseconds
    /// (ROS `setInterMessageLowerBound`). 0 means unknown. A correct bound lets the synchronizer
    /// prove a set optimal earlier, so frames leave sooner; a bound that is too large breaks the
    /// optimality proof (violations are counted in ``TopicCounters/lowerBoundViolations``).
    public var interMessageLowerBound: Int64

    /// Creates a topic description.
    public init(name: String, interMessageLowerBound: Int64 = 0) {
        self.name = name
        self.interMessageLowerBound = interMessageLowerBound
    }
}

/// Configuration of an ``ApproximateTimeSynchronizer``. All durations are nanoseconds in the
/// time base of the message stamps ("stream time").
///
/// `queueSize`, `maxInterval`, `agePenalty` and the per-topic lower bounds are the ROS 2
/// `message_filters` ApproximateTime parameters; `deadline`, `silenceThreshold` and `futureBound`
/// are Foresight's extensions. `nil` disables an optional setting.
public struct SyncConfig: Sendable, Hashable, Codable {
    /// The synchronized topics, in the order of the topic indices used by `add`.
    public var topics: [SyncTopic]
    /// Maximum number of messages kept per topic (queued plus tentatively passed over), as in
    /// ROS; the oldest is dropped beyond it. Must be in `1...maxQueueSize`.
    public var queueSize: Int
    /// Largest allowed span (latest minus earliest stamp) of a set; `nil` = unbounded (ROS default).
    public var maxInterval: Int64?
    /// ApproximateTime age penalty (ROS default 0.1): how much the policy prefers emitting an
    /// older set early over waiting for a slightly tighter later one. Must be finite, `0...100`.
    public var agePenalty: Double
    /// Frame deadline: when the newest stamp seen exceeds the oldest pending message's stamp by
    /// more than this, a (possibly partial) frame is forced out. `nil` = never (pure ROS
    /// behaviour: a silent topic blocks all output).
    public var deadline: Int64?
    /// A topic is reported by `silentTopics(now:)` when its last accepted stamp is older than
    /// `now` minus this.
    public var silenceThreshold: Int64
    /// A stamp more than this ahead of the newest stamp seen so far is rejected; `nil` = no bound.
    public var futureBound: Int64?

    /// Largest accepted ``queueSize`` (bounds memory per topic).
    public static let maxQueueSize = 100_000
    /// Largest accepted duration value (one day in ns); keeps stamp arithmetic far from overflow.
    public static let maxDuration: Int64 = 86_400 * 1_000_000_000

    /// Creates a configuration. The synchronizer calls ``validate()`` before use.
    public init(topics: [SyncTopic],
                queueSize: Int = 10,
                maxInterval: Int64? = nil,
                agePenalty: Double = 0.1,
                deadline: Int64? = nil,
                silenceThreshold: Int64 = 1_000_000_000,
                futureBound: Int64? = nil) {
        self.topics = topics
        self.queueSize = queueSize
        self.maxInterval = maxInterval
        self.agePenalty = agePenalty
        self.deadline = deadline
        self.silenceThreshold = silenceThreshold
        self.futureBound = futureBound
    }

    /// Convenience: topics by name, all with inter-message lower bound 0, and the given settings.
    public init(topicNames: [String], queueSize: Int = 10, maxInterval: Int64? = nil,
                agePenalty: Double = 0.1, deadline: Int64? = nil,
                silenceThreshold: Int64 = 1_000_000_000, futureBound: Int64? = nil) {
        self.init(topics: topicNames.map { SyncTopic(name: $0) }, queueSize: queueSize,
                  maxInterval: maxInterval, agePenalty: agePenalty, deadline: deadline,
                  silenceThreshold: silenceThreshold, futureBound: futureBound)
    }

    /// A configuration suited to Foresight's ~10 Hz sensors: queue 10, max interval 50 ms,
    /// age penalty 0.1, deadline 250 ms, silence warning after 1 s, future bound 2 s.
    public static func foresightDefault(topicNames: [String]) -> SyncConfig {
        SyncConfig(topicNames: topicNames, queueSize: 10, maxInterval: 50_000_000, agePenalty: 0.1,
                   deadline: 250_000_000, silenceThreshold: 1_000_000_000, futureBound: 2_000_000_000)
    }

    /// The index of the topic called `name`, if configured.
    public func index(ofTopic name: String) -> Int? {
        topics.firstIndex { $0.name == name }
    }

    /// Checks every field; throws the first problem found.
    public func validate() throws(SyncConfigError) {
        if topics.isEmpty { throw .noTopics }
        var seen = Set<String>()
        for (index, topic) in topics.enumerated() {
            if topic.name.isEmpty { throw .emptyTopicName(index: index) }
            if !seen.insert(topic.name).inserted { throw .duplicateTopicName(topic.name) }
            try Self.check(topic.interMessageLowerBound, "topics[\(index)].interMessageLowerBound", allowZero: true)
        }
        if queueSize < 1 || queueSize > Self.maxQueueSize { throw .queueSizeOutOfRange(queueSize) }
        if let maxInterval { try Self.check(maxInterval, "maxInterval", allowZero: true) }
        if !agePenalty.isFinite || agePenalty < 0 || agePenalty > 100 { throw .agePenaltyOutOfRange(agePenalty) }
        if let deadline { try Self.check(deadline, "deadline", allowZero: false) }
        try Self.check(silenceThreshold, "silenceThreshold", allowZero: false)
        if let futureBound { try Self.check(futureBound, "futureBound", allowZero: false) }
    }

    private static func check(_ value: Int64, _ field: String, allowZero: Bool) throws(SyncConfigError) {
        if value < 0 || (!allowZero && value == 0) || value > maxDuration {
            throw .durationOutOfRange(field: field, value: value, allowZero: allowZero)
        }
    }
}

/// A problem in a ``SyncConfig``.
public enum SyncConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The topic list is empty.
    case noTopics
    /// A topic has an empty name.
    case emptyTopicName(index: Int)
    /// Two topics share a name.
    case duplicateTopicName(String)
    /// `queueSize` is outside `1...SyncConfig.maxQueueSize`.
    case queueSizeOutOfRange(Int)
    /// `agePenalty` is negative, not finite or above 100.
    case agePenaltyOutOfRange(Double)
    /// A duration is negative, zero where zero is meaningless, or longer than a day.
    case durationOutOfRange(field: String, value: Int64, allowZero: Bool)

    /// What is wrong and what to do.
    public var description: String {
        switch self {
        case .noTopics:
            return "sync config has no topics: list at least one topic to synchronize"
        case .emptyTopicName(let index):
            return "sync config topic \(index) has an empty name: give every topic a name such as \"sensor/camera\""
        case .duplicateTopicName(let name):
            return "sync config lists topic \"\(name)\" twice: each topic may appear once"
        case .queueSizeOutOfRange(let size):
            return "sync queueSize \(size) is out of range: use 1...\(SyncConfig.maxQueueSize) (10 suits 10 Hz sensors)"
        case .agePenaltyOutOfRange(let penalty):
            return "sync agePenalty \(penalty) is invalid: use a finite value in 0...100 (ROS default 0.1)"
        case .durationOutOfRange(let field, let value, let allowZero):
            let low = allowZero ? "0" : "1"
            return "sync \(field) = \(value) ns is out of range: use \(low)...\(SyncConfig.maxDuration) ns (at most one day)"
        }
    }
}

/// Why a message was refused by ``ApproximateTimeSynchronizer/add(topic:stamp:seq:payload:)``.
/// Refused messages never enter the queues; each refusal is counted per topic.
public enum SyncInputError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The topic index is not one of the configured topics.
    case unknownTopic(index: Int, topicCount: Int)
    /// The stamp is negative or beyond ``ApproximateTimeSynchronizer/maxStamp``.
    case stampOutOfRange(topic: String, stamp: Int64)
    /// The stamp is not after the previous accepted stamp on the same topic.
    case stampNotIncreasing(topic: String, stamp: Int64, previous: Int64)
    /// The stamp is further ahead of the newest stamp seen than `futureBound` allows.
    case stampTooFarAhead(topic: String, stamp: Int64, newest: Int64, bound: Int64)

    /// What is wrong and what to do.
    public var description: String {
        switch self {
        case .unknownTopic(let index, let count):
            return "sync input names topic index \(index) but only \(count) topics are configured: map the topic name with SyncConfig.index(ofTopic:)"
        case .stampOutOfRange(let topic, let stamp):
            return "sync input on \(topic) has stamp \(stamp) ns, outside 0...\(Int64.max / 2): stamps must be nanoseconds since the Unix epoch"
        case .stampNotIncreasing(let topic, let stamp, let previous):
            return "sync input on \(topic) has stamp \(stamp) ns, not after the previous \(previous) ns: the message was rejected (check the sensor clock or duplicate publishers)"
        case .stampTooFarAhead(let topic, let stamp, let newest, let bound):
            return "sync input on \(topic) has stamp \(stamp) ns, \(stamp - newest) ns ahead of the newest stamp \(newest) ns (bound \(bound) ns): the message was rejected (check the sensor clock)"
        }
    }
}
