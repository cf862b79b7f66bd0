import Synchronization

/// Stream events that are counted but do not reject a message.
public enum StreamEvent: String, Sendable, CaseIterable, Codable {
    /// A forward stamp jump beyond the bound: the topic resynchronizes.
    case clockJump = "clock_jump"
    /// `seq` restarted (at 0, or went backwards): the publisher was restarted.
    case publisherReset = "publisher_reset"
    /// `seq` skipped values: messages lost upstream (counted per missing message).
    case upstreamGap = "upstream_gap"
    /// Points with a non-finite coordinate dropped from clouds (counted per point).
    case nonFinitePointsDropped = "nonfinite_points_dropped"
}

/// What the stream rules observed about one accepted message.
public struct StreamObservation: Sendable, Equatable {
    /// The message jumped forward in time beyond the bound; consumers should resynchronize the topic.
    public var clockJump = false
    /// The publisher restarted (its `seq` went back to 0 or backwards).
    public var publisherReset = false
    /// Messages missing upstream according to `seq`.
    public var gap: UInt32 = 0
}

/// Per-topic stamp and `seq` rules of the protocol (docs/protocol.md, "Stamps and seq").
///
/// - Stamps are strictly increasing per topic: a repeat or a step backwards is rejected
///   (`stamp_not_increasing`) and leaves the state untouched.
/// - A forward jump larger than `clockJumpBound` is accepted and reported as a clock jump.
/// - `seq` wraps legally at 2³²; a restart at 0 is a publisher reset, which also resets the stamp
///   rule for that topic, so a restarted replay is accepted (a step back in `seq` with a newer
///   stamp counts as a reset too); gaps are counted. An exact repeat is a duplicate.
/// - Nothing is compared with the wall clock: replays run faster than real time.
public struct StreamMonitor: Sendable {
    private struct State: Sendable {
        var stamp: Int64
        var seq: UInt32
    }

    /// Largest accepted forward stamp step before it counts as a clock jump, ns (default 10 s).
    public var clockJumpBound: Int64
    private var states: [String: State] = [:]

    /// Creates a monitor.
    public init(clockJumpBound: Int64 = 10_000_000_000) {
        self.clockJumpBound = clockJumpBound
    }

    /// Applies the rules to a decoded header; returns what it saw or the rejection.
    public mutating func observe(topic: String, header: Header) -> Result<StreamObservation, WireError> {
        var seen = StreamObservation()
        guard let last = states[topic] else {
            states[topic] = State(stamp: header.stamp, seq: header.seq)
            return .success(seen)
        }
        let expected = last.seq &+ 1
        let ahead = header.seq &- expected
        let duplicate = header.seq == last.seq && header.stamp == last.stamp
        let backwards = ahead >= 1 << 31
        // A restart at 0 resets the topic even if its stamps went back (a restarted replay);
        // a non-zero step back in seq only counts as a reset when time still moves forward.
        let reset = !duplicate && header.seq != expected
            && (header.seq == 0 || (backwards && header.stamp > last.stamp))
        if !reset && header.stamp <= last.stamp {
            let what = header.stamp == last.stamp ? "repeats" : "is older than"
            return .failure(WireError(topic: topic, field: "stamp", reason: .stampNotIncreasing,
                                      detail: "stamp \(header.stamp) \(what) the previous stamp \(last.stamp) on this topic"))
        }
        if reset {
            seen.publisherReset = true
        } else if ahead > 0 {
            seen.gap = ahead
        }
        let (step, overflow) = header.stamp.subtractingReportingOverflow(last.stamp)
        if overflow || step > clockJumpBound || (reset && step < 0) { seen.clockJump = true }
        states[topic] = State(stamp: header.stamp, seq: header.seq)
        return .success(seen)
    }

    /// Forgets a topic's history (e.g. when its publisher is known to have restarted).
    public mutating func reset(topic: String) {
        states[topic] = nil
    }
}

/// Thread-safe counters of rejections (per topic × `RejectionReason`) and stream events
/// (per topic × `StreamEvent`), under the documented names.
public final class WireCounters: Sendable {
    /// A counter's identity.
    public struct Key: Hashable, Sendable, Comparable {
        /// The topic.
        public var topic: String
        /// A `RejectionReason` or `StreamEvent` raw value.
        public var name: String

        public static func < (a: Key, b: Key) -> Bool { (a.topic, a.name) < (b.topic, b.name) }
    }

    /// The topic label of every rejection on a topic that is not configured (`unknown_topic`,
    /// or a framing error on such a topic): one counter, however many junk names arrive.
    public static let unknownTopicLabel = "(unconfigured)"

    private let rejections = Mutex<[Key: Int64]>([:])
    private let events = Mutex<[Key: Int64]>([:])

    /// Creates empty counters.
    public init() {}

    /// Counts one rejection.
    public func reject(_ error: WireError) {
        rejections.withLock { $0[Key(topic: error.topic, name: error.reason.rawValue), default: 0] += 1 }
    }

    /// Counts stream events.
    public func count(_ event: StreamEvent, topic: String, by amount: Int64 = 1) {
        guard amount > 0 else { return }
        events.withLock { $0[Key(topic: topic, name: event.rawValue), default: 0] += amount }
    }

    /// Counts what an observation reports.
    public func count(_ observation: StreamObservation, topic: String) {
        if observation.clockJump { count(.clockJump, topic: topic) }
        if observation.publisherReset { count(.publisherReset, topic: topic) }
        if observation.gap > 0 { count(.upstreamGap, topic: topic, by: Int64(observation.gap)) }
    }

    /// A rejection counter's value.
    public func rejected(topic: String, reason: RejectionReason) -> Int64 {
        rejections.withLock { $0[Key(topic: topic, name: reason.rawValue)] ?? 0 }
    }

    /// A stream event counter's value.
    public func events(topic: String, _ event: StreamEvent) -> Int64 {
        events.withLock { $0[Key(topic: topic, name: event.rawValue)] ?? 0 }
    }

    /// Total rejections on a topic.
    public func totalRejected(topic: String) -> Int64 {
        rejections.withLock { $0.filter { $0.key.topic == topic }.values.reduce(0, +) }
    }

    /// Every non-zero rejection counter, sorted by topic and reason.
    public func rejectionSnapshot() -> [(key: Key, count: Int64)] {
        rejections.withLock { $0.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    }

    /// Every non-zero stream event counter, sorted by topic and name.
    public func eventSnapshot() -> [(key: Key, count: Int64)] {
        events.withLock { $0.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    }
}
