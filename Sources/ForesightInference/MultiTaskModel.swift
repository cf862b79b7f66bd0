import ForesightCore
import Foundation

/// Raw model outputs after one frame (the frame is the anchor), plus intermediates for parity checks.
public struct ModelOutputs: Sendable {
    /// The new frame's tokens `[T, d]` (missing modalities replaced, no embeddings added).
    public var tokens: [Float]
    /// Multi-task model: the new frame's final encoder output `[T, d]`; GRU: the encoder state `[hidden]`.
    public var context: [Float]
    /// Per-step latents `[future, zdim]`.
    public var latents: [Float]
    /// Constant-velocity coarse positions `[future, 2]`.
    public var coarsePositions: [Float]
    /// Coarse per-beam power (last measured, dBm) `[future, beams]`.
    public var coarsePower: [Float]
    /// The newest GNSS fix of the window (east, north), zeros without one (what persistence predicts).
    public var heldPosition: [Float] = [0, 0]
    /// Whether the window has a GNSS fix at all (without one, the heads leave out the
    /// constant-velocity and held-fix terms).
    public var hasFix: Bool = false
    /// Final positions `[future, 2]` (east, north, m).
    public var positions: [Float]
    /// Beam logits `[future, beams]`.
    public var beamLogits: [Float]
    /// Per-beam power in dBm `[future, beams]`.
    public var beamPower: [Float]
    /// Blockage logits `[future]`.
    public var blockageLogits: [Float]

    /// What a frame added with ``InferenceSession/warm(_:)`` returns internally: nothing was predicted.
    static let cachedOnly = ModelOutputs(tokens: [], context: [], latents: [], coarsePositions: [], coarsePower: [],
                                         positions: [], beamLogits: [], beamPower: [], blockageLogits: [])
}

/// One encoder layer of the v2 model: pre-LN window attention with a per-head lag bias, then MLP.
struct EncoderBlock: Sendable {
    let norm1: LayerNormLayer
    let qkv: LinearLayer
    let out: LinearLayer
    /// `[heads, history]` additive attention bias by lag.
    let lagBias: [Float]
    let norm2: LayerNormLayer
    let mlp: MLPLayer

    init(_ r: inout WeightReader, _ p: String, c: ModelConfig) throws(ModelError) {
        let d = c.dModel
        norm1 = try LayerNormLayer(&r, "\(p).norm1", dim: d, eps: c.layerNormEps)
        qkv = try LinearLayer(&r, "\(p).attn.qkv", in: d, out: 3 * d)
        out = try LinearLayer(&r, "\(p).attn.out", in: d, out: d)
        lagBias = try r.take("\(p).attn.lag_bias", [c.heads, c.history])
        norm2 = try LayerNormLayer(&r, "\(p).norm2", dim: d, eps: c.layerNormEps)
        mlp = try MLPLayer(&r, "\(p).mlp", in: d, hidden: c.mlpRatio * d, out: d)
    }

    var parameterCount: Int { norm1.parameterCount + qkv.parameterCount + out.parameterCount + lagBias.count + norm2.parameterCount + mlp.parameterCount }
}

/// One predictor layer: self-attention among the future queries, cross-attention to the cached context, MLP.
struct PredictorBlock: Sendable {
    let norm1: LayerNormLayer
    let selfQKV: LinearLayer
    let selfOut: LinearLayer
    let norm2: LayerNormLayer
    let crossQ: LinearLayer
    let crossKV: LinearLayer
    let crossOut: LinearLayer
    let lagBias: [Float]
    let norm3: LayerNormLayer
    let mlp: MLPLayer

