import Foundation

/// One frame after tokenization: the frame's tokens `[T, d]` (missing modalities already replaced by
/// their learned token, positional embeddings not yet added) and the state the heads need.
public struct FrameTokens: Sendable {
    /// Tokens `[tokensPerFrame, d]`, row-major.
    public var tokens: [Float]
    /// GNSS position of the frame, if present.
    public var gnss: SIMD2<Float>?
    /// Beam power vector of the frame, if present.
    public var beamPower: [Float]?
    /// Sensor stamp of the frame.
    public var stamp: Int64
}

/// Raw model outputs for one window, plus intermediates for parity checks.
public struct ModelOutputs: Sendable {
    /// Context-encoder output `[history·T, d]` (rows of empty frames are meaningless).
    public var context: [Float]
    /// Predictor output over context and future positions `[(history + future)·T, d]`.
    public var predictorOutput: [Float]
    /// Per-step latents `[future, d]`.
    public var latents: [Float]
    /// Constant-velocity coarse positions `[future, 2]`.
    public var coarsePositions: [Float]
    /// Final positions `[future, 2]` (east, north).
    public var positions: [Float]
    /// Beam logits `[future, beams]`.
    public var beamLogits: [Float]
    /// Per-beam power `[future, beams]`.
    public var beamPower: [Float]
    /// Blockage logits `[future]`.
    public var blockageLogits: [Float]
}

/// The predictive multi-task model (JEPA-MSAC style): tokenizers, factorized positional embeddings,
/// context encoder, predictor, and localization / beam / power / blockage heads.
///
/// Immutable after loading and therefore `Sendable`; the mutable per-stream state (token window,
/// scratch buffers) lives in ``InferenceSession``.
public final class MultiTaskModel: Sendable {
    /// The configuration the weights were checked against.
    public let config: ModelConfig
    let vision: CNNTokenizerLayer
    let radar: CNNTokenizerLayer
    let lidar: CNNTokenizerLayer
    let gnssTokenizer: StateTokenizerLayer
    let powerTokenizer: StateTokenizerLayer
    let missing: [Float]
    /// Summed time + modality + intra-frame embedding for every slot `[(history + future)·T, d]`.
    let positionTable: [Float]
    /// `maskToken + positionTable` rows of the future slots `[future·T, d]`.
    let futureQueries: [Float]
    let encoder: TransformerLayer
    let predictor: TransformerLayer
    let locResidual: MLPLayer
    let beamProj: LinearLayer
    let beamGRU: GRUCellLayer
    let beamMLP: MLPLayer
    let powerResidual: MLPLayer
    let blockage: MLPLayer
    /// Number of learned parameters (batch-norm statistics included).
    public let parameterCount: Int

    /// Loads `config.json` and `model.safetensors` from a directory.
    public convenience init(directory: URL) throws(ModelError) {
        let configURL = directory.appendingPathComponent("config.json")
        let json: Data
        do { json = try Data(contentsOf: configURL) } catch {
            throw .badConfig("cannot read \(configURL.path): \(error.localizedDescription)")
        }
        let config = try ModelConfig.decode(json: json)
        let weights: SafeTensors
        do { weights = try SafeTensors(contentsOf: directory.appendingPathComponent("model.safetensors")) } catch {
            throw .weights(error)
        }
        try self.init(config: config, tensors: weights.tensors)
    }

    /// Randomly initialised weights for `config` (uniform ±1/√fan-in, unit norms, small embeddings),
    /// in the exported naming; for benchmarks and tests. Save them with ``SafeTensors/encode(_:metadata:)``.
    public static func randomWeights(config: ModelConfig, seed: UInt64 = 1) throws(ModelError) -> [String: Tensor] {
        var reader = WeightReader(randomSeed: seed)
        _ = try MultiTaskModel(config: config, reader: &reader)
        return reader.generated
    }

    /// Builds the model from named tensors, checking every name and shape against `config`.
    public convenience init(config: ModelConfig, tensors: [String: Tensor]) throws(ModelError) {
        var reader = WeightReader(tensors)
        try self.init(config: config, reader: &reader)
    }

