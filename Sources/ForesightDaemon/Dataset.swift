import Foundation
import ForesightBag
import ForesightInference
import ForesightPredict
import ForesightPreprocess
import ForesightWire
import Logging

/// `foresight dataset`: training data with no train/serve skew. Each drive (a bag, or a
/// simulation generated in memory) runs through the daemon's own ingest, synchronizer and
/// preprocessing front end (``FusionPipeline/offer(frames:receiveTime:_:)``, nothing dropped);
/// every frame becomes one row of a safetensors shard, with targets at each horizon stamp from the
/// same ``TruthTimeline/truth(at:)`` lookup `foresight eval` scores against (docs/dataset.md).
public struct DatasetBuilder: Sendable {
    /// How to write the dataset.
    public struct Options: Sendable {
        /// Output folder (created; shards and manifest.json go here).
        public var directory: String
        /// Frames of history a model trained on it uses (recorded in the manifest).
        public var history: Int = 8
        /// Future steps with targets.
        public var future: Int = 5
        /// Scenario name whose drives form the held-out split.
        public var heldoutScenario = "boulevard"
        /// A split for every shard instead of the seed rule (e.g. for bags).
        public var split: String?
        /// Drives processed at the same time.
        public var jobs = 1
        /// The git commit recorded in the manifest.
        public var gitCommit = "unknown"
        /// The command line recorded in the manifest.
        public var command = ""

        /// Creates options for `directory`.
        public init(directory: String) { self.directory = directory }
    }

    /// One shard of the manifest.
    public struct Shard: Codable, Sendable, Equatable {
        /// File name inside the dataset folder.
        public var file: String
        /// Scenario name (or the bag's name).
        public var scenario: String
        /// Simulation seed (nil for a bag).
        public var seed: UInt64?
        /// `train`, `val`, `test`, `heldout` or `unused`.
        public var split: String
        /// Frames (rows).
        public var frames: Int
        /// Seconds from the first to the last frame stamp (the simulated duration for simulations).
        public var durationS: Double
        /// Segments (model resets) in the drive.
        public var segments: Int
        /// The bag it came from (nil for simulations).
        public var bag: String?
    }

    /// `manifest.json`.
    public struct Manifest: Codable, Sendable {
        /// Always `foresight-dataset`.
        public var format = "foresight-dataset"
        /// Format version.
        public var version = 1
        /// ``PreprocessingVersion/fingerprint(of:)`` of the launch file's front end.
        public var preprocessingVersion: String
        /// History frames.
        public var history: Int
        /// Future steps.
        public var future: Int
        /// Time between future steps, ms.
        public var stepMs: Double
        /// Codebook size.
        public var beams: Int
        /// Reset gap of the `segment` rule, ms.
        public var resetGapMs: Double
        /// Truth lookup tolerance, ms.
        public var truthToleranceMs: Double
        /// The launch file.
        public var launch: String
        /// The site name.
        public var site: String
        /// The git commit of the code that wrote it.
        public var gitCommit: String
        /// The command that wrote it.
        public var command: String
        /// Modality order of `present`.
        public var modalities: [String]
        /// Per-frame shapes: camera `[3, H, W]`, radar `[A, R]`, lidar `[H, W]`.
        public var shapes: [String: [Int]]
        /// Shards.
        public var shards: [Shard]
    }

    /// Progress of a build.
    public struct Progress: Sendable {
        /// Drives finished.
        public var drivesDone: Int
        /// Drives in total.
        public var drives: Int
        /// Frames written so far (all drives).
        public var frames: Int
        /// Wall-clock seconds since the start.
        public var seconds: Double
    }

    /// The launch file (synchronizer, front end, site, `predictor.reset_gap_ms`, `step_ms`).
    public let launch: LaunchFile
    /// Output options.
    public let options: Options
    private let logger: Logger

    /// Creates a builder; truth topics are followed whatever the launch file says.
    public init(launch: LaunchFile, options: Options, logger: Logger) {
        var launch = launch
        for topic in ["truth/ue", "truth/beam", "truth/blockage"] where !launch.inputs.truthTopics.contains(topic) {
            launch.inputs.truthTopics.append(topic)
        }
        self.launch = launch
        self.options = options
        self.logger = logger
    }

