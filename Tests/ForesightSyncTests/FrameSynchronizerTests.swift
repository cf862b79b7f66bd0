import Testing
import ForesightSync

/// The actor wrapper: same frames as the pure core, bounded output, health.
@Suite struct FrameSynchronizerTests {
    static let ms: Int64 = 1_000_000
    static let names = ["sensor/camera", "sensor/radar"]

    static func inputs(count: Int) -> [SyncInput<Int>] {
        var out: [SyncInput<Int>] = []
        for k in 0..<count {
            let t = Int64(1_000 + 100 * k) * ms
            out.append(SyncInput(topic: 0, stamp: t, seq: UInt32(k), payload: 2 * k))
            out.append(SyncInput(topic: 1, stamp: t + 2 * ms, seq: UInt32(k), payload: 2 * k + 1))
        }
        return out
    }

    @Test func consumingAStreamYieldsTheCoreFramesThenFlushes() async throws {
        let config = SyncConfig(topicNames: Self.names, queueSize: 10, maxInterval: 20 * Self.ms,
                                deadline: 250 * Self.ms)
        let inputs = Self.inputs(count: 6)
        var core = try ApproximateTimeSynchronizer<Int>(config: config)
        var expected: [SyncedFrame<Int>] = []
        for input in inputs {
            try core.add(topic: input.topic, stamp: input.stamp, seq: input.seq, payload: input.payload, into: &expected)
        }
        expected += core.flush()

        let actor = try FrameSynchronizer<Int>(config: config, outputBuffer: 64)
        let (stream, continuation) = AsyncStream.makeStream(of: SyncInput<Int>.self)
        for input in inputs { continuation.yield(input) }
        continuation.yield(SyncInput(topic: 0, stamp: 0, seq: 99, payload: -1))  // backwards: rejected
        continuation.finish()
        await actor.consume(stream)
        var received: [SyncedFrame<Int>] = []
        for await frame in actor.frames { received.append(frame) }

        #expect(received == expected)
        #expect(received.count == 6)
        #expect(received.allSatisfy { $0.members.compactMap { $0?.payload }.count == 2 })
        let counters = await actor.counters
        #expect(counters.topics[0].rejectedBackwards == 1)
        #expect(await actor.lastRejection != nil)
    }

    @Test func slowConsumerLosesOldestFramesAndTheyAreCounted() async throws {
        let config = SyncConfig(topicNames: Self.names, queueSize: 10)
        let actor = try FrameSynchronizer<Int>(config: config, outputBuffer: 2)
        var produced = 0
        for input in Self.inputs(count: 11) { produced += try await actor.add(input) }
        await actor.finish()
        var received: [SyncedFrame<Int>] = []
        for await frame in actor.frames { received.append(frame) }
        #expect(produced == 10)
        #expect(received.count == 2)
        #expect(await actor.framesDroppedByConsumer == 8)
        // The newest frames survive.
        #expect(received.map { $0.members[0]?.payload } == [16, 18])
    }

    @Test func healthReportsSilentTopicsByName() async throws {
        let config = SyncConfig(topicNames: Self.names, queueSize: 10, deadline: 250 * Self.ms,
                                silenceThreshold: 500 * Self.ms)
        let actor = try FrameSynchronizer<Int>(config: config)
        for k in 0..<10 {
            try await actor.add(SyncInput(topic: 0, stamp: Int64(1_000 + 100 * k) * Self.ms, seq: UInt32(k), payload: k))
        }
        let health = await actor.health()
        #expect(health.silentTopics == ["sensor/radar"])
        #expect(health.streamTime == 1_900 * Self.ms)
        // Two frames wait for the deadline; then the radar counts as dead and each frame of the
        // camera leaves as soon as it arrives: nothing is left pending.
        #expect(health.counters.partialFrames == 10)
        #expect(health.counters.deadlineFrames == 10)
        #expect(await actor.advance(to: 3_000 * Self.ms) == 0)
        // advance(to:) enforces the deadline at a reading; stream time stays the newest stamp.
        #expect(await actor.health().streamTime == 1_900 * Self.ms)
        #expect(await actor.silentTopics(now: 3_000 * Self.ms) == [0, 1])
    }
}
