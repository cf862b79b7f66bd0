import ForesightCore
import Foundation

/// Wall-clock time of each stage of one streamed frame (ns).
public struct StageTimings: Sendable, Equatable {
    /// Tokenizing the new frame.
    public var tokenize: UInt64 = 0
    /// Multi-task: the new frame's tokens through the encoder; GRU: pooling + encoder GRU step.
    public var encode: UInt64 = 0
    /// Predictor (or decoder GRU) and heads.
    public var predict: UInt64 = 0

    /// Creates timings.
    public init(tokenize: UInt64 = 0, encode: UInt64 = 0, predict: UInt64 = 0) {
        self.tokenize = tokenize; self.encode = encode; self.predict = predict
    }

    /// Sum of the stages.
    public var total: UInt64 { tokenize + encode + predict }
}

/// The per-stream state of one model format (key/value cache or recurrent state).
protocol StreamingEngine: AnyObject {
    var framesInWindow: Int { get }
    /// Adds frames without predicting (the cache or recurrent state only), as fast as the engine can.
    func warm(_ frames: ArraySlice<FrameView>, timings: inout StageTimings) throws(InputError)
    /// Adds `frame` to the state; with `predict` false only the cache (or recurrent state) is updated.
    func step(_ frame: FrameView, coarse: CoarseEstimates?, predict: Bool, timings: inout StageTimings) throws(InputError) -> ModelOutputs
    func reset()
}

/// What the daemon needs to know about a loaded model.
public struct ModelInfo: Sendable, Equatable {
    /// Model format.
    public enum Kind: String, Sendable {
        /// The streaming multi-task model (`foresight-multitask` v2).
        case multitask = "foresight-multitask"
        /// The GRU baseline (`foresight-gru` v1).
        case gru = "foresight-gru"
    }

    /// Format of the model.
    public var kind: Kind
    /// Name (the model folder's last path component, or "" when built in memory).
    public var name: String
    /// History frames (the multi-task encoder's window; the GRU's coarse-estimate window).
    public var history: Int
    /// Future steps predicted.
    public var future: Int
    /// Nominal frame period (ms).
    public var stepMs: Int
    /// Beams in the codebook.
    public var numBeams: Int
    /// Preprocessing version the model was trained on ("" when not recorded).
    public var preprocessingVersion: String
    /// Camera input `[C, H, W]`.
    public var cameraShape: [Int]
    /// Radar map input `[rows, cols]`.
    public var radarShape: [Int]
    /// LiDAR depth input `[rows, cols]`.
    public var lidarShape: [Int]
    /// Learned parameters.
    public var parameterCount: Int
    /// Floating-point operations per streamed frame.
    public var flopsPerFrame: Int
    /// Whether the heads take the classical predictor's estimates (``InferenceSession/push(_:coarse:)``).
    public var takesClassicalEstimates: Bool

    init(kind: Kind, name: String, config c: some StreamingModelConfig, parameters: Int, flops: Int) {
        self.kind = kind; self.name = name
        history = c.history; future = c.future; stepMs = c.stepMs; numBeams = c.numBeams
        preprocessingVersion = c.preprocessingVersion
        cameraShape = [c.vision.inChannels, c.vision.height, c.vision.width]
        radarShape = [c.radar.height, c.radar.width]
        lidarShape = [c.lidar.height, c.lidar.width]
        parameterCount = parameters; flopsPerFrame = flops
        takesClassicalEstimates = c.takesClassicalEstimates
    }
}

/// A loaded model of either format.
public enum LoadedModel: Sendable {
    /// The streaming multi-task model.
    case multitask(MultiTaskModel, name: String = "")
    /// The GRU baseline.
    case gru(GRUModel, name: String = "")

