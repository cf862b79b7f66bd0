import Testing
import ForesightSync

/// Partial frames under the deadline, silence detection and late messages.
@Suite struct DeadlineTests {
    static let ms: Int64 = 1_000_000
    static let names = ["sensor/camera", "sensor/radar", "sensor/lidar"]

    /// Three 10 Hz topics with fixed per-topic offsets (0, 3, 7 ms), arriving in stamp order;
    /// `silent` stops sending from `silentFrom` (ms) on.
    static func stream(until endMs: Int64, silent: Int? = nil, silentFrom: Int64 = .max,
                       resumeAt: Int64 = .max) -> [(topic: Int, stamp: Int64)] {
        var out: [(Int, Int64)] = []
        let offsets: [Int64] = [0, 3, 7]
        var t: Int64 = 1_000
        while t <= endMs {
            for topic in 0..<3 {
                let stampMs = t + offsets[topic]
                if topic == silent && stampMs >= silentFrom && stampMs < resumeAt { continue }
                out.append((topic, stampMs * ms))
            }
            t += 100
        }
        return out
    }

    static func run(_ input: [(topic: Int, stamp: Int64)], config: SyncConfig)
        throws -> (frames: [SyncedFrame<Int>], sync: ApproximateTimeSynchronizer<Int>) {
        var sync = try ApproximateTimeSynchronizer<Int>(config: config)
        var frames: [SyncedFrame<Int>] = []
        for (n, message) in input.enumerated() {
            try sync.add(topic: message.topic, stamp: message.stamp, seq: UInt32(n), payload: n, into: &frames)
        }
        return (frames, sync)
    }

    /// Five jittery 10 Hz sensors with the default configuration: the deadline never fires,
    /// every frame is complete and optimal.
    @Test func healthyJitteryStreamsNeverHitTheDeadline() throws {
        let names = ["sensor/camera", "sensor/radar", "sensor/lidar", "sensor/gnss", "sensor/beam_power"]
        var sync = try ApproximateTimeSynchronizer<Int>(config: .foresightDefault(topicNames: names))
        var rng = SeededGenerator(seed: 7)
        var frames: [SyncedFrame<Int>] = []
        var pending: [(topic: Int, stamp: Int64)] = []
        for k in 0..<300 {
            for topic in 0..<5 {
                let jitter = Int64.random(in: -5...5, using: &rng) * Self.ms
                pending.append((topic, Int64(1_000 + 100 * k + topic) * Self.ms + jitter))
            }
            // Arrival order within a period is random (transport), per topic it stays in order.
            pending.shuffle(using: &rng)
            for message in pending {
                try sync.add(topic: message.topic, stamp: message.stamp, seq: UInt32(k), payload: k, into: &frames)
            }
            pending.removeAll()
        }
        #expect(frames.count >= 298)
        #expect(frames.allSatisfy { $0.isComplete && $0.reason == .optimal })
        #expect(sync.counters.deadlineFrames == 0)
        #expect(sync.counters.topics.allSatisfy { $0.dropped == 0 && $0.unmatched == 0 })
    }

    @Test func pureApproximateTimeStallsWhenATopicIsSilent() throws {
        let config = SyncConfig(topicNames: Self.names, queueSize: 50, maxInterval: 20 * Self.ms)
        let (frames, _) = try Self.run(Self.stream(until: 4_000, silent: 2, silentFrom: 2_000), config: config)
        // Sets up to ~1.9 s only: nothing after the lidar went silent (the ROS behaviour).
        #expect(frames.allSatisfy { $0.isComplete })
        #expect(frames.count >= 9 && frames.count <= 10)
        #expect((frames.last?.stamp ?? 0) < 2_000 * Self.ms)
    }

    @Test func silencedTopicYieldsPartialFramesThatKeepFlowing() throws {
        let config = SyncConfig(topicNames: Self.names, queueSize: 10, maxInterval: 20 * Self.ms,
                                deadline: 250 * Self.ms)
        let (frames, sync) = try Self.run(Self.stream(until: 4_000, silent: 2, silentFrom: 2_000), config: config)
        let before = frames.filter { $0.stamp < 2_000 * Self.ms }
        let after = frames.filter { $0.stamp >= 2_000 * Self.ms }
        #expect(before.count == 10)
        #expect(before.allSatisfy { $0.isComplete && $0.reason == .optimal })
        // 2.0 ... 4.0 s holds 21 periods; the last ~250 ms are still within the deadline.
        #expect(after.count >= 17)
        for frame in after {
            #expect(frame.missing == [2])
            #expect(frame.reason == .deadline)
            #expect(frame.members[0] != nil && frame.members[1] != nil)
            #expect(frame.span == 3 * Self.ms)
        }
        let stamps = frames.map(\.stamp)
        #expect(zip(stamps, stamps.dropFirst()).allSatisfy { $0 < $1 })
        #expect(sync.counters.topics[2].missing == after.count)
        #expect(sync.counters.partialFrames == after.count)
        #expect(sync.silentTopics() == [2])
        let summary = try #require(after.first).summary(topicNames: Self.names)
        #expect(summary.missing == ["sensor/lidar"])
        #expect(summary.members.map(\.topic) == ["sensor/camera", "sensor/radar"])
        #expect(summary.members[0].stamp == 2_000 * Self.ms)
    }

