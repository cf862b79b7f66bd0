import ForesightWire

/// One message chosen for a frame: its stamp, sequence number and payload.
public struct SyncMember<Payload: Sendable>: Sendable {
    /// Sensor stamp, nanoseconds since the epoch.
    public var stamp: Int64
    /// The message's sequence number (from its header).
    public var seq: UInt32
    /// The message itself (decoded message, raw bytes, ... — whatever the caller fed in).
    public var payload: Payload

    /// Creates a member.
    public init(stamp: Int64, seq: UInt32, payload: Payload) {
        self.stamp = stamp
        self.seq = seq
        self.payload = payload
    }
}

extension SyncMember: Equatable where Payload: Equatable {}

/// A synchronized frame: at most one message per topic, indexed like ``SyncConfig/topics``.
public struct SyncedFrame<Payload: Sendable>: Sendable {
    /// The frame's reference stamp: the latest member stamp (the frame is complete as of then).
    public var stamp: Int64
    /// One entry per configured topic; `nil` for a missing topic.
    public var members: [SyncMember<Payload>?]
    /// Indices of the topics without a member, ascending (empty for a full frame).
    public var missing: [Int]
    /// Why the frame was emitted.
    public var reason: FrameReason

    /// Creates a frame; `missing` is derived from `members`.
    public init(members: [SyncMember<Payload>?], reason: FrameReason) {
        self.members = members
        self.reason = reason
        self.missing = members.indices.filter { members[$0] == nil }
        self.stamp = members.compactMap { $0?.stamp }.max() ?? 0
    }

    /// Internal: fields computed by the caller (the synchronizer derives them from entries).
    @usableFromInline
    init(stamp: Int64, members: [SyncMember<Payload>?], missing: [Int], reason: FrameReason) {
        self.stamp = stamp
        self.members = members
        self.missing = missing
        self.reason = reason
    }

    /// True when every topic has a member.
    public var isComplete: Bool { missing.isEmpty }

    /// Earliest member stamp.
    public var earliestStamp: Int64 { members.compactMap { $0?.stamp }.min() ?? stamp }

    /// Latest minus earliest member stamp, in nanoseconds.
    public var span: Int64 { stamp - earliestStamp }

    /// A payload-free description using the configured topic names, ready to map onto the
    /// `fusion/frame` wire message. `topicNames` must have one name per member (use
    /// `config.topics.map(\.name)`); extra members are named `"topic<i>"`.
    public func summary(topicNames: [String]) -> FrameSummary {
        func name(_ index: Int) -> String { index < topicNames.count ? topicNames[index] : "topic\(index)" }
        var entries: [FrameSummary.Entry] = []
        entries.reserveCapacity(members.count - missing.count)
        for (index, member) in members.enumerated() {
            if let member { entries.append(.init(topic: name(index), stamp: member.stamp, seq: member.seq)) }
        }
        return FrameSummary(stamp: stamp, members: entries, missing: missing.map(name), reason: reason)
    }
}

extension SyncedFrame: Equatable where Payload: Equatable {}

/// A frame without payloads: member stamps and sequence numbers by topic name, missing topic names.
public struct FrameSummary: Sendable, Hashable, Codable {
    /// One present member.
    public struct Entry: Sendable, Hashable, Codable {
        /// Topic name.
        public var topic: String
        /// The member's stamp, nanoseconds since the epoch.
        public var stamp: Int64
        /// The member's sequence number.
        public var seq: UInt32

        /// Creates an entry.
        public init(topic: String, stamp: Int64, seq: UInt32) {
            self.topic = topic
            self.stamp = stamp
            self.seq = seq
        }
    }

    /// The frame's reference stamp (latest member stamp).
    public var stamp: Int64
    /// Present members in topic order.
    public var members: [Entry]
    /// Names of the missing topics.
    public var missing: [String]
    /// Why the frame was emitted.
    public var reason: FrameReason

    /// Creates a summary.
    public init(stamp: Int64, members: [Entry], missing: [String], reason: FrameReason) {
        self.stamp = stamp
        self.members = members
        self.missing = missing
        self.reason = reason
    }
}
