import ForesightWire
/// The ROS 2 `message_filters` ApproximateTime policy for any number of topics, plus Foresight's
/// extensions (frame deadline with partial frames, stamp checks, counters, silence detection).
///
/// A pure, synchronous, deterministic value: no clocks, no threads. Feed messages with
/// ``add(topic:stamp:seq:payload:)``; it returns the frames that became ready. Time only moves
/// with the stamps ("stream time" = the newest stamp seen); ``advance(to:)`` enforces the
/// deadline at a clock reading without moving stream time, so a replay faster than real time
/// yields exactly the same frames and a pause never pushes stream time ahead of the sensors.
///
/// The ApproximateTime part is a faithful port of `approximate_time.hpp` (queues of messages per
/// topic, a pivot and candidate set, the age penalty, the maximum interval, the inter-message
/// lower bounds and the queue size); it emits a set only when no later message can form a better
/// one and uses every message at most once. See `docs/sync.md`.
///
/// Payloads wait in a slab of slots (bounded by the queue sizes) while the non-generic policy
/// works on (stamp, seq, slot) entries.
public struct ApproximateTimeSynchronizer<Payload: Sendable>: Sendable {
    /// Largest accepted stamp; larger (or negative) stamps are rejected so that stamp arithmetic
    /// never overflows.
    public static var maxStamp: Int64 { ApproximateTimePolicy.maxStamp }

    @usableFromInline var policy: ApproximateTimePolicy
    @usableFromInline var payloads: [Payload?] = []
    @usableFromInline var freeSlots: [Int32] = []

    /// Creates a synchronizer; throws when the configuration is invalid.
    public init(config: SyncConfig) throws(SyncConfigError) {
        policy = try ApproximateTimePolicy(config: config)
    }

    /// The validated configuration.
    public var config: SyncConfig { policy.config }
    /// Every counter, per topic and per frame.
    public var counters: SyncCounters { policy.counters }
    /// Stream time: the newest accepted stamp, `nil` before the first.
    public var streamTime: Int64? { policy.streamTime }
    /// Number of accepted messages per topic still held (not yet emitted or discarded).
    public var pendingCounts: [Int] { policy.pendingCounts }

    /// Number of payload slots allocated so far (bounded by the held messages; for tests).
    var payloadSlotCount: Int { payloads.count }

    /// The oldest stamp still held, if any.
    public func oldestPendingStamp() -> Int64? { policy.oldestPendingStamp() }

    /// Topics whose last accepted stamp is older than `now − silenceThreshold` (or that never
    /// sent anything although the stream started more than `silenceThreshold` ago), ascending.
    /// `now` defaults to the stream time.
    public func silentTopics(now: Int64? = nil) -> [Int] { policy.silentTopics(now: now) }

    /// Topics that went silent or came back since the previous call, for one log line per
    /// change. `now` defaults to the stream time.
    public mutating func silenceChanges(now: Int64? = nil) -> [SilenceChange] {
        policy.silenceChanges(now: now)
    }

    /// Offers one message; returns the frames that became ready (often none).
    ///
    /// Throws (and counts) when the topic index is unknown or the stamp goes backwards, is out
    /// of range or is too far ahead; a rejected message changes nothing else.
    @inlinable
    public mutating func add(topic: Int, stamp: Int64, seq: UInt32, payload: Payload)
        throws(SyncInputError) -> [SyncedFrame<Payload>] {
        var frames: [SyncedFrame<Payload>] = []
        try add(topic: topic, stamp: stamp, seq: seq, payload: payload, into: &frames)
        return frames
    }

    /// Like ``add(topic:stamp:seq:payload:)`` but appends ready frames to `frames`.
    @inlinable
    public mutating func add(topic: Int, stamp: Int64, seq: UInt32, payload: Payload,
                             into frames: inout [SyncedFrame<Payload>]) throws(SyncInputError) {
        try policy.check(topic: topic, stamp: stamp)
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            payloads[Int(free)] = payload
        } else {
            slot = Int32(payloads.count)
            payloads.append(payload)
        }
        policy.accept(topic: topic, ApproximateTimePolicy.Entry(stamp: stamp, seq: seq, slot: slot))
        collect(into: &frames)
    }

    /// Returns the frames the deadline forces out by `now` (same time base as the stamps; a
    /// value behind stream time counts as stream time). Stream time is not moved: call it with
    /// an anchored clock (the newest stamp plus the wall time since that stamp arrived) to keep
    /// frames flowing when every sensor is silent.
    @inlinable
    public mutating func advance(to now: Int64) -> [SyncedFrame<Payload>] {
        policy.advance(to: now)
        var frames: [SyncedFrame<Payload>] = []
        collect(into: &frames)
        return frames
    }

    /// Forces out every pending message as deadline frames (end of a stream or shutdown).
    @inlinable
    public mutating func flush() -> [SyncedFrame<Payload>] {
        policy.flush()
        var frames: [SyncedFrame<Payload>] = []
        collect(into: &frames)
        return frames
    }

    /// Emits everything pending (as ``flush()``), then forgets every stamp — per-topic last
    /// stamps, stream time, the deadline horizon — so that earlier stamps are accepted again,
    /// while the cumulative counters are kept. Use it on a clock jump or a publisher restart
    /// instead of creating a new synchronizer (which would lose the counters).
    @inlinable
    public mutating func restart() -> [SyncedFrame<Payload>] {
        policy.restart()
        var frames: [SyncedFrame<Payload>] = []
        collect(into: &frames)
        return frames
    }

    /// Forgets one topic's last stamp (its publisher restarted): its next message is accepted
    /// even with an older stamp — and counted `late` when that stamp is behind the stream —
    /// while every other topic, stream time and the pending messages are kept. Unlike
    /// ``restart()`` it cannot be used by one odd message to disturb the other topics.
    public mutating func forget(topic: Int) {
        policy.forget(topic: topic)
    }

    /// Turns the policy's emitted entries into frames and frees the slots it released.
    @inlinable
    mutating func collect(into frames: inout [SyncedFrame<Payload>]) {
        for slot in policy.releasedSlots { release(slot) }
        let reasons = policy.emittedReasons
        if !reasons.isEmpty {
            let topicCount = policy.config.topics.count
            let entries = policy.emittedMembers
            for (n, reason) in reasons.enumerated() {
                var members: [SyncMember<Payload>?] = []
                members.reserveCapacity(topicCount)
                var missing: [Int] = []
                var latest: Int64 = 0
                for topic in 0..<topicCount {
                    guard let entry = entries[n * topicCount + topic], let payload = release(entry.slot) else {
                        members.append(nil)
                        missing.append(topic)
                        continue
                    }
                    latest = Swift.max(latest, entry.stamp)
                    members.append(SyncMember(stamp: entry.stamp, seq: entry.seq, payload: payload))
                }
                frames.append(SyncedFrame(stamp: latest, members: members, missing: missing, reason: reason))
            }
        }
        policy.drain()
    }

    @inlinable @discardableResult
    mutating func release(_ slot: Int32) -> Payload? {
        let index = Int(slot)
        guard index >= 0 && index < payloads.count else { return nil }
        let payload = payloads[index]
        payloads[index] = nil
        freeSlots.append(slot)
        return payload
    }
}