    init(_ r: inout WeightReader, _ p: String, c: ModelConfig) throws(ModelError) {
        let d = c.dModel
        norm1 = try LayerNormLayer(&r, "\(p).norm1", dim: d, eps: c.layerNormEps)
        selfQKV = try LinearLayer(&r, "\(p).self_attn.qkv", in: d, out: 3 * d)
        selfOut = try LinearLayer(&r, "\(p).self_attn.out", in: d, out: d)
        norm2 = try LayerNormLayer(&r, "\(p).norm2", dim: d, eps: c.layerNormEps)
        crossQ = try LinearLayer(&r, "\(p).cross.q", in: d, out: d)
        crossKV = try LinearLayer(&r, "\(p).cross.kv", in: d, out: 2 * d)
        crossOut = try LinearLayer(&r, "\(p).cross.out", in: d, out: d)
        lagBias = try r.take("\(p).cross.lag_bias", [c.heads, c.history])
        norm3 = try LayerNormLayer(&r, "\(p).norm3", dim: d, eps: c.layerNormEps)
        mlp = try MLPLayer(&r, "\(p).mlp", in: d, hidden: c.mlpRatio * d, out: d)
    }

    var parameterCount: Int {
        norm1.parameterCount + selfQKV.parameterCount + selfOut.parameterCount + norm2.parameterCount + crossQ.parameterCount
            + crossKV.parameterCount + crossOut.parameterCount + lagBias.count + norm3.parameterCount + mlp.parameterCount
    }
}

/// The streaming multi-task model (format `foresight-multitask` v2; architecture in docs/inference.md):
/// tokenizers → sliding-window block-causal encoder with per-head lag bias → predictor (future queries
/// self-attend and cross-attend to the cached context) → heads.
///
/// Immutable after loading and therefore `Sendable`; the per-stream key/value cache lives in ``InferenceSession``.
public final class MultiTaskModel: Sendable {
    /// The configuration the weights were checked against.
    public let config: ModelConfig
    let tokenizers: TokenizerSet
    /// `modality[m] + intra[i]` for every token slot of a frame `[T, d]`.
    let tokenEmbedding: [Float]
    let encoder: [EncoderBlock]
    let encoderNorm: LayerNormLayer
    /// `mask_token + step[k] + query[q]`, `[F·Q, d]` step-major.
    let queries: [Float]
    let predictor: [PredictorBlock]
    let predictorNorm: LayerNormLayer
    let heads: TaskHeadsLayer
    /// Number of learned parameters (batch-norm statistics included).
    public let parameterCount: Int

