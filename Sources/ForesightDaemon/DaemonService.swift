import ForesightBus
import ForesightPredict
import ForesightWire
import Logging
import ServiceLifecycle

/// Builds the predictor a launch file asks for.
public enum PredictorFactory {
    /// The predictor of `predictor.kind`: the classical CTRV predictor, the persistence baseline,
    /// or a model folder (`learned`, `gru`) loaded and checked against the launch file — a bad
    /// folder throws here, before the daemon binds any socket.
    public static func make(_ launch: LaunchFile) throws -> any Predictor {
        switch launch.predictor.kind {
        case "classical-ctrv":
            return try ClassicalPredictor(configuration: .init(site: launch.site, topK: launch.predictor.topK))
        case "persistence":
            return try PersistencePredictor(configuration: .init(site: launch.site, topK: launch.predictor.topK))
        case "learned", "gru":
            return try LearnedPredictor.load(launch: launch)
        default:
            throw LaunchError("predictor.kind: '\(launch.predictor.kind)' is not one of \(LaunchFile.PredictorSettings.kinds.joined(separator: ", "))")
        }
    }
}

/// `foresight run`: the live daemon as a service — subscribe, synchronize, preprocess, predict,
/// publish; diagnostics at 1 Hz; `/metrics` and `/healthz` over HTTP; graceful shutdown that
/// stops ingest, drains the frames in flight and closes every socket.
public struct DaemonService: Service {
    /// The launch file.
    public let launch: LaunchFile
    /// Receives every pipeline event (predictions and truth) — the live view and online scores.
    public let observer: (@Sendable (PipelineEvent) -> Void)?
    private let logger: Logger

    /// Creates the service.
    public init(launch: LaunchFile, logger: Logger, observer: (@Sendable (PipelineEvent) -> Void)? = nil) {
        self.launch = launch
        self.logger = logger
        self.observer = observer
    }

    public func run() async throws {
        // The predictor first: a model folder that does not fit fails before any socket is bound.
        let predictor = try PredictorFactory.make(launch)
        let context = try BusContext()
        var pubOptions = Publisher.Options()
        pubOptions.mode = launch.output.bind ? .bind : .connect
        pubOptions.lingerMs = 500
        let publisher = try Publisher(context: context, endpoint: launch.output.endpoint, options: pubOptions)
        defer { publisher.close() }
        var subOptions = Subscriber.Options()
        subOptions.mode = launch.inputs.bind ? .bind : .connect
        subOptions.bufferCapacity = launch.inputs.buffer
        subOptions.topics = LaunchFile.modalities.compactMap { launch.inputTopic($0) } + launch.inputs.truthTopics.map { launch.prefix + $0 }
        let subscriber = try Subscriber(context: context, endpoints: launch.inputs.endpoints, options: subOptions)
        defer { subscriber.close() }

        let observer = self.observer
        let pipeline = try FusionPipeline(launch: launch, predictor: predictor, logger: logger) { event in
            switch event {
            case .publish(let topic, let payload): publisher.send(topic: topic, payload: payload)
            case .prediction, .truth: observer?(event)
            }
        }
        let metrics = try launch.metricsAddress.map { address in
            try MetricsServer(address: address) { path in
                switch path {
                case "/metrics":
                    return .init(status: 200, contentType: "text/plain; version=0.0.4", body: pipeline.stats.prometheus())
                case "/healthz":
                    let (alive, silent) = pipeline.health()
                    let body = "{\"status\": \"\(silent.isEmpty ? "ok" : "degraded")\", \"alive\": \(alive), \"silent\": \(silent)}\n"
                    return .init(status: alive.isEmpty ? 503 : 200, contentType: "application/json", body: body)
                default:
                    return .init(status: 404, body: "try /metrics or /healthz\n")
                }
            }
        }
        defer { metrics?.stop() }
        logger.info("foresight running", metadata: [
            "launch": "\(launch.path)", "site": "\(launch.site.name)", "inputs": "\(subscriber.endpoints)",
            "output": "\(publisher.endpoints)", "predictor": "\(launch.predictor.kind)",
            "metrics": "\(metrics.map { "http://\(launch.metricsAddress?.split(separator: ":").first ?? "127.0.0.1"):\($0.port)/metrics" } ?? "off")",
        ])

        let diagnosticsTopic = launch.output.prefix + MessageType.diagnostics.defaultTopic
        let period = launch.output.diagnosticsPeriod
        let diagnostics = Task {
            var seq: UInt32 = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .nanoseconds(period))
                if Task.isCancelled { break }
                publisher.send(topic: diagnosticsTopic, payload: await pipeline.diagnostics(seq: seq).encoded())
                seq &+= 1
            }
        }
        let inputTopics = LaunchFile.modalities.compactMap { launch.inputTopic($0) }
        let silentStart = Task { [logger, launch] in
            await InputWatch.warnNeverHeard(after: .seconds(3), expected: inputTopics, endpoints: launch.inputs.endpoints,
                                            connect: !launch.inputs.bind, logger: logger) {
                Dictionary(pipeline.stats.activity.snapshot(now: wallClockNanoseconds()).map { ($0.topic, $0.received) },
                           uniquingKeysWith: +)
            }
        }
        defer { silentStart.cancel() }
        await withGracefulShutdownHandler {
            await pipeline.runLive(subscriber.messages, delivered: {
                let counts = subscriber.statistics
                return counts.received - counts.dropped
            })
        } onGracefulShutdown: {
            // Stop ingest; the pipeline drains the frames in flight and returns.
            subscriber.close()
        }
        diagnostics.cancel()
        _ = await diagnostics.value
        publisher.send(topic: diagnosticsTopic, payload: await pipeline.diagnostics(seq: .max).encoded())
        logger.info("foresight stopped", metadata: ["frames": "\(pipeline.stats.counter("frames_total"))"])
    }
}
