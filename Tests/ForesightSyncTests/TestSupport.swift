import ForesightSync

/// One second in nanoseconds (the upstream vectors count in whole seconds).
let second: Int64 = 1_000_000_000

/// Deterministic SplitMix64 generator so randomized tests replay exactly.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A message of a test stream; the payload is a unique id so reuse can be detected.
struct TestMessage: Hashable {
    var topic: Int
    var stamp: Int64
    var id: Int
}

/// Feeds `(stamp, topic)` pairs (stamps in seconds) and returns every emitted set's member
/// stamps in seconds, `nil` for missing members.
func runVector(_ input: [(Int64, Int)], topics: Int, queueSize: Int,
               lowerBounds: [Int64] = [], agePenalty: Double = 0.1) throws -> [[Int64?]] {
    var syncTopics = (0..<topics).map { SyncTopic(name: "t\($0)") }
    for (i, bound) in lowerBounds.enumerated() { syncTopics[i].interMessageLowerBound = bound }
    var sync = try ApproximateTimeSynchronizer<Int>(
        config: SyncConfig(topics: syncTopics, queueSize: queueSize, agePenalty: agePenalty))
    var out: [[Int64?]] = []
    for (n, (stamp, topic)) in input.enumerated() {
        for frame in try sync.add(topic: topic, stamp: stamp * second, seq: UInt32(n), payload: n) {
            out.append(frame.members.map { $0.map { $0.stamp / second } })
        }
    }
    return out
}
