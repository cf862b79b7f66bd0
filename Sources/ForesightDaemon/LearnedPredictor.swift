import ForesightCore
import Foundation
import ForesightInference
import ForesightPredict
import ForesightPreprocess

/// What the daemon needs to know about a model folder before running it (read from
/// `config.json`; checked against the launch file by ``LearnedPredictor/load(launch:)``).
public struct LearnedModelInfo: Sendable, Equatable {
    /// `learned` (the multi-task model) or `gru` (the GRU baseline).
    public var kind: String
    /// The folder's name (published as `kind:name`).
    public var name: String
    /// Frames of history the model was trained with.
    public var history: Int
    /// Future steps it predicts.
    public var future: Int
    /// Time between future steps, ms (nil when the config does not say).
    public var stepMs: Double?
    /// Codebook size.
    public var numBeams: Int
    /// The preprocessing version of the data it was trained on.
    public var preprocessingVersion: String?
    /// Camera input `[channels, height, width]`.
    public var camera: [Int]
    /// Radar map input `[height, width]`.
    public var radar: [Int]
    /// LiDAR depth input `[height, width]`.
    public var lidar: [Int]
}

/// A model folder the daemon cannot use, with what to do about it.
public struct ModelLoadError: Error, CustomStringConvertible, Sendable {
    /// The model folder.
    public var directory: String
    /// What is wrong and what to do.
    public var reason: String
    /// `model folder DIR: reason`.
    public var description: String { "model folder \(directory): \(reason)" }
}

/// The engine behind the learned predictor kinds: the one place that knows how a model folder is
/// turned into a running ``StreamingPredictor`` and which input sizes it expects.
enum ModelEngine {
    /// Loads the folder's config and weights and starts the streaming predictor on its own thread.
    static func load(directory: URL, threads: Int, blasThreads: Int, topK: Int) throws -> (StreamingPredictor, LearnedModelInfo) {
        let path = directory.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelLoadError(directory: path, reason: "does not exist (train a model with `make train`, or point predictor.model to models/<name>)")
        }
        for file in ["config.json", "model.safetensors"] where !FileManager.default.fileExists(atPath: directory.appendingPathComponent(file).path) {
            throw ModelLoadError(directory: path, reason: "has no \(file) (export the model again)")
        }
        let engine: StreamingPredictor
        do {
            engine = try StreamingPredictor.load(directory: directory, threads: threads, blasThreads: blasThreads, topK: topK)
        } catch {
            throw ModelLoadError(directory: path, reason: "\(error)")
        }
        let i = engine.info
        let info = LearnedModelInfo(
            kind: i.kind == .gru ? "gru" : "learned", name: directory.lastPathComponent, history: i.history, future: i.future,
            stepMs: Double(i.stepMs), numBeams: i.numBeams,
            preprocessingVersion: i.preprocessingVersion.isEmpty ? nil : i.preprocessingVersion,
            camera: i.cameraShape, radar: i.radarShape, lidar: i.lidarShape)
        return (engine, info)
    }
}

/// The learned predictor kinds (`learned`, `gru`): a streaming model fed every frame of a segment
/// (missing modalities → the model's learned missing tokens), reset at segment starts, running on
/// its own inference thread. Power is published in dBm (the model's unit). A modality the model
/// cannot take (another tensor size, a non-finite value) is treated as missing for that frame and
/// reported through ``takeScreenedInputs()``.
public final class LearnedPredictor: InputScreeningPredictor {
    /// `kind:folder` (e.g. `learned:foresight`).
    public let model: String
    /// The model's sizes and provenance.
    public let info: LearnedModelInfo
    private let engine: StreamingPredictor
    /// The classical estimates the model's heads refine (nil when it takes none).
    private let coarse: CoarseInputs?
    /// Modalities treated as missing since the last ``takeScreenedInputs()``.
    private let screened = Locked<[Modality: (frames: Int, reason: String)]>([:])

    private init(engine: StreamingPredictor, info: LearnedModelInfo, coarse: CoarseInputs?) {
        self.engine = engine
        self.info = info
        self.coarse = coarse
        model = "\(info.kind):\(info.name)"
    }