    init(config: ModelConfig, reader r: inout WeightReader) throws(ModelError) {
        try config.validate()
        let d = config.dModel, eps = config.layerNormEps, bnEps = config.batchNormEps
        let hh = config.headHidden, beams = config.numBeams
        self.config = config
        vision = try CNNTokenizerLayer(&r, "tok.vision", config: config.vision, d: d, eps: bnEps)
        radar = try CNNTokenizerLayer(&r, "tok.radar", config: config.radar, d: d, eps: bnEps)
        lidar = try CNNTokenizerLayer(&r, "tok.lidar", config: config.lidar, d: d, eps: bnEps)
        gnssTokenizer = try StateTokenizerLayer(&r, "tok.gnss", in: 2, d: d, eps: eps)
        powerTokenizer = try StateTokenizerLayer(&r, "tok.power", in: beams, d: d, eps: eps)
        missing = try r.take("missing", [Modality.allCases.count, d])
        let slots = config.history + config.future
        let time = try r.take("pos.time", [slots, d])
        let modality = try r.take("pos.modality", [Modality.allCases.count, d])
        let intra = try r.take("pos.intra", [config.maxIntraTokens, d])
        encoder = try TransformerLayer(&r, "encoder", count: config.encoderLayers, d: d, heads: config.heads,
                                       ratio: config.mlpRatio, eps: eps)
        predictor = try TransformerLayer(&r, "predictor", count: config.predictorLayers, d: d, heads: config.heads,
                                         ratio: config.mlpRatio, eps: eps)
        let mask = try r.take("mask_token", [d])
        locResidual = try MLPLayer(&r, "heads.loc.residual", in: d, hidden: hh, out: 2)
        beamProj = try LinearLayer(&r, "heads.beam.proj", in: d + 2, out: hh)
        beamGRU = try GRUCellLayer(&r, "heads.beam.gru", input: hh, hidden: hh)
        beamMLP = try MLPLayer(&r, "heads.beam.mlp", in: hh, hidden: hh, out: beams)
        powerResidual = try MLPLayer(&r, "heads.power.residual", in: d + 2, hidden: hh, out: beams)
        blockage = try MLPLayer(&r, "heads.blockage.mlp", in: d, hidden: hh, out: 1)
        let unused = r.unused
        guard unused.isEmpty else { throw .unexpectedTensors(unused) }

        let perModality = config.tokensPerModality
        var table = [Float](repeating: 0, count: slots * config.tokensPerFrame * d)
        var row = 0
        for t in 0..<slots {
            for (m, n) in perModality.enumerated() {
                for i in 0..<n {
                    for j in 0..<d { table[row * d + j] = time[t * d + j] + modality[m * d + j] + intra[i * d + j] }
                    row += 1
                }
            }
        }
        positionTable = table
        let historyCount = config.history * config.tokensPerFrame * d
        var queries = Array(table[historyCount...])
        for i in queries.indices { queries[i] += mask[i % d] }
        futureQueries = queries
        parameterCount = r.generated.values.reduce(0) { $0 + $1.count }
    }

    // MARK: Tokenization