    /// The split of a drive: `heldout` for the held-out scenario, then by seed — test for 1000–1019,
    /// validation for seeds below 1000 that are multiples of 10, training for the other seeds below
    /// 1000, `unused` otherwise (docs/dataset.md). A bag takes `options.split` (default `train`).
    public static func split(scenario: String, seed: UInt64?, heldoutScenario: String) -> String {
        if scenario == heldoutScenario { return "heldout" }
        guard let seed else { return "train" }
        switch seed {
        case 1000...1019: return "test"
        case 0..<1000: return seed % 10 == 0 ? "val" : "train"
        default: return "unused"
        }
    }

    /// The per-frame tensor shapes this launch file produces.
    func shapes() throws -> (camera: [Int], radar: [Int], lidar: [Int]) {
        let c = try launch.frontEndConfiguration()
        return ([3, c.camera.outputHeight, c.camera.outputWidth], [c.radar.angleBins, launch.site.radar.samples], [c.lidar.rows, c.lidar.columns])
    }

    /// Writes one shard per drive and then `manifest.json`; returns the manifest.
    public func build(drives: [Drive], progress: (@Sendable (Progress) -> Void)? = nil) async throws -> Manifest {
        let directory = URL(fileURLWithPath: options.directory)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw LaunchError("cannot create the output folder \(options.directory): \(error.localizedDescription)")
        }
        let shapes = try shapes()
        let started = Date()
        let counter = Locked((drives: 0, frames: 0))
        let report: @Sendable (Int, Bool) -> Void = { frames, finished in
            let p = counter.withLock { c -> Progress in
                c.frames += frames
                if finished { c.drives += 1 }
                return Progress(drivesDone: c.drives, drives: drives.count, frames: c.frames, seconds: Date().timeIntervalSince(started))
            }
            progress?(p)
        }
        var shards = [Shard?](repeating: nil, count: drives.count)
        try await withThrowingTaskGroup(of: (Int, Shard).self) { group in
            var next = 0
            func start() {
                guard next < drives.count else { return }
                let index = next, drive = drives[index]
                next += 1
                group.addTask { (index, try await self.shard(drive, directory: directory, report: report)) }
            }
            for _ in 0..<max(1, options.jobs) { start() }
            while let (index, shard) = try await group.next() {
                shards[index] = shard
                start()
            }
        }
        // Keep the shards of an earlier run into the same folder when they are compatible (same
        // preprocessing version, horizon and step), so train, test and held-out drives can be
        // generated by separate commands into one dataset.
        let version = try launch.preprocessingVersion()
        var all = shards.compactMap { $0 }
        let final = directory.appendingPathComponent("manifest.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        if let data = try? Data(contentsOf: final), let old = try? decoder.decode(Manifest.self, from: data) {
            if old.preprocessingVersion == version, old.future == options.future, old.stepMs == Double(launch.predictor.step) / 1e6,
               old.beams == launch.site.mmwave.beams {
                let written = Set(all.map(\.file))
                let kept = old.shards.filter { !written.contains($0.file) && FileManager.default.fileExists(atPath: directory.appendingPathComponent($0.file).path) }
                all = kept + all
            } else {
                logger.warning("the folder's earlier manifest.json is for another preprocessing version or horizon; its shards are no longer listed",
                               metadata: ["old": "\(old.preprocessingVersion)", "new": "\(version)"])
            }
        }
        let manifest = Manifest(
            preprocessingVersion: version, history: options.history, future: options.future,
            stepMs: Double(launch.predictor.step) / 1e6, beams: launch.site.mmwave.beams,
            resetGapMs: Double(launch.predictor.resetGap) / 1e6, truthToleranceMs: Double(TruthTimeline().tolerance) / 1e6,
            launch: launch.path, site: launch.site.name, gitCommit: options.gitCommit, command: options.command,
            modalities: Modality.allCases.map(\.rawValue),
            shapes: [Modality.camera.rawValue: shapes.camera, Modality.radar.rawValue: shapes.radar, Modality.lidar.rawValue: shapes.lidar], shards: all)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let temporary = directory.appendingPathComponent(".manifest.json.partial")
        try encoder.encode(manifest).write(to: temporary)
        try Self.replace(final, with: temporary)
        return manifest
    }

    private static func replace(_ final: URL, with temporary: URL) throws {
        if FileManager.default.fileExists(atPath: final.path) { try FileManager.default.removeItem(at: final) }
        try FileManager.default.moveItem(at: temporary, to: final)
    }

    /// Runs one drive through the pipeline and writes its shard (temporary name, renamed at the end).
    func shard(_ drive: Drive, directory: URL, report: @escaping @Sendable (Int, Bool) -> Void) async throws -> Shard {
        let scenarioName = try drive.scenarioName()
        let name = drive.name(scenarioName: scenarioName)
        let seed: UInt64?
        let source: String
        switch drive {
        case .bag(let path): seed = nil; source = "bag \(path)"
        case let .simulation(_, s, _): seed = s; source = "simulation \(name)"
        }
        // A bag without truth is refused before any work, naming the topics it lacks.
        if let info = try drive.bagInfo() {
            let present = Set(info.topics.filter { $0.messageCount > 0 }.map(\.topic))
            let missing = ["truth/ue", "truth/beam", "truth/blockage"].map { launch.prefix + $0 }.filter { !present.contains($0) }
            if !missing.isEmpty {
                throw LaunchError("\(source) has no ground truth on \(missing.joined(separator: ", ")): a dataset needs the truth topics "
                                  + "(the simulator writes them; recordings of a real site have none); the bag has "
                                  + info.topics.map(\.topic).joined(separator: ", "))
            }
        }
        let split = options.split ?? Self.split(scenario: scenarioName ?? name, seed: seed, heldoutScenario: options.heldoutScenario)
        let rows = DatasetRows(shapes: try shapes(), beams: launch.site.mmwave.beams)
        let truth = Locked((timeline: TruthTimeline(), ue: 0, beam: 0, blockage: 0))
        let pipeline = try FusionPipeline(
            launch: launch, predictor: try PersistencePredictor(configuration: .init(site: launch.site, topK: 1)),
            radarThreads: ComparativeEvaluation.Pipelining.pipelined.radarThreads, logger: logger
        ) { event in
            guard case .truth(let message) = event else { return }
            truth.withLock { t in
                switch message {
                case let m as TruthUE: t.timeline.insert(m); t.ue += 1
                case let m as TruthBeam: t.timeline.insert(m); t.beam += 1
                case let m as TruthBlockage: t.timeline.insert(m); t.blockage += 1
                default: break
                }
            }
        }
        let topics = Set(launch.inputTopics + launch.inputs.truthTopics.map { launch.prefix + $0 })
        let messages = try drive.open(topics: topics, site: launch.site)
        let builder = try ObservationBuilder(site: launch.site, radarDetections: launch.predictor.radarDetections, memberStamps: launch.predictor.memberStamps)
        // The classical predictor's estimates of each frame's horizon (the learned model's coarse inputs),
        // from the window the daemon's predictor stage would hold: same builder, same window type.
        // Also once per dead sensor: the same window with that modality removed from every frame.
        let coarse = try CoarseInputs(launch: launch)
        func predictorWindow() -> PredictorWindow {
            PredictorWindow(history: launch.predictor.history, steps: options.future, step: launch.predictor.step,
                            resetGap: launch.predictor.resetGap)
        }
        var window = predictorWindow()
        var droppedWindows = Modality.allCases.map { _ in predictorWindow() }
        var reported = 0
        let add: (PreprocessedFrame) async -> Void = { frame in
            let observation = builder.observation(frame)
            let horizon = window.append(observation, epoch: frame.header.epoch).horizon
            var dropped: [CoarseEstimates] = []
            for (i, modality) in Modality.allCases.enumerated() {
                _ = droppedWindows[i].append(observation.removing(modality), epoch: frame.header.epoch)
                dropped.append(coarse.estimates(history: droppedWindows[i].frames, horizon: horizon))
            }
            rows.append(frame, observation: observation, coarse: coarse.estimates(history: window.frames, horizon: horizon), dropped: dropped,
                        segment: window.segment)
            if rows.count - reported >= 50 { report(rows.count - reported, false); reported = rows.count }
        }
        // Read and decompress (or simulate) the next messages on a thread of their own.
        let ahead = ReadAhead(name: "fs-read", capacity: ComparativeEvaluation.Pipelining.pipelined.readAhead) { messages.next() }
        defer { ahead.finish() }
        for message in ahead {
            await pipeline.offer(frames: message.frames, receiveTime: message.receiveTime, add)
        }
        ahead.finish()
        await pipeline.drain(add)
        if let error = messages.error { throw LaunchError("\(source): reading stopped: \(error)") }

        // Bad input: say which drive and which topic.
        let (timeline, counts) = truth.withLock { ($0.timeline, (ue: $0.ue, beam: $0.beam, blockage: $0.blockage)) }
        let missingTruth = [("truth/ue", counts.ue), ("truth/beam", counts.beam), ("truth/blockage", counts.blockage)].filter { $0.1 == 0 }.map { launch.prefix + $0.0 }
        if !missingTruth.isEmpty {
            throw LaunchError("\(source) has no ground truth on \(missingTruth.joined(separator: ", ")): a dataset needs the truth topics "
                              + "(the simulator writes them; recordings of a real site have none)")
        }
        guard rows.count > 0 else {
            throw LaunchError("\(source): no frame was assembled (do its topics match the launch file's inputs.topics and prefix '\(launch.prefix)'?)")
        }
        guard rows.gnssFrames > 0 else {
            throw LaunchError("\(source): no GNSS fix on \(launch.inputTopic(.gnss)) in the whole drive; "
                              + "positions cannot be learned or scored without it")
        }
        if let median = rows.medianGnssDistance, median > 20_000 {
            throw LaunchError("\(source): the GNSS fixes on \(launch.inputTopic(.gnss)) lie \(Int(median / 1000)) km from the origin "
                              + "of site '\(launch.site.name)' (\(launch.sitePath)): the drive was recorded at another site; use that site's launch file")
        }
        report(rows.count - reported, true)

        var tensors = rows.tensors()
        let targets = Self.targets(stamps: rows.stamps, timeline: timeline, future: options.future, step: launch.predictor.step,
                                   beams: launch.site.mmwave.beams)
        for (key, value) in targets { tensors[key] = value }
        let file = "\(name).safetensors"
        let final = directory.appendingPathComponent(file)
        let temporary = directory.appendingPathComponent(".\(file).partial")
        do {
            try SafeTensorsFile.write(tensors, metadata: ["format": "foresight-dataset", "drive": name], to: temporary)
            try Self.replace(final, with: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw LaunchError("cannot write \(final.path): \(error.localizedDescription)")
        }
        let duration: Double
        switch drive {
        case let .simulation(_, _, d): duration = d
        case .bag: duration = Double((rows.stamps.last ?? 0) - (rows.stamps.first ?? 0)) / 1e9
        }
        var bag: String?
        if case .bag(let path) = drive { bag = path }
        return Shard(file: file, scenario: scenarioName ?? name, seed: seed, split: split, frames: rows.count, durationS: duration,
                     segments: window.segment + 1, bag: bag)
    }

    /// The targets of every frame at each horizon stamp (``Horizon/stamps(after:steps:step:)``),
    /// looked up with ``TruthTimeline/truth(at:)`` — exactly what `foresight eval` scores against.
    public static func targets(stamps: [Int64], timeline: TruthTimeline, future: Int, step: Int64, beams: Int) -> [String: TypedTensor] {
        let n = stamps.count
        var valid = [UInt8](repeating: 0, count: n * future)
        var position = [Float](repeating: 0, count: n * future * 2)
        var beam = [Int64](repeating: -1, count: n * future)
        var power = [Float](repeating: 0, count: n * future * beams)
        var blocked = [UInt8](repeating: 255, count: n * future)
        for (i, stamp) in stamps.enumerated() {
            for (k, target) in Horizon.stamps(after: stamp, steps: future, step: step).enumerated() {
                let truth = timeline.truth(at: target)
                let j = i * future + k
                valid[j] = truth.complete ? 1 : 0
                if let ue = truth.ue {
                    position[2 * j] = Float(ue.east)
                    position[2 * j + 1] = Float(ue.north)
                }
                if let b = truth.beam {
                    beam[j] = Int64(b.best)
                    for (m, p) in b.power.prefix(beams).enumerated() { power[j * beams + m] = Float(TruthTimeline.dBm(milliwatts: p)) }
                }
                if let b = truth.blockage { blocked[j] = b.blocked ? 1 : 0 }
            }
        }
        return [
            "target_valid": TypedTensor(dtype: .u8, shape: [n, future], bytes: valid),
            "target_position": TypedTensor(dtype: .f32, shape: [n, future, 2], bytes: TypedTensor.bytes(of: position)),
            "target_beam": TypedTensor(dtype: .i64, shape: [n, future], bytes: TypedTensor.bytes(of: beam)),
            "target_power": TypedTensor(dtype: .f32, shape: [n, future, beams], bytes: TypedTensor.bytes(of: power)),
            "target_blocked": TypedTensor(dtype: .u8, shape: [n, future], bytes: blocked),
        ]
    }
}

