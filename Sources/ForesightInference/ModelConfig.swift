import ForesightCore
import Foundation

/// One convolution of a CNN tokenizer (square kernel, symmetric zero padding).
public struct ConvSpec: Codable, Sendable, Equatable {
    /// Output channels.
    public var outChannels: Int
    /// Kernel size (k×k).
    public var kernel: Int
    /// Stride in both directions.
    public var stride: Int
    /// Zero padding on every side.
    public var padding: Int

    /// Creates a convolution spec.
    public init(outChannels: Int, kernel: Int, stride: Int, padding: Int) {
        self.outChannels = outChannels; self.kernel = kernel; self.stride = stride; self.padding = padding
    }
}

/// The average pooling that ends a CNN tokenizer (`[kh, kw]` window and `[sh, sw]` stride, no padding).
public struct PoolSpec: Codable, Sendable, Equatable {
    /// Window `[height, width]`.
    public var kernel: [Int]
    /// Stride `[height, width]`.
    public var stride: [Int]

    /// Creates a pooling spec.
    public init(kernel: [Int], stride: [Int]) { self.kernel = kernel; self.stride = stride }
}

/// A CNN tokenizer: input `[inChannels, height, width]` → conv blocks (conv + folded BN + GELU) →
/// average pool → one token per pooled cell (row-major) → linear to `d`.
public struct CNNConfig: Codable, Sendable, Equatable {
    /// Input channels.
    public var inChannels: Int
    /// Input height.
    public var height: Int
    /// Input width.
    public var width: Int
    /// Convolution blocks in order.
    public var convs: [ConvSpec]
    /// Final average pooling.
    public var pool: PoolSpec

    /// Creates a CNN tokenizer config.
    public init(inChannels: Int, height: Int, width: Int, convs: [ConvSpec], pool: PoolSpec) {
        self.inChannels = inChannels; self.height = height; self.width = width; self.convs = convs; self.pool = pool
    }

    /// Number of input floats (`C·H·W`).
    public var inputCount: Int { inChannels * height * width }

    /// Channels after the last convolution.
    public var featureChannels: Int { convs.last?.outChannels ?? inChannels }

    /// Spatial size after each convolution, then after pooling (last element); `nil` if a size vanishes.
    public func spatialSizes() -> [(Int, Int)]? {
        var h = height, w = width
        var sizes: [(Int, Int)] = []
        for c in convs {
            guard c.kernel > 0, c.stride > 0, c.padding >= 0 else { return nil }
            h = Ops.outputExtent(h, kernel: c.kernel, stride: c.stride, padding: c.padding)
            w = Ops.outputExtent(w, kernel: c.kernel, stride: c.stride, padding: c.padding)
            guard h > 0, w > 0 else { return nil }
            sizes.append((h, w))
        }
        guard pool.kernel.count == 2, pool.stride.count == 2, pool.kernel.allSatisfy({ $0 > 0 }),
              pool.stride.allSatisfy({ $0 > 0 }) else { return nil }
        h = Ops.outputExtent(h, kernel: pool.kernel[0], stride: pool.stride[0], padding: 0)
        w = Ops.outputExtent(w, kernel: pool.kernel[1], stride: pool.stride[1], padding: 0)
        guard h > 0, w > 0 else { return nil }
        sizes.append((h, w))
        return sizes
    }

    /// Tokens produced per frame (pooled cells), 0 if the config is inconsistent.
    public var tokens: Int {
        guard let last = spatialSizes()?.last else { return 0 }
        return last.0 * last.1
    }
}

/// Sizes shared by every model format: what the daemon needs to feed a model and to check it
/// against its launch file.
public protocol StreamingModelConfig: Sendable {
    /// History frames in the window.
    var history: Int { get }
    /// Future steps predicted.
    var future: Int { get }
    /// Nominal frame period (ms); the horizon of step k is `stamp + (k+1)·stepMs`.
    var stepMs: Int { get }
    /// Beams in the codebook.
    var numBeams: Int { get }
    /// Hash of the preprocessing the model was trained on ("" = not recorded).
    var preprocessingVersion: String { get }
    /// Camera tokenizer input.
    var vision: CNNConfig { get }
    /// Radar tokenizer input.
    var radar: CNNConfig { get }
    /// LiDAR tokenizer input.
    var lidar: CNNConfig { get }
    /// `"classical"` when the heads take the classical predictor's estimates (``CoarseEstimates``);
    /// nil or `"window"` when their coarse estimates come from the window alone.
    var coarseInputs: String? { get }
}

