import Testing
@testable import ForesightSync

/// Memory stays bounded by the queue sizes, whatever the stream does.
@Suite struct MemoryBoundTests {
    /// Runs a 3-topic stream with tiny queues; topic c is silent for most of it.
    /// Returns the frame count and checks queue and slot bounds along the way.
    func runStream(withDeadline: Bool) throws -> Int {
        let queueSize = 4
        var sync = try ApproximateTimeSynchronizer<[UInt8]>(config: SyncConfig(
            topicNames: ["a", "b", "c"], queueSize: queueSize, maxInterval: 5,
            deadline: withDeadline ? 50 : nil))
        var rng = SeededGenerator(seed: 42)
        var clock: Int64 = 0
        var frames = 0
        for n in 0..<5_000 {
            // Topic c goes silent for a long stretch in the middle; all share one clock.
            var topic = Int.random(in: 0..<3, using: &rng)
            if topic == 2 && n > 1_000 && n < 4_000 { topic = 0 }
            clock += Int64.random(in: 1...4, using: &rng)
            frames += try sync.add(topic: topic, stamp: clock, seq: UInt32(n), payload: [UInt8(n & 0xFF)]).count
            #expect(sync.pendingCounts.allSatisfy { $0 <= queueSize })
        }
        #expect(sync.payloadSlotCount <= 3 * (queueSize + 1))
        return frames
    }

    @Test func payloadSlotsAreReusedAndTheDeadlineBeatsEvictions() throws {
        let pure = try runStream(withDeadline: false)
        let withDeadline = try runStream(withDeadline: true)
        #expect(pure > 50)
        // Evictions keep the oldest pending message young; the deadline must still fire.
        #expect(withDeadline > pure + 150)
    }
}
