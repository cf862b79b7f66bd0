import Foundation
import ForesightBag
import ForesightPredict
import ForesightPreprocess
import ForesightWire
import Logging

/// `foresight eval` with several launch files: every predictor scored on the same frames in one
/// run. Each drive is read once; launch files that share a front end (same preprocessing version,
/// synchronizer settings and topics) share one pipeline, so each frame is synchronized and
/// preprocessed once and fed to every predictor; the scores of each predictor are those a single
/// run with its launch file gives.
public struct ComparativeEvaluation: Sendable {
    /// One predictor to score: a launch file, optionally with modalities removed at inference.
    public struct Entry: Sendable {
        /// The name in tables and JSON (unique within a run).
        public var name: String
        /// The launch file (predictor, front end, synchronizer).
        public var launch: LaunchFile
        /// Modalities removed from every frame before the predictor sees it (`--drop`, ablations).
        public var dropped: [Modality]

        /// Creates an entry.
        public init(name: String, launch: LaunchFile, dropped: [Modality] = []) {
            self.name = name
            self.launch = launch
            self.dropped = dropped
        }
    }

    /// Per-frame record of a predictor on a drive (for plots): stamps, predicted and true best
    /// beam and the position error per step (−1 / NaN-free: null when absent).
    public struct Trace: Codable, Sendable {
        /// Frame stamps, ns.
        public var stamp: [Int64] = []
        /// Predicted best beam per frame and step.
        public var beam: [[Int]] = []
        /// True best beam per frame and step (−1 without truth).
        public var truthBeam: [[Int]] = []
        /// Position error per frame and step, m (nil without truth or position).
        public var positionError: [[Double?]] = []
    }

    /// A predictor's scores on one drive.
    public struct DriveScore: Codable, Sendable {
        /// The drive's name.
        public var drive: String
        /// Frames predicted on it.
        public var frames: Int
        /// The scores.
        public var report: ScoreReport
        /// Per-frame record (only with traces on).
        public var trace: Trace?
    }

    /// A predictor's results.
    public struct PredictorResult: Codable, Sendable {
        /// Entry name.
        public var name: String
        /// The launch file.
        public var launch: String
        /// `predictor.kind`.
        public var kind: String
        /// Modalities removed at inference.
        public var dropped: [Modality]
        /// All drives pooled.
        public var overall: ScoreReport
        /// Per drive (bootstrap over drives resamples these).
        public var drives: [DriveScore]
        /// Frames predicted.
        public var frames: Int
        /// Frames the predictor threw on (no prediction).
        public var failures: Int
        /// Wall-clock seconds spent inside this predictor.
        public var predictSeconds: Double
        /// Frames per second of this predictor alone.
        public var framesPerSecond: Double?
    }

    /// The outcome of a run.
    public struct Result: Codable, Sendable {
        /// Per predictor, in the order given.
        public var predictors: [PredictorResult]
        /// Drive names, in order.
        public var drives: [String]
        /// Messages read.
        public var messages: Int
        /// Frames assembled (per front end; the first front end's count).
        public var frames: Int
        /// Wall-clock seconds of the whole run.
        public var seconds: Double
        /// Frames (of the first front end) with at least one modality missing.
        public var partialFrames: Int = 0

        /// Pretty-printed JSON (plain slashes, a final newline), as every JSON file of the project.
        public func json() throws -> Data {
            Data(try JSONText.encode(self).utf8)
        }

