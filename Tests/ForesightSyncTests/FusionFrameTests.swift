import Testing
import ForesightSync
import ForesightWire

/// Frames map onto the `fusion/frame` wire message and survive its codec.
@Suite struct FusionFrameTests {
    @Test func partialFrameRoundTripsThroughTheWireCodec() throws {
        let names = ["sensor/camera", "sensor/radar", "sensor/lidar", "sensor/gnss", "sensor/beam_power"]
        let ms: Int64 = 1_000_000
        var sync = try ApproximateTimeSynchronizer<Int>(config: .foresightDefault(topicNames: names))
        var frames: [SyncedFrame<Int>] = []
        for k in 0..<6 {
            let t = Int64(1_000 + 100 * k) * ms
            for topic in [0, 1, 3, 4] {
                frames += try sync.add(topic: topic, stamp: t + Int64(topic) * ms, seq: UInt32(10 + k), payload: k)
            }
        }
        frames += sync.flush()
        #expect(frames.count == 6)
        let frame = try #require(frames.first)
        let wire = frame.fusionFrame(topicNames: names, seq: 7, latencyNs: 1_234)
        #expect(wire.header.stamp == frame.stamp)
        #expect(wire.header.seq == 7)
        #expect(wire.missing == ["lidar"])
        #expect(wire.members.map(\.modality) == ["camera", "radar", "gnss", "beam_power"])
        #expect(wire.members.map(\.topic) == ["sensor/camera", "sensor/radar", "sensor/gnss", "sensor/beam_power"])
        #expect(wire.members.map(\.seq) == [10, 10, 10, 10])
        #expect(wire.members.map(\.stamp) == [1_000 * ms, 1_001 * ms, 1_003 * ms, 1_004 * ms])
        let decoded = try FusionFrame.decode(wire.encoded())
        #expect(decoded == wire)
    }

    @Test func modalityComesFromTheTopicOrTheMap() {
        #expect(FrameSummary.modality(ofTopic: "site1/sensor/beam_power") == "beam_power")
        let summary = FrameSummary(stamp: 5, members: [.init(topic: "cam0", stamp: 5, seq: 1)],
                                   missing: ["radar0"], reason: .deadline)
        let wire = summary.fusionFrame(seq: 0, latencyNs: 0, modalities: ["cam0": "camera", "radar0": "radar"])
        #expect(wire.members.first?.modality == "camera")
        #expect(wire.missing == ["radar"])
    }
}
