import ForesightCore
/// One synchronized frame as produced by the preprocessing stage; any modality may be absent.
///
/// Layouts: `camera` `[C, H, W]` float32 (normalized), `radar` range-angle map `[angle, range]`
/// in [0, 1], `lidar` depth image `[rows, cols]`, `gnss` (east, north) metres, `beamPower`
/// per-beam power as the beam-power preprocessor gives it (the tokenizer's input), `beamPowerDbm` the
/// same measurement in dBm (the coarse estimate of the power head). Sizes must match the model's config.
public struct FrameInputs: Sendable {
    /// Sensor time of the frame (ns since the epoch).
    public var stamp: Int64
    /// Camera image, `C·H·W` floats, or `nil` when missing.
    public var camera: [Float]?
    /// Radar range-angle map, or `nil` when missing.
    public var radar: [Float]?
    /// LiDAR depth image, or `nil` when missing.
    public var lidar: [Float]?
    /// GNSS position (east, north) in metres, or `nil` when missing.
    public var gnss: SIMD2<Float>?
    /// Beam power vector (preprocessed), or `nil` when missing.
    public var beamPower: [Float]?
    /// Measured beam power in dBm, or `nil` when missing (then the power head's coarse estimate comes
    /// from an older frame of the window, or the config's `power_default_dbm`).
    public var beamPowerDbm: [Float]?

    /// The classical predictor's estimates of this frame's horizon, for a model whose heads take
    /// them (``StreamingModelConfig/takesClassicalEstimates``); `nil` gives neutral estimates (no
    /// position, flat beam logits, the config's default power, blockage probability 0.5).
    public var coarse: CoarseEstimates?
    /// Creates a frame; leave a modality `nil` to mark it missing.
    public init(stamp: Int64, camera: [Float]? = nil, radar: [Float]? = nil, lidar: [Float]? = nil,
                gnss: SIMD2<Float>? = nil, beamPower: [Float]? = nil, beamPowerDbm: [Float]? = nil, coarse: CoarseEstimates? = nil) {
        self.stamp = stamp; self.camera = camera; self.radar = radar; self.lidar = lidar
        self.gnss = gnss; self.beamPower = beamPower; self.beamPowerDbm = beamPowerDbm; self.coarse = coarse
    }

    /// The modalities this frame lacks.
    public var missing: Set<Modality> {
        var set = Set<Modality>()
        if camera == nil { set.insert(.camera) }
        if radar == nil { set.insert(.radar) }
        if lidar == nil { set.insert(.lidar) }
        if gnss == nil { set.insert(.gnss) }
        if beamPower == nil { set.insert(.beamPower) }
        return set
    }
}

/// Why a frame was rejected before inference.
public enum InputError: Error, CustomStringConvertible, Equatable {
    /// A modality has the wrong number of values for the model.
    case wrongSize(modality: Modality, expected: Int, found: Int)
    /// A modality contains NaN or infinity.
    case nonFinite(modality: Modality, index: Int)
    /// The classical estimates (``FrameInputs/coarse``) have the wrong size or a non-finite value.
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