    /// Loads a model folder (`config.json` + `model.safetensors`); the config's `format` decides the kind.
    /// Errors name the folder, the file or tensor, and what to do.
    public static func load(directory: URL) throws(ModelError) -> LoadedModel {
        let configURL = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: directory.path) else {
            throw .modelFolder(path: directory.path, problem: "does not exist; train and export a model with `make train` or point `model:` at an exported folder")
        }
        let json: Data
        do { json = try Data(contentsOf: configURL) } catch {
            throw .modelFolder(path: directory.path, problem: "cannot read config.json (\(error.localizedDescription)); export the model with Tools/training/export.py or `make train`")
        }
        struct Header: Decodable { var format: String?; var version: Int? }
        let header = try? JSONDecoder().decode(Header.self, from: json)
        let name = directory.lastPathComponent
        switch header?.format {
        case "foresight-multitask":
            return .multitask(try MultiTaskModel(directory: directory), name: name)
        case "foresight-gru":
            return .gru(try GRUModel(directory: directory), name: name)
        case let other:
            throw .modelFolder(path: directory.path, problem: "config.json has format \(other.map { "'\($0)'" } ?? "(none)"); expected 'foresight-multitask' (version 2) or 'foresight-gru' (version 1) — re-export with Tools/training/export.py")
        }
    }

    /// Sizes and provenance of the model.
    public var info: ModelInfo {
        switch self {
        case let .multitask(m, name):
            return ModelInfo(kind: .multitask, name: name, config: m.config, parameters: m.parameterCount, flops: m.flopsPerFrame)
        case let .gru(m, name):
            return ModelInfo(kind: .gru, name: name, config: m.config, parameters: m.parameterCount, flops: m.flopsPerFrame)
        }
    }

    func makeEngine(threads: Int) -> any StreamingEngine {
        switch self {
        case let .multitask(m, _): return MultiTaskState(model: m, threads: threads)
        case let .gru(m, _): return GRUState(model: m, threads: threads)
        }
    }
}

/// The synchronous per-stream state: feeds one frame at a time to the model's streaming engine
/// (multi-task: per-layer key/value cache of the last H frames; GRU: recurrent state) and decodes
/// the outputs into predictions. Not thread-safe; ``StreamingPredictor`` wraps it on a dedicated thread.
public final class InferenceSession {
    /// Timings of the most recent push.
    public private(set) var lastTimings = StageTimings()
    /// The model this session runs.
    public let model: LoadedModel
    /// Sizes and provenance of the model.
    public let info: ModelInfo
    /// How many top beams each step reports.
    public let topK: Int
    /// Threads that share each frame's work (the calling thread included).
    public let threads: Int
    private let engine: any StreamingEngine

    /// Creates an empty session (the window fills as frames arrive). `threads` is the size of the
    /// session's own fork-join team (the caller plus `threads − 1` dedicated workers) that splits a
    /// frame's tokenizers, attention heads and larger products; run OpenBLAS single-threaded with it
    /// (``BLAS/configure(threads:)``) so the two do not compete for the cores.
    public init(model: LoadedModel, topK: Int = 3, threads: Int = 1) {
        self.model = model
        info = model.info
        self.threads = max(1, threads)
        engine = model.makeEngine(threads: self.threads)
        self.topK = max(1, min(topK, info.numBeams))
    }

    /// A session on a multi-task model.
    public convenience init(model: MultiTaskModel, topK: Int = 3, threads: Int = 1) {
        self.init(model: .multitask(model), topK: topK, threads: threads)
    }

    /// Frames currently cached (≤ history).
    public var framesInWindow: Int { engine.framesInWindow }

    /// Forgets every cached frame (a new segment: clock jump, publisher restart, long gap).
    public func reset() { engine.reset() }

    /// Adds a frame (the newest) and returns predictions for every future step. `coarse` is the
    /// classical predictor's estimates of the frame's horizon, for a model whose heads take them
    /// (``ModelInfo/takesClassicalEstimates``); nil gives neutral estimates (no position, flat beam
    /// logits, the config's default power, blockage probability 0.5). A rejected frame leaves the
    /// state unchanged.
    public func push(_ frame: FrameView, coarse: CoarseEstimates? = nil) throws(InputError) -> Prediction {
        let outputs = try pushRaw(frame, coarse: coarse)
        return Self.decode(outputs, future: info.future, beams: info.numBeams, topK: topK, stamp: frame.stamp, frames: framesInWindow)
    }

