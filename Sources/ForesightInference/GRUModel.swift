import ForesightCore
import Foundation

/// The GRU baseline (format `foresight-gru` v1, paper Table II): per frame, the five tokenizers' outputs
/// are pooled per modality, concatenated, projected (linear + GELU) and fed to an encoder GRU whose state
/// is carried frame to frame; a decoder GRU unrolled F steps from that state (input: a learned step
/// embedding) gives the per-step latents for the same heads as the multi-task model.
public final class GRUModel: Sendable {
    /// The configuration the weights were checked against.
    public let config: GRUConfig
    let tokenizers: TokenizerSet
    let feat: LinearLayer
    let encoder: GRUCellLayer
    let decoder: GRUCellLayer
    /// Decoder inputs `[F, hidden]`.
    let step: [Float]
    let heads: TaskHeadsLayer
    /// Number of learned parameters (batch-norm statistics included).
    public let parameterCount: Int

    /// Loads `config.json` and `model.safetensors` from a directory (errors name the folder and file).
    public convenience init(directory: URL) throws(ModelError) {
        let (config, tensors): (GRUConfig, [String: Tensor]) = try readModelFolder(directory, decode: GRUConfig.decode)
        do { try self.init(config: config, tensors: tensors) } catch { throw .inModel(path: directory.path, error) }
    }

    /// Builds the model from named tensors, checking every name and shape against `config`.
    public convenience init(config: GRUConfig, tensors: [String: Tensor]) throws(ModelError) {
        var reader = WeightReader(tensors)
        try self.init(config: config, reader: &reader)
    }

    /// Randomly initialised weights for `config` in the exported naming (benchmarks and tests).
    public static func randomWeights(config: GRUConfig, seed: UInt64 = 1) throws(ModelError) -> [String: Tensor] {
        var reader = WeightReader(randomSeed: seed)
        _ = try GRUModel(config: config, reader: &reader)
        return reader.generated
    }

    init(config c: GRUConfig, reader r: inout WeightReader) throws(ModelError) {
        try c.validate()
        config = c
        tokenizers = try TokenizerSet(&r, config: c, d: c.dModel, layerNormEps: c.layerNormEps, batchNormEps: c.batchNormEps)
        feat = try LinearLayer(&r, "feat", in: Modality.allCases.count * c.dModel, out: c.hidden)
        encoder = try GRUCellLayer(&r, "encoder", input: c.hidden, hidden: c.hidden)
        decoder = try GRUCellLayer(&r, "decoder", input: c.hidden, hidden: c.hidden)
        step = try r.take("step", [c.future, c.hidden])
        heads = try TaskHeadsLayer(&r, zdim: c.hidden, hidden: c.headHidden, beams: c.numBeams, future: c.future,
                                   positionScale: c.positionScale, powerDefault: c.powerDefaultDbm, classical: c.takesClassicalEstimates)
        let unused = r.unused
        guard unused.isEmpty else { throw .unexpectedTensors(unused) }
        parameterCount = r.takenCount
    }

    /// Operations per streamed frame (tokenizers + feature projection + encoder step + F decoder steps + heads).
    public var flopsPerFrame: Int {
        let h = config.hidden
        return tokenizers.flops + 2 * feat.inFeatures * h + (1 + config.future) * 2 * 6 * h * h + heads.flops(future: config.future)
    }
}

/// The per-stream state of the GRU baseline: the encoder state and the last H frames for the coarse estimates.
final class GRUState: StreamingEngine {
    let model: GRUModel
    /// The threads that share a frame's tokenizers; member 0's arena is the session's scratch.
    private let team: WorkTeam
    /// One scratch arena per team member (member 0's is the session's own).
    private let arenas: [Scratch]
    private var scratch: Scratch { arenas[0] }
    private var window: WindowHistory
    private var state: [Float]

