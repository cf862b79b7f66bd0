import ForesightBus
import ForesightPredict
import ForesightPreprocess
import ForesightSite
import ForesightWire
import Logging

/// Something the pipeline produced.
public enum PipelineEvent: Sendable {
    /// A message to publish (topic with the output prefix, MessagePack payload).
    case publish(topic: String, payload: [UInt8])
    /// A prediction, with the header of the frame it was made from (for scoring and the live view).
    case prediction(PredictionSet, FrameHeader)
    /// A ground-truth message that arrived on a configured truth topic.
    case truth(any WireMessage)
    /// The reference predictor's prediction for a frame (`foresight run --compare`), made from
    /// the same window right after the primary one; for the observer only, never published.
    case reference(PredictionSet, FrameHeader)
}

/// Foresight's data path, in one place:
///
/// ```
/// frames ──► FrameAssembler (wire checks, stream rules, ApproximateTime + deadline)
///        ──► FramePreprocessor (camera | radar | lidar | gnss | beam power actors, bounded, drop-oldest)
///        ──► PredictionStage (window of frames → predictor, on its own thread)
///        ──► events: predict/beam, predict/position, predict/power, predict/blockage, fusion/frame
/// ```
///
/// The same graph runs live (`runLive`: ZeroMQ in, bounded queues that drop the oldest frame
/// when a stage falls behind) and offline (`runOffline`: a bag, every frame processed in order,
/// nothing dropped, as fast as possible). Outputs go to `sink`; the daemon publishes them.
public final class FusionPipeline: Sendable {
    /// The launch file the graph was built from.
    public let launch: LaunchFile
    /// Counters, rates and latencies.
    public let stats: PipelineStats
    private let ingest: IngestStage
    private let frontEnd: FramePreprocessor
    private let prediction: PredictionStage
    /// Frames the predictor stage has taken from the front end (for the preprocess queue gauge).
    private let taken = Locked<Int64>(0)
    private let reportedFrontEndDrops = Locked<Int64>(0)
    private let sink: @Sendable (PipelineEvent) -> Void
    private let logger: Logger

    /// Offline (``offer(frames:receiveTime:_:)``): how many frames are preprocessed ahead of the
    /// one being handed to `body`. 0 is strictly serial; the default keeps two frames in the front
    /// end while the caller predicts, which is what keeps both cores of the reference machine busy.
    public static let defaultLookahead = 2

    /// Frames preprocessed ahead of the one offline `body` is running on (see ``defaultLookahead``).
    public let lookahead: Int
    /// Offline: the frames handed to the front end and not yet to `body`, oldest first.
    private let ahead = Locked<[Task<PreprocessedFrame, Never>]>([])

    /// Builds every stage from `launch`; `predictor` answers for each frame (and is published);
    /// `reference` (optional) predicts from the same window after it, for the sink's
    /// ``PipelineEvent/reference(_:_:)`` events only. `lookahead` (offline only, at least 0) is
    /// how many frames the front end works on ahead of the one being predicted. `radarThreads`
    /// overrides the threads sharing one radar cube (`RadarParameters.threads`; the map is the
    /// same for any count): offline runs pass 1, because frames in flight already keep the cores
    /// busy and a second member would only spin between the regions of a cube. `modelInputs`
    /// (offline evaluation) limits the tensors the front end computes to what the predictors read
    /// (``FrontEndConfiguration/modelInputs``; default all five).
    public init(launch: LaunchFile, predictor: any Predictor, reference: (any Predictor)? = nil,
                lookahead: Int = FusionPipeline.defaultLookahead, radarThreads: Int? = nil,
                modelInputs: Set<Modality> = Set(Modality.allCases), logger: Logger,
                sink: @escaping @Sendable (PipelineEvent) -> Void) throws {
        self.launch = launch
        self.logger = logger
        self.sink = sink
        self.lookahead = max(0, lookahead)
        let topics = launch.inputTopics
        stats = PipelineStats(topics: topics, silence: launch.sync.silence)
        ingest = IngestStage(assembler: try FrameAssembler(launch: launch, counters: stats.wire), stats: stats, logger: logger)
        var frontEndConfiguration = try FrontEndSettings.configuration(for: launch)
        if let radarThreads { frontEndConfiguration.radar.threads = radarThreads }
        frontEndConfiguration.modelInputs = modelInputs
        frontEnd = try FramePreprocessor(configuration: frontEndConfiguration)
        prediction = try PredictionStage(predictor: predictor, reference: reference, site: launch.site, settings: launch.predictor)
    }

