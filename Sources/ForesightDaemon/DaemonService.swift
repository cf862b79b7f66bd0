import Foundation
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

    /// The modalities whose model-input tensor the predictor of `launch` reads (what an offline
    /// front end has to compute for it; ``FrontEndConfiguration/modelInputs``). The classical and
    /// persistence predictors read GNSS, the beam-power scan and LiDAR's site points — and the radar
    /// map only with `radar_detections` — never the camera image or the LiDAR depth image; a
    /// model (`learned`, `gru`) reads all five. An unknown kind reads all five.
    public static func modelInputs(_ launch: LaunchFile) -> Set<Modality> {
        switch launch.predictor.kind {
        case "classical-ctrv", "persistence":
            return launch.predictor.radarDetections ? [.gnss, .beamPower, .radar] : [.gnss, .beamPower]
        default:
            return Set(Modality.allCases)
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
    /// A second predictor run beside the launch file's on the same frames, for the observer only
    /// (`.reference` events; `foresight run --compare`); never published.
    public let reference: (any Predictor)?
    private let logger: Logger

    /// Creates the service.
    public init(launch: LaunchFile, logger: Logger, reference: (any Predictor)? = nil,
                observer: (@Sendable (PipelineEvent) -> Void)? = nil) {
        self.launch = launch
        self.logger = logger
        self.reference = reference
        self.observer = observer
    }

    public func run() async throws {
        let launch = self.launch, logger = self.logger
        // The predictor first: a model folder that does not fit fails before any socket is bound.
        let predictor = try PredictorFactory.make(launch)
        // Socket set-up and teardown wait (thread start, linger): on their own threads, never on
        // the cooperative pool.
        let context = try BusContext()
        // CURVE certificates read and checked, the ZAP handler started: before any socket exists.
        let security = try DaemonSecurity(launch: launch, context: context, logger: logger)
        var pubOptions = Publisher.Options()
        pubOptions.mode = launch.output.bind ? .bind : .connect
        pubOptions.lingerMs = 500
        security.configure(&pubOptions)
        let publisherOptions = pubOptions
        let publisher = try await OffPool.run("foresight-open") {
            try Publisher(context: context, endpoint: launch.output.endpoint, options: publisherOptions)
        }
        var subOptions = Subscriber.Options()
        subOptions.mode = launch.inputs.bind ? .bind : .connect
        subOptions.bufferCapacity = launch.inputs.buffer
        subOptions.topics = launch.inputTopics + launch.inputs.truthTopics.map { launch.prefix + $0 }
        security.configure(&subOptions)
        let subscriber: Subscriber
        do {
            let subscriberOptions = subOptions
            subscriber = try await OffPool.run("foresight-open") {
                try Subscriber(context: context, endpoints: launch.inputs.endpoints, options: subscriberOptions)
            }
        } catch {
            await OffPool.run("foresight-close") { publisher.close() }
            throw error
        }
        // Fail closed: if the ZAP handler dies, close every socket and exit non-zero.
        let failClosed = Task {
            guard let reason = await security.failure() else { return }
            logger.critical("the ZAP authentication handler failed: closing every socket", metadata: ["reason": "\(reason)"])
            await OffPool.run("foresight-close") { subscriber.close(); publisher.close() }
        }
        let hangup = Task { await security.reloadOnHangup() }
        defer { failClosed.cancel(); hangup.cancel() }
        do {
            try await serve(publisher: publisher, subscriber: subscriber, predictor: predictor, security: security)
        } catch {
            await OffPool.run("foresight-close") { subscriber.close(); publisher.close() }
            throw error
        }
        await OffPool.run("foresight-close") { subscriber.close(); publisher.close(); security.close() }
        if let reason = security.failureReason {
            throw SecurityFailure(description: "stopped because the ZAP authentication handler failed (\(reason)); every socket was closed")
        }
    }

    private func serve(publisher: Publisher, subscriber: Subscriber, predictor: any Predictor, security: DaemonSecurity) async throws {
        let observer = self.observer, logger = self.logger, launch = self.launch
        // The Foxglove live view (launch key `foxglove:`) taps the daemon at its bus boundary:
        // every message in (`inputs`) and every message out (`publish`). Free when nobody watches.
        let live = try launch.foxglove.map { try FoxgloveLiveView(settings: $0, launch: launch, logger: logger) }
        let inputs = subscriber.messages.map { message in
            live?.offer(message)
            return message
        }
        let publish: @Sendable (String, [UInt8]) -> Void = { topic, payload in
            publisher.send(topic: topic, payload: payload)
            live?.offer(topic: topic, payload: payload, receiveTime: wallClockNanoseconds())
        }
        let pipeline = try FusionPipeline(launch: launch, predictor: predictor, reference: reference, logger: logger) { event in
            switch event {
            case .publish(let topic, let payload): publish(topic, payload)
            case .prediction, .reference, .truth: observer?(event)
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var metricsURL = "off"
            if let address = launch.metricsAddress {
                let endpoint = try MetricsEndpoint(address: address, logger: logger,
                                                   metrics: { await pipeline.metricsText() + security.prometheusText() + (live?.metricsText() ?? "") },
                                                   health: { let h = pipeline.health(); return HealthReport.answer(alive: h.alive, silent: h.silent) })
                let (listening, announce) = AsyncStream<Int>.makeStream()
                group.addTask {
                    defer { announce.finish() }
                    try await endpoint.run { port in announce.yield(port) }
                }
                var ports = listening.makeAsyncIterator()
                guard let port = await ports.next() else {
                    // The endpoint ended before listening: its error says why.
                    try await group.next()
                    throw MetricsEndpoint.StartError(address: address, reason: "stopped before listening")
                }
                metricsURL = "http://\(endpoint.host):\(port)/metrics"
            }
            var foxgloveURL = "off"
            if let live {
                let (listening, announce) = AsyncStream<Int>.makeStream()
                group.addTask {
                    defer { announce.finish() }
                    try await live.run { port in announce.yield(port) }
                }
                var ports = listening.makeAsyncIterator()
                guard let port = await ports.next() else {
                    try await group.next()
                    throw FoxgloveLiveView.StartError(address: live.settings.address, reason: "stopped before listening")
                }
                foxgloveURL = "ws://\(live.host):\(port)"
            }
            logger.info("foresight running", metadata: [
                "launch": "\(launch.path)", "site": "\(launch.site.name)", "inputs": "\(subscriber.endpoints)",
                "output": "\(publisher.endpoints)", "predictor": "\(launch.predictor.kind)", "metrics": "\(metricsURL)", "foxglove": "\(foxgloveURL)",
                "reference": "\(reference?.model ?? "none")",
            ])

            let diagnosticsTopic = launch.output.prefix + MessageType.diagnostics.defaultTopic
            let period = launch.output.diagnosticsPeriod
            let diagnostics = Task {
                var seq: UInt32 = 0
                while !Task.isCancelled {
                    try? await Task.sleep(for: .nanoseconds(period))
                    if Task.isCancelled { break }
                    var report = await pipeline.diagnostics(seq: seq)
                    report.rejections += security.diagnosticRejections()
                    publish(diagnosticsTopic, report.encoded())
                    seq &+= 1
                }
            }
            let inputTopics = launch.inputTopics
            let silentStart = Task { [logger, launch] in
                await InputWatch.warnNeverHeard(after: .seconds(3), expected: inputTopics, endpoints: launch.inputs.endpoints,
                                                connect: !launch.inputs.bind, logger: logger) {
                    Dictionary(pipeline.stats.activity.snapshot(now: wallClockNanoseconds()).map { ($0.topic, $0.received) },
                               uniquingKeysWith: +)
                }
            }
            defer { silentStart.cancel() }
            await withTaskCancellationHandler {
                await withGracefulShutdownHandler {
                    await pipeline.runLive(inputs, delivered: {
                        let counts = subscriber.statistics
                        return counts.received - counts.dropped
                    })
                } onGracefulShutdown: {
                    // Stop ingest (on its own thread: close joins the socket thread); the pipeline
                    // drains the frames in flight and returns.
                    Thread { subscriber.close() }.start()
                }
            } onCancel: {
                // Second signal or the graceful period ran out: stop now.
                Thread { subscriber.close() }.start()
            }
            diagnostics.cancel()
            _ = await diagnostics.value
            var final = await pipeline.diagnostics(seq: .max)
            final.rejections += security.diagnosticRejections()
            publisher.send(topic: diagnosticsTopic, payload: final.encoded())
            group.cancelAll()
            logger.info("foresight stopped", metadata: ["frames": "\(pipeline.stats.counter(.frames))"])
        }
    }
}