    /// Loads `config.json` and `model.safetensors` from a directory (errors name the folder and file).
    public convenience init(directory: URL) throws(ModelError) {
        let (config, tensors): (ModelConfig, [String: Tensor]) = try readModelFolder(directory, decode: ModelConfig.decode)
        do { try self.init(config: config, tensors: tensors) } catch { throw .inModel(path: directory.path, error) }
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

    init(config c: ModelConfig, reader r: inout WeightReader) throws(ModelError) {
        try c.validate()
        let d = c.dModel
        config = c
        tokenizers = try TokenizerSet(&r, config: c, d: d, layerNormEps: c.layerNormEps, batchNormEps: c.batchNormEps)
        let modality = try r.take("embed.modality", [Modality.allCases.count, d])
        let intra = try r.take("embed.intra", [c.maxIntraTokens, d])
        var blocks: [EncoderBlock] = []
        for i in 0..<c.encoderLayers { blocks.append(try EncoderBlock(&r, "encoder.layers.\(i)", c: c)) }
        encoder = blocks
        encoderNorm = try LayerNormLayer(&r, "encoder.norm", dim: d, eps: c.layerNormEps)
        let mask = try r.take("predictor.mask_token", [d])
        let step = try r.take("predictor.step", [c.future, d])
        let query = try r.take("predictor.query", [c.queriesPerStep, d])
        var pblocks: [PredictorBlock] = []
        for i in 0..<c.predictorLayers { pblocks.append(try PredictorBlock(&r, "predictor.layers.\(i)", c: c)) }
        predictor = pblocks
        predictorNorm = try LayerNormLayer(&r, "predictor.norm", dim: d, eps: c.layerNormEps)
        heads = try TaskHeadsLayer(&r, zdim: d, hidden: c.headHidden, beams: c.numBeams, future: c.future,
                                   positionScale: c.positionScale, powerDefault: c.powerDefaultDbm, classical: c.takesClassicalEstimates,
                                   powerProfile: c.headPowerProfile ?? false,
                                   filterTaps: c.beamFilterWidth, absoluteLogits: c.beamAbsoluteLogits)
        let unused = r.unused
        guard unused.isEmpty else { throw .unexpectedTensors(unused) }

        var table: [Float] = []
        table.reserveCapacity(c.tokensPerFrame * d)
        for (m, n) in c.tokensPerModality.enumerated() {
            for i in 0..<n { for j in 0..<d { table.append(modality[m * d + j] + intra[i * d + j]) } }
        }
        tokenEmbedding = table
        var q: [Float] = []
        q.reserveCapacity(c.future * c.queriesPerStep * d)
        for k in 0..<c.future {
            for i in 0..<c.queriesPerStep { for j in 0..<d { q.append(mask[j] + step[k * d + j] + query[i * d + j]) } }
        }
        queries = q
        parameterCount = r.takenCount
    }

    /// `x = tokens + tokenEmbedding` for `frames` consecutive frames of `[T, d]` tokens.
    func embed(_ tokens: UnsafePointer<Float>, frames: Int, into x: UnsafeMutablePointer<Float>) {
        let n = config.tokensPerFrame * config.dModel
        tokenEmbedding.withUnsafeBufferPointer { emb in
            for f in 0..<frames { for i in 0..<n { x[f * n + i] = tokens[f * n + i] + emb[i] } }
        }
    }

    // MARK: Cost

    /// Floating-point operations (multiply-add = 2) of the tokenizers for one frame.
    public var tokenizerFlops: Int { tokenizers.flops }

    /// Encoder operations for one new frame with a full window (its T tokens against H·T cached keys).
    public var encoderFlops: Int {
        let c = config, d = c.dModel, T = c.tokensPerFrame, keys = c.history * T
        return c.encoderLayers * (2 * T * (4 * d * d + 2 * c.mlpRatio * d * d) + 4 * T * keys * d)
    }

    /// Predictor operations for one frame (cross K/V of the new frame + the F·Q queries).
    public var predictorFlops: Int {
        let c = config, d = c.dModel, T = c.tokensPerFrame, n = c.future * c.queriesPerStep, keys = c.history * T
        return c.predictorLayers * (2 * T * 2 * d * d + 2 * n * (6 * d * d + 2 * c.mlpRatio * d * d) + 4 * n * n * d + 4 * n * keys * d)
    }

    /// Head operations for one frame.
    public var headFlops: Int { heads.flops(future: config.future) }

    /// Total operations per streamed frame.
    public var flopsPerFrame: Int { tokenizerFlops + encoderFlops + predictorFlops + headFlops }
}

/// Reads and decodes a model folder's config.json and model.safetensors, naming the folder in errors.
func readModelFolder<C>(_ directory: URL, decode: (Data) throws(ModelError) -> C) throws(ModelError) -> (C, [String: Tensor]) {
    let configURL = directory.appendingPathComponent("config.json")
    let json: Data
    do { json = try Data(contentsOf: configURL) } catch {
        throw .modelFolder(path: directory.path, problem: "cannot read config.json (\(error.localizedDescription)); export the model with Tools/training/export.py or `make train`")
    }
    let config: C
    do { config = try decode(json) } catch { throw .inModel(path: directory.path, error) }
    do {
        return (config, try SafeTensors(contentsOf: directory.appendingPathComponent("model.safetensors")).tensors)
    } catch {
        throw .inModel(path: directory.path, .weights(error))
    }
}

/// The per-stream state of the v2 model: per-layer key/value ring caches over the last H frames.
final class MultiTaskState: StreamingEngine {
    let model: MultiTaskModel
    /// The threads that share a frame's work; member 0's arena is the session's scratch.
    private let team: WorkTeam
    /// One scratch arena per team member (member 0's is the session's own).
    private let arenas: [Scratch]
    private var scratch: Scratch { arenas[0] }
    private var window: WindowHistory
    /// Encoder keys/values per layer, ring `[H, T, d]` each; predictor cross keys/values likewise.
    private let encK: [UnsafeMutablePointer<Float>], encV: [UnsafeMutablePointer<Float>]
    private let crossK: [UnsafeMutablePointer<Float>], crossV: [UnsafeMutablePointer<Float>]
    private let lags: UnsafeMutablePointer<Int>
    private let ringFloats: Int