        /// One row per predictor: pooled scores and speed.
        public func table() -> String {
            func f(_ v: Double?, _ digits: Int = 3) -> String { v.map { String(format: "%.\(digits)f", $0) } ?? "—" }
            let header = ["predictor", "frames", "top1", "top3", "loss dB", "ADE m", "FDE m", "pwr RMSE", "pwr MAE",
                          "blk acc", "blk prec", "blk rec", "blk F1", "frames/s"]
            var rows = [header]
            for p in predictors {
                let o = p.overall.overall
                rows.append([p.name, "\(p.frames)", f(o.top1), f(o.top3), f(o.powerLossDB, 2), f(p.overall.adeM, 2), f(p.overall.fdeM, 2),
                             f(o.powerRMSEDB, 2), f(o.powerMAEDB, 2), f(o.blockage.accuracy), f(o.blockage.precision),
                             f(o.blockage.recall), f(o.blockage.f1), f(p.framesPerSecond, 0)])
            }
            let widths = header.indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
            return rows.map { row in
                row.enumerated().map { i, cell in
                    i == 0 ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                        : String(repeating: " ", count: widths[i] - cell.count) + cell
                }.joined(separator: "  ")
            }.joined(separator: "\n") + "\n"
        }
    }

    /// How far an offline run works ahead of the frame being predicted. Every setting gives the
    /// same frames, in the same order, to every predictor, so the same scores; only the speed differs.
    public struct Pipelining: Sendable, Equatable {
        /// Messages read and decompressed (or simulated) ahead, on a thread of their own; 0 reads
        /// each message when the pipeline asks for it.
        public var readAhead: Int
        /// Frames preprocessed ahead of the one being predicted (``FusionPipeline/lookahead``).
        public var lookahead: Int
        /// Frames a predictor may have waiting behind the one it is predicting; 0 waits for every
        /// predictor before the next frame is given to any.
        public var predictorQueue: Int
        /// Threads sharing one radar cube (nil: the launch file's front end, `RadarParameters.threads`).
        public var radarThreads: Int?
        /// Whether a front end computes only the tensors its predictors read
        /// (``PredictorFactory/modelInputs(_:)``): the classical predictor's camera images and radar
        /// cubes are then not processed and its LiDAR clouds give points without a depth image.
        /// The predictions are the same either way.
        public var onlyReadInputs: Bool

        /// Creates a setting (negative values count as 0).
        public init(readAhead: Int, lookahead: Int, predictorQueue: Int, radarThreads: Int? = nil, onlyReadInputs: Bool = false) {
            self.readAhead = max(0, readAhead)
            self.lookahead = max(0, lookahead)
            self.predictorQueue = max(0, predictorQueue)
            self.radarThreads = radarThreads
            self.onlyReadInputs = onlyReadInputs
        }

        /// The default: 32 messages read ahead, 2 frames in the front end, 2 waiting per predictor,
        /// one thread per radar cube (frames in flight fill the cores instead), only the tensors
        /// the predictors read.
        public static let pipelined = Pipelining(readAhead: 32, lookahead: FusionPipeline.defaultLookahead, predictorQueue: 2,
                                                 radarThreads: 1, onlyReadInputs: true)
        /// One message, one frame and one prediction at a time, with the launch file's whole front
        /// end (the reference the tests compare with).
        public static let serial = Pipelining(readAhead: 0, lookahead: 0, predictorQueue: 0)
    }

    /// The predictors, in report order.
    public let entries: [Entry]
    /// Whether per-frame traces go into the result.
    public var traces = false
    /// How far a run works ahead (``Pipelining/pipelined`` unless set).
    public var pipelining = Pipelining.pipelined
    private let logger: Logger

    /// Creates an evaluation of `entries`; truth topics are followed whatever the launch files say.
    public init(entries: [Entry], logger: Logger) throws {
        guard !entries.isEmpty else { throw LaunchError("eval needs at least one launch file") }
        self.entries = entries.map { entry in
            var e = entry
            for topic in ["truth/ue", "truth/beam", "truth/blockage"] where !e.launch.inputs.truthTopics.contains(topic) {
                e.launch.inputs.truthTopics.append(topic)
            }
            return e
        }
        self.logger = logger
    }

