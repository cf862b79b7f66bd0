/// Per-topic counters of a synchronizer. For every topic,
/// `received == accepted + rejectedBackwards + rejectedFuture + rejectedOutOfRange` and
/// `accepted == matched + dropped + unmatched + pending`.
public struct TopicCounters: Sendable, Hashable, Codable {
    /// Messages offered to `add` for this topic (accepted or not).
    public var received = 0
    /// Messages accepted into the synchronizer.
    public var accepted = 0
    /// Messages emitted as a member of a frame.
    public var matched = 0
    /// Messages evicted because the topic's queue was full (`queueSize`).
    public var dropped = 0
    /// Messages discarded without being emitted: passed over for a better set, no partner
    /// within `maxInterval`, or arrived after the deadline had already closed their time (`late`).
    public var unmatched = 0
    /// Of `unmatched`: messages whose stamp was at or before the last deadline frame's pivot.
    public var late = 0
    /// Messages rejected because their stamp was not after the topic's previous stamp.
    public var rejectedBackwards = 0
    /// Messages rejected because their stamp was too far ahead (`futureBound`).
    public var rejectedFuture = 0
    /// Messages rejected because their stamp was negative or absurdly large.
    public var rejectedOutOfRange = 0
    /// Messages that arrived closer to their predecessor than the topic's inter-message lower
    /// bound (the configured bound is wrong; frames may then not be optimal).
    public var lowerBoundViolations = 0
    /// Emitted frames in which this topic was missing.
    public var missing = 0
    /// Stamp of the last accepted message, if any.
    public var lastStamp: Int64?

    /// Creates zeroed counters.
    public init() {}
}

/// All counters of a synchronizer: one ``TopicCounters`` per topic plus frame totals.
public struct SyncCounters: Sendable, Hashable, Codable {
    /// Per-topic counters, indexed like ``SyncConfig/topics``.
    public var topics: [TopicCounters]
    /// Frames emitted (optimal plus deadline).
    public var frames = 0
    /// Frames forced out by the deadline.
    public var deadlineFrames = 0
    /// Deadline frames with at least one missing topic.
    public var partialFrames = 0

    /// Creates zeroed counters for `topicCount` topics.
    public init(topicCount: Int) {
        topics = Array(repeating: TopicCounters(), count: topicCount)
    }
}

/// A topic went silent (no accepted message for longer than the silence threshold) or came back.
public struct SilenceChange: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Topic index.
    public var topic: Int
    /// Topic name.
    public var name: String
    /// True when the topic became silent, false when it recovered.
    public var isSilent: Bool
    /// Last accepted stamp of the topic, if any.
    public var lastStamp: Int64?

    /// Creates a change record.
    public init(topic: Int, name: String, isSilent: Bool, lastStamp: Int64?) {
        self.topic = topic
        self.name = name
        self.isSilent = isSilent
        self.lastStamp = lastStamp
    }

    /// A log line: what happened and what to check.
    public var description: String {
        let last = lastStamp.map { "last stamp \($0) ns" } ?? "nothing received yet"
        return isSilent
            ? "topic \(name) is silent (\(last)): frames go out without it after the deadline; check the sensor and its publisher"
            : "topic \(name) is back (\(last))"
    }
}