    /// Loads the launch file's model folder and checks it against the launch file: the folder
    /// loads, its kind matches `predictor.kind`, `history`/`horizon`/`step_ms` and the codebook
    /// match, its input sizes match the front end's outputs, and its `preprocessing_version`
    /// equals the launch file's. Throws ``ModelLoadError`` naming the folder and the mismatch.
    public static func load(launch: LaunchFile) throws -> LearnedPredictor {
        let settings = launch.predictor
        guard let directory = settings.modelDirectory else {
            throw LaunchError("predictor.model: a \(settings.kind) predictor needs `model: DIR`")
        }
        let (engine, info) = try ModelEngine.load(directory: URL(fileURLWithPath: directory), threads: settings.threads,
                                                  blasThreads: settings.blasThreads,
                                                  topK: settings.topK)
        func fail(_ reason: String) -> ModelLoadError {
            engine.shutdown()
            return ModelLoadError(directory: directory, reason: reason)
        }
        guard info.kind == settings.kind else {
            throw fail("holds a \(info.kind) model but the launch file asks for predictor.kind \(settings.kind)")
        }
        guard info.history == settings.history else {
            throw fail("the model was trained with history \(info.history) frames but the launch file says predictor.history \(settings.history); set it to \(info.history)")
        }
        guard info.future == settings.horizon else {
            throw fail("the model predicts \(info.future) steps but the launch file says predictor.horizon \(settings.horizon); set it to \(info.future)")
        }
        if let stepMs = info.stepMs, abs(stepMs * 1_000_000 - Double(settings.step)) > 0.5 {
            throw fail("the model's steps are \(stepMs) ms apart but the launch file says predictor.step_ms \(Double(settings.step) / 1e6)")
        }
        guard info.numBeams == launch.site.mmwave.beams else {
            throw fail("the model has \(info.numBeams) beams but site \(launch.site.name) has a \(launch.site.mmwave.beams)-beam codebook")
        }
        let frontEnd = try launch.frontEndConfiguration()
        let version = PreprocessingVersion.fingerprint(of: frontEnd)
        guard let trained = info.preprocessingVersion else {
            throw fail("config.json has no preprocessing_version; re-export it from a model trained on a `foresight dataset` (which records it)")
        }
        guard trained == version else {
            throw fail("preprocessing_version mismatch: the model was trained on data with preprocessing version \(trained), but this launch "
                       + "file's front end gives \(version) (camera \(launch.camera.width)×\(launch.camera.height), site \(launch.site.name)). "
                       + "Use the launch file the model was trained with, or regenerate the data and retrain (make train)")
        }
        let camera = [3, frontEnd.camera.outputHeight, frontEnd.camera.outputWidth]
        guard info.camera == camera else {
            throw fail("the model expects a camera input \(info.camera) but the launch file's preprocess.camera gives \(camera)")
        }
        let lidar = [frontEnd.lidar.rows, frontEnd.lidar.columns]
        guard info.lidar == lidar else { throw fail("the model expects a LiDAR depth image \(info.lidar) but preprocessing gives \(lidar)") }
        let radar = [frontEnd.radar.angleBins, launch.site.radar.samples]
        guard info.radar == radar else {
            throw fail("the model expects a radar map \(info.radar) but preprocessing of site \(launch.site.name) gives \(radar)")
        }
        let coarse: CoarseInputs?
        do {
            coarse = engine.info.takesClassicalEstimates ? try CoarseInputs(launch: launch) : nil
        } catch {
            throw fail("its heads take the classical predictor's estimates, but the launch file's site cannot run it: \(error)")
        }
        return LearnedPredictor(engine: engine, info: info, coarse: coarse)
    }