    init(model: GRUModel, threads: Int = 1) {
        self.model = model
        team = WorkTeam(size: threads, name: "fs-inference-worker")
        arenas = (0..<team.size).map { _ in Scratch() }
        window = WindowHistory(capacity: model.config.history, beams: model.config.numBeams)
        state = [Float](repeating: 0, count: model.config.hidden)
    }

    var framesInWindow: Int { window.count }

    func reset() {
        window.clear()
        for i in state.indices { state[i] = 0 }
    }

    func warm(_ frames: ArraySlice<FrameView>, timings: inout StageTimings) throws(InputError) {
        for frame in frames { try model.tokenizers.validate(frame) }     // all checked before any is added
        for frame in frames { _ = try step(frame, coarse: nil, predict: false, timings: &timings) }
    }

    func step(_ frame: FrameView, coarse: CoarseEstimates?, predict: Bool, timings: inout StageTimings) throws(InputError) -> ModelOutputs {
        let m = model, c = m.config, d = c.dModel, hid = c.hidden, F = c.future
        try m.tokenizers.validate(frame)
        if m.heads.classical, let e = coarse { try m.heads.validate(e) }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let T = m.tokenizers.tokensPerFrame
        let tokens = scratch.buffer(Slot.x, T * d)
        m.tokenizers.tokenize(frame, team: team, arenas: arenas, into: tokens)
        let t1 = DispatchTime.now().uptimeNanoseconds

        // Mean of each modality's tokens, concatenated → linear → GELU → encoder GRU step.
        let pooled = scratch.buffer(Slot.features, Modality.allCases.count * d)
        for (mi, n) in m.tokenizers.counts.enumerated() {
            let dst = pooled + mi * d
            dst.update(repeating: 0, count: d)
            for t in 0..<n { Ops.add(tokens + (m.tokenizers.offsets[mi] + t) * d, into: dst, count: d) }
            FastMath.scale(dst, count: d, by: 1 / Float(n))
        }
        let input = scratch.buffer(Slot.normed, hid)
        m.feat(pooled, rows: 1, into: input)
        Ops.gelu(input, count: hid)
        state.withUnsafeMutableBufferPointer { m.encoder.step(input, h: $0.baseAddress!, scratch: scratch) }
        let t2 = DispatchTime.now().uptimeNanoseconds
        guard predict else {
            window.append(stamp: frame.stamp, gnss: frame.gnssMetres, powerDbm: frame.beamPowerDBm)
            timings = StageTimings(tokenize: t1 - t0, encode: t2 - t1, predict: 0)
            return .cachedOnly
        }

        // Decoder unrolled F steps from the encoder state.
        var latents = [Float](repeating: 0, count: F * hid)
        let h = scratch.buffer(Slot.delta, hid)
        state.withUnsafeBufferPointer { h.update(from: $0.baseAddress!, count: hid) }
        m.step.withUnsafeBufferPointer { steps in
            for k in 0..<F {
                m.decoder.step(steps.baseAddress! + k * hid, h: h, scratch: scratch)
                for j in 0..<hid { latents[k * hid + j] = h[j] }
            }
        }
        window.append(stamp: frame.stamp, gnss: frame.gnssMetres, powerDbm: frame.beamPowerDBm)
        var out = ModelOutputs(tokens: Array(UnsafeBufferPointer(start: tokens, count: T * d)), context: state,
                               latents: latents, coarsePositions: [], coarsePower: [], positions: [], beamLogits: [],
                               beamPower: [], blockageLogits: [])
        fillCoarse(&out, window: window, future: F, beams: c.numBeams, stepNs: Int64(c.stepMs) * 1_000_000,
                   fallback: c.powerDefaultDbm)
        m.heads(&out, future: F, estimates: coarse, scratch: scratch)
        let t3 = DispatchTime.now().uptimeNanoseconds
        timings = StageTimings(tokenize: t1 - t0, encode: t2 - t1, predict: t3 - t2)
        return out
    }
}
