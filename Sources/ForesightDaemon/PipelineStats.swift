import Foundation
import ForesightBus
import ForesightWire

/// Recent latency samples of one stage, with percentiles. Thread-safe; O(1) to record.
public final class LatencyRecorder: Sendable {
    private struct Ring {
        var samples: [Int64]
        var next = 0
        var filled = 0
        var total: Int64 = 0
    }
    private let ring: Locked<Ring>

    /// Keeps the most recent `capacity` samples.
    public init(capacity: Int = 4096) {
        ring = Locked(Ring(samples: [Int64](repeating: 0, count: max(1, capacity))))
    }

    /// Records one latency, ns.
    public func record(_ nanoseconds: Int64) {
        ring.withLock { r in
            r.samples[r.next] = nanoseconds
            r.next = (r.next + 1) % r.samples.count
            r.filled = min(r.filled + 1, r.samples.count)
            r.total += 1
        }
    }

    /// Samples recorded since start.
    public var count: Int64 { ring.withLock { $0.total } }

    /// The given percentiles (0…100) of the recent samples, in ms (nil without samples).
    public func percentilesMs(_ ps: [Double]) -> [Double]? {
        let sorted = ring.withLock { r in r.samples.prefix(r.filled).sorted() }
        guard !sorted.isEmpty else { return nil }
        return ps.map { p in
            let rank = Int((p / 100 * Double(sorted.count - 1)).rounded())
            return Double(sorted[min(max(rank, 0), sorted.count - 1)]) / 1e6
        }
    }
}

/// Per-topic arrival counts, rates and liveness.
public final class TopicActivity: Sendable {
    private struct Entry {
        var received: Int64 = 0
        var lastReceive: Int64 = 0
        var windowStart: Int64 = 0
        var windowCount: Int64 = 0
        var rate: Double = 0
    }
    private let entries: Locked<[String: Entry]>
    /// A topic silent this long (ns, wall clock) is reported dead.
    public let silence: Int64

    /// Tracks exactly `topics`: arrivals on any other topic are ignored, so junk topic names
    /// cannot add entries (they are counted once, as `unknown_topic` rejections).
    public init(topics: [String], silence: Int64) {
        entries = Locked(Dictionary(uniqueKeysWithValues: topics.map { ($0, Entry()) }))
        self.silence = silence
    }

    /// Counts one arrival at wall-clock `time` (ns) on a tracked topic; other topics are ignored.
    public func arrived(_ topic: String, at time: Int64) {
        entries.withLock { e in
            guard var entry = e[topic] else { return }
            entry.received += 1
            entry.lastReceive = time
            if entry.windowStart == 0 { entry.windowStart = time }
            entry.windowCount += 1
            e[topic] = entry
        }
    }

    /// Statistics per topic as of `now`; rates are over the time since the previous call.
    public func snapshot(now: Int64) -> [(topic: String, received: Int64, rateHz: Double, alive: Bool)] {
        entries.withLock { e in
            var out: [(String, Int64, Double, Bool)] = []
            for key in e.keys.sorted() {
                guard var entry = e[key] else { continue }
                let span = Double(now - entry.windowStart) / 1e9
                if entry.windowStart > 0, span >= 0.5 {
                    entry.rate = Double(entry.windowCount) / span
                    entry.windowStart = now
                    entry.windowCount = 0
                }
                if entry.lastReceive == 0 || now - entry.lastReceive > silence { entry.rate = entry.lastReceive == 0 ? 0 : entry.rate }
                let alive = entry.lastReceive > 0 && now - entry.lastReceive <= silence
                e[key] = entry
                out.append((key, entry.received, alive ? entry.rate : 0, alive))
            }
            return out
        }
    }
}

/// Everything the daemon counts, shared by its stages; rendered as `foresight/diagnostics` and
/// as Prometheus text.
public final class PipelineStats: Sendable {
    /// Rejections and stream events by topic.
    public let wire: WireCounters
    /// Arrivals per input topic.
    public let activity: TopicActivity
    /// Latency per stage (`sync`, `preprocess`, `predict`, `end_to_end`).
    public let latency: [String: LatencyRecorder]
    /// Stage names in report order.
    public static let stages = ["sync", "preprocess", "predict", "end_to_end"]
    private let counters = Locked<[String: Int64]>([:])
    private let gauges = Locked<[String: Int64]>([:])
    /// When the pipeline started (wall clock, ns).
    public let started: Int64