extension StreamingModelConfig {
    /// Whether the heads take the classical predictor's estimates of each frame (``InferenceSession/push(_:coarse:)``).
    public var takesClassicalEstimates: Bool { coarseInputs == "classical" }
}

/// The streaming multi-task model's configuration (`config.json`, snake_case keys,
/// `"format": "foresight-multitask"`, `"version": 2`). Mirrors `ModelConfig` in Tools/training/model.py.
public struct ModelConfig: Codable, Sendable, Equatable, StreamingModelConfig {
    /// Always "foresight-multitask".
    public var format: String = "foresight-multitask"
    /// Format version (2: the streaming model).
    public var version: Int = 2
    /// Token dimension d.
    public var dModel: Int = 128
    /// Attention heads (must divide d).
    public var heads: Int = 4
    /// Context-encoder layers.
    public var encoderLayers: Int = 4
    /// Predictor layers.
    public var predictorLayers: Int = 2
    /// Transformer MLP width as a multiple of d.
    public var mlpRatio: Int = 4
    /// History frames in the window (the encoder's attention span in frames).
    public var history: Int = 8
    /// Future steps predicted.
    public var future: Int = 5
    /// Nominal frame period (ms), the unit of the attention lag.
    public var stepMs: Int = 100
    /// Beams in the codebook.
    public var numBeams: Int = 64
    /// Hidden width of the task heads.
    public var headHidden: Int = 128
    /// Learned query tokens per future step in the predictor.
    public var queriesPerStep: Int = 5
    /// Rows of the intra-frame embedding table (≥ tokens of any modality).
    public var maxIntraTokens: Int = 16
    /// Layer-norm epsilon.
    public var layerNormEps: Float = 1e-5
    /// Batch-norm epsilon.
    public var batchNormEps: Float = 1e-5
    /// Factor applied to positions (m) before they enter the beam, power and blockage heads.
    public var positionScale: Float = 0.02
    /// Coarse beam power (dBm) when no measured power is in the window.
    public var powerDefaultDbm: Float = -100
    /// Hash of the preprocessing the model was trained on.
    public var preprocessingVersion: String = ""
    /// Coarse inputs of the heads: nil/`"window"` (window alone) or `"classical"` (the classical
    /// predictor's estimates, ``CoarseEstimates``).
    public var coarseInputs: String? = "window"
    /// With classical coarse inputs: the power and blockage heads also take the newest measured
    /// power profile relative to its peak and the peak level (`head_power_profile`; a config
    /// without the key, from before it existed, decodes as nil = false).
    public var headPowerProfile: Bool? = false
    /// How the beam head forms its logits: `"absolute"` (an MLP's logit per beam plus per-step gains
    /// times the classical logits and the measured profile), `"filter"` (the MLP gives per step the
    /// taps of two filters along the beam axis, applied to the classical logits and to the measured
    /// profile relative to its peak; needs classical coarse inputs) or `"filter+absolute"` (both: the
    /// filtered logits plus the MLP's logit per beam). nil = absolute.
    public var headBeam: String? = "absolute"
    /// With `head_beam: filter` or `filter+absolute`: taps J on each side of the centre (the filters
    /// have 2J+1 taps). nil = 4.
    public var beamFilterTaps: Int? = 4
    /// Camera tokenizer (3×96×96 → 9 tokens by default).
    public var vision = ModelConfig.cameraTokenizer
    /// Radar range-angle tokenizer (1×64×256 → 16 tokens by default).
    public var radar = ModelConfig.mapTokenizer
    /// LiDAR depth tokenizer (same topology as radar, separate weights).
    public var lidar = ModelConfig.mapTokenizer