    @Test func completeFramesResumeWhenTheTopicReturns() throws {
        let config = SyncConfig(topicNames: Self.names, queueSize: 10, maxInterval: 20 * Self.ms,
                                deadline: 250 * Self.ms)
        let input = Self.stream(until: 5_000, silent: 2, silentFrom: 2_000, resumeAt: 3_000)
        let (frames, sync) = try Self.run(input, config: config)
        let resumed = frames.filter { $0.stamp > 3_100 * Self.ms }
        #expect(resumed.count >= 15)
        #expect(resumed.allSatisfy { $0.isComplete && $0.reason == .optimal })
        #expect(sync.silentTopics().isEmpty)
    }

    @Test func silenceChangesAreReportedOncePerTransition() throws {
        let config = SyncConfig(topicNames: Self.names, queueSize: 10, maxInterval: 20 * Self.ms,
                                deadline: 250 * Self.ms, silenceThreshold: 500 * Self.ms)
        var sync = try ApproximateTimeSynchronizer<Int>(config: config)
        var changes: [SilenceChange] = []
        for (n, message) in Self.stream(until: 5_000, silent: 2, silentFrom: 2_000, resumeAt: 3_000).enumerated() {
            _ = try sync.add(topic: message.topic, stamp: message.stamp, seq: UInt32(n), payload: n)
            changes += sync.silenceChanges()
        }
        #expect(changes.map(\.isSilent) == [true, false])
        #expect(changes.allSatisfy { $0.topic == 2 && $0.name == "sensor/lidar" })
        #expect(changes.first?.lastStamp == 1_907 * Self.ms)
        #expect(changes.first?.description.contains("silent") == true)
    }

    /// A live daemon calls `advance(to:)` with its clock; a replay does not. As long as the clock
    /// is not ahead of the stamps, both must produce identical frames.
    @Test func advanceUpToTheNewestStampChangesNothing() throws {
        let config = SyncConfig(topicNames: Self.names, queueSize: 10, maxInterval: 20 * Self.ms,
                                deadline: 250 * Self.ms)
        let input = Self.stream(until: 4_000, silent: 1, silentFrom: 1_500, resumeAt: 2_600)
        var replay = try ApproximateTimeSynchronizer<Int>(config: config)
        var live = try ApproximateTimeSynchronizer<Int>(config: config)
        var replayFrames: [SyncedFrame<Int>] = []
        var liveFrames: [SyncedFrame<Int>] = []
        for (n, message) in input.enumerated() {
            try replay.add(topic: message.topic, stamp: message.stamp, seq: UInt32(n), payload: n, into: &replayFrames)
            try live.add(topic: message.topic, stamp: message.stamp, seq: UInt32(n), payload: n, into: &liveFrames)
            liveFrames += live.advance(to: message.stamp - 5 * Self.ms)
            liveFrames += live.advance(to: message.stamp)
        }
        #expect(replayFrames.count > 20)
        #expect(liveFrames == replayFrames)
        #expect(live.counters == replay.counters)
    }

    @Test func restartFlushesForgetsStampsAndKeepsCounters() throws {
        let config = SyncConfig(topicNames: Self.names, queueSize: 10, deadline: 250 * Self.ms)
        var sync = try ApproximateTimeSynchronizer<Int>(config: config)
        _ = try sync.add(topic: 0, stamp: 5_000 * Self.ms, seq: 0, payload: 0)
        _ = try sync.add(topic: 1, stamp: 5_001 * Self.ms, seq: 0, payload: 1)
        let flushed = sync.restart()
        #expect(flushed.count == 1 && flushed.first?.missing == [2])
        #expect(sync.streamTime == nil)
        #expect(sync.pendingCounts == [0, 0, 0])
        // The clock jumped back: earlier stamps are accepted again, counters continue.
        _ = try sync.add(topic: 0, stamp: 1_000 * Self.ms, seq: 1, payload: 2)
        #expect(sync.counters.topics[0].received == 2)
        #expect(sync.counters.topics[0].rejectedBackwards == 0)
        #expect(sync.counters.topics[0].late == 0)
        #expect(sync.counters.frames == 1)
    }