    /// Validates a frame and tokenizes it (the only per-frame work besides the backbone).
    func tokenize(_ frame: FrameInputs, scratch: Scratch) throws(InputError) -> FrameTokens {
        let c = config, d = c.dModel
        try Self.check(frame.camera, .vision, c.vision.inputCount)
        try Self.check(frame.radar, .radar, c.radar.inputCount)
        try Self.check(frame.lidar, .lidar, c.lidar.inputCount)
        try Self.check(frame.beamPower, .power, c.numBeams)
        if let g = frame.gnss, !(g.x.isFinite && g.y.isFinite) {
            throw .nonFinite(modality: .gnss, index: g.x.isFinite ? 1 : 0)
        }
        var tokens = [Float](repeating: 0, count: c.tokensPerFrame * d)
        let offsets = c.modalityOffsets
        tokens.withUnsafeMutableBufferPointer { buf in
            guard let out = buf.baseAddress else { return }
            func fillMissing(_ m: Modality) {
                let n = c.tokensPerModality[m.rawValue]
                missing.withUnsafeBufferPointer { miss in
                    for i in 0..<n {
                        (out + (offsets[m.rawValue] + i) * d).update(from: miss.baseAddress! + m.rawValue * d, count: d)
                    }
                }
            }
            for (m, layer, input) in [(Modality.vision, vision, frame.camera), (.radar, radar, frame.radar),
                                      (.lidar, lidar, frame.lidar)] {
                if let input {
                    input.withUnsafeBufferPointer { x in layer(x.baseAddress!, scratch: scratch, into: out + offsets[m.rawValue] * d) }
                } else {
                    fillMissing(m)
                }
            }
            if var g = frame.gnss {
                withUnsafePointer(to: &g) { p in
                    p.withMemoryRebound(to: Float.self, capacity: 2) { gnssTokenizer($0, into: out + offsets[Modality.gnss.rawValue] * d) }
                }
            } else {
                fillMissing(.gnss)
            }
            if let power = frame.beamPower {
                power.withUnsafeBufferPointer { powerTokenizer($0.baseAddress!, into: out + offsets[Modality.power.rawValue] * d) }
            } else {
                fillMissing(.power)
            }
        }
        return FrameTokens(tokens: tokens, gnss: frame.gnss, beamPower: frame.beamPower, stamp: frame.stamp)
    }