    /// The key of a launch file's front end: launch files with equal keys produce identical frames.
    static func frontEndKey(_ launch: LaunchFile) throws -> String {
        "\(try launch.preprocessingVersion())|\(launch.sync)|\(launch.prefix)|\(launch.inputs.topics)|\(launch.inputs.limits)|\(launch.sitePath)"
    }

    /// Progress of a run.
    public struct Progress: Sendable {
        /// Drives finished.
        public var drivesDone: Int
        /// Drives in total.
        public var drives: Int
        /// Frames assembled so far.
        public var frames: Int
        /// Seconds since the start.
        public var seconds: Double
    }

    /// Scores every entry on every drive.
    public func run(drives: [Drive], progress: (@Sendable (Progress) -> Void)? = nil) async throws -> Result {
        let started = Date()
        var groups: [(key: String, members: [Int])] = []
        for (i, entry) in entries.enumerated() {
            let key = try Self.frontEndKey(entry.launch)
            if let g = groups.firstIndex(where: { $0.key == key }) { groups[g].members.append(i) } else { groups.append((key, [i])) }
        }
        var pooled = [ScoreAccumulator](repeating: ScoreAccumulator(), count: entries.count)
        var perDrive = [[DriveScore]](repeating: [], count: entries.count)
        var framesOf = [Int](repeating: 0, count: entries.count)
        var failuresOf = [Int](repeating: 0, count: entries.count)
        var secondsOf = [Double](repeating: 0, count: entries.count)
        var messages = 0, frames = 0, partial = 0
        var names: [String] = []
        for (d, drive) in drives.enumerated() {
            let name = drive.name(scenarioName: try drive.scenarioName())
            names.append(name)
            let outcome = try await evaluate(drive: drive, name: name, groups: groups) { count in
                progress?(Progress(drivesDone: d, drives: drives.count, frames: frames + count, seconds: Date().timeIntervalSince(started)))
            }
            messages += outcome.messages
            frames += outcome.frames
            partial += outcome.partialFrames
            for i in entries.indices {
                var accumulator = ScoreAccumulator()
                for set in outcome.sets[i] {
                    accumulator.add(set, truth: outcome.truth)
                    pooled[i].add(set, truth: outcome.truth)
                }
                perDrive[i].append(DriveScore(drive: name, frames: outcome.sets[i].count, report: accumulator.report,
                                              trace: traces ? Self.trace(outcome.sets[i], truth: outcome.truth) : nil))
                framesOf[i] += outcome.sets[i].count
                failuresOf[i] += outcome.failures[i]
                secondsOf[i] += outcome.seconds[i]
            }
            progress?(Progress(drivesDone: d + 1, drives: drives.count, frames: frames, seconds: Date().timeIntervalSince(started)))
        }
        let results = entries.indices.map { i in
            PredictorResult(name: entries[i].name, launch: entries[i].launch.path, kind: entries[i].launch.predictor.kind,
                            dropped: entries[i].dropped, overall: pooled[i].report, drives: perDrive[i], frames: framesOf[i],
                            failures: failuresOf[i], predictSeconds: secondsOf[i],
                            framesPerSecond: secondsOf[i] > 0 ? Double(framesOf[i]) / secondsOf[i] : nil)
        }
        return Result(predictors: results, drives: names, messages: messages, frames: frames, seconds: Date().timeIntervalSince(started),
                      partialFrames: partial)
    }

    private struct DriveOutcome {
        var truth: TruthTimeline
        var sets: [[PredictionSet]]
        var failures: [Int]
        var seconds: [Double]
        var messages: Int
        var frames: Int
        var partialFrames: Int
    }