/// The rows of one shard as they are assembled (contiguous little-endian buffers per tensor).
final class DatasetRows: @unchecked Sendable {
    private let camera: [Int], radar: [Int], lidar: [Int]
    private let beams: Int
    private(set) var stamps: [Int64] = []
    private var segment: [Int32] = []
    private var cameraBits: [UInt16] = [], radarBits: [UInt16] = [], lidarBits: [UInt16] = []
    private var gnss: [Float] = [], power: [Float] = [], powerDBm: [Float] = []
    private var present: [UInt8] = []
    /// The classical estimates from the whole window (`coarse_*`).
    private var coarse = CoarseColumns()
    /// The classical estimates from the window with one modality removed, per frame in
    /// `Modality.allCases` order (`coarse_dropped_*`, shape [frames, modalities, …]): what the
    /// daemon's classical predictor gives when that sensor is dead, for the training views that
    /// drop it (otherwise those views would pair a dead sensor with estimates that used it).
    private var dropped = CoarseColumns()
    private var future = 0
    private var gnssDistances: [Double] = []
    private(set) var gnssFrames = 0

    init(shapes: (camera: [Int], radar: [Int], lidar: [Int]), beams: Int) {
        camera = shapes.camera
        radar = shapes.radar
        lidar = shapes.lidar
        self.beams = beams
    }