    private static func check(_ values: [Float]?, _ m: Modality, _ expected: Int) throws(InputError) {
        guard let values else { return }
        guard values.count == expected else { throw .wrongSize(modality: m, expected: expected, found: values.count) }
        if let bad = values.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(modality: m, index: bad) }
    }

    // MARK: Backbone and heads

    /// Runs encoder, predictor and heads over a window of `history` slots (oldest first; `nil` = no
    /// frame yet). The newest slot must hold a frame.
    func run(window: [FrameTokens?], scratch: Scratch) -> ModelOutputs {
        let c = config, d = c.dModel, T = c.tokensPerFrame, H = c.history, F = c.future
        let n = H * T, total = n + F * T
        var keyValid = [Bool](repeating: true, count: total)
        let seq = scratch.buffer(30, total * d)
        for slot in 0..<H {
            let base = seq + slot * T * d
            if let frame = window[slot] {
                frame.tokens.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: T * d) }
            } else {
                base.update(repeating: 0, count: T * d)
                for i in 0..<T { keyValid[slot * T + i] = false }
            }
        }
        positionTable.withUnsafeBufferPointer { pos in
            for i in 0..<(n * d) { seq[i] += pos[i] }
        }
        // A full window needs no mask (cheaper softmax); otherwise empty frames are masked as keys.
        let full = window.allSatisfy { $0 != nil }
        keyValid.withUnsafeBufferPointer { kv in
            encoder(seq, rows: n, keyValid: full ? nil : kv.baseAddress, scratch: scratch)
        }
        let context = Array(UnsafeBufferPointer(start: seq, count: n * d))
        futureQueries.withUnsafeBufferPointer { (seq + n * d).update(from: $0.baseAddress!, count: F * T * d) }
        keyValid.withUnsafeBufferPointer { kv in
            predictor(seq, rows: total, keyValid: full ? nil : kv.baseAddress, scratch: scratch)
        }
        let predictorOutput = Array(UnsafeBufferPointer(start: seq, count: total * d))

        var latents = [Float](repeating: 0, count: F * d)
        let inv = 1 / Float(T)
        for k in 0..<F {
            let base = seq + (n + k * T) * d
            for t in 0..<T { for j in 0..<d { latents[k * d + j] += base[t * d + j] } }
            for j in 0..<d { latents[k * d + j] *= inv }
        }
        var outputs = heads(latents: latents, window: window, scratch: scratch)
        outputs.context = context
        outputs.predictorOutput = predictorOutput
        return outputs
    }

    /// Constant-velocity coarse positions from the last two frames with a fix (hold one fix; zeros without).
    func coarsePositions(window: [FrameTokens?]) -> [Float] {
        let H = config.history, F = config.future
        let fixes = (0..<H).compactMap { t in window[t]?.gnss.map { (t, $0) } }
        var out = [Float](repeating: 0, count: F * 2)
        guard let last = fixes.last else { return out }
        var velocity = SIMD2<Float>(0, 0)
        if fixes.count >= 2 {
            let prev = fixes[fixes.count - 2]
            velocity = (last.1 - prev.1) / Float(last.0 - prev.0)
        }
        for k in 0..<F {
            let p = last.1 + Float(H - 1 - last.0 + k + 1) * velocity
            out[2 * k] = p.x; out[2 * k + 1] = p.y
        }
        return out
    }

    func heads(latents: [Float], window: [FrameTokens?], scratch: Scratch) -> ModelOutputs {
        let c = config, d = c.dModel, F = c.future, B = c.numBeams, hh = c.headHidden
        let coarse = coarsePositions(window: window)
        var positions = [Float](repeating: 0, count: F * 2)
        var fused = [Float](repeating: 0, count: F * (d + 2))
        var beamLogits = [Float](repeating: 0, count: F * B)
        var beamPower = [Float](repeating: 0, count: F * B)
        var blockageLogits = [Float](repeating: 0, count: F)
        let hidden = scratch.buffer(40, F * max(hh, B))
        latents.withUnsafeBufferPointer { z in
            positions.withUnsafeMutableBufferPointer { pos in
                locResidual(z.baseAddress!, rows: F, hidden: hidden, into: pos.baseAddress!)
                for i in 0..<(F * 2) { pos[i] += coarse[i] }
                for k in 0..<F {
                    for j in 0..<d { fused[k * (d + 2) + j] = z[k * d + j] }
                    fused[k * (d + 2) + d] = pos[2 * k]
                    fused[k * (d + 2) + d + 1] = pos[2 * k + 1]
                }
            }
            blockageLogits.withUnsafeMutableBufferPointer { blockage(z.baseAddress!, rows: F, hidden: hidden, into: $0.baseAddress!) }
        }
        fused.withUnsafeBufferPointer { f in
            // Beam: projection → GRU over the steps → MLP.
            let projected = scratch.buffer(41, F * hh)
            let states = scratch.buffer(42, F * hh)
            beamProj(f.baseAddress!, rows: F, into: projected)
            let h = scratch.buffer(43, hh)
            h.update(repeating: 0, count: hh)
            for k in 0..<F {
                beamGRU.step(projected + k * hh, h: h, scratch: scratch)
                (states + k * hh).update(from: h, count: hh)
            }
            beamLogits.withUnsafeMutableBufferPointer { beamMLP(states, rows: F, hidden: hidden, into: $0.baseAddress!) }
            // Power: last beam-power vector as the coarse estimate + MLP residual.
            beamPower.withUnsafeMutableBufferPointer { powerResidual(f.baseAddress!, rows: F, hidden: hidden, into: $0.baseAddress!) }
        }
        if let last = window.reversed().compactMap({ $0?.beamPower }).first {
            for k in 0..<F { for b in 0..<B { beamPower[k * B + b] += last[b] } }
        }
        return ModelOutputs(context: [], predictorOutput: [], latents: latents, coarsePositions: coarse,
                            positions: positions, beamLogits: beamLogits, beamPower: beamPower,
                            blockageLogits: blockageLogits)
    }

    // MARK: Cost

    /// Floating-point operations (multiply-add = 2) of the tokenizers for one frame.
    public var tokenizerFlops: Int {
        let d = config.dModel
        return vision.flops + radar.flops + lidar.flops + 2 * d * (2 + config.numBeams)
    }

    /// Floating-point operations of encoder + predictor for one window.
    public var backboneFlops: Int {
        let n = config.history * config.tokensPerFrame
        return encoder.flops(rows: n) + predictor.flops(rows: n + config.future * config.tokensPerFrame)
    }

    /// Floating-point operations of the heads for one window.
    public var headFlops: Int {
        let F = config.future
        return locResidual.flops(rows: F) + blockage.flops(rows: F) + powerResidual.flops(rows: F)
            + beamMLP.flops(rows: F) + 2 * F * (beamProj.inFeatures * beamProj.outFeatures)
            + 2 * F * (6 * config.headHidden * config.headHidden)
    }

    /// Total floating-point operations per streamed frame (one tokenization + backbone + heads).
    public var flopsPerFrame: Int { tokenizerFlops + backboneFlops + headFlops }
}
