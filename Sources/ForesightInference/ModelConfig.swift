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

/// The five input modalities, in token order within a frame.
public enum Modality: Int, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    /// Camera image.
    case vision = 0
    /// Radar range-angle map.
    case radar
    /// LiDAR depth image.
    case lidar
    /// GNSS east/north position.
    case gnss
    /// 64-beam power vector.
    case power

    /// Lower-case name.
    public var description: String { ["vision", "radar", "lidar", "gnss", "power"][rawValue] }
}

/// The multi-task model's configuration: `config.json` beside `model.safetensors` (snake_case keys).
public struct ModelConfig: Codable, Sendable, Equatable {
    /// Always "foresight-multitask".
    public var format: String = "foresight-multitask"
    /// Format version (1).
    public var version: Int = 1
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
    /// History frames in the window.
    public var history: Int = 8
    /// Future steps predicted.
    public var future: Int = 5
    /// Beams in the codebook.
    public var numBeams: Int = 64
    /// Hidden width of the task heads.
    public var headHidden: Int = 128
    /// Rows of the intra-frame positional table (≥ tokens of any modality).
    public var maxIntraTokens: Int = 16
    /// Layer-norm epsilon.
    public var layerNormEps: Float = 1e-5
    /// Batch-norm epsilon.
    public var batchNormEps: Float = 1e-5
    /// Camera tokenizer (3×224×224 → 9 tokens by default).
    public var vision = CNNConfig(inChannels: 3, height: 224, width: 224, convs: [
        ConvSpec(outChannels: 16, kernel: 5, stride: 2, padding: 2),
        ConvSpec(outChannels: 32, kernel: 3, stride: 2, padding: 1),
        ConvSpec(outChannels: 64, kernel: 3, stride: 2, padding: 1),
        ConvSpec(outChannels: 128, kernel: 3, stride: 2, padding: 1),
        ConvSpec(outChannels: 128, kernel: 3, stride: 2, padding: 1),
    ], pool: PoolSpec(kernel: [3, 3], stride: [2, 2]))
    /// Radar range-angle tokenizer (1×64×256 → 16 tokens by default).
    public var radar = ModelConfig.mapTokenizer
    /// LiDAR depth tokenizer (same topology as radar, separate weights).
    public var lidar = ModelConfig.mapTokenizer

    static let mapTokenizer = CNNConfig(inChannels: 1, height: 64, width: 256, convs: [
        ConvSpec(outChannels: 16, kernel: 3, stride: 2, padding: 1),
        ConvSpec(outChannels: 32, kernel: 3, stride: 2, padding: 1),
        ConvSpec(outChannels: 64, kernel: 3, stride: 2, padding: 1),
    ], pool: PoolSpec(kernel: [2, 8], stride: [2, 8]))

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
        guard version == 1 else { throw fail("version \(version) is not supported (expected 1)") }
        guard dModel > 0, heads > 0, dModel % heads == 0 else { throw fail("d_model \(dModel) must be a positive multiple of heads \(heads)") }
        guard encoderLayers >= 0, predictorLayers >= 0, mlpRatio > 0 else { throw fail("layer counts must be ≥ 0 and mlp_ratio > 0") }
        guard (1...1024).contains(history), (1...1024).contains(future) else { throw fail("history and future must be in 1...1024") }
        guard numBeams > 0, headHidden > 0, maxIntraTokens > 0 else { throw fail("num_beams, head_hidden and max_intra_tokens must be positive") }
        guard layerNormEps > 0, batchNormEps > 0 else { throw fail("epsilons must be positive") }
        // Generous upper bounds so a corrupt config cannot ask for unbounded memory.
        guard dModel <= 4096, heads <= 256, encoderLayers <= 64, predictorLayers <= 64, mlpRatio <= 16,
              numBeams <= 4096, headHidden <= 8192, maxIntraTokens <= 4096 else {
            throw fail("a size exceeds its limit (d_model ≤ 4096, heads ≤ 256, layers ≤ 64, mlp_ratio ≤ 16, num_beams ≤ 4096, head_hidden ≤ 8192, max_intra_tokens ≤ 4096)")
        }
        for (name, cnn) in [("vision", vision), ("radar", radar), ("lidar", lidar)] {
            guard cnn.inChannels > 0, cnn.height > 0, cnn.width > 0, cnn.inputCount <= 1 << 26 else {
                throw fail("\(name) input size \(cnn.inChannels)×\(cnn.height)×\(cnn.width) is empty or too large")
            }
            guard cnn.convs.count <= 32, cnn.convs.allSatisfy({ $0.outChannels <= 4096 && $0.kernel <= 31 && $0.padding <= 31 }) else {
                throw fail("\(name) tokenizer exceeds its limits (≤ 32 convs, ≤ 4096 channels, kernel and padding ≤ 31)")
            }
            guard !cnn.convs.isEmpty, cnn.convs.allSatisfy({ $0.outChannels > 0 }), cnn.tokens > 0 else {
                throw fail("\(name) tokenizer layers do not produce a feature map (check kernels, strides, pooling)")
            }
            guard cnn.tokens <= maxIntraTokens else {
                throw fail("\(name) produces \(cnn.tokens) tokens but max_intra_tokens is \(maxIntraTokens)")
            }
        }
    }

    /// Decodes and validates a config from JSON (snake_case keys).
    public static func decode(json: Data) throws(ModelError) -> ModelConfig {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let config: ModelConfig
        do {
            config = try decoder.decode(ModelConfig.self, from: json)
        } catch {
            throw .badConfig("config JSON does not decode: \(error)")
        }
        try config.validate()
        return config
    }

    /// Encodes the config as pretty JSON with snake_case keys.
    public func encodedJSON() -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? encoder.encode(self)) ?? Data()
    }
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
        }
    }
}
