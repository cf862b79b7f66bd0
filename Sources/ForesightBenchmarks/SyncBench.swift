import Dispatch
import ForesightSync
import Foundation
import Histogram

/// CPU time of the calling thread in ns (robust to other processes sharing the cores).
private func threadCPUTimeNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Synchronizer throughput and per-message cost on synthetic 10 Hz streams with jitter:
/// five healthy topics (optimal frames), and the same with one topic dead (deadline frames).
let syncBenchmark = Benchmark(name: "sync") { report in
    let topicNames = ["sensor/camera", "sensor/radar", "sensor/lidar", "sensor/gnss", "sensor/beam_power"]
    let messagesPerTopic = 20_000
    let payload = [UInt8](repeating: 7, count: 64)  // shared buffer: measures retain/release, not copies

    /// Interleaved arrivals: topic k at 10 Hz, offset k ms, ±2 ms jitter, arriving in stamp order.
    func makeStream(deadTopic: Int?) -> [SyncInput<[UInt8]>] {
        var state: UInt64 = 0x5EED
        func jitter() -> Int64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int64((state >> 33) % 4_000_001) - 2_000_000
        }
        var inputs: [SyncInput<[UInt8]>] = []
        inputs.reserveCapacity(messagesPerTopic * topicNames.count)
        for k in 0..<messagesPerTopic {
            let base = 1_700_000_000_000_000_000 + Int64(k) * 100_000_000
            for topic in topicNames.indices where topic != deadTopic {
                inputs.append(SyncInput(topic: topic, stamp: base + Int64(topic) * 1_000_000 + jitter(),
                                        seq: UInt32(k), payload: payload))
            }
        }
        return inputs
    }

    func run(_ label: String, _ inputs: [SyncInput<[UInt8]>], _ config: SyncConfig) throws {
        var frames = 0
        let whole = try measure(iterations: 5, warmup: 1) {
            var sync = try ApproximateTimeSynchronizer<[UInt8]>(config: config)
            var out: [SyncedFrame<[UInt8]>] = []
            for input in inputs {
                try sync.add(topic: input.topic, stamp: input.stamp, seq: input.seq, payload: input.payload, into: &out)
                frames += out.count
                out.removeAll(keepingCapacity: true)
            }
        }
        let cpuStart = threadCPUTimeNs()
        var sync = try ApproximateTimeSynchronizer<[UInt8]>(config: config)
        var out: [SyncedFrame<[UInt8]>] = []
        for input in inputs {
            try sync.add(topic: input.topic, stamp: input.stamp, seq: input.seq, payload: input.payload, into: &out)
            out.removeAll(keepingCapacity: true)
        }
        let cpuNs = Double(threadCPUTimeNs() - cpuStart)
        report.record("\(label) CPU cost", cpuNs / Double(inputs.count), "ns/msg")
        report.record("\(label) CPU throughput", Double(inputs.count) / (cpuNs / 1e9), "msg/s")

        let seconds = Double(whole.valueAtPercentile(50)) / 1e9
        report.record("\(label) wall throughput (p50 run)", Double(inputs.count) / seconds, "msg/s")
        report.record("\(label) wall cost (p50 run)", seconds * 1e9 / Double(inputs.count), "ns/msg")
        report.record("\(label) frames per run", Double(frames / 6), "frames")

        var perMessage = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        sync = try ApproximateTimeSynchronizer<[UInt8]>(config: config)
        for input in inputs {
            let start = DispatchTime.now().uptimeNanoseconds
            try sync.add(topic: input.topic, stamp: input.stamp, seq: input.seq, payload: input.payload, into: &out)
            perMessage.record(DispatchTime.now().uptimeNanoseconds - start)
            out.removeAll(keepingCapacity: true)
        }
        report.recordLatency("\(label) add()", perMessage)
    }

    let config = SyncConfig.foresightDefault(topicNames: topicNames)
    try run("healthy", makeStream(deadTopic: nil), config)
    try run("lidar dead", makeStream(deadTopic: 2), config)
    var pure = config
    pure.deadline = nil
    pure.agePenalty = 0.1
    try run("healthy, no deadline", makeStream(deadTopic: nil), pure)
}
