import Testing
import ForesightSync

/// Randomized streams (seeded, reproducible) checking the ApproximateTime guarantees.
@Suite struct PropertyTests {
    /// A random multi-topic stream: strictly increasing small-integer stamps per topic (so ties
    /// across topics happen), interleaved in a random arrival order that keeps each topic in order.
    static func randomStream(topics: Int, perTopic: Int, maxStep: Int64,
                             using rng: inout SeededGenerator) -> (arrivals: [TestMessage], byTopic: [[TestMessage]]) {
        var byTopic: [[TestMessage]] = []
        var id = 0
        for topic in 0..<topics {
            var stamp = Int64.random(in: 0...maxStep, using: &rng)
            var messages: [TestMessage] = []
            for _ in 0..<perTopic {
                messages.append(TestMessage(topic: topic, stamp: stamp, id: id))
                id += 1
                stamp += Int64.random(in: 1...maxStep, using: &rng)
            }
            byTopic.append(messages)
        }
        var cursors = Array(repeating: 0, count: topics)
        var arrivals: [TestMessage] = []
        while arrivals.count < topics * perTopic {
            let open = (0..<topics).filter { cursors[$0] < perTopic }
            guard let topic = open.randomElement(using: &rng) else { break }
            arrivals.append(byTopic[topic][cursors[topic]])
            cursors[topic] += 1
        }
        return (arrivals, byTopic)
    }

    static func feed(_ arrivals: [TestMessage], into sync: inout ApproximateTimeSynchronizer<Int>) throws -> [SyncedFrame<Int>] {
        var frames: [SyncedFrame<Int>] = []
        for (n, message) in arrivals.enumerated() {
            try sync.add(topic: message.topic, stamp: message.stamp, seq: UInt32(n), payload: message.id, into: &frames)
        }
        return frames
    }

    /// Checks no reuse, per-topic non-crossing and the counter bookkeeping.
    static func checkCommonGuarantees(_ frames: [SyncedFrame<Int>], sync: ApproximateTimeSynchronizer<Int>,
                                      maxInterval: Int64?) {
        var used = Set<Int>()
        var lastStamp: [Int: Int64] = [:]
        for frame in frames {
            for (topic, member) in frame.members.enumerated() {
                guard let member else { continue }
                #expect(used.insert(member.payload).inserted, "message \(member.payload) reused")
                if let previous = lastStamp[topic] {
                    #expect(member.stamp > previous, "sets cross on topic \(topic)")
                }
                lastStamp[topic] = member.stamp
            }
            if let maxInterval { #expect(frame.span <= maxInterval) }
        }
        let pending = sync.pendingCounts
        for (topic, c) in sync.counters.topics.enumerated() {
            #expect(c.accepted == c.matched + c.dropped + c.unmatched + pending[topic])
            #expect(c.received == c.accepted + c.rejectedBackwards + c.rejectedFuture + c.rejectedOutOfRange)
        }
    }

    /// Smallest span of any set containing the pivot message and one message per topic from `remaining`.
    static func bruteForceMinimalSpan(remaining: [[TestMessage]], pivotTopic: Int, pivotStamp: Int64) -> Int64 {
        var best = Int64.max
        func search(_ topic: Int, _ low: Int64, _ high: Int64) {
            if high - low >= best { return }
            if topic == remaining.count { best = high - low; return }
            if topic == pivotTopic { search(topic + 1, min(low, pivotStamp), max(high, pivotStamp)); return }
            for message in remaining[topic] { search(topic + 1, min(low, message.stamp), max(high, message.stamp)) }
        }
        search(0, pivotStamp, pivotStamp)
        return best
    }

    @Test(arguments: 0..<40)
    func optimalSetsHaveMinimalSpan(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(seed) &* 7919 &+ 1)
        let topics = Int.random(in: 2...4, using: &rng)
        let perTopic = topics == 4 ? 6 : 8
        let (arrivals, byTopic) = Self.randomStream(topics: topics, perTopic: perTopic, maxStep: 6, using: &rng)
        var sync = try ApproximateTimeSynchronizer<Int>(config: SyncConfig(
            topicNames: (0..<topics).map { "t\($0)" }, queueSize: 1_000, agePenalty: 0))
        let frames = try Self.feed(arrivals, into: &sync)
        Self.checkCommonGuarantees(frames, sync: sync, maxInterval: nil)

        var previous: [Int64] = Array(repeating: Int64.min, count: topics)
        for frame in frames {
            #expect(frame.isComplete && frame.reason == .optimal)
            let remaining = (0..<topics).map { t in byTopic[t].filter { $0.stamp > previous[t] } }
            // The pivot: the latest of the first remaining messages (upstream breaks ties to the last topic).
            var pivotTopic = 0
            for t in 0..<topics where remaining[t][0].stamp >= remaining[pivotTopic][0].stamp { pivotTopic = t }
            let pivotStamp = remaining[pivotTopic][0].stamp
            #expect(frame.members[pivotTopic]?.stamp == pivotStamp, "set lacks the pivot message")
            let best = Self.bruteForceMinimalSpan(remaining: remaining, pivotTopic: pivotTopic, pivotStamp: pivotStamp)
            #expect(frame.span == best, "span \(frame.span) but \(best) was possible (seed \(seed))")
            previous = frame.members.map { $0?.stamp ?? Int64.min }
        }
        #expect(!frames.isEmpty)
    }