    /// Creates statistics for the given input topics.
    public init(topics: [String], silence: Int64, wire: WireCounters = WireCounters()) {
        self.wire = wire
        activity = TopicActivity(topics: topics, silence: silence)
        latency = Dictionary(uniqueKeysWithValues: PipelineStats.stages.map { ($0, LatencyRecorder()) })
        started = wallClockNanoseconds()
    }

    /// Adds to a named counter (e.g. `frames_total`, `dropped.preprocess`).
    public func count(_ name: String, by amount: Int64 = 1) {
        counters.withLock { $0[name, default: 0] += amount }
    }

    /// Sets a named gauge (e.g. `queue.preprocess`).
    public func set(_ name: String, _ value: Int64) {
        gauges.withLock { $0[name] = value }
    }

    /// A counter's value.
    public func counter(_ name: String) -> Int64 { counters.withLock { $0[name] ?? 0 } }

    /// A gauge's value.
    public func gauge(_ name: String) -> Int64 { gauges.withLock { $0[name] ?? 0 } }

    /// The `foresight/diagnostics` message as of now.
    public func diagnostics(header: Header) -> Diagnostics {
        let now = wallClockNanoseconds()
        let topics = activity.snapshot(now: now).map { t in
            Diagnostics.TopicStats(topic: t.topic, rateHz: t.rateHz, received: t.received,
                                   rejected: wire.totalRejected(topic: t.topic), dropped: counter("dropped.topic.\(t.topic)"),
                                   alive: t.alive)
        }
        var rejections = wire.rejectionSnapshot().map { Diagnostics.Rejection(topic: $0.key.topic, reason: $0.key.name, count: $0.count) }
        rejections += wire.eventSnapshot().map { Diagnostics.Rejection(topic: $0.key.topic, reason: $0.key.name, count: $0.count) }
        let stages = PipelineStats.stages.map { name -> Diagnostics.Stage in
            let p = latency[name]?.percentilesMs([50, 99]) ?? [0, 0]
            return Diagnostics.Stage(stage: name, queueDepth: gauge("queue.\(name)"), dropped: counter("dropped.\(name)"),
                                     p50Ms: p[0], p99Ms: p[1])
        }
        return Diagnostics(header: header, uptimeS: Double(now - started) / 1e9, topics: topics, rejections: rejections, stages: stages)
    }

    /// Prometheus text exposition of every counter.
    public func prometheus() -> String {
        var text = PrometheusText()
        let now = wallClockNanoseconds()
        text.add("foresight_uptime_seconds", type: "gauge", help: "Seconds since the daemon started", value: Double(now - started) / 1e9)
        for t in activity.snapshot(now: now) {
            text.add("foresight_messages_received_total", type: "counter", help: "Messages received per input topic",
                     labels: [("topic", t.topic)], value: Double(t.received))
            text.add("foresight_topic_rate_hz", type: "gauge", help: "Arrival rate per input topic", labels: [("topic", t.topic)], value: t.rateHz)
            text.add("foresight_topic_alive", type: "gauge", help: "1 when the topic was heard within its silence threshold",
                     labels: [("topic", t.topic)], value: t.alive ? 1 : 0)
        }
        for r in wire.rejectionSnapshot() {
            text.add("foresight_rejected_total", type: "counter", help: "Messages rejected, by topic and documented reason",
                     labels: [("topic", r.key.topic), ("reason", r.key.name)], value: Double(r.count))
        }
        for e in wire.eventSnapshot() {
            text.add("foresight_stream_events_total", type: "counter", help: "Stream events (clock jumps, resets, gaps, dropped points)",
                     labels: [("topic", e.key.topic), ("event", e.key.name)], value: Double(e.count))
        }
        for (name, value) in counters.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            text.add("foresight_" + name.replacingOccurrences(of: ".", with: "_").replacingOccurrences(of: "/", with: "_"),
                     type: "counter", help: "Pipeline counter \(name)", value: Double(value))
        }
        for name in PipelineStats.stages {
            guard let recorder = latency[name], let p = recorder.percentilesMs([50, 99]) else { continue }
            text.add("foresight_stage_latency_ms", type: "gauge", help: "Recent stage latency percentiles",
                     labels: [("stage", name), ("quantile", "0.5")], value: p[0])
            text.add("foresight_stage_latency_ms", type: "gauge", help: "Recent stage latency percentiles",
                     labels: [("stage", name), ("quantile", "0.99")], value: p[1])
        }
        return text.text
    }
}
