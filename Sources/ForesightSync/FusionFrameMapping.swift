import ForesightWire

extension FrameSummary {
    /// The modality of a topic: the last path component of its name
    /// (`"sensor/camera"` → `"camera"`, `"site1/sensor/beam_power"` → `"beam_power"`).
    public static func modality(ofTopic topic: String) -> String {
        topic.split(separator: "/").last.map(String.init) ?? topic
    }

    /// The `fusion/frame` wire message for this frame.
    ///
    /// - Parameters:
    ///   - seq: the sequence number of the `fusion/frame` stream.
    ///   - frameID: the header's frame name.
    ///   - latencyNs: time from the last member's arrival to publication, measured by the caller.
    ///   - modalities: optional topic name → modality map; topics not in it use ``modality(ofTopic:)``.
    public func fusionFrame(seq: UInt32, frameID: String = "fusion", latencyNs: Int64,
                            modalities: [String: String] = [:]) -> FusionFrame {
        func modality(_ topic: String) -> String { modalities[topic] ?? Self.modality(ofTopic: topic) }
        return FusionFrame(
            header: Header(stamp: stamp, seq: seq, frameID: frameID),
            members: members.map { FusionFrame.Member(modality: modality($0.topic), topic: $0.topic,
                                                      stamp: $0.stamp, seq: $0.seq) },
            missing: missing.map(modality),
            latencyNs: latencyNs)
    }
}

extension SyncedFrame {
    /// The `fusion/frame` wire message for this frame; `topicNames` as in
    /// ``summary(topicNames:)``, the other parameters as in ``FrameSummary/fusionFrame(seq:frameID:latencyNs:modalities:)``.
    public func fusionFrame(topicNames: [String], seq: UInt32, frameID: String = "fusion", latencyNs: Int64,
                            modalities: [String: String] = [:]) -> FusionFrame {
        summary(topicNames: topicNames).fusionFrame(seq: seq, frameID: frameID, latencyNs: latencyNs,
                                                    modalities: modalities)
    }
}