    @Test func advanceForcesFramesWhenEverySensorIsSilent() throws {
        let config = SyncConfig(topicNames: Self.names, queueSize: 10, deadline: 250 * Self.ms)
        var sync = try ApproximateTimeSynchronizer<Int>(config: config)
        _ = try sync.add(topic: 0, stamp: 1_000 * Self.ms, seq: 0, payload: 0)
        _ = try sync.add(topic: 1, stamp: 1_004 * Self.ms, seq: 0, payload: 1)
        #expect(sync.advance(to: 1_200 * Self.ms).isEmpty)
        let frames = sync.advance(to: 1_300 * Self.ms)
        #expect(frames.count == 1)
        #expect(frames.first?.missing == [2])
        #expect(frames.first?.members[0]?.stamp == 1_000 * Self.ms)
        #expect(frames.first?.members[1]?.stamp == 1_004 * Self.ms)
        #expect(sync.pendingCounts == [0, 0, 0])
        #expect(sync.silentTopics(now: 2_500 * Self.ms) == [0, 1, 2])
        #expect(sync.silentTopics(now: 1_500 * Self.ms).isEmpty)
    }

    @Test func maxIntervalLeavesFarMembersOutOfDeadlineFrames() throws {
        let config = SyncConfig(topicNames: Self.names, queueSize: 10, maxInterval: 10 * Self.ms,
                                deadline: 100 * Self.ms)
        var sync = try ApproximateTimeSynchronizer<Int>(config: config)
        _ = try sync.add(topic: 0, stamp: 1_000 * Self.ms, seq: 0, payload: 0)
        _ = try sync.add(topic: 1, stamp: 1_050 * Self.ms, seq: 0, payload: 1)
        let frames = sync.advance(to: 1_200 * Self.ms)
        // Pivot is the later front (topic 1); topic 0 is 50 ms away, beyond the 10 ms bound.
        #expect(frames.count == 1)
        #expect(frames.first?.missing == [0, 2])
        #expect(frames.first?.members[1]?.stamp == 1_050 * Self.ms)
        #expect(sync.counters.topics[0].unmatched == 1)
        #expect(sync.pendingCounts == [0, 0, 0])
    }

    @Test func messagesBehindADeadlineFrameAreCountedLate() throws {
        let config = SyncConfig(topicNames: Self.names, queueSize: 10, deadline: 100 * Self.ms)
        var sync = try ApproximateTimeSynchronizer<Int>(config: config)
        _ = try sync.add(topic: 0, stamp: 1_000 * Self.ms, seq: 0, payload: 0)
        _ = try sync.add(topic: 1, stamp: 1_001 * Self.ms, seq: 0, payload: 1)
        #expect(sync.advance(to: 1_200 * Self.ms).count == 1)
        // The lidar's message for that instant arrives after its frame left: late, not queued.
        let frames = try sync.add(topic: 2, stamp: 1_001 * Self.ms, seq: 0, payload: 2)
        #expect(frames.isEmpty)
        #expect(sync.counters.topics[2].late == 1)
        #expect(sync.counters.topics[2].unmatched == 1)
        #expect(sync.counters.topics[2].accepted == 1)
        #expect(sync.pendingCounts == [0, 0, 0])
    }
}

/// Rejection of bad stamps and unknown topics, and configuration validation.
@Suite struct RejectionTests {
    static func sync(futureBound: Int64? = nil, lowerBound: Int64 = 0) throws -> ApproximateTimeSynchronizer<Int> {
        try ApproximateTimeSynchronizer<Int>(config: SyncConfig(
            topics: [SyncTopic(name: "a", interMessageLowerBound: lowerBound), SyncTopic(name: "b")],
            queueSize: 10, futureBound: futureBound))
    }

