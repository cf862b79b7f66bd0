import Foundation
import ForesightBus
import ForesightWire
import Hummingbird
import Logging
import NIOCore
import Prometheus

/// The daemon's HTTP endpoint: `/metrics` (Prometheus text exposition, rendered by
/// swift-prometheus) and `/healthz` (JSON), served by Hummingbird on its event loops — a client
/// that connects and sends nothing, or reads slowly, blocks neither other clients nor shutdown.
///
/// The endpoint is a service-style object: `run(onListening:)` serves until the task is
/// cancelled or the surrounding service group shuts down gracefully.
public struct MetricsEndpoint: Sendable {
    /// Why the endpoint could not start.
    public struct StartError: Error, CustomStringConvertible, Sendable {
        /// The address asked for.
        public var address: String
        /// What failed.
        public var reason: String
        /// A line a person can act on.
        public var description: String {
            let owner = PortOwner.port(of: address).flatMap { PortOwner.holder(ofTCPPort: $0) }.map { " (held by \($0))" } ?? ""
            return "metrics server on \(address): \(reason)\(owner); stop it, or change metrics.address in the launch file (metrics: {enabled: false} turns it off)"
        }
    }

    /// One HTTP answer.
    public struct Answer: Sendable {
        /// Status code.
        public var status: Int
        /// Content-Type header.
        public var contentType: String
        /// Body.
        public var body: String

        /// Creates an answer.
        public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
    }

    /// Host to bind (loopback by default: metrics are not published to the network unless asked).
    public let host: String
    /// Port to bind (0 picks a free one).
    public let port: Int
    /// Seconds after which a connection that sends no complete request is closed.
    public var idleTimeout: Int64 = 5
    private let metrics: @Sendable () async -> String
    private let health: @Sendable () async -> Answer
    private let logger: Logger

    /// Parses `host:port` and prepares the endpoint; `metrics` renders `/metrics`, `health` answers `/healthz`.
    public init(address: String, logger: Logger,
                metrics: @escaping @Sendable () async -> String,
                health: @escaping @Sendable () async -> Answer) throws(StartError) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else {
            throw StartError(address: address, reason: "not host:port (e.g. 127.0.0.1:9464)")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" || host.isEmpty { host = "127.0.0.1" }
        self.host = host
        self.port = port
        self.metrics = metrics
        self.health = health
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        self.logger = quiet
    }

    /// Serves until cancelled or gracefully shut down; calls `onListening` with the bound port once
    /// the socket listens. Throws ``StartError`` when the address cannot be bound.
    public func run(onListening: @escaping @Sendable (Int) async -> Void) async throws {
        let router = Router()
        let metrics = self.metrics, health = self.health
        router.get("metrics") { _, _ -> Response in
            let text = await metrics()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("healthz") { _, _ -> Response in
            let answer = await health()
            return Response(status: .init(code: answer.status), headers: [.contentType: answer.contentType],
                            body: .init(byteBuffer: ByteBuffer(string: answer.body)))
        }
        let app = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(idleTimeout))),
            configuration: .init(address: .hostname(host, port: port), serverName: nil, reuseAddress: true),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        do {
            try await app.run()
        } catch let error as CancellationError {
            throw error
        } catch {
            throw StartError(address: "\(host):\(port)", reason: Self.describe(error))
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        return "\(error)"
    }
}

/// The `/healthz` answer, computed from the pipeline's liveness in one place.
public enum HealthReport {
    /// JSON `{"status": "ok"|"degraded"|"down", "alive": [...], "silent": [...]}`; 503 when no
    /// configured input is alive.
    public static func answer(alive: [String], silent: [String]) -> MetricsEndpoint.Answer {
        let status = alive.isEmpty ? "down" : silent.isEmpty ? "ok" : "degraded"
        let body = JSONText.object([
            ("status", .string(status)),
            ("alive", .array(alive.map { .string($0) })),
            ("silent", .array(silent.map { .string($0) })),
        ])
        return .init(status: alive.isEmpty ? 503 : 200, contentType: "application/json", body: body + "\n")
    }
}