    /// Runs live: receives from `messages` until it ends, never blocking ingest on a slow stage.
    ///
    /// `delivered` (optional) returns how many messages the socket has handed to `messages` so
    /// far (received minus dropped, e.g. from `Subscriber.statistics`): while some of them are
    /// still waiting to be ingested, the deadline ticker holds off — the waiting messages are
    /// newer than anything the synchronizer knows, and a starved process must not force frames
    /// out of sets whose members are already here.
    public func runLive(_ messages: some AsyncSequence<BusMessage, Never> & Sendable, delivered: (@Sendable () -> Int64)? = nil) async {
        let consumed = Locked<Int64>(0)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.predictLoop() }
            group.addTask {
                for await message in messages {
                    let (ready, truth) = await self.ingest.accept(frames: message.frames, receiveTime: message.receiveTime)
                    consumed.withLock { $0 += 1 }
                    if let truth { self.sink(.truth(truth)) }
                    self.submit(ready)
                }
                self.submit(await self.ingest.flush())
                self.frontEnd.finish()
            }
            group.addTask {
                // Keep the deadline firing when every sensor is silent (anchored stream time).
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(10))
                    if let delivered, delivered() > consumed.current { continue }
                    self.submit(await self.ingest.tick())
                    if await self.ingest.finished { return }
                }
            }
            await group.waitForAll()
        }
        await prediction.stop()
    }

    /// Runs offline over recorded messages, in order, processing every frame (nothing dropped).
    /// The front end works on up to ``lookahead`` frames ahead of the one being predicted; the
    /// predictor still sees every frame, one at a time, in stamp order.
    public func runOffline(_ messages: some Sequence<(frames: [[UInt8]], receiveTime: Int64)>) async {
        for message in messages {
            await offer(frames: message.frames, receiveTime: message.receiveTime) { frame in await self.finish(frame) }
        }
        await drain { frame in await self.finish(frame) }
    }

    /// Offline, step by step: hands one recorded message to ingest (wire checks, synchronizer);
    /// every frame it completes goes to the front end (the same code as `runLive`) and, once
    /// preprocessed, to `body` — every frame, in the order the synchronizer completed them, one
    /// at a time (`body` is awaited before the next frame is given to it). Truth messages go to
    /// the sink at once. `foresight eval` and `foresight dataset` build on this; `runOffline`
    /// passes the predictor stage as `body`.
    ///
    /// Pipelined: up to ``lookahead`` frames are preprocessed while `body` runs on an earlier one,
    /// so a frame may reach `body` during a later `offer` (or ``drain(_:)``) than the one that
    /// completed it. Pass the same `body` to every call and call `offer` from one task at a time.
    public func offer(frames: [[UInt8]], receiveTime: Int64,
                      _ body: (PreprocessedFrame) async -> Void) async {
        let (ready, truth) = await ingest.accept(frames: frames, receiveTime: receiveTime)
        if let truth { sink(.truth(truth)) }
        for raw in ready {
            if startPreprocessing(raw) > lookahead { await deliverOldest(body) }
        }
    }

    /// Offline: emits the frames still pending in the synchronizer (end of the recording) and
    /// every frame still in the front end to `body`, in order, then stops the front end and the
    /// predictor stage. Call once, after the last `offer`.
    public func drain(_ body: (PreprocessedFrame) async -> Void) async {
        for raw in await ingest.flush() {
            if startPreprocessing(raw) > lookahead { await deliverOldest(body) }
        }
        while await deliverOldest(body) {}
        frontEnd.finish()
        await prediction.stop()
    }

    /// Offline: starts preprocessing a frame (its modalities run concurrently on the front end's
    /// threads; its latency and rejected inputs are recorded when it is done) behind the ones
    /// already started; returns how many are now waiting for `body`.
    private func startPreprocessing(_ raw: RawFrame) -> Int {
        stats.latency[.sync]?.record(raw.header.synchronizedAt - raw.header.lastReceive)
        let task = Task {
            let frame = await self.frontEnd.process(raw)
            self.record(frame)
            return frame
        }
        return ahead.withLock { queue in
            queue.append(task)
            return queue.count
        }
    }

    /// Offline: waits for the oldest frame started and gives it to `body`; false when none was waiting.
    @discardableResult
    private func deliverOldest(_ body: (PreprocessedFrame) async -> Void) async -> Bool {
        guard let task = ahead.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { return false }
        await body(await task.value)
        return true
    }

    // MARK: Stages

    private func submit(_ frames: [RawFrame]) {
        for raw in frames {
            stats.latency[.sync]?.record(raw.header.synchronizedAt - raw.header.lastReceive)
            frontEnd.submit(raw)
        }
        refreshPreprocessQueue()
        countFrontEndDrops()
    }

    /// Frames handed to the front end and not yet taken by the predictor stage (nor dropped).
    private func refreshPreprocessQueue() {
        let front = frontEnd.statistics
        let waiting = Int64(front.submitted - front.droppedInput - front.droppedOutput) - taken.current
        stats.setQueueDepth(.preprocess, max(0, waiting))
    }

    /// Adds the frames the preprocessing front end dropped (input queue full: the process is
    /// overloaded) since the last call to `dropped.preprocess`, at once and exactly.
    private func countFrontEndDrops() {
        let dropped = Int64(frontEnd.statistics.droppedInput)
        let added = reportedFrontEndDrops.withLock { reported -> Int64 in
            let delta = dropped - reported
            reported = max(reported, dropped)
            return delta
        }
        if added > 0 { stats.countDropped(.preprocess, by: added) }
    }

    private func predictLoop() async {
        for await frame in frontEnd.output {
            taken.withLock { $0 += 1 }
            record(frame)
            await finish(frame)
        }
    }

    /// Records a preprocessed frame's latency and its rejected inputs.
    private func record(_ frame: PreprocessedFrame) {
        stats.latency[.preprocess]?.record(wallClockNanoseconds() - frame.header.synchronizedAt)
        for (modality, error) in frame.failures { countFailure(modality, error) }
    }

    /// Predicts from a preprocessed frame and emits every output of it.
    private func finish(_ frame: PreprocessedFrame) async {
        let context = frame.header
        let preprocessed = wallClockNanoseconds()
        let header = Header(stamp: frame.stamp, seq: UInt32(truncatingIfNeeded: frame.seq), frameID: launch.site.name)
        let out = launch.output.prefix
        if let absent = launch.sync.required.first(where: context.missing.contains) {
            // The launch file says frames without this modality are not worth a prediction.
            stats.count(.skippedFrames)
            logger.debug("frame not predicted: a required modality is missing", metadata: ["modality": "\(absent)"])
            publishFrame(header: header, context: context)
            return
        }
        let outcome = await prediction.predict(frame)
        for (modality, frames, reason) in await prediction.takeScreenedInputs() {
            let topic = launch.inputTopic(modality)
            for _ in 0..<frames { stats.wire.reject(WireError(topic: topic, reason: .modelInputMismatch, detail: reason)) }
            logger.warning("input not usable by the model; predicted without it", metadata: ["topic": "\(topic)", "reason": "\(reason)"])
        }
        guard let set = outcome else {
            stats.count(.failedPredictions)
            let reason = await prediction.lastFailure ?? "unknown"
            logger.error("predictor failed on a frame; nothing published for it", metadata: ["frame": "\(frame.seq)", "error": "\(reason)"])
            publishFrame(header: header, context: context)
            await runReference(context: context)
            return
        }
        let predicted = wallClockNanoseconds()
        stats.latency[.predict]?.record(predicted - preprocessed)
        stats.count(.frames)
        if !context.missing.isEmpty { stats.count(.partialFrames) }

        do {
            let messages = try set.messages(header: header) { launch.site.origin.toGeodetic(east: $0, north: $1) }
            sink(.publish(topic: out + MessageType.beamPrediction.defaultTopic, payload: messages.beam.encoded()))
            sink(.publish(topic: out + MessageType.positionPrediction.defaultTopic, payload: messages.position.encoded()))
            sink(.publish(topic: out + MessageType.powerPrediction.defaultTopic, payload: messages.power.encoded()))
            sink(.publish(topic: out + MessageType.blockagePrediction.defaultTopic, payload: messages.blockage.encoded()))
        } catch {
            stats.count(.invalidPredictions)
            logger.error("prediction not published", metadata: ["frame": "\(frame.seq)", "error": "\(error)"])
        }
        publishFrame(header: header, context: context)
        sink(.prediction(set, context))
        await runReference(context: context)
    }

    /// The reference predictor on the frame just predicted (after its outputs went out, so it
    /// adds nothing to their latency); a failure is counted and logged, never published.
    private func runReference(context: FrameHeader) async {
        switch await prediction.predictReference() {
        case .predicted(let set):
            sink(.reference(set, context))
        case .failed(let reason):
            stats.count(.failedReferencePredictions)
            // The first few and then every 1000th: a reference that never fits must not flood the log.
            let n = stats.counter(.failedReferencePredictions)
            guard n <= 5 || n % 1000 == 0 else { return }
            logger.warning("reference predictor failed on a frame (not published either way)",
                           metadata: ["frame": "\(context.seq)", "error": "\(reason)", "count": "\(n)"])
        case nil:
            return
        }
    }

    /// Publishes `fusion/frame` for a finished frame and records its end-to-end latency.
    private func publishFrame(header: Header, context: FrameHeader) {
        let latency = wallClockNanoseconds() - context.lastReceive
        stats.latency[.endToEnd]?.record(latency)
        guard launch.output.publishFrames else { return }
        let record = FusionFrame(header: header, members: context.members, missing: context.missing, latencyNs: latency)
        sink(.publish(topic: launch.output.prefix + MessageType.fusionFrame.defaultTopic, payload: record.encoded()))
    }

    private func countFailure(_ modality: Modality, _ error: PreprocessError) {
        let topic = launch.inputTopic(modality)
        let reason: RejectionReason
        if case .corruptJPEG = error { reason = .corruptJPEG } else { reason = .preprocessFailed }
        stats.wire.reject(WireError(topic: topic, reason: reason, detail: "\(error)"))
        logger.warning("input rejected by preprocessing", metadata: ["topic": "\(topic)", "reason": "\(reason.rawValue)", "error": "\(error)"])
    }

    /// A `foresight/diagnostics` message as of now.
    public func diagnostics(seq: UInt32) async -> Diagnostics {
        await ingest.refreshGauges()
        countFrontEndDrops()
        refreshPreprocessQueue()
        let front = frontEnd.statistics
        stats.setQueueDepth(.sync, Int64(front.submitted - front.processed - front.droppedInput))
        // Frames the predictor stage did not take in time (its bounded input queue dropped the oldest).
        let droppedBeforePredict = Int64(front.droppedOutput)
        let reported = stats.dropped(.predict)
        if droppedBeforePredict > reported { stats.countDropped(.predict, by: droppedBeforePredict - reported) }
        return stats.diagnostics(header: Header(stamp: wallClockNanoseconds(), seq: seq, frameID: launch.site.name))
    }

    /// The `/metrics` text as of now (gauges refreshed first).
    public func metricsText() async -> String {
        _ = await diagnostics(seq: 0)
        return stats.prometheus()
    }

    /// Input topics heard within their silence threshold, and the silent ones. `/healthz` is
    /// computed from this function alone (see `HealthReport`).
    public func health() -> (alive: [String], silent: [String]) {
        let snapshot = stats.activity.snapshot(now: wallClockNanoseconds())
        return (snapshot.filter(\.alive).map(\.topic), snapshot.filter { !$0.alive }.map(\.topic))
    }
}