    var count: Int { stamps.count }

    /// The median distance of the GNSS fixes from the site origin, metres.
    var medianGnssDistance: Double? {
        guard !gnssDistances.isEmpty else { return nil }
        return gnssDistances.sorted()[gnssDistances.count / 2]
    }

    /// Appends `values` as float16 when they have `count` elements, zeros otherwise; returns whether they fit.
    private static func appendHalf(_ values: [Float]?, count: Int, to bits: inout [UInt16]) -> Bool {
        guard let values, values.count == count else {
            bits.append(contentsOf: repeatElement(0, count: count))
            return false
        }
        bits.reserveCapacity(bits.count + count)
        for v in values { bits.append(Float16(v).bitPattern) }
        return true
    }

    private static func appendFloat(_ values: [Float]?, count: Int, to array: inout [Float]) -> Bool {
        guard let values, values.count == count else {
            array.append(contentsOf: repeatElement(0, count: count))
            return false
        }
        array.append(contentsOf: values)
        return true
    }

    func append(_ frame: PreprocessedFrame, observation o: FrameView, coarse estimates: CoarseEstimates,
                dropped droppedEstimates: [CoarseEstimates], segment id: Int) {
        precondition(droppedEstimates.count == Modality.allCases.count, "one estimate per dropped modality")
        stamps.append(frame.stamp)
        future = estimates.powerDBm.count
        coarse.append(estimates)
        for e in droppedEstimates { dropped.append(e) }
        segment.append(Int32(clamping: id))
        let c = Self.appendHalf(o.camera, count: camera.reduce(1, *), to: &cameraBits)
        let r = Self.appendHalf(o.radarMap, count: radar.reduce(1, *), to: &radarBits)
        let l = Self.appendHalf(o.lidarDepth, count: lidar.reduce(1, *), to: &lidarBits)
        let g = Self.appendFloat(o.gnss.map { [Float($0.x), Float($0.y)] }, count: 2, to: &gnss)
        let p = Self.appendFloat(o.beamPowerNormalized, count: beams, to: &power)
        // Measured power in dBm only alongside the model's power input (present together or not at all).
        _ = Self.appendFloat(p ? o.beamPowerDBm : nil, count: beams, to: &powerDBm)
        present.append(contentsOf: [c, r, l, g, p].map { $0 ? 1 : 0 })
        if g, let fix = o.gnss {
            gnssFrames += 1
            gnssDistances.append((fix.x * fix.x + fix.y * fix.y).squareRoot())
        }
    }