/// Renders the pipeline's counters through a swift-prometheus registry: one group per metric
/// family, `# HELP` and `# TYPE` once, topic/reason/stage as labels.
///
/// The pipeline keeps its own counters (lock-protected, cheap on the hot path); each scrape
/// mirrors them into the registry (counters advance by the difference since the last scrape,
/// gauges are set) and emits the registry.
public final class PrometheusExporter: Sendable {
    /// The registry scraped at `/metrics`; other code may register its own metrics in it.
    public let registry = PrometheusCollectorRegistry()
    private let seen = Locked<[String: Int64]>([:])

    /// Creates an exporter with an empty registry.
    public init() {}

    /// One sample to mirror.
    public struct Sample: Sendable {
        /// Metric family (without labels).
        public var family: Family
        /// Label pairs.
        public var labels: [(String, String)]
        /// Value.
        public var value: Double

        /// Creates a sample.
        public init(_ family: Family, _ labels: [(String, String)] = [], _ value: Double) {
            self.family = family
            self.labels = labels
            self.value = value
        }
    }

    /// A metric family: name, kind and help text.
    public struct Family: Sendable {
        /// Full name, e.g. `foresight_wire_rejected_total`.
        public var name: String
        /// Counter (monotonic) or gauge.
        public var isCounter: Bool
        /// The `# HELP` text.
        public var help: String

        /// A counter family.
        public static func counter(_ name: String, _ help: String) -> Family { Family(name: name, isCounter: true, help: help) }
        /// A gauge family.
        public static func gauge(_ name: String, _ help: String) -> Family { Family(name: name, isCounter: false, help: help) }
    }