    static let cameraTokenizer = CNNConfig(inChannels: 3, height: 96, width: 96, convs: [
        ConvSpec(outChannels: 16, kernel: 5, stride: 2, padding: 2),
        ConvSpec(outChannels: 32, kernel: 3, stride: 2, padding: 1),
        ConvSpec(outChannels: 64, kernel: 3, stride: 2, padding: 1),
        ConvSpec(outChannels: 128, kernel: 3, stride: 2, padding: 1),
    ], pool: PoolSpec(kernel: [2, 2], stride: [2, 2]))

    static let mapTokenizer = CNNConfig(inChannels: 1, height: 64, width: 256, convs: [
        ConvSpec(outChannels: 8, kernel: 3, stride: 2, padding: 1),
        ConvSpec(outChannels: 16, kernel: 3, stride: 2, padding: 1),
        ConvSpec(outChannels: 32, kernel: 3, stride: 2, padding: 1),
        ConvSpec(outChannels: 64, kernel: 3, stride: 2, padding: 1),
    ], pool: PoolSpec(kernel: [1, 4], stride: [1, 4]))

    /// The default d = 128 model.
    public init() {}

    /// Tokens each modality contributes to a frame.
    public var tokensPerModality: [Int] { [vision.tokens, radar.tokens, lidar.tokens, 1, 1] }

    /// Tokens per frame.
    public var tokensPerFrame: Int { tokensPerModality.reduce(0, +) }

    /// Offset of each modality's first token within a frame.
    public var modalityOffsets: [Int] {
        var offsets: [Int] = [], sum = 0
        for n in tokensPerModality { offsets.append(sum); sum += n }
        return offsets
    }

    /// Checks internal consistency; throws ``ModelError/badConfig(_:)`` naming the problem.
    public func validate() throws(ModelError) {
        func fail(_ s: String) -> ModelError { .badConfig(s) }
        guard format == "foresight-multitask" else { throw fail("format is '\(format)', expected 'foresight-multitask'") }
        guard version == 2 else {
            throw fail("version \(version) is not supported (expected 2, the streaming model); re-export the model with Tools/training/export.py")
        }
        guard dModel > 0, heads > 0, dModel % heads == 0 else { throw fail("d_model \(dModel) must be a positive multiple of heads \(heads)") }
        guard encoderLayers >= 0, predictorLayers >= 0, mlpRatio > 0, queriesPerStep > 0 else {
            throw fail("layer counts must be ≥ 0, mlp_ratio and queries_per_step > 0")
        }
        guard dModel <= 4096, heads <= 256, encoderLayers <= 64, predictorLayers <= 64, mlpRatio <= 16,
              queriesPerStep <= 256, maxIntraTokens <= 4096 else {
            throw fail("a size exceeds its limit (d_model ≤ 4096, heads ≤ 256, layers ≤ 64, mlp_ratio ≤ 16, queries_per_step ≤ 256, max_intra_tokens ≤ 4096)")
        }
        guard maxIntraTokens > 0 else { throw fail("max_intra_tokens must be positive") }
        try validateShared(self, headHidden: headHidden, layerNormEps: layerNormEps, batchNormEps: batchNormEps)
        switch headBeam ?? "absolute" {
        case "absolute": break
        case "filter", "filter+absolute":
            guard takesClassicalEstimates else {
                throw fail("head_beam '\(headBeam ?? "")' filters the classical beam logits: it needs coarse_inputs 'classical'")
            }
            guard (0...16).contains(beamFilterTapsPerSide) else {
                throw fail("beam_filter_taps is \(beamFilterTapsPerSide), expected 0...16")
            }
        default:
            throw fail("head_beam is '\(headBeam ?? "")', expected 'absolute', 'filter' or 'filter+absolute'")
        }
        for (name, cnn) in [("vision", vision), (Modality.radar.rawValue, radar), (Modality.lidar.rawValue, lidar)] where cnn.tokens > maxIntraTokens {
            throw fail("\(name) produces \(cnn.tokens) tokens but max_intra_tokens is \(maxIntraTokens)")
        }
    }