    /// One drive through every front end and predictor.
    private func evaluate(drive: Drive, name: String, groups: [(key: String, members: [Int])],
                          progress: @escaping (Int) -> Void) async throws -> DriveOutcome {
        // A bag without the expected topics fails before any work, listing what it has.
        let info = try drive.bagInfo()
        if let info, case .bag(let path) = drive {
            for group in groups { try EvaluationInput.check(info, launch: entries[group.members[0]].launch, bagPath: path) }
        }
        let truth = Locked(TruthTimeline())
        var pipelines: [FusionPipeline] = []
        for (g, group) in groups.enumerated() {
            let launch = entries[group.members[0]].launch
            let dummy = try PersistencePredictor(configuration: .init(site: launch.site, topK: 1))
            // Only the tensors some predictor of the group reads (the classical predictor reads no
            // camera or radar tensor): the same predictions, less work.
            let inputs = pipelining.onlyReadInputs
                ? group.members.reduce(into: Set<Modality>()) { $0.formUnion(PredictorFactory.modelInputs(self.entries[$1].launch)) }
                : Set(Modality.allCases)
            pipelines.append(try FusionPipeline(launch: launch, predictor: dummy, lookahead: pipelining.lookahead,
                                                radarThreads: pipelining.radarThreads, modelInputs: inputs, logger: logger) { event in
                // Every front end sees the same truth messages: keep the first one's.
                guard g == 0, case .truth(let message) = event else { return }
                truth.withLock { t in
                    switch message {
                    case let m as TruthUE: t.insert(m)
                    case let m as TruthBeam: t.insert(m)
                    case let m as TruthBlockage: t.insert(m)
                    default: break
                    }
                }
            })
        }
        var stages: [PredictionStage] = []
        do {
            for entry in entries {
                stages.append(try PredictionStage(predictor: try PredictorFactory.make(entry.launch), site: entry.launch.site,
                                                  settings: entry.launch.predictor))
            }
        } catch {
            for stage in stages { await stage.stop() }
            for p in pipelines { await p.drain { _ in } }
            throw error
        }
        let collected = Locked((sets: [[PredictionSet]](repeating: [], count: entries.count),
                                seconds: [Double](repeating: 0, count: entries.count)))
        let entries = self.entries
        var frameCount = 0, partialCount = 0
        // Every predictor gets its frames in order on its own stage, without waiting for the
        // others or for the next frame's preprocessing (at most `queued` frames behind).
        var queues = entries.indices.map { _ in OrderedPredictions(queued: pipelining.predictorQueue) }
        func feed(_ group: [Int], _ frame: PreprocessedFrame) async {
            for i in group {
                let entry = entries[i], stage = stages[i]
                let f = FrameDrop.apply(entry.dropped, frame: frame)
                let c = f.header
                if entry.launch.sync.required.contains(where: c.missing.contains) { continue }
                await queues[i].submit {
                    let start = DispatchTime.now().uptimeNanoseconds
                    let set = await stage.predict(f)
                    let took = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                    collected.withLock { s in
                        if let set { s.sets[i].append(set) }
                        s.seconds[i] += took
                    }
                }
            }
        }
        let topics = Set(groups.flatMap { g in
            g.members.flatMap { i in
                entries[i].launch.inputTopics
                    + entries[i].launch.inputs.truthTopics.map { entries[i].launch.prefix + $0 }
            }
        })
        let messages = try drive.open(topics: topics, site: entries[groups[0].members[0]].launch.site)
        // Read and decompress (or simulate) the next messages on a thread of their own.
        let source = pipelining.readAhead > 0 ? ReadAhead(name: "fs-read", capacity: pipelining.readAhead) { messages.next() } : nil
        defer { source?.finish() }
        func nextMessage() -> (frames: [[UInt8]], receiveTime: Int64)? {
            if let source { return source.next() }
            return messages.next()
        }
        while let message = nextMessage() {
            for (g, group) in groups.enumerated() {
                await pipelines[g].offer(frames: message.frames, receiveTime: message.receiveTime) { frame in
                    let context = frame.header
                    if g == 0 {
                        frameCount += 1
                        if !context.missing.isEmpty { partialCount += 1 }
                        if frameCount % 50 == 0 { progress(frameCount) }
                    }
                    await feed(group.members, frame)
                }
            }
        }
        source?.finish()
        for (g, group) in groups.enumerated() {
            await pipelines[g].drain { frame in
                let context = frame.header
                if g == 0 {
                    frameCount += 1
                    if !context.missing.isEmpty { partialCount += 1 }
                }
                await feed(group.members, frame)
            }
        }
        for i in queues.indices { await queues[i].finish() }
        var failures: [Int] = []
        for stage in stages {
            failures.append(await stage.failures)
            await stage.stop()
        }
        if let error = messages.error { throw LaunchError("drive \(name): reading stopped: \(error)") }
        if frameCount == 0, let info, case .bag(let path) = drive {
            throw EvaluationInput.noFrames(info, launch: entries[groups[0].members[0]].launch, bagPath: path)
        }
        let timeline = truth.withLock { $0 }
        let counts = timeline.counts
        if counts.ue + counts.beam + counts.blockage == 0 {
            throw LaunchError("drive \(name): nothing to score — it has no truth/ue, truth/beam or truth/blockage messages "
                              + "(recordings of a real site carry no ground truth; simulated drives do)")
        }
        let (sets, seconds) = collected.withLock { ($0.sets, $0.seconds) }
        return DriveOutcome(truth: timeline, sets: sets, failures: failures, seconds: seconds, messages: messages.count, frames: frameCount,
                            partialFrames: partialCount)
    }

