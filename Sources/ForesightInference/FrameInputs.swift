import ForesightCore
// The model's input is ForesightCore's `FrameView` (the view of a preprocessed frame every
// predictor reads): `camera` `[C, H, W]`, `radarMap` `[angle, range]`, `lidarDepth` `[rows, cols]`,
// `gnss` (east, north) metres, `beamPowerNormalized` (the tokenizer's input) and `beamPowerDBm`
// (the coarse estimate of the power head); sizes must match the model's config. The classical
// predictor's estimates for heads that take them travel beside it (`push(_:coarse:)`).

extension FrameView {
    /// The GNSS position as the model takes it (float32 east, north metres), or nil when missing.
    var gnssMetres: SIMD2<Float>? { gnss.map { SIMD2(Float($0.x), Float($0.y)) } }
}

extension InputError {
    /// Every modality of `frame` the model cannot take, in the order camera, radar, LiDAR, beam power
    /// (normalized, then dBm), GNSS: a tensor whose size is not the model's input size (`camera`,
    /// `radar`, `lidar` values, `beams`) or that holds a non-finite value. The one check behind the
    /// engine's frame validation and ``ModelInfo/conforming(_:)``.
    static func problems(in frame: FrameView, camera: Int, radar: Int, lidar: Int, beams: Int) -> [(Modality, InputError)] {
        var found: [(Modality, InputError)] = []
        func check(_ values: [Float]?, _ m: Modality, _ expected: Int) {
            guard let values else { return }
            if values.count != expected {
                found.append((m, .wrongSize(modality: m, expected: expected, found: values.count)))
            } else if let bad = values.firstIndex(where: { !$0.isFinite }) {
                found.append((m, .nonFinite(modality: m, index: bad)))
            }
        }
        check(frame.camera, .camera, camera)
        check(frame.radarMap, .radar, radar)
        check(frame.lidarDepth, .lidar, lidar)
        check(frame.beamPowerNormalized, .beamPower, beams)
        check(frame.beamPowerDBm, .beamPower, beams)
        if let g = frame.gnssMetres, !(g.x.isFinite && g.y.isFinite) {
            found.append((.gnss, .nonFinite(modality: .gnss, index: g.x.isFinite ? 1 : 0)))
        }
        return found
    }
}

/// Why a frame was rejected before inference.
public enum InputError: Error, CustomStringConvertible, Equatable {
    /// A modality has the wrong number of values for the model.
    case wrongSize(modality: Modality, expected: Int, found: Int)
    /// A modality contains NaN or infinity.
    case nonFinite(modality: Modality, index: Int)
    /// The classical estimates (`push(_:coarse:)`) have the wrong size or a non-finite value.
    case badCoarseEstimates(String)

    /// A human-readable explanation with a remedy.
    public var description: String {
        switch self {
        case let .wrongSize(m, expected, found):
            return "\(m) input has \(found) values but the model expects \(expected); check the preprocessing output size against config.json"
        case let .nonFinite(m, index):
            return "\(m) input holds a non-finite value at index \(index); clean it in preprocessing or mark the modality missing"
        case let .badCoarseEstimates(detail):
            return "classical estimates: \(detail); they must cover the model's future steps and codebook (CoarseInputs computes them)"
        }
    }
}

/// A top-k beam entry.
public struct BeamScore: Sendable, Equatable {
    /// Beam index (0-based).
    public var beam: Int
    /// Softmax probability.
    public var probability: Float
}

/// The model's predictions for one future step.
public struct StepPrediction: Sendable {
    /// Predicted east position (m).
    public var east: Float
    /// Predicted north position (m).
    public var north: Float
    /// Beam logits (one per beam).
    public var beamLogits: [Float]
    /// Softmax of the logits.
    public var beamProbabilities: [Float]
    /// The most probable beams, best first.
    public var topBeams: [BeamScore]
    /// Predicted power per beam (dBm).
    public var beamPower: [Float]
    /// The chosen (most probable) beam.
    public var chosenBeam: Int
    /// Predicted received power of the chosen beam (dBm).
    public var chosenBeamPower: Float
    /// Mean of the predicted per-beam powers in dBm (the paper's RSSI estimate).
    public var meanBeamPower: Float
    /// Probability that the link is blocked.
    public var blockageProbability: Float
}

/// Predictions for every future step after one frame.
public struct Prediction: Sendable {
    /// Stamp of the newest frame in the window.
    public var stamp: Int64
    /// Frames present in the window (≤ history).
    public var framesInWindow: Int
    /// One entry per future step, nearest first.
    public var steps: [StepPrediction]
}