    /// With correct inter-message lower bounds the virtual search may emit sets before the next
    /// message arrives; they must still be optimal, and never later than without the bounds.
    @Test(arguments: 0..<30)
    func lowerBoundsKeepOptimalityAndEmitNoLater(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(seed) &+ 9_000)
        let topics = Int.random(in: 2...3, using: &rng)
        let gap = Int64.random(in: 2...4, using: &rng)
        // Steps of at least `gap` on every topic, so `gap` is a correct lower bound.
        var (arrivals, byTopic) = Self.randomStream(topics: topics, perTopic: 8, maxStep: 4, using: &rng)
        for t in 0..<topics {
            for k in byTopic[t].indices { byTopic[t][k].stamp = byTopic[t][k].stamp * gap + Int64(k) * gap }
        }
        let lookup = Dictionary(uniqueKeysWithValues: byTopic.joined().map { ($0.id, $0) })
        arrivals = arrivals.compactMap { lookup[$0.id] }
        let names = (0..<topics).map { "t\($0)" }
        var bounded = try ApproximateTimeSynchronizer<Int>(config: SyncConfig(
            topics: names.map { SyncTopic(name: $0, interMessageLowerBound: gap) }, queueSize: 1_000, agePenalty: 0))
        var plain = try ApproximateTimeSynchronizer<Int>(config: SyncConfig(topicNames: names, queueSize: 1_000, agePenalty: 0))
        var boundedFrames: [SyncedFrame<Int>] = []
        var plainFrames: [SyncedFrame<Int>] = []
        for (n, message) in arrivals.enumerated() {
            try bounded.add(topic: message.topic, stamp: message.stamp, seq: UInt32(n), payload: message.id, into: &boundedFrames)
            try plain.add(topic: message.topic, stamp: message.stamp, seq: UInt32(n), payload: message.id, into: &plainFrames)
            #expect(boundedFrames.count >= plainFrames.count, "lower bounds delayed a set (seed \(seed))")
        }
        #expect(bounded.counters.topics.allSatisfy { $0.lowerBoundViolations == 0 })
        // Eight messages per topic with no max interval always give sets: an empty output must fail.
        #expect(!plainFrames.isEmpty, "no set at all (seed \(seed))")
        #expect(boundedFrames.count >= plainFrames.count)
        Self.checkCommonGuarantees(boundedFrames, sync: bounded, maxInterval: nil)
        var previous: [Int64] = Array(repeating: Int64.min, count: topics)
        for frame in boundedFrames {
            let remaining = (0..<topics).map { t in byTopic[t].filter { $0.stamp > previous[t] } }
            var pivotTopic = 0
            for t in 0..<topics where remaining[t][0].stamp >= remaining[pivotTopic][0].stamp { pivotTopic = t }
            let pivotStamp = remaining[pivotTopic][0].stamp
            let best = Self.bruteForceMinimalSpan(remaining: remaining, pivotTopic: pivotTopic, pivotStamp: pivotStamp)
            #expect(frame.span == best, "span \(frame.span) but \(best) was possible (seed \(seed))")
            previous = frame.members.map { $0?.stamp ?? Int64.min }
        }
    }

    @Test(arguments: 0..<30)
    func guaranteesHoldWithPenaltyQueueLimitsAndMaxInterval(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(seed) &+ 1_000)
        let topics = Int.random(in: 1...5, using: &rng)
        let maxInterval: Int64? = Bool.random(using: &rng) ? Int64.random(in: 0...12, using: &rng) : nil
        let config = SyncConfig(topicNames: (0..<topics).map { "t\($0)" },
                                queueSize: Int.random(in: 1...6, using: &rng),
                                maxInterval: maxInterval,
                                agePenalty: [0, 0.1, 0.5, 2][Int.random(in: 0...3, using: &rng)])
        var (arrivals, _) = Self.randomStream(topics: topics, perTopic: 40, maxStep: 10, using: &rng)
        // The random part may legitimately hold no set (small queues drop, a small max interval
        // rejects); it ends with three rounds of identical stamps on every topic, in order,
        // which must come out as sets — so a synchronizer that emits nothing fails here.
        let tail = (arrivals.map(\.stamp).max() ?? 0) + 1_000
        var id = arrivals.count
        for round in 0..<3 {
            for topic in 0..<topics {
                arrivals.append(TestMessage(topic: topic, stamp: tail + Int64(round) * 100, id: id))
                id += 1
            }
        }
        var sync = try ApproximateTimeSynchronizer<Int>(config: config)
        let frames = try Self.feed(arrivals, into: &sync)
        for frame in frames { #expect(frame.isComplete && frame.reason == .optimal) }
        Self.checkCommonGuarantees(frames, sync: sync, maxInterval: maxInterval)
        let aligned = frames.filter { frame in frame.members.allSatisfy { $0?.stamp == frame.stamp && frame.stamp >= tail } }
        #expect(aligned.count >= 2, "\(aligned.count) of 3 identical-stamp sets out (seed \(seed), \(topics) topics, queue \(config.queueSize))")
        let members = frames.reduce(0) { $0 + $1.members.compactMap { $0 }.count }
        #expect(sync.counters.topics.reduce(0) { $0 + $1.matched } == members)
    }

    @Test(arguments: 0..<30)
    func deadlineFramesKeepGuaranteesAndFlushEmptiesQueues(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(seed) &+ 5_000)
        let topics = Int.random(in: 2...5, using: &rng)
        let maxInterval: Int64? = Bool.random(using: &rng) ? Int64.random(in: 0...8, using: &rng) : nil
        let config = SyncConfig(topicNames: (0..<topics).map { "t\($0)" },
                                queueSize: Int.random(in: 2...10, using: &rng),
                                maxInterval: maxInterval, deadline: Int64.random(in: 5...30, using: &rng))
        var (arrivals, _) = Self.randomStream(topics: topics, perTopic: 40, maxStep: 10, using: &rng)
        // Silence one topic after a random point.
        let silenced = Int.random(in: 0..<topics, using: &rng)
        let cut = Int64.random(in: 0...200, using: &rng)
        arrivals.removeAll { $0.topic == silenced && $0.stamp > cut }
        var sync = try ApproximateTimeSynchronizer<Int>(config: config)
        var frames = try Self.feed(arrivals, into: &sync)
        frames += sync.flush()
        // Deadline frames are bounded by the deadline when maxInterval is unbounded.
        Self.checkCommonGuarantees(frames.filter { $0.reason == .deadline }, sync: sync,
                                   maxInterval: maxInterval ?? config.deadline)
        Self.checkCommonGuarantees(frames, sync: sync, maxInterval: maxInterval)
        #expect(sync.pendingCounts.allSatisfy { $0 == 0 })
        for frame in frames where frame.reason == .optimal { #expect(frame.isComplete) }
        let counters = sync.counters
        #expect(counters.frames == frames.count)
        #expect(counters.partialFrames == frames.filter { !$0.isComplete }.count)
        for topic in 0..<topics {
            #expect(counters.topics[topic].missing == frames.filter { $0.missing.contains(topic) }.count)
        }
    }
}