    /// The per-frame record of a predictor's sets against the truth.
    static func trace(_ sets: [PredictionSet], truth: TruthTimeline) -> Trace {
        var t = Trace()
        for set in sets {
            t.stamp.append(set.horizon.first.map { $0 } ?? 0)
            var beams: [Int] = [], truths: [Int] = [], errors: [Double?] = []
            for (k, step) in set.steps.enumerated() where k < set.horizon.count {
                let target = truth.truth(at: set.horizon[k])
                beams.append(step.bestBeam)
                truths.append(target.beam?.best ?? -1)
                if let ue = target.ue, set.positionKnown {
                    let e = ((step.east - ue.east) * (step.east - ue.east) + (step.north - ue.north) * (step.north - ue.north)).squareRoot()
                    errors.append(e.isFinite ? e : nil)
                } else {
                    errors.append(nil)
                }
            }
            t.beam.append(beams)
            t.truthBeam.append(truths)
            t.positionError.append(errors)
        }
        return t
    }
}

/// Removes modalities from a frame as if their sensors had been silent (for `--drop` ablations):
/// the tensor, what the classical predictor reads of it and the member are gone, and the modality
/// is listed as missing. The frame's stamp and its other members are untouched.
public enum FrameDrop {
    /// The frame without `modalities`.
    public static func apply(_ modalities: [Modality], frame: PreprocessedFrame) -> PreprocessedFrame {
        var f = frame
        for modality in modalities { f.drop(modality) }
        return f
    }
}

/// Runs work items one after the other, in submission order, without making the submitter wait
/// for each: every item starts when the previous one has finished, and `submit` waits only while
/// `queued` items are already waiting behind the running one. A predictor fed through one sees
/// its frames strictly in order, exactly as if each were awaited in turn.
struct OrderedPredictions {
    private let queued: Int
    private var pending: [Task<Void, Never>] = []

    /// An empty queue allowing `queued` (at least 0) items to wait behind the running one.
    init(queued: Int) { self.queued = max(0, queued) }

    /// Queues `work` behind everything submitted before.
    mutating func submit(_ work: @escaping @Sendable () async -> Void) async {
        while pending.count > queued { await pending.removeFirst().value }
        let previous = pending.last
        pending.append(Task {
            await previous?.value
            await work()
        })
    }

    /// Waits until every item submitted has run.
    mutating func finish() async {
        for task in pending { await task.value }
        pending.removeAll()
    }
}