    func tensors() -> [String: TypedTensor] {
        let n = count
        return [
            "stamp": TypedTensor(dtype: .i64, shape: [n], bytes: TypedTensor.bytes(of: stamps)),
            "segment": TypedTensor(dtype: .i32, shape: [n], bytes: TypedTensor.bytes(of: segment)),
            Modality.camera.rawValue: TypedTensor(dtype: .f16, shape: [n] + camera, bytes: TypedTensor.bytes(of: cameraBits)),
            Modality.radar.rawValue: TypedTensor(dtype: .f16, shape: [n] + radar, bytes: TypedTensor.bytes(of: radarBits)),
            Modality.lidar.rawValue: TypedTensor(dtype: .f16, shape: [n] + lidar, bytes: TypedTensor.bytes(of: lidarBits)),
            Modality.gnss.rawValue: TypedTensor(dtype: .f32, shape: [n, 2], bytes: TypedTensor.bytes(of: gnss)),
            "power": TypedTensor(dtype: .f32, shape: [n, beams], bytes: TypedTensor.bytes(of: power)),
            "power_dbm": TypedTensor(dtype: .f32, shape: [n, beams], bytes: TypedTensor.bytes(of: powerDBm)),
            "present": TypedTensor(dtype: .u8, shape: [n, 5], bytes: present),
        ].merging(coarse.tensors(prefix: "coarse", leading: [n], future: future, beams: beams)) { a, _ in a }
         .merging(dropped.tensors(prefix: "coarse_dropped", leading: [n, Modality.allCases.count], future: future, beams: beams)) { a, _ in a }
    }
}