    /// Mirrors `samples` into the registry and returns the exposition text.
    public func render(_ samples: [Sample]) -> String {
        seen.withLock { seen in
            for sample in samples {
                if sample.family.isCounter {
                    let counter = registry.makeCounter(name: sample.family.name, labels: sample.labels, help: sample.family.help)
                    let key = sample.family.name + "|" + sample.labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
                    let value = Int64(sample.value)
                    let delta = value - (seen[key] ?? 0)
                    if delta > 0 { counter.increment(by: delta) }
                    seen[key] = max(value, seen[key] ?? 0)
                } else {
                    registry.makeGauge(name: sample.family.name, labels: sample.labels, help: sample.family.help).set(to: sample.value)
                }
            }
        }
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The metric families on `/metrics`: names, help texts, and how the pipeline's counters map
/// onto them (topic, reason, event and stage are labels, never parts of a name).
public enum PrometheusFamilies {
    static let uptime = PrometheusExporter.Family.gauge("foresight_uptime_seconds", "Seconds since the daemon started")
    static let received = PrometheusExporter.Family.counter("foresight_messages_received_total", "Messages received per configured input topic")
    static let rate = PrometheusExporter.Family.gauge("foresight_topic_rate_hz", "Recent arrival rate per configured input topic (messages per second)")
    static let alive = PrometheusExporter.Family.gauge("foresight_topic_alive", "1 when the input topic was heard within its silence threshold, else 0")
    static let rejected = PrometheusExporter.Family.counter("foresight_wire_rejected_total", "Input messages rejected, by topic and documented reason (docs/protocol.md)")
    static let events = PrometheusExporter.Family.counter("foresight_stream_events_total", "Stream events per topic: clock jumps, publisher resets, seq gaps, dropped non-finite points")
    static let frames = PrometheusExporter.Family.counter("foresight_frames_total", "Frames predicted (complete and partial)")
    static let partial = PrometheusExporter.Family.counter("foresight_frames_partial_total", "Frames predicted with at least one modality missing")
    static let skipped = PrometheusExporter.Family.counter("foresight_frames_skipped_total", "Frames not predicted because a modality the launch file requires was missing")
    static let invalid = PrometheusExporter.Family.counter("foresight_predictions_invalid_total", "Predictions that failed output validation and were not published")
    static let queue = PrometheusExporter.Family.gauge("foresight_stage_queue_depth", "Frames waiting in each stage's bounded queue")
    static let dropped = PrometheusExporter.Family.counter("foresight_stage_dropped_total", "Frames dropped by each stage (oldest first) because the next stage was behind")
    static let topicDropped = PrometheusExporter.Family.counter("foresight_sync_dropped_total", "Messages the synchronizer dropped unmatched, per input topic")
    static let unmatched = PrometheusExporter.Family.gauge("foresight_sync_unmatched", "Messages waiting in the synchronizer per input topic")
    static let syncRejected = PrometheusExporter.Family.counter("foresight_sync_rejected_total", "Messages the synchronizer refused, by reason (stamp_backwards, stamp_future)")
    static let latency = PrometheusExporter.Family.gauge("foresight_stage_latency_seconds", "Stage latency over the most recent 4096 frames, by stage and quantile")
    static let latencyCount = PrometheusExporter.Family.counter("foresight_stage_latency_samples_total", "Latency samples recorded per stage")
    static let other = PrometheusExporter.Family.counter("foresight_pipeline_events_total", "Other pipeline counters, by name")

    /// The samples of `stats` as of `now` (ns).
    public static func samples(of stats: PipelineStats, now: Int64) -> [PrometheusExporter.Sample] {
        typealias S = PrometheusExporter.Sample
        var out: [S] = [S(uptime, [], Double(now - stats.started) / 1e9)]
        for t in stats.activity.snapshot(now: now) {
            out.append(S(received, [("topic", t.topic)], Double(t.received)))
            out.append(S(rate, [("topic", t.topic)], t.rateHz))
            out.append(S(alive, [("topic", t.topic)], t.alive ? 1 : 0))
        }
        for r in stats.wire.rejectionSnapshot() { out.append(S(rejected, [("topic", r.key.topic), ("reason", r.key.name)], Double(r.count))) }
        for e in stats.wire.eventSnapshot() { out.append(S(events, [("topic", e.key.topic), ("event", e.key.name)], Double(e.count))) }
        let c = stats.snapshot()
        // Every stage gets its queue depth and drop counter, zero until something happens.
        for stage in PipelineStats.Stage.allCases {
            out.append(S(queue, [("stage", stage.rawValue)], Double(c.stageQueue[stage] ?? 0)))
            out.append(S(dropped, [("stage", stage.rawValue)], Double(c.stageDropped[stage] ?? 0)))
            if let recorder = stats.latency[stage] {
                out.append(S(latencyCount, [("stage", stage.rawValue)], Double(recorder.count)))
                if let p = recorder.percentilesMs([50, 90, 99]) {
                    for (q, v) in zip(["0.5", "0.9", "0.99"], p) { out.append(S(latency, [("stage", stage.rawValue), ("quantile", q)], v / 1000)) }
                }
            }
        }
        let fixed: [PipelineStats.Counter: PrometheusExporter.Family] = [.frames: frames, .partialFrames: partial,
                                                                         .skippedFrames: skipped, .invalidPredictions: invalid]
        for counter in PipelineStats.Counter.allCases {
            if let family = fixed[counter] {
                out.append(S(family, [], Double(c.counters[counter] ?? 0)))
            } else if let value = c.counters[counter] {
                out.append(S(other, [("name", counter.rawValue)], Double(value)))
            }
        }
        for (topic, value) in c.topicDropped.sorted(by: { $0.key < $1.key }) { out.append(S(topicDropped, [("topic", topic)], Double(value))) }
        for reason in PipelineStats.SyncRejection.allCases {
            if let value = c.syncRejected[reason] { out.append(S(syncRejected, [("reason", reason.rawValue)], Double(value))) }
        }
        for (topic, value) in c.topicUnmatched.sorted(by: { $0.key < $1.key }) { out.append(S(unmatched, [("topic", topic)], Double(value))) }
        return out
    }
}