    @Test func backwardsAndRepeatedStampsAreRejectedAndCounted() throws {
        var sync = try Self.sync()
        _ = try sync.add(topic: 0, stamp: 5 * second, seq: 0, payload: 0)
        #expect(throws: SyncInputError.stampNotIncreasing(topic: "a", stamp: 4 * second, previous: 5 * second)) {
            _ = try sync.add(topic: 0, stamp: 4 * second, seq: 1, payload: 1)
        }
        #expect(throws: SyncInputError.stampNotIncreasing(topic: "a", stamp: 5 * second, previous: 5 * second)) {
            _ = try sync.add(topic: 0, stamp: 5 * second, seq: 2, payload: 2)
        }
        #expect(sync.counters.topics[0].rejectedBackwards == 2)
        #expect(sync.counters.topics[0].received == 3)
        #expect(sync.counters.topics[0].accepted == 1)
        #expect(sync.pendingCounts == [1, 0])
        // The queue was not reordered: the next partner pairs with the accepted message.
        let frames = try sync.add(topic: 1, stamp: 5 * second, seq: 0, payload: 3)
        #expect(frames.map { $0.members.map { $0?.payload } } == [[0, 3]])
    }

    @Test func stampsFarInTheFutureAreRejectedAndCounted() throws {
        var sync = try Self.sync(futureBound: 2 * second)
        _ = try sync.add(topic: 0, stamp: 10 * second, seq: 0, payload: 0)
        #expect(throws: SyncInputError.stampTooFarAhead(topic: "b", stamp: 13 * second, newest: 10 * second, bound: 2 * second)) {
            _ = try sync.add(topic: 1, stamp: 13 * second, seq: 0, payload: 1)
        }
        #expect(sync.counters.topics[1].rejectedFuture == 1)
        #expect(sync.counters.topics[1].lastStamp == nil)
        #expect(sync.streamTime == 10 * second)
        _ = try sync.add(topic: 1, stamp: 12 * second, seq: 1, payload: 2)
        #expect(sync.counters.topics[1].accepted == 1)
    }

    @Test func outOfRangeStampsAndUnknownTopicsAreRejected() throws {
        var sync = try Self.sync()
        #expect(throws: SyncInputError.stampOutOfRange(topic: "a", stamp: -1)) {
            _ = try sync.add(topic: 0, stamp: -1, seq: 0, payload: 0)
        }
        #expect(throws: SyncInputError.stampOutOfRange(topic: "b", stamp: Int64.max)) {
            _ = try sync.add(topic: 1, stamp: Int64.max, seq: 0, payload: 0)
        }
        #expect(throws: SyncInputError.unknownTopic(index: 2, topicCount: 2)) {
            _ = try sync.add(topic: 2, stamp: 1, seq: 0, payload: 0)
        }
        #expect(sync.counters.topics[0].rejectedOutOfRange == 1)
        #expect(sync.counters.topics[1].rejectedOutOfRange == 1)
        #expect(sync.streamTime == nil)
    }

    @Test func lowerBoundViolationsAreCounted() throws {
        var sync = try Self.sync(lowerBound: second)
        _ = try sync.add(topic: 0, stamp: 1 * second, seq: 0, payload: 0)
        _ = try sync.add(topic: 0, stamp: 1 * second + 1, seq: 1, payload: 1)
        _ = try sync.add(topic: 0, stamp: 3 * second, seq: 2, payload: 2)
        #expect(sync.counters.topics[0].lowerBoundViolations == 1)
    }

    @Test func errorMessagesSayWhatToDo() {
        let error = SyncInputError.stampNotIncreasing(topic: "sensor/radar", stamp: 1, previous: 2)
        #expect(error.description.contains("sensor/radar"))
        #expect(error.description.contains("rejected"))
    }

    @Test func invalidConfigurationsAreRejected() {
        func check(_ config: SyncConfig, _ expected: SyncConfigError) {
            #expect(throws: expected) { try config.validate() }
            #expect(throws: expected) { _ = try ApproximateTimeSynchronizer<Int>(config: config) }
            #expect(!expected.description.isEmpty)
        }
        check(SyncConfig(topics: []), .noTopics)
        check(SyncConfig(topicNames: ["a", ""]), .emptyTopicName(index: 1))
        check(SyncConfig(topicNames: ["a", "a"]), .duplicateTopicName("a"))
        check(SyncConfig(topicNames: ["a"], queueSize: 0), .queueSizeOutOfRange(0))
        check(SyncConfig(topicNames: ["a"], queueSize: 1_000_000), .queueSizeOutOfRange(1_000_000))
        check(SyncConfig(topicNames: ["a"], agePenalty: -0.1), .agePenaltyOutOfRange(-0.1))
        check(SyncConfig(topicNames: ["a"], maxInterval: -1), .durationOutOfRange(field: "maxInterval", value: -1, allowZero: true))
        check(SyncConfig(topicNames: ["a"], deadline: 0), .durationOutOfRange(field: "deadline", value: 0, allowZero: false))
        check(SyncConfig(topicNames: ["a"], silenceThreshold: 0), .durationOutOfRange(field: "silenceThreshold", value: 0, allowZero: false))
        check(SyncConfig(topicNames: ["a"], futureBound: SyncConfig.maxDuration + 1),
              .durationOutOfRange(field: "futureBound", value: SyncConfig.maxDuration + 1, allowZero: false))
        check(SyncConfig(topics: [SyncTopic(name: "a", interMessageLowerBound: -5)]),
              .durationOutOfRange(field: "topics[0].interMessageLowerBound", value: -5, allowZero: true))
        #expect(throws: Never.self) { try SyncConfig.foresightDefault(topicNames: ["a", "b"]).validate() }
        #expect(SyncConfig.foresightDefault(topicNames: ["a", "b"]).index(ofTopic: "b") == 1)
    }
}