    init(model: MultiTaskModel, threads: Int = 1) {
        self.model = model
        team = WorkTeam(size: threads, name: "fs-inference-worker")
        arenas = (0..<team.size).map { _ in Scratch() }
        let c = model.config
        window = WindowHistory(capacity: c.history, beams: c.numBeams)
        let floats = c.history * c.tokensPerFrame * c.dModel
        ringFloats = floats
        func ring() -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: floats)
            p.initialize(repeating: 0, count: floats)
            return p
        }
        encK = (0..<c.encoderLayers).map { _ in ring() }
        encV = (0..<c.encoderLayers).map { _ in ring() }
        crossK = (0..<c.predictorLayers).map { _ in ring() }
        crossV = (0..<c.predictorLayers).map { _ in ring() }
        lags = .allocate(capacity: c.history)
        lags.initialize(repeating: 0, count: c.history)
    }

    deinit {
        for p in encK + encV + crossK + crossV { p.deallocate() }
        lags.deallocate()
    }

    var framesInWindow: Int { window.count }

    func reset() { window.clear() }

    func warm(_ frames: ArraySlice<FrameView>, timings: inout StageTimings) throws(InputError) {
        let H = model.config.history
        for frame in frames { try model.tokenizers.validate(frame) }     // all checked before any is added
        var rest = frames
        while !rest.isEmpty {
            // A batch must fit beside the frames already cached: nothing may be evicted while the
            // batch's earlier frames still attend to it.
            let room = H - window.count
            guard room > 1 else {
                _ = try step(rest[rest.startIndex], coarse: nil, predict: false, timings: &timings)
                rest = rest.dropFirst()
                continue
            }
            let n = min(room, rest.count)
            encodeBatch(rest.prefix(n), timings: &timings)
            rest = rest.dropFirst(n)
        }
    }

    /// Tokenizes and encodes `frames` (which fit in the window without evicting) as one batch: their
    /// tokenizers spread over the team, each layer's products over all their tokens at once, each
    /// frame's queries attending to the cached frames and the batch's frames up to itself (the same
    /// block-causal rule as one at a time), and their keys/values written into the rings.
    /// The frames are validated by the caller.
    private func encodeBatch(_ frames: ArraySlice<FrameView>, timings: inout StageTimings) {
        let m = model, c = m.config, d = c.dModel, T = c.tokensPerFrame, H = c.history, heads = c.heads
        let n = frames.count, rows = n * T, keys = H * T
        let batch = Array(frames)
        let t0 = DispatchTime.now().uptimeNanoseconds

        // Tokenize: every frame's three CNN tokenizers as team tasks (cameras first: the largest).
        let tokens = scratch.buffer(Slot.features, rows * d)
        team.forEach(3 * n) { task, member in
            let f = task % n
            m.tokenizers.tokenizeMap(task / n, of: batch[f], scratch: arenas[member], into: tokens + f * T * d)
        }
        for f in 0..<n { m.tokenizers.tokenizeStates(batch[f], into: tokens + f * T * d) }
        let t1 = DispatchTime.now().uptimeNanoseconds

        // Slots, and per frame the lag of every slot and which slots it may attend to.
        let stepNs = Int64(c.stepMs) * 1_000_000
        let before = window.count
        var slots: [Int] = []
        for frame in batch { slots.append(window.append(stamp: frame.stamp, gnss: frame.gnssMetres, powerDbm: frame.beamPowerDBm)) }
        // No frame is evicted, so the window occupies slots 0..<count (see `step`): frame f attends to
        // the first (before + f + 1)·T cached keys.
        var lagOf = [Int](repeating: 0, count: n * H)
        for f in 0..<n {
            for s in 0...(before + f) { lagOf[f * H + s] = window.lag(slot: s, to: batch[f].stamp, stepNs: stepNs, maxLag: H - 1) }
        }

        let x = scratch.buffer(Slot.x, rows * d)
        m.embed(tokens, frames: n, into: x)
        let normed = scratch.buffer(Slot.normed, rows * d)
        let qkv = scratch.buffer(Slot.qkv, rows * 3 * d)
        let headsOut = scratch.buffer(Slot.heads, rows * d)
        let delta = scratch.buffer(Slot.delta, rows * d)
        let hidden = scratch.buffer(Slot.mlpHidden, rows * c.mlpRatio * d)
        for (l, layer) in m.encoder.enumerated() {
            layer.norm1(x, rows: rows, into: normed)
            layer.qkv(normed, rows: rows, into: qkv, team: team)
            cache(qkv + d, qkv + 2 * d, rowStride: 3 * d, slots: slots, keys: encK[l], values: encV[l])
            layer.lagBias.withUnsafeBufferPointer { table in
                // Latest frames first: they attend to the most keys.
                team.forEach(n * heads) { task, member in
                    let f = n - 1 - task / heads, h = task % heads
                    let filled = before + f + 1, live = filled * T
                    let arena = arenas[member]
                    let bias = arena.buffer(Slot.bias, heads * keys)
                    for s in 0..<filled { (bias + h * live + s * T).update(repeating: table[h * H + lagOf[f * H + s]], count: T) }
                    Ops.attendHead(h, q: qkv + f * T * 3 * d, ldq: 3 * d, rows: T, k: encK[l], v: encV[l], ldkv: d,
                                   keys: live, dim: d, heads: heads, bias: bias, keyValid: nil,
                                   scores: arena.buffer(Slot.scores, T * keys), into: headsOut + f * T * d, ldo: d)
                }
            }
            encoderTail(layer, rows: rows, x: x, attended: headsOut, normed: normed, hidden: hidden, delta: delta)
        }
        m.encoderNorm(x, rows: rows, into: x)
        cacheCrossKeys(x, slots: slots)
        timings = StageTimings(tokenize: t1 - t0, encode: DispatchTime.now().uptimeNanoseconds - t1, predict: 0)
    }

    /// The rest of an encoder layer after attention: output projection and residual, then
    /// `x += MLP(norm2(x))`, over `rows` tokens.
    private func encoderTail(_ layer: EncoderBlock, rows: Int, x: UnsafeMutablePointer<Float>, attended: UnsafePointer<Float>,
                             normed: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>, delta: UnsafeMutablePointer<Float>) {
        let d = model.config.dModel
        layer.out(attended, rows: rows, into: delta, team: team)
        Ops.add(delta, into: x, count: rows * d)
        layer.norm2(x, rows: rows, into: normed)
        layer.mlp(normed, rows: rows, hidden: hidden, into: delta, team: team)
        Ops.add(delta, into: x, count: rows * d)
    }

    /// Projects the final encoder outputs `x` of `slots.count` frames (`[slots.count·T, d]`) to every
    /// predictor layer's cross keys/values and writes them into the frames' ring slots.
    private func cacheCrossKeys(_ x: UnsafePointer<Float>, slots: [Int]) {
        let c = model.config, d = c.dModel, T = c.tokensPerFrame, rows = slots.count * T
        let kv = scratch.buffer(Slot.crossKV, rows * 2 * d)
        for (l, layer) in model.predictor.enumerated() {
            layer.crossKV(x, rows: rows, into: kv, team: team)
            cache(kv, kv + d, rowStride: 2 * d, slots: slots, keys: crossK[l], values: crossV[l])
        }
    }

    /// Writes the keys and values of `slots.count` frames (frame f's T token rows start at row f·T of
    /// `k` and `v`, `rowStride` floats apart) into ring slot `slots[f]` of `keys` and `values`.
    private func cache(_ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>, rowStride: Int, slots: [Int],
                       keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>) {
        let d = model.config.dModel, T = model.config.tokensPerFrame
        for (f, slot) in slots.enumerated() {
            for t in 0..<T {
                let row = (f * T + t) * rowStride
                (keys + (slot * T + t) * d).update(from: k + row, count: d)
                (values + (slot * T + t) * d).update(from: v + row, count: d)
            }
        }
    }

    /// Multi-head attention of `rows` queries over `keys` keys/values (row stride `ldkv`, default d),
    /// one head per team task, each member with its own score buffer.
    private func attend(q: UnsafePointer<Float>, ldq: Int, rows n: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                        ldkv: Int? = nil, keys m: Int, bias: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>) {
        let c = model.config, d = c.dModel
        team.forEach(c.heads) { h, member in
            Ops.attendHead(h, q: q, ldq: ldq, rows: n, k: k, v: v, ldkv: ldkv ?? d, keys: m, dim: d, heads: c.heads,
                           bias: bias, keyValid: nil, scores: arenas[member].buffer(Slot.scores, n * m),
                           into: out, ldo: d)
        }
    }

    func step(_ frame: FrameView, coarse: CoarseEstimates?, predict: Bool, timings: inout StageTimings) throws(InputError) -> ModelOutputs {
        let m = model, c = m.config, d = c.dModel, T = c.tokensPerFrame, H = c.history, heads = c.heads
        let F = c.future, Q = c.queriesPerStep, nq = F * Q, keys = H * T
        try m.tokenizers.validate(frame)
        if m.heads.classical, let e = coarse { try m.heads.validate(e) }
        let t0 = DispatchTime.now().uptimeNanoseconds

        // Tokenize the new frame.
        let tokens = scratch.buffer(Slot.features, T * d)
        m.tokenizers.tokenize(frame, team: team, arenas: arenas, into: tokens)
        let t1 = DispatchTime.now().uptimeNanoseconds

        // Slide the window: the new frame takes the oldest slot; the lag of every slot. The ring
        // fills from slot 0 and only wraps once full, so the window's frames always occupy slots
        // 0..<count: attention runs over the first count·T cached keys, no mask needed.
        let slot = window.append(stamp: frame.stamp, gnss: frame.gnssMetres, powerDbm: frame.beamPowerDBm)
        let stepNs = Int64(c.stepMs) * 1_000_000
        let filled = window.count, live = filled * T
        for s in 0..<filled { lags[s] = window.lag(slot: s, to: frame.stamp, stepNs: stepNs, maxLag: H - 1) }
        let bias = scratch.buffer(Slot.bias, heads * keys)
        func fillBias(_ table: [Float]) {
            for h in 0..<heads {
                for s in 0..<filled {
                    (bias + h * live + s * T).update(repeating: table[h * H + lags[s]], count: T)
                }
            }
        }

        // Encoder: the new frame's T tokens against the cached keys/values of the window.
        let x = scratch.buffer(Slot.x, T * d)
        m.embed(tokens, frames: 1, into: x)
        let normed = scratch.buffer(Slot.normed, max(T, nq) * d)
        let qkv = scratch.buffer(Slot.qkv, max(T, nq) * 3 * d)
        let headsOut = scratch.buffer(Slot.heads, max(T, nq) * d)
        let delta = scratch.buffer(Slot.delta, max(T, nq) * d)
        let hidden = scratch.buffer(Slot.mlpHidden, max(T, nq) * c.mlpRatio * d)
        for (l, layer) in m.encoder.enumerated() {
            layer.norm1(x, rows: T, into: normed)
            layer.qkv(normed, rows: T, into: qkv, team: team)
            cache(qkv + d, qkv + 2 * d, rowStride: 3 * d, slots: [slot], keys: encK[l], values: encV[l])
            fillBias(layer.lagBias)
            attend(q: qkv, ldq: 3 * d, rows: T, k: encK[l], v: encV[l], keys: live, bias: bias, into: headsOut)
            encoderTail(layer, rows: T, x: x, attended: headsOut, normed: normed, hidden: hidden, delta: delta)
        }
        m.encoderNorm(x, rows: T, into: x)
        let t2 = DispatchTime.now().uptimeNanoseconds

        // Predictor: cache the new frame's cross keys/values, then the F·Q queries.
        cacheCrossKeys(x, slots: [slot])
        guard predict else {
            timings = StageTimings(tokenize: t1 - t0, encode: DispatchTime.now().uptimeNanoseconds - t1, predict: 0)
            return .cachedOnly
        }
        let xq = scratch.buffer(Slot.queries, nq * d)
        let q = scratch.buffer(Slot.crossQ, nq * d)
        m.queries.withUnsafeBufferPointer { xq.update(from: $0.baseAddress!, count: nq * d) }
        for (l, layer) in m.predictor.enumerated() {
            layer.norm1(xq, rows: nq, into: normed)
            layer.selfQKV(normed, rows: nq, into: qkv, team: team)
            attend(q: qkv, ldq: 3 * d, rows: nq, k: qkv + d, v: qkv + 2 * d, ldkv: 3 * d, keys: nq, bias: nil, into: headsOut)
            layer.selfOut(headsOut, rows: nq, into: delta, team: team)
            Ops.add(delta, into: xq, count: nq * d)
            layer.norm2(xq, rows: nq, into: normed)
            layer.crossQ(normed, rows: nq, into: q, team: team)
            fillBias(layer.lagBias)
            attend(q: q, ldq: d, rows: nq, k: crossK[l], v: crossV[l], keys: live, bias: bias, into: headsOut)
            layer.crossOut(headsOut, rows: nq, into: delta, team: team)
            Ops.add(delta, into: xq, count: nq * d)
            layer.norm3(xq, rows: nq, into: normed)
            layer.mlp(normed, rows: nq, hidden: hidden, into: delta, team: team)
            Ops.add(delta, into: xq, count: nq * d)
        }
        m.predictorNorm(xq, rows: nq, into: xq)
        var latents = [Float](repeating: 0, count: F * d)
        let inv = 1 / Float(Q)
        for k in 0..<F {
            for i in 0..<Q { for j in 0..<d { latents[k * d + j] += xq[(k * Q + i) * d + j] } }
            for j in 0..<d { latents[k * d + j] *= inv }
        }

        var out = ModelOutputs(
            tokens: Array(UnsafeBufferPointer(start: tokens, count: T * d)),
            context: Array(UnsafeBufferPointer(start: x, count: T * d)),
            latents: latents, coarsePositions: [], coarsePower: [], positions: [], beamLogits: [], beamPower: [], blockageLogits: [])
        fillCoarse(&out, window: window, future: F, beams: c.numBeams, stepNs: stepNs, fallback: c.powerDefaultDbm)
        m.heads(&out, future: F, estimates: coarse, scratch: scratch)
        let t3 = DispatchTime.now().uptimeNanoseconds
        timings = StageTimings(tokenize: t1 - t0, encode: t2 - t1, predict: t3 - t2)
        return out
    }
}

/// Fills the coarse position and power estimates of `out` from the window history.
func fillCoarse(_ out: inout ModelOutputs, window: WindowHistory, future F: Int, beams: Int, stepNs: Int64, fallback: Float) {
    var coarse = [Float](repeating: 0, count: 2 * F)
    coarse.withUnsafeMutableBufferPointer { window.coarsePositions(future: F, stepNs: stepNs, into: $0.baseAddress!) }
    var power = [Float](repeating: 0, count: F * beams)
    power.withUnsafeMutableBufferPointer { window.coarsePower(future: F, fallback: fallback, into: $0.baseAddress!) }
    out.coarsePositions = coarse
    out.coarsePower = power
    let fix = window.newestFix()
    let held = fix ?? .zero
    out.heldPosition = [held.x, held.y]
    out.hasFix = fix != nil
}