/// Hostile input: unknown topics, negative, huge, repeated and backwards stamps, wild
/// `advance(to:)` values and restarts. Nothing may crash; the bookkeeping must stay exact.
@Suite struct HostileInputTests {
    @Test(arguments: 0..<20)
    func garbageNeverCrashesAndCountersStayExact(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(seed) &+ 77_000)
        let topics = Int.random(in: 1...5, using: &rng)
        var sync = try ApproximateTimeSynchronizer<Int>(config: SyncConfig(
            topicNames: (0..<topics).map { "t\($0)" }, queueSize: Int.random(in: 1...8, using: &rng),
            maxInterval: Bool.random(using: &rng) ? Int64.random(in: 0...1_000, using: &rng) : nil,
            agePenalty: Double.random(in: 0...3, using: &rng),
            deadline: Bool.random(using: &rng) ? Int64.random(in: 1...5_000, using: &rng) : nil,
            silenceThreshold: 1_000, futureBound: Bool.random(using: &rng) ? 10_000 : nil))
        var used = Set<Int>()
        var rejected = 0
        var restarts = 0
        let special: [Int64] = [-1, .min, .max, 0, Int64.max / 2, Int64.max / 2 + 1]
        for n in 0..<3_000 {
            let topic = Int.random(in: -1...topics, using: &rng)
            let stamp = Int.random(in: 0..<20, using: &rng) == 0
                ? special[Int.random(in: 0..<special.count, using: &rng)]
                : Int64(n) * 50 + Int64.random(in: -400...400, using: &rng)
            var frames: [SyncedFrame<Int>] = []
            do {
                try sync.add(topic: topic, stamp: stamp, seq: UInt32(n), payload: n, into: &frames)
            } catch {
                rejected += 1
                #expect(!error.description.isEmpty)
            }
            switch Int.random(in: 0..<100, using: &rng) {
            case 0: frames += sync.advance(to: special[Int.random(in: 0..<special.count, using: &rng)])
            case 1: frames += sync.advance(to: Int64(n) * 50 + 1_000)
            case 2:
                frames += sync.restart()
                restarts += 1
            default: break
            }
            for frame in frames {
                for member in frame.members.compactMap({ $0 }) {
                    #expect(used.insert(member.payload).inserted, "message \(member.payload) reused")
                }
            }
        }
        let pending = sync.pendingCounts
        var rejectedCounted = 0
        for (topic, c) in sync.counters.topics.enumerated() {
            #expect(c.accepted == c.matched + c.dropped + c.unmatched + pending[topic])
            #expect(c.received == c.accepted + c.rejectedBackwards + c.rejectedFuture + c.rejectedOutOfRange)
            rejectedCounted += c.rejectedBackwards + c.rejectedFuture + c.rejectedOutOfRange
        }
        // Unknown topics are thrown but cannot be counted on a topic.
        #expect(rejectedCounted <= rejected)
        #expect(sync.counters.topics.reduce(0) { $0 + $1.matched } == used.count)
        #expect(sync.pendingCounts.allSatisfy { $0 <= sync.config.queueSize })
    }
}