    /// Feeds the newest frame of `history` to the model and returns its predictions at `horizon`.
    public func predict(history: [FrameView], horizon: [Int64]) async throws -> PredictionSet {
        guard let frame = history.last else { throw ModelLoadError(directory: info.name, reason: "predict called with an empty window") }
        // A modality the model cannot take (another tensor size, a non-finite value) is treated as
        // missing — the model has a learned token for that — rather than failing the whole frame.
        let (usable, rejected) = engine.info.conforming(frame)
        if !rejected.isEmpty {
            screened.withLock { counts in
                for r in rejected { counts[r.modality] = ((counts[r.modality]?.frames ?? 0) + 1, r.description) }
            }
        }
        let estimates = coarse?.estimates(history: history, horizon: horizon)
        let prediction = try await engine.push(usable, coarse: estimates)
        let count = min(horizon.count, prediction.steps.count)
        let steps = prediction.steps.prefix(count).map { s -> PredictionSet.Step in
            func finite(_ v: Float, _ fallback: Double = 0) -> Double { v.isFinite ? Double(v) : fallback }
            let beams = s.topBeams.map(\.beam)
            return PredictionSet.Step(east: finite(s.east), north: finite(s.north), beams: beams.isEmpty ? [s.chosenBeam] : beams,
                                      beamProbabilities: beams.isEmpty ? [1] : s.topBeams.map { min(1, max(0, finite($0.probability))) },
                                      powerBeam: beams.first ?? s.chosenBeam, powerDBm: finite(s.chosenBeamPower, -300),
                                      blockageProbability: min(1, max(0, finite(s.blockageProbability))))
        }
        // As the classical and persistence predictors: without any GNSS fix in the window the model
        // name says so (`:no-gnss`), and the positions are a measurement-based estimate only when the
        // classical estimates the heads start from found the UE in the LiDAR clouds; otherwise
        // scoring skips them.
        let fixed = history.contains { $0.finiteGNSS != nil }
        return PredictionSet(model: fixed ? model : model + ":no-gnss", horizon: Array(horizon.prefix(count)), steps: steps,
                             positionKnown: fixed || estimates?.positionKnown == true)
    }

    /// The modalities treated as missing since the last call (another size than the model's input,
    /// a non-finite value), with the reason.
    public func takeScreenedInputs() -> [ScreenedInput] {
        screened.withLock { counts in
            defer { counts.removeAll() }
            return counts.sorted { $0.key.index < $1.key.index }.map { ($0.key, $0.value.frames, $0.value.reason) }
        }
    }

    /// Forgets the cached frames (segment start).
    public func reset() async { await engine.reset() }

    /// Stops the inference thread.
    public func shutdown() async { engine.shutdown() }
}

/// The classical predictor as the learned model's coarse-input stage: the estimates of every
/// horizon step the model's heads refine (``CoarseEstimates``). `foresight dataset` and the
/// daemon's learned predictor both build it from the launch file with this one initializer, so
/// the coarse inputs of training and serving come from the same code and configuration.
public struct CoarseInputs: Sendable {
    private let classical: ClassicalPredictor

    /// The classical predictor of the launch file's site (the configuration `predictor.kind:
    /// classical-ctrv` runs).
    public init(launch: LaunchFile) throws {
        classical = try ClassicalPredictor(configuration: .init(site: launch.site, topK: launch.predictor.topK))
    }

    /// The classical predictor's estimates of every step of `horizon` from the predictor window
    /// `history`. Non-finite values become neutral ones (0 m, the power fallback, probability 0.5)
    /// so a model input is always finite.
    public func estimates(history: [FrameView], horizon: [Int64]) -> CoarseEstimates {
        let set = classical.predict(history: history, horizon: horizon)
        let ranker = classical.ranker, beams = ranker.steeringAngles.count
        var positions: [Float] = [], logits: [Float] = [], power: [Float] = [], blockage: [Float] = []
        positions.reserveCapacity(2 * set.steps.count)
        logits.reserveCapacity(beams * set.steps.count)
        // Without a position the logits stay flat: the model reads the measured power profile itself
        // (training sees windows without GNSS exactly so: modality dropout zeroes these estimates).
        for step in set.steps {
            let position = SIMD2(step.east, step.north)
            let known = set.positionKnown && position.x.isFinite && position.y.isFinite
            positions.append(known ? Float(position.x) : 0)
            positions.append(known ? Float(position.y) : 0)
            if known {
                logits.append(contentsOf: ranker.logits(azimuth: classical.relativeAzimuth(of: position)))
            } else {
                logits.append(contentsOf: repeatElement(0, count: beams))
            }
            power.append(step.powerDBm.isFinite ? Float(step.powerDBm) : Float(classical.configuration.power.fallbackDBm))
            blockage.append(step.blockageProbability.isFinite ? Float(min(max(step.blockageProbability, 0), 1)) : 0.5)
        }
        return CoarseEstimates(positions: positions, beamLogits: logits, powerDBm: power, blockageProbability: blockage,
                               positionKnown: set.positionKnown)
    }
}
