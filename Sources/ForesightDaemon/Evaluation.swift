import Foundation
import ForesightBag
import ForesightPredict
import ForesightWire
import Logging

/// `foresight eval`: runs the pipeline on a recorded bag as fast as possible (every frame, in
/// order, nothing dropped) and scores the predictions against the bag's ground truth.
public struct Evaluation {
    /// The launch file whose pipeline is evaluated.
    public let launch: LaunchFile
    private let logger: Logger

    /// Creates an evaluation.
    public init(launch: LaunchFile, logger: Logger) {
        self.launch = launch
        self.logger = logger
    }

    /// The outcome: scores plus what was read and produced.
    public struct Result: Sendable {
        /// Per-step and overall scores.
        public var report: ScoreReport
        /// Messages read from the bag.
        public var messages: Int
        /// Frames predicted.
        public var frames: Int64
        /// Frames with a missing modality.
        public var partialFrames: Int64
        /// Messages rejected by the wire checks, by reason.
        public var rejections: [String: Int64]
        /// Wall-clock seconds the run took.
        public var seconds: Double
    }

    /// Evaluates `bagPath`; `progress` is called with the number of messages read so far.
    public func run(bagPath: String, progress: (@Sendable (Int) -> Void)? = nil) async throws -> Result {
        let reader = try BagRecording(path: bagPath)
        let info = try reader.info()
        try EvaluationInput.check(info, launch: launch, bagPath: bagPath)
        let topics = Set(launch.inputTopics + launch.inputs.truthTopics.map { launch.prefix + $0 })
        let cursor = try reader.messages { topics.contains($0.topic) }
        let collected = Locked<(predictions: [PredictionSet], truth: TruthTimeline)>(([], TruthTimeline()))
        let pipeline = try FusionPipeline(launch: launch, predictor: try PredictorFactory.make(launch),
                                          radarThreads: ComparativeEvaluation.Pipelining.pipelined.radarThreads,
                                          modelInputs: PredictorFactory.modelInputs(launch), logger: logger) { event in
            switch event {
            case .prediction(let set, _): collected.withLock { $0.predictions.append(set) }
            case .truth(let message):
                collected.withLock { c in
                    switch message {
                    case let m as TruthUE: c.truth.insert(m)
                    case let m as TruthBeam: c.truth.insert(m)
                    case let m as TruthBlockage: c.truth.insert(m)
                    default: break
                    }
                }
            case .publish, .reference: break
            }
        }
        let start = Date()
        let source = BagSource(cursor: cursor, progress: progress)
        // Read and decompress the next messages on a thread of their own.
        let ahead = ReadAhead(name: "fs-read", capacity: ComparativeEvaluation.Pipelining.pipelined.readAhead) { source.next() }
        defer { ahead.finish() }
        await pipeline.runOffline(ahead)
        ahead.finish()
        if let error = source.error { throw error }
        if pipeline.stats.counter(.frames) == 0 { throw EvaluationInput.noFrames(info, launch: launch, bagPath: bagPath) }
        var accumulator = ScoreAccumulator()
        let (predictions, truth) = collected.withLock { ($0.predictions, $0.truth) }
        for set in predictions { accumulator.add(set, truth: truth) }
        var rejections: [String: Int64] = [:]
        for r in pipeline.stats.wire.rejectionSnapshot() { rejections[r.key.name, default: 0] += r.count }
        return Result(report: accumulator.report, messages: source.count, frames: pipeline.stats.counter(.frames),
                      partialFrames: pipeline.stats.counter(.partialFrames), rejections: rejections,
                      seconds: Date().timeIntervalSince(start))
    }
}

/// Bag messages as the pipeline's input sequence (topic and payload frames, log time as receive time).
final class BagSource: Sequence, IteratorProtocol, @unchecked Sendable {
    private let cursor: BagMessageCursor
    private let progress: (@Sendable (Int) -> Void)?
    private(set) var count = 0
    private(set) var error: BagError?

    init(cursor: BagMessageCursor, progress: (@Sendable (Int) -> Void)?) {
        self.cursor = cursor
        self.progress = progress
    }

    func next() -> (frames: [[UInt8]], receiveTime: Int64)? {
        guard error == nil else { return nil }
        do {
            guard let entry = try cursor.next() else { return nil }
            count += 1
            if count % 500 == 0 { progress?(count) }
            return ([Array(entry.channel.topic.utf8), entry.message.data], Int64(clamping: entry.message.logTime))
        } catch {
            self.error = error
            return nil
        }
    }
}