/// Columns of classical estimates (``CoarseEstimates``) as they are appended, one row per estimate.
struct CoarseColumns {
    private var position: [Float] = [], beamLogits: [Float] = [], power: [Float] = [], blockage: [Float] = []
    private var known: [UInt8] = []

    mutating func append(_ e: CoarseEstimates) {
        position.append(contentsOf: e.positions)
        beamLogits.append(contentsOf: e.beamLogits)
        power.append(contentsOf: e.powerDBm)
        blockage.append(contentsOf: e.blockageProbability)
        known.append(e.positionKnown ? 1 : 0)
    }

    /// `<prefix>_position` [leading…, future, 2], `_beam_logits` [leading…, future, beams],
    /// `_power_dbm` and `_blockage` [leading…, future], `_known` [leading…].
    func tensors(prefix: String, leading: [Int], future: Int, beams: Int) -> [String: TypedTensor] {
        [
            "\(prefix)_position": TypedTensor(dtype: .f32, shape: leading + [future, 2], bytes: TypedTensor.bytes(of: position)),
            "\(prefix)_beam_logits": TypedTensor(dtype: .f32, shape: leading + [future, beams], bytes: TypedTensor.bytes(of: beamLogits)),
            "\(prefix)_power_dbm": TypedTensor(dtype: .f32, shape: leading + [future], bytes: TypedTensor.bytes(of: power)),
            "\(prefix)_blockage": TypedTensor(dtype: .f32, shape: leading + [future], bytes: TypedTensor.bytes(of: blockage)),
            "\(prefix)_known": TypedTensor(dtype: .u8, shape: leading, bytes: known),
        ]
    }
}