    /// Decodes and validates a config from JSON (snake_case keys).
    public static func decode(json: Data) throws(ModelError) -> ModelConfig {
        let config: ModelConfig = try decodeConfig(json)
        try config.validate()
        return config
    }

    /// Encodes the config as pretty JSON with snake_case keys.
    public func encodedJSON() -> Data { encodeConfig(self) }
}

extension ModelConfig {
    /// `beam_filter_taps` with its default: J taps on each side of the centre (nil = 4).
    var beamFilterTapsPerSide: Int { beamFilterTaps ?? 4 }

    /// Taps per beam filter (2J+1) with `head_beam: filter` or `filter+absolute`, 0 with the absolute beam head.
    public var beamFilterWidth: Int {
        headBeam == "filter" || headBeam == "filter+absolute" ? 2 * beamFilterTapsPerSide + 1 : 0
    }

    /// Whether the beam MLP gives a logit per beam (`head_beam` absent, `absolute` or `filter+absolute`).
    public var beamAbsoluteLogits: Bool { headBeam != "filter" }
}

/// The GRU baseline's configuration (`"format": "foresight-gru"`, `"version": 1`); mirrors `GRUConfig`
/// in Tools/training/model.py.
public struct GRUConfig: Codable, Sendable, Equatable, StreamingModelConfig {
    /// Always "foresight-gru".
    public var format: String = "foresight-gru"
    /// Format version (1).
    public var version: Int = 1
    /// Tokenizer width.
    public var dModel: Int = 64
    /// Encoder/decoder GRU width (the heads' latent width).
    public var hidden: Int = 128
    /// Frames used for the coarse estimates (the GRU state itself carries the whole segment).
    public var history: Int = 8
    /// Future steps predicted.
    public var future: Int = 5
    /// Nominal frame period (ms).
    public var stepMs: Int = 100
    /// Beams in the codebook.
    public var numBeams: Int = 64
    /// Hidden width of the task heads.
    public var headHidden: Int = 128
    /// Layer-norm epsilon.
    public var layerNormEps: Float = 1e-5
    /// Batch-norm epsilon.
    public var batchNormEps: Float = 1e-5
    /// Factor applied to positions (m) before they enter the beam, power and blockage heads.
    public var positionScale: Float = 0.02
    /// Coarse beam power (dBm) when no measured power is in the window.
    public var powerDefaultDbm: Float = -100
    /// Hash of the preprocessing the model was trained on.
    public var preprocessingVersion: String = ""
    /// Coarse inputs of the heads: nil/`"window"` or `"classical"` (see ``ModelConfig/coarseInputs``).
    public var coarseInputs: String? = "window"
    /// Camera tokenizer.
    public var vision = ModelConfig.cameraTokenizer
    /// Radar tokenizer.
    public var radar = ModelConfig.mapTokenizer
    /// LiDAR tokenizer.
    public var lidar = ModelConfig.mapTokenizer

    /// The default baseline.
    public init() {}

    /// Tokens each modality contributes to a frame.
    public var tokensPerModality: [Int] { [vision.tokens, radar.tokens, lidar.tokens, 1, 1] }

    /// Checks internal consistency; throws ``ModelError/badConfig(_:)`` naming the problem.
    public func validate() throws(ModelError) {
        guard format == "foresight-gru" else { throw .badConfig("format is '\(format)', expected 'foresight-gru'") }
        guard version == 1 else { throw .badConfig("version \(version) is not supported (expected 1)") }
        guard (1...4096).contains(dModel), (1...8192).contains(hidden) else {
            throw .badConfig("d_model must be in 1...4096 and hidden in 1...8192")
        }
        try validateShared(self, headHidden: headHidden, layerNormEps: layerNormEps, batchNormEps: batchNormEps)
    }

    /// Decodes and validates a config from JSON (snake_case keys).
    public static func decode(json: Data) throws(ModelError) -> GRUConfig {
        let config: GRUConfig = try decodeConfig(json)
        try config.validate()
        return config
    }

