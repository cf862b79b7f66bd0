import ForesightCore

/// Why the synchronizer emitted a frame.
public enum FrameReason: String, Sendable, Hashable, Codable {
    /// The ApproximateTime policy proved this set optimal: no later message can give a better one.
    case optimal
    /// The frame deadline passed: the best set from the messages at hand was forced out; topics
    /// without a suitable message are listed as missing.
    case deadline
}

/// What travels with every frame from the synchronizer to the outputs, through every queue:
/// the frame's number and stamp, its members, what is missing and why it was emitted, and the
/// wall-clock times its latencies are measured from. Each stage's frame type carries it
/// (`RawFrame`, `PreprocessedFrame`), so no stage looks a frame up anywhere.
public struct FrameHeader: Sendable, Equatable {
    /// Frame number (monotonic from 0).
    public var seq: UInt64
    /// Frame stamp (the synchronizer's reference stamp), ns.
    public var stamp: Int64
    /// The member messages (modality, topic, stamp, seq).
    public var members: [FusionFrame.Member]
    /// Modalities absent from the frame, in frame order.
    public var missing: [Modality]
    /// Why the synchronizer emitted it (optimal set or deadline).
    public var reason: FrameReason
    /// Wall-clock receive time of the frame's newest member, ns.
    public var lastReceive: Int64
    /// Wall-clock time the frame left the synchronizer, ns.
    public var synchronizedAt: Int64
    /// How many times the synchronizer had resynchronized the whole stream (its time base moved
    /// back) before this frame; a change starts a new segment for streaming predictors and the dataset.
    public var epoch: UInt64

    /// Creates a header.
    public init(seq: UInt64, stamp: Int64, members: [FusionFrame.Member] = [], missing: [Modality] = [],
                reason: FrameReason = .optimal, lastReceive: Int64 = 0, synchronizedAt: Int64 = 0, epoch: UInt64 = 0) {
        self.seq = seq
        self.stamp = stamp
        self.members = members
        self.missing = missing
        self.reason = reason
        self.lastReceive = lastReceive
        self.synchronizedAt = synchronizedAt
        self.epoch = epoch
    }

    /// The sensor stamp of a member modality (its own acquisition time), nil when it is not a member.
    public func memberStamp(_ modality: Modality) -> Int64? {
        members.first { $0.modality == modality.rawValue }?.stamp
    }

    /// Removes a modality as if its sensor had been silent: its member goes, it is listed as missing.
    public mutating func drop(_ modality: Modality) {
        members.removeAll { $0.modality == modality.rawValue }
        if !missing.contains(modality) { missing.append(modality) }
    }
}