/// The ingest side as an actor, so that the message loop and the deadline ticker share it.
///
/// It runs on its own thread (a dedicated serial executor): decoding and validating multi-MB
/// payloads happens here and must not occupy Swift's cooperative pool.
actor IngestStage {
    private let executor = DedicatedThreadExecutor(name: "fs-ingest")
    /// Runs on the stage's dedicated thread.
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    deinit { executor.stop() }

    private var assembler: FrameAssembler
    private let stats: PipelineStats
    private let logger: Logger
    private var lastArrival: Int64 = 0
    private var logged: [String: Int] = [:]
    private var silentWarned: Set<String> = []
    private var reportedDrops: [String: Int64] = [:]
    private var reportedRejections: [String: [PipelineStats.SyncRejection: Int64]] = [:]
    private(set) var finished = false

    init(assembler: FrameAssembler, stats: PipelineStats, logger: Logger) {
        self.assembler = assembler
        self.stats = stats
        self.logger = logger
    }

    func accept(frames: [[UInt8]], receiveTime: Int64) -> (frames: [RawFrame], truth: (any WireMessage)?) {
        // Only configured input topics are tracked (TopicActivity ignores anything else).
        if let topic = frames.first.flatMap({ String(validating: $0, as: UTF8.self) }) { stats.activity.arrived(topic, at: receiveTime) }
        let output = assembler.accept(frames: frames, receiveTime: receiveTime)
        if let error = output.rejection { log(error) }
        lastArrival = receiveTime
        return (output.frames, output.truth)
    }

    /// Logs a rejection: the first few of each (topic, reason), then every 1000th, so a flood of
    /// bad input cannot flood the log (the counters see every one).
    private func log(_ error: WireError) {
        let key = "\(error.topic)|\(error.reason.rawValue)"
        let n = (logged[key] ?? 0) + 1
        logged[key] = n
        guard n <= 5 || n % 1000 == 0 else { return }
        logger.warning("message rejected", metadata: ["topic": "\(error.topic)", "reason": "\(error.reason.rawValue)",
                                                      "field": "\(error.field)", "detail": "\(error.detail)", "count": "\(n)"])
    }

    /// Enforces the deadline at the anchored stream time of now (the newest stamp plus the wall
    /// time since it arrived), so a pending partial frame still goes out at its deadline when
    /// every sensor has gone silent.
    func tick() -> [RawFrame] {
        guard lastArrival > 0 else { return [] }
        warnSilent()
        return assembler.advance(at: wallClockNanoseconds())
    }

    func flush() -> [RawFrame] {
        finished = true
        return assembler.flush()
    }

    func refreshGauges() {
        for (topic, c) in assembler.syncCounters() {
            stats.setUnmatched(topic: topic, Int64(c.unmatched))
            let dropped = Int64(c.dropped)
            let previous = reportedDrops[topic] ?? 0
            if dropped > previous { stats.countDropped(topic: topic, by: dropped - previous) }
            reportedDrops[topic] = dropped
            for (reason, value) in [(PipelineStats.SyncRejection.stampBackwards, c.rejectedBackwards), (.stampFuture, c.rejectedFuture)] {
                let old = reportedRejections[topic]?[reason] ?? 0
                if Int64(value) > old { stats.countSyncRejected(reason, by: Int64(value) - old) }
                reportedRejections[topic, default: [:]][reason] = Int64(value)
            }
        }
        warnSilent()
    }

    private func warnSilent() {
        let silent = Set(assembler.silentTopics(at: wallClockNanoseconds()))
        for topic in silent.subtracting(silentWarned) {
            logger.warning("input topic is silent; frames continue without it", metadata: ["topic": "\(topic)"])
        }
        for topic in silentWarned.subtracting(silent) { logger.notice("input topic is back", metadata: ["topic": "\(topic)"]) }
        silentWarned = silent
    }
}

/// Maps the launch file and site calibration onto the preprocessing front end's parameters.
enum FrontEndSettings {
    static func configuration(for launch: LaunchFile) throws -> FrontEndConfiguration {
        let site = launch.site
        var c = try FrontEndConfiguration(site: site)
        c.lidar.fovUpDegrees = site.lidar.verticalFovDeg.upperBound
        c.lidar.fovDownDegrees = site.lidar.verticalFovDeg.lowerBound
        c.lidar.maxRange = site.lidar.maxRangeM
        let f = launch.lidarFilters
        if let lo = f.cropMin, let hi = f.cropMax { c.lidar.cropBox = AxisBox(min: lo, max: hi) }
        if let leaf = f.voxelLeaf { c.lidar.voxelLeaf = SIMD3(repeating: leaf) }
        if let k = f.outlierMeanK { c.lidar.outlierRemoval = OutlierRemoval(meanK: k, stddevMultiplier: f.outlierStddev ?? 2) }
        c.camera.outputWidth = launch.camera.width
        c.camera.outputHeight = launch.camera.height
        c.camera.reducedJPEGDecode = launch.camera.reducedJPEGDecode
        return c
    }
}