    /// Encodes the config as pretty JSON with snake_case keys.
    public func encodedJSON() -> Data { encodeConfig(self) }
}

private func validateShared(_ c: some StreamingModelConfig, headHidden: Int, layerNormEps: Float, batchNormEps: Float) throws(ModelError) {
    func fail(_ s: String) -> ModelError { .badConfig(s) }
    guard (1...1024).contains(c.history), (1...1024).contains(c.future) else { throw fail("history and future must be in 1...1024") }
    guard (1...60_000).contains(c.stepMs) else { throw fail("step_ms must be in 1...60000") }
    guard c.coarseInputs == nil || c.coarseInputs == "window" || c.coarseInputs == "classical" else {
        throw fail("coarse_inputs '\(c.coarseInputs ?? "")' is not one of window, classical")
    }
    guard (1...4096).contains(c.numBeams), (1...8192).contains(headHidden) else {
        throw fail("num_beams must be in 1...4096 and head_hidden in 1...8192")
    }
    guard layerNormEps > 0, batchNormEps > 0 else { throw fail("epsilons must be positive") }
    for (name, cnn) in [("vision", c.vision), (Modality.radar.rawValue, c.radar), (Modality.lidar.rawValue, c.lidar)] {
        guard cnn.inChannels > 0, cnn.height > 0, cnn.width > 0, cnn.inputCount <= 1 << 26 else {
            throw fail("\(name) input size \(cnn.inChannels)×\(cnn.height)×\(cnn.width) is empty or too large")
        }
        guard cnn.convs.count <= 32, cnn.convs.allSatisfy({ $0.outChannels <= 4096 && $0.kernel <= 31 && $0.padding <= 31 }) else {
            throw fail("\(name) tokenizer exceeds its limits (≤ 32 convs, ≤ 4096 channels, kernel and padding ≤ 31)")
        }
        guard !cnn.convs.isEmpty, cnn.convs.allSatisfy({ $0.outChannels > 0 }), cnn.tokens > 0 else {
            throw fail("\(name) tokenizer layers do not produce a feature map (check kernels, strides, pooling)")
        }
    }
    guard c.radar.inChannels == 1, c.lidar.inChannels == 1 else { throw fail("radar and lidar maps have one channel") }
}

private func decodeConfig<C: Decodable>(_ json: Data) throws(ModelError) -> C {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    do {
        return try decoder.decode(C.self, from: json)
    } catch {
        throw .badConfig("config JSON does not decode: \(error)")
    }
}

private func encodeConfig(_ value: some Encodable) -> Data {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return (try? encoder.encode(value)) ?? Data()
}

/// Why a model could not be loaded or run.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    /// The config is inconsistent or unreadable.
    case badConfig(String)
    /// The weights file could not be parsed.
    case weights(SafeTensorsError)
    /// A tensor the config requires is absent.
    case missingTensor(name: String, expectedShape: [Int])
    /// A tensor has the wrong shape for the config.
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    /// The file holds tensors the config does not use.
    case unexpectedTensors([String])
    /// A model folder lacks a file or holds an unknown format.
    case modelFolder(path: String, problem: String)
    /// An error while loading the model folder at `path` (wraps the cause).
    indirect case inModel(path: String, ModelError)

    /// A human-readable explanation with a remedy.
    public var description: String {
        switch self {
        case let .badConfig(reason):
            return "invalid model config: \(reason)"
        case let .weights(error):
            return error.description
        case let .missingTensor(name, shape):
            return "weights lack tensor '\(name)' (expected shape \(shape)); the file does not match config.json — re-export both together"
        case let .shapeMismatch(name, expected, found):
            return "tensor '\(name)' has shape \(found) but the config requires \(expected); the file does not match config.json — re-export both together"
        case let .unexpectedTensors(names):
            let shown = names.prefix(5).joined(separator: ", ")
            return "weights hold \(names.count) tensor(s) the config does not use (\(shown)); the file does not match config.json — re-export both together"
        case let .modelFolder(path, problem):
            return "model folder \(path): \(problem)"
        case let .inModel(path, error):
            return "model folder \(path): \(error.description)"
        }
    }
}
