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
/// as Prometheus text. Every counter has a typed key; topic names and reasons are labels of a
/// key, never parts of a metric name.
public final class PipelineStats: Sendable {
    /// A pipeline stage with a queue, a drop counter and a latency.
    public enum Stage: String, Sendable, CaseIterable, Hashable {
        /// ApproximateTime synchronizer (arrival of the newest member → frame out).
        case sync
        /// The preprocessing front end.
        case preprocess
        /// The predictor stage.
        case predict
        /// Newest member's arrival → outputs published.
        case endToEnd = "end_to_end"
    }

    /// A pipeline-wide event counter (its raw value is the name shown on `/metrics`).
    public enum Counter: String, Sendable, CaseIterable, Hashable {
        /// Frames predicted (complete and partial).
        case frames = "frames_total"
        /// Frames predicted with at least one modality missing.
        case partialFrames = "frames_partial_total"
        /// Frames not predicted because a required modality was missing.
        case skippedFrames = "frames_skipped_total"
        /// Predictions that failed output validation (not published).
        case invalidPredictions = "predictions_invalid_total"
        /// Frames the predictor threw on (nothing published for them).
        case failedPredictions = "predictions_failed_total"
        /// Frames the reference predictor threw on (`run --compare`).
        case failedReferencePredictions = "predictions_reference_failed_total"
    }

    /// Why the synchronizer refused a message.
    public enum SyncRejection: String, Sendable, CaseIterable, Hashable {
        /// Its stamp did not advance.
        case stampBackwards = "stamp_backwards"
        /// Its stamp was too far ahead.
        case stampFuture = "stamp_future"
    }

    /// Every count, under one lock.
    struct Counts: Sendable {
        var counters: [Counter: Int64] = [:]
        var stageDropped: [Stage: Int64] = [:]
        var stageQueue: [Stage: Int64] = [:]
        var topicDropped: [String: Int64] = [:]
        var topicUnmatched: [String: Int64] = [:]
        var syncRejected: [SyncRejection: Int64] = [:]
    }

    /// Rejections and stream events by topic.
    public let wire: WireCounters
    /// Arrivals per input topic.
    public let activity: TopicActivity
    /// Latency per stage.
    public let latency: [Stage: LatencyRecorder]
    private let counts = Locked(Counts())
    /// When the pipeline started (wall clock, ns).
    public let started: Int64

    /// Creates statistics for the given input topics.
    public init(topics: [String], silence: Int64, wire: WireCounters = WireCounters()) {
        self.wire = wire
        activity = TopicActivity(topics: topics, silence: silence)
        latency = Dictionary(uniqueKeysWithValues: Stage.allCases.map { ($0, LatencyRecorder()) })
        started = wallClockNanoseconds()
    }

    /// Adds to a pipeline counter.
    public func count(_ counter: Counter, by amount: Int64 = 1) {
        counts.withLock { $0.counters[counter, default: 0] += amount }
    }

    /// A pipeline counter's value.
    public func counter(_ counter: Counter) -> Int64 { counts.withLock { $0.counters[counter] ?? 0 } }

    /// Adds frames a stage dropped (its bounded queue was full).
    public func countDropped(_ stage: Stage, by amount: Int64 = 1) {
        counts.withLock { $0.stageDropped[stage, default: 0] += amount }
    }

    /// Frames a stage dropped so far.
    public func dropped(_ stage: Stage) -> Int64 { counts.withLock { $0.stageDropped[stage] ?? 0 } }

    /// Sets the frames waiting in a stage's queue.
    public func setQueueDepth(_ stage: Stage, _ depth: Int64) {
        counts.withLock { $0.stageQueue[stage] = depth }
    }

    /// Frames waiting in a stage's queue (as last set).
    public func queueDepth(_ stage: Stage) -> Int64 { counts.withLock { $0.stageQueue[stage] ?? 0 } }

    /// Adds messages of an input topic the synchronizer dropped unmatched (also counted as the
    /// sync stage's drops).
    public func countDropped(topic: String, by amount: Int64) {
        counts.withLock {
            $0.topicDropped[topic, default: 0] += amount
            $0.stageDropped[.sync, default: 0] += amount
        }
    }

    /// Messages of an input topic the synchronizer dropped unmatched so far.
    public func dropped(topic: String) -> Int64 { counts.withLock { $0.topicDropped[topic] ?? 0 } }

    /// Sets the messages of an input topic waiting in the synchronizer.
    public func setUnmatched(topic: String, _ value: Int64) {
        counts.withLock { $0.topicUnmatched[topic] = value }
    }

    /// Adds messages the synchronizer refused for `reason`.
    public func countSyncRejected(_ reason: SyncRejection, by amount: Int64) {
        counts.withLock { $0.syncRejected[reason, default: 0] += amount }
    }

    /// The `foresight/diagnostics` message as of now.
    public func diagnostics(header: Header) -> Diagnostics {
        let now = wallClockNanoseconds()
        let c = counts.current
        let topics = activity.snapshot(now: now).map { t in
            Diagnostics.TopicStats(topic: t.topic, rateHz: t.rateHz, received: t.received,
                                   rejected: wire.totalRejected(topic: t.topic), dropped: c.topicDropped[t.topic] ?? 0,
                                   alive: t.alive)
        }
        var rejections = wire.rejectionSnapshot().map { Diagnostics.Rejection(topic: $0.key.topic, reason: $0.key.name, count: $0.count) }
        rejections += wire.eventSnapshot().map { Diagnostics.Rejection(topic: $0.key.topic, reason: $0.key.name, count: $0.count) }
        let stages = Stage.allCases.map { stage -> Diagnostics.Stage in
            let p = latency[stage]?.percentilesMs([50, 99]) ?? [0, 0]
            return Diagnostics.Stage(stage: stage.rawValue, queueDepth: c.stageQueue[stage] ?? 0, dropped: c.stageDropped[stage] ?? 0,
                                     p50Ms: p[0], p99Ms: p[1])
        }
        return Diagnostics(header: header, uptimeS: Double(now - started) / 1e9, topics: topics, rejections: rejections, stages: stages)
    }

    /// Mirrors the counters into swift-prometheus for `/metrics`.
    private let exporter = PrometheusExporter()

    /// Prometheus text exposition of every counter (one group per family, labels for topic,
    /// reason and stage); see ``PrometheusFamilies`` for the names and help texts.
    public func prometheus() -> String {
        exporter.render(PrometheusFamilies.samples(of: self, now: wallClockNanoseconds()))
    }

    /// Every count as of now (for exporters).
    func snapshot() -> Counts { counts.current }
}