    /// Adds a frame and returns the raw outputs with intermediates (used by the parity tests).
    public func pushRaw(_ frame: FrameView, coarse: CoarseEstimates? = nil) throws(InputError) -> ModelOutputs {
        var timings = StageTimings()
        let outputs = try engine.step(frame, coarse: coarse, predict: true, timings: &timings)
        lastTimings = timings
        return outputs
    }

    /// Adds a frame to the window without predicting from it (its tokens, encoder keys/values or
    /// recurrent state only): fills a window quickly, e.g. after a reset, when only the newest
    /// frame's predictions are wanted. A rejected frame leaves the state unchanged.
    public func warm(_ frame: FrameView) throws(InputError) {
        var timings = StageTimings()
        _ = try engine.step(frame, coarse: nil, predict: false, timings: &timings)
        lastTimings = timings
    }

    /// Adds several frames, oldest first, without predicting from them. The multi-task model encodes
    /// them as one batch while they fit in the window (all their tokenizers spread over the session's
    /// threads, one product per layer for all their tokens), which is much faster than one by one;
    /// the result is the same as warming them one at a time. Every frame is checked first: if one is
    /// rejected, none is added.
    public func warm(_ frames: [FrameView]) throws(InputError) {
        var timings = StageTimings()
        try engine.warm(frames[...], timings: &timings)
        lastTimings = timings
    }

    /// Turns raw outputs into per-step predictions (softmax, top-k, chosen-beam power, sigmoid).
    static func decode(_ o: ModelOutputs, future F: Int, beams B: Int, topK: Int, stamp: Int64, frames: Int) -> Prediction {
        var steps: [StepPrediction] = []
        steps.reserveCapacity(F)
        for k in 0..<F {
            let logits = Array(o.beamLogits[(k * B)..<((k + 1) * B)])
            var probabilities = logits
            probabilities.withUnsafeMutableBufferPointer { Ops.softmaxRows($0.baseAddress!, rows: 1, cols: B, keyValid: nil) }
            var chosen = 0
            for b in 1..<B where logits[b] > logits[chosen] { chosen = b }
            let ranked = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1) }
            let top = ranked.prefix(topK).map { BeamScore(beam: $0, probability: probabilities[$0]) }
            let power = Array(o.beamPower[(k * B)..<((k + 1) * B)])
            let mean = power.reduce(0, +) / Float(B)
            steps.append(StepPrediction(
                east: o.positions[2 * k], north: o.positions[2 * k + 1], beamLogits: logits,
                beamProbabilities: probabilities, topBeams: top, beamPower: power, chosenBeam: chosen,
                chosenBeamPower: power[chosen], meanBeamPower: mean,
                blockageProbability: FastMath.sigmoid(o.blockageLogits[k])))
        }
        return Prediction(stamp: stamp, framesInWindow: frames, steps: steps)
    }
}

/// A modality the model could not take from a frame, and why (``ModelInfo/conforming(_:)``).
public struct ModalityRejection: Sendable, Equatable, CustomStringConvertible {
    /// The modality that was treated as missing.
    public var modality: Modality
    /// What was wrong with it.
    public var error: InputError
    /// The reason, with a remedy.
    public var description: String { "\(modality) treated as missing: \(error)" }
}

extension ModelInfo {
    /// `frame` with every modality the model cannot take — a tensor whose size is not the model's
    /// input size (e.g. a radar cube with another sample count than the site's), a non-finite value —
    /// marked missing, so the model still predicts from the others (through its learned
    /// missing-modality tokens) instead of rejecting the whole frame; and what was removed.
    public func conforming(_ frame: FrameView) -> (frame: FrameView, rejected: [ModalityRejection]) {
        var out = frame
        var rejected: [ModalityRejection] = []
        for (m, error) in InputError.problems(in: frame, camera: cameraShape.reduce(1, *), radar: radarShape.reduce(1, *),
                                               lidar: lidarShape.reduce(1, *), beams: numBeams)
        where !rejected.contains(where: { $0.modality == m }) {
            rejected.append(ModalityRejection(modality: m, error: error))
            out = out.removing(m)
        }
        return (out, rejected)
    }
}
