import ForesightCore
import Foundation

/// Hands out named weight tensors while checking their shapes, and remembers what was used,
/// so a model can be built straight from the config and any leftover tensor reported.
struct WeightReader {
    private var tensors: [String: Tensor]
    private(set) var used: Set<String> = []
    private var generator: SplitMix64?

    init(_ tensors: [String: Tensor]) { self.tensors = tensors }

    /// A reader that invents every tensor it is asked for (PyTorch-like initialisation), for
    /// benchmarks and tests; the invented tensors are available from ``generated``.
    init(randomSeed: UInt64) {
        tensors = [:]
        generator = SplitMix64(seed: randomSeed)
    }

    /// Tensors handed out so far.
    var generated: [String: Tensor] { tensors }

    mutating func take(_ name: String, _ shape: [Int]) throws(ModelError) -> [Float] {
        if generator != nil, tensors[name] == nil { tensors[name] = invent(name, shape) }
        guard let t = tensors[name] else { throw .missingTensor(name: name, expectedShape: shape) }
        guard t.shape == shape else { throw .shapeMismatch(name: name, expected: shape, found: t.shape) }
        used.insert(name)
        return t.storage
    }

    private mutating func invent(_ name: String, _ shape: [Int]) -> Tensor {
        let count = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        let fanIn = max(1, shape.dropFirst().reduce(1, *))
        let bound = 1 / Float(fanIn).squareRoot()
        let isEmbedding = name.hasPrefix("embed.") || name == "missing" || name == "step" || name.hasSuffix("lag_bias")
            || name.hasPrefix("predictor.mask_token") || name.hasPrefix("predictor.step") || name.hasPrefix("predictor.query")
        if name.hasSuffix("running_var") || (shape.count == 1 && name.hasSuffix(".weight")) {
            values = [Float](repeating: 1, count: count)
        } else if name.hasSuffix("running_mean") {
            // zeros
        } else {
            let scale: Float = isEmbedding ? 0.02 : bound
            for i in 0..<count { values[i] = (generator?.nextUnit() ?? 0) * 2 * scale - scale }
        }
        return Tensor(shape: shape, values: values) ?? Tensor(zeros: shape)
    }

    /// Number of floats handed out so far (the model's parameter count once built).
    var takenCount: Int { used.reduce(0) { $0 + (tensors[$1]?.count ?? 0) } }

    /// Names present in the file but never taken, sorted.
    var unused: [String] { tensors.keys.filter { !used.contains($0) }.sorted() }
}

/// A reusable scratch arena: grows to the largest request and is then reused without allocating.
final class Scratch {
    private var buffers: [UnsafeMutablePointer<Float>] = []
    private var capacities: [Int] = []

    init() {}

    /// Buffer `slot` with at least `count` floats (contents undefined).
    func buffer(_ slot: Int, _ count: Int) -> UnsafeMutablePointer<Float> {
        while buffers.count <= slot {
            buffers.append(.allocate(capacity: 1)); capacities.append(1)
        }
        if capacities[slot] < count {
            buffers[slot].deallocate()
            buffers[slot] = .allocate(capacity: count)
            capacities[slot] = count
        }
        return buffers[slot]
    }

    deinit {
        for b in buffers { b.deallocate() }
    }
}

/// Fully connected layer, weight `[out, in]`, bias `[out]`.
struct LinearLayer: Sendable {
    let inFeatures: Int
    let outFeatures: Int
    let weight: [Float]
    let bias: [Float]

    init(_ r: inout WeightReader, _ prefix: String, in i: Int, out o: Int) throws(ModelError) {
        inFeatures = i; outFeatures = o
        weight = try r.take("\(prefix).weight", [o, i])
        bias = try r.take("\(prefix).bias", [o])
    }

    /// `y[n, out] = x[n, in] · Wᵀ + b`.
    func callAsFunction(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                Ops.linear(x, rows: n, inFeatures: inFeatures, weight: w.baseAddress!, bias: b.baseAddress,
                           outFeatures: outFeatures, into: y)
            }
        }
    }

    /// `y[n, out] = x[n, in] · Wᵀ + b`, the output columns split across `team` when the product is
    /// large enough to pay for the hand-off; `activation` (GELU) is applied to each block as it is done.
    func callAsFunction(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>,
                        team: WorkTeam, gelu: Bool = false) {
        let parts = team.size > 1 && n * inFeatures * outFeatures >= Self.splitMultiplyAdds ? team.size : 1
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                team.forEachChunk(outFeatures, parts: parts, granule: 16) { cols, _ in
                    Ops.linear(x, rows: n, inFeatures: inFeatures, weight: w.baseAddress! + cols.lowerBound * inFeatures,
                               bias: b.baseAddress! + cols.lowerBound, outFeatures: cols.count,
                               into: y + cols.lowerBound, ldy: outFeatures)
                    if gelu {
                        for r in 0..<n { Ops.gelu(y + r * outFeatures + cols.lowerBound, count: cols.count) }
                    }
                }
            }
        }
    }

    /// Products smaller than this (multiply-adds) run on one thread.
    static let splitMultiplyAdds = 200_000

    var parameterCount: Int { weight.count + bias.count }
}

/// Layer normalisation over the last dimension.
struct LayerNormLayer: Sendable {
    let dim: Int
    let gamma: [Float]
    let beta: [Float]
    let eps: Float

    init(_ r: inout WeightReader, _ prefix: String, dim d: Int, eps: Float) throws(ModelError) {
        dim = d; self.eps = eps
        gamma = try r.take("\(prefix).weight", [d])
        beta = try r.take("\(prefix).bias", [d])
    }

    func callAsFunction(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>) {
        gamma.withUnsafeBufferPointer { g in
            beta.withUnsafeBufferPointer { b in
                Ops.layerNorm(x, rows: n, dim: dim, gamma: g.baseAddress!, beta: b.baseAddress!, eps: eps, into: y)
            }
        }
    }

    var parameterCount: Int { 2 * dim }
}

/// Two-layer perceptron `fc2(GELU(fc1(x)))`.
struct MLPLayer: Sendable {
    let fc1: LinearLayer
    let fc2: LinearLayer

    init(_ r: inout WeightReader, _ prefix: String, in i: Int, hidden h: Int, out o: Int) throws(ModelError) {
        fc1 = try LinearLayer(&r, "\(prefix).fc1", in: i, out: h)
        fc2 = try LinearLayer(&r, "\(prefix).fc2", in: h, out: o)
    }

    /// `hidden` must hold `n · fc1.outFeatures` floats.
    func callAsFunction(_ x: UnsafePointer<Float>, rows n: Int, hidden: UnsafeMutablePointer<Float>,
                        into y: UnsafeMutablePointer<Float>) {
        fc1(x, rows: n, into: hidden)
        Ops.gelu(hidden, count: n * fc1.outFeatures)
        fc2(hidden, rows: n, into: y)
    }

    /// The same, with both products split across `team` (GELU fused into the first product's blocks).
    func callAsFunction(_ x: UnsafePointer<Float>, rows n: Int, hidden: UnsafeMutablePointer<Float>,
                        into y: UnsafeMutablePointer<Float>, team: WorkTeam) {
        fc1(x, rows: n, into: hidden, team: team, gelu: true)
        fc2(hidden, rows: n, into: y, team: team)
    }

    var parameterCount: Int { fc1.parameterCount + fc2.parameterCount }
    func flops(rows n: Int) -> Int { 2 * n * (fc1.inFeatures * fc1.outFeatures + fc2.inFeatures * fc2.outFeatures) }
}

/// Convolution with its batch norm folded in at load, followed by GELU.
struct ConvBlockLayer: Sendable {
    let spec: ConvSpec
    let inChannels: Int
    let weight: [Float]
    let bias: [Float]

    init(_ r: inout WeightReader, _ prefix: String, inChannels cin: Int, spec: ConvSpec, eps: Float) throws(ModelError) {
        self.spec = spec; inChannels = cin
        let o = spec.outChannels
        var w = try r.take("\(prefix).conv.weight", [o, cin, spec.kernel, spec.kernel])
        let gamma = try r.take("\(prefix).bn.weight", [o])
        let beta = try r.take("\(prefix).bn.bias", [o])
        let mean = try r.take("\(prefix).bn.running_mean", [o])
        let variance = try r.take("\(prefix).bn.running_var", [o])
        bias = Ops.foldBatchNorm(weight: &w, outChannels: o, gamma: gamma, beta: beta, mean: mean,
                                 variance: variance, eps: eps)
        weight = w
    }

    var parameterCount: Int { weight.count + 4 * spec.outChannels }
}

/// CNN tokenizer: conv blocks → average pool → tokens `[cells, C]` → linear to `[cells, d]`.
struct CNNTokenizerLayer: Sendable {
    let config: CNNConfig
    let blocks: [ConvBlockLayer]
    let proj: LinearLayer
    let sizes: [(Int, Int)]

    init(_ r: inout WeightReader, _ prefix: String, config: CNNConfig, d: Int, eps: Float) throws(ModelError) {
        self.config = config
        guard let sizes = config.spatialSizes() else { throw .badConfig("\(prefix): inconsistent CNN sizes") }
        self.sizes = sizes
        var blocks: [ConvBlockLayer] = []
        var cin = config.inChannels
        for (i, spec) in config.convs.enumerated() {
            blocks.append(try ConvBlockLayer(&r, "\(prefix).convs.\(i)", inChannels: cin, spec: spec, eps: eps))
            cin = spec.outChannels
        }
        self.blocks = blocks
        proj = try LinearLayer(&r, "\(prefix).proj", in: cin, out: d)
    }

    var tokens: Int { config.tokens }

    /// Tokenizes one `[C, H, W]` input into `[tokens, d]`.
    func callAsFunction(_ input: UnsafePointer<Float>, scratch: Scratch, into out: UnsafeMutablePointer<Float>) {
        var h = config.height, w = config.width, c = config.inChannels
        var x = input
        var ping = 0
        for (i, block) in blocks.enumerated() {
            let (ho, wo) = sizes[i]
            let s = block.spec
            let col = scratch.buffer(Slot.convColumns, c * s.kernel * s.kernel * ho * wo)
            let y = scratch.buffer(Slot.convPing + ping, s.outChannels * ho * wo)
            block.weight.withUnsafeBufferPointer { wt in
                block.bias.withUnsafeBufferPointer { b in
                    Ops.conv2d(x, channels: c, height: h, width: w, weight: wt.baseAddress!, bias: b.baseAddress!,
                               outChannels: s.outChannels, kernel: s.kernel, stride: s.stride, padding: s.padding,
                               col: col, into: y)
                }
            }
            Ops.gelu(y, count: s.outChannels * ho * wo)
            x = UnsafePointer(y); h = ho; w = wo; c = s.outChannels
            ping = 1 - ping
        }
        let (ph, pw) = sizes[sizes.count - 1]
        let pooled = scratch.buffer(Slot.pooled, c * ph * pw)
        Ops.avgPool2d(x, channels: c, height: h, width: w,
                      kernel: (config.pool.kernel[0], config.pool.kernel[1]),
                      stride: (config.pool.stride[0], config.pool.stride[1]), into: pooled)
        // [C, cells] → [cells, C]
        let cells = ph * pw
        let tokensIn = scratch.buffer(Slot.tokensIn, cells * c)
        for ch in 0..<c { for t in 0..<cells { tokensIn[t * c + ch] = pooled[ch * cells + t] } }
        proj(tokensIn, rows: cells, into: out)
    }

    var parameterCount: Int { blocks.reduce(0) { $0 + $1.parameterCount } + proj.parameterCount }

    var flops: Int {
        var total = 0, cin = config.inChannels
        for (i, b) in blocks.enumerated() {
            let (ho, wo) = sizes[i]
            total += 2 * b.spec.outChannels * cin * b.spec.kernel * b.spec.kernel * ho * wo
            cin = b.spec.outChannels
        }
        return total + 2 * tokens * proj.inFeatures * proj.outFeatures
    }
}

/// State tokenizer: linear → layer norm → one token.
struct StateTokenizerLayer: Sendable {
    let proj: LinearLayer
    let norm: LayerNormLayer

    init(_ r: inout WeightReader, _ prefix: String, in n: Int, d: Int, eps: Float) throws(ModelError) {
        proj = try LinearLayer(&r, "\(prefix).proj", in: n, out: d)
        norm = try LayerNormLayer(&r, "\(prefix).norm", dim: d, eps: eps)
    }

    func callAsFunction(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        proj(x, rows: 1, into: out)
        norm(out, rows: 1, into: out)
    }

    var parameterCount: Int { proj.parameterCount + norm.parameterCount }
}

/// Single-layer GRU cell with PyTorch's parameter layout.
struct GRUCellLayer: Sendable {
    let inputSize: Int
    let hidden: Int
    let weightIH: [Float]
    let weightHH: [Float]
    let biasIH: [Float]
    let biasHH: [Float]

    init(_ r: inout WeightReader, _ prefix: String, input i: Int, hidden h: Int) throws(ModelError) {
        inputSize = i; hidden = h
        weightIH = try r.take("\(prefix).weight_ih", [3 * h, i])
        weightHH = try r.take("\(prefix).weight_hh", [3 * h, h])
        biasIH = try r.take("\(prefix).bias_ih", [3 * h])
        biasHH = try r.take("\(prefix).bias_hh", [3 * h])
    }

    /// One step: updates `h` in place from input `x`.
    func step(_ x: UnsafePointer<Float>, h: UnsafeMutablePointer<Float>, scratch: Scratch) {
        let gx = scratch.buffer(Slot.gruGX, 3 * hidden)
        let gh = scratch.buffer(Slot.gruGH, 3 * hidden)
        weightIH.withUnsafeBufferPointer { wi in
            weightHH.withUnsafeBufferPointer { wh in
                biasIH.withUnsafeBufferPointer { bi in
                    biasHH.withUnsafeBufferPointer { bh in
                        Ops.gruCell(x: x, inputSize: inputSize, h: h, hidden: hidden,
                                    weightIH: wi.baseAddress!, weightHH: wh.baseAddress!,
                                    biasIH: bi.baseAddress!, biasHH: bh.baseAddress!, gx: gx, gh: gh)
                    }
                }
            }
        }
    }

    var parameterCount: Int { weightIH.count + weightHH.count + biasIH.count + biasHH.count }
}

/// A small deterministic generator (SplitMix64) for invented weights.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func nextUnit() -> Float { Float(next() >> 40) / Float(1 << 24) }
}

/// The five per-frame tokenizers plus the learned missing-modality tokens (`tok.*`, `missing`).
struct TokenizerSet: Sendable {
    let vision: CNNTokenizerLayer
    let radar: CNNTokenizerLayer
    let lidar: CNNTokenizerLayer
    let gnss: StateTokenizerLayer
    let power: StateTokenizerLayer
    /// Missing-modality tokens `[5, d]`.
    let missing: [Float]
    let d: Int
    let numBeams: Int
    /// Tokens per modality and their offsets inside a frame.
    let counts: [Int]
    let offsets: [Int]

    init(_ r: inout WeightReader, config c: some StreamingModelConfig, d: Int, layerNormEps: Float, batchNormEps: Float) throws(ModelError) {
        self.d = d
        numBeams = c.numBeams
        vision = try CNNTokenizerLayer(&r, "tok.vision", config: c.vision, d: d, eps: batchNormEps)
        radar = try CNNTokenizerLayer(&r, "tok.radar", config: c.radar, d: d, eps: batchNormEps)
        lidar = try CNNTokenizerLayer(&r, "tok.lidar", config: c.lidar, d: d, eps: batchNormEps)
        gnss = try StateTokenizerLayer(&r, "tok.gnss", in: 2, d: d, eps: layerNormEps)
        power = try StateTokenizerLayer(&r, "tok.power", in: c.numBeams, d: d, eps: layerNormEps)
        missing = try r.take("missing", [Modality.allCases.count, d])
        counts = [vision.tokens, radar.tokens, lidar.tokens, 1, 1]
        var offsets: [Int] = [], sum = 0
        for n in counts { offsets.append(sum); sum += n }
        self.offsets = offsets
    }

    /// Tokens per frame.
    var tokensPerFrame: Int { counts.reduce(0, +) }

    /// Checks a frame's sizes and values (before any state changes).
    func validate(_ frame: FrameView) throws(InputError) {
        if let (_, first) = InputError.problems(in: frame, camera: vision.config.inputCount, radar: radar.config.inputCount,
                                                 lidar: lidar.config.inputCount, beams: numBeams).first {
            throw first
        }
    }

    /// Tokenizes map modality `map` (0 camera, 1 radar, 2 LiDAR) of a validated frame into its rows of
    /// the frame's tokens `out [T, d]` (missing → the learned token).
    func tokenizeMap(_ map: Int, of frame: FrameView, scratch: Scratch, into out: UnsafeMutablePointer<Float>) {
        let (m, layer, input): (Modality, CNNTokenizerLayer, [Float]?) = switch map {
        case 0: (.camera, vision, frame.camera)
        case 1: (.radar, radar, frame.radarMap)
        default: (.lidar, lidar, frame.lidarDepth)
        }
        if let input {
            input.withUnsafeBufferPointer { x in layer(x.baseAddress!, scratch: scratch, into: out + offsets[m.index] * d) }
        } else {
            fillMissing(m, into: out)
        }
    }

    /// Tokenizes a validated frame into `out [T, d]` (missing modalities → their learned token), the
    /// three CNN tokenizers spread over `team` (the camera first: it is the largest; a team of one runs
    /// them in turn), each member in its own scratch arena.
    func tokenize(_ frame: FrameView, team: WorkTeam, arenas: [Scratch], into out: UnsafeMutablePointer<Float>) {
        team.forEach(3) { map, member in tokenizeMap(map, of: frame, scratch: arenas[member], into: out) }
        tokenizeStates(frame, into: out)
    }

    private func fillMissing(_ m: Modality, into out: UnsafeMutablePointer<Float>) {
        missing.withUnsafeBufferPointer { miss in
            for i in 0..<counts[m.index] {
                (out + (offsets[m.index] + i) * d).update(from: miss.baseAddress! + m.index * d, count: d)
            }
        }
    }

    /// The GNSS and beam-power tokens (or their missing tokens).
    func tokenizeStates(_ frame: FrameView, into out: UnsafeMutablePointer<Float>) {
        if let g = frame.gnssMetres {
            let xy = [g.x, g.y]
            xy.withUnsafeBufferPointer { gnss($0.baseAddress!, into: out + offsets[Modality.gnss.index] * d) }
        } else {
            fillMissing(.gnss, into: out)
        }
        if let p = frame.beamPowerNormalized {
            p.withUnsafeBufferPointer { power($0.baseAddress!, into: out + offsets[Modality.beamPower.index] * d) }
        } else {
            fillMissing(.beamPower, into: out)
        }
    }

    var parameterCount: Int {
        vision.parameterCount + radar.parameterCount + lidar.parameterCount + gnss.parameterCount + power.parameterCount + missing.count
    }

    var flops: Int { vision.flops + radar.flops + lidar.flops + 2 * d * (2 + numBeams) }
}

/// What the heads need from the window besides the latents: the last frames' stamps, fixes and powers.
struct WindowHistory {
    /// Capacity (history frames).
    let capacity: Int
    let beams: Int
    private(set) var stamps: [Int64]
    private(set) var gnss: [SIMD2<Float>?]
    private var power: [Float]
    private var hasPower: [Bool]
    /// Frames held, oldest first at index `start`.
    private(set) var count = 0
    private var start = 0

    init(capacity: Int, beams: Int) {
        self.capacity = capacity; self.beams = beams
        stamps = [Int64](repeating: 0, count: capacity)
        gnss = [SIMD2<Float>?](repeating: nil, count: capacity)
        power = [Float](repeating: 0, count: capacity * beams)
        hasPower = [Bool](repeating: false, count: capacity)
    }

    /// Ring slot of the i-th frame, oldest first.
    func slot(_ i: Int) -> Int { (start + i) % capacity }

    /// Appends a frame (dropping the oldest when full); returns the ring slot it occupies.
    @discardableResult
    mutating func append(stamp: Int64, gnss fix: SIMD2<Float>?, powerDbm: [Float]?) -> Int {
        let s: Int
        if count < capacity { s = slot(count); count += 1 } else { s = start; start = (start + 1) % capacity }
        stamps[s] = stamp
        gnss[s] = fix
        hasPower[s] = powerDbm != nil
        if let powerDbm { power.withUnsafeMutableBufferPointer { dst in powerDbm.withUnsafeBufferPointer { (dst.baseAddress! + s * beams).update(from: $0.baseAddress!, count: beams) } } }
        return s
    }

    mutating func clear() { count = 0; start = 0 }

    /// `lag = clamp(floor((stamp − stamps[slot] + step/2) / step), 0, maxLag)` in integer arithmetic.
    func lag(slot s: Int, to stamp: Int64, stepNs: Int64, maxLag: Int) -> Int {
        let diff = stamp &- stamps[s] &+ stepNs / 2
        guard diff > 0 else { return 0 }
        return Int(min(Int64(maxLag), diff / stepNs))
    }

    /// Constant-velocity coarse positions `[F, 2]` after the newest frame: a least-squares line through
    /// every fix of the window (times from stamps), evaluated from its value at the newest fix; one fix is
    /// held, none gives zeros (model.py `coarse_estimates`).
    func coarsePositions(future: Int, stepNs: Int64, into out: UnsafeMutablePointer<Float>) {
        out.update(repeating: 0, count: 2 * future)
        guard count > 0 else { return }
        let anchor = stamps[slot(count - 1)]
        var newest: Int?
        for i in stride(from: count - 1, through: 0, by: -1) where gnss[slot(i)] != nil { newest = slot(i); break }
        guard let a = newest else { return }
        let tLast = stamps[a]
        var n = 0.0, sumTau = 0.0, sumX = 0.0, sumY = 0.0
        for i in 0..<count {
            guard let p = gnss[slot(i)] else { continue }
            n += 1
            sumTau += Double(stamps[slot(i)] &- tLast) / 1e9
            sumX += Double(p.x); sumY += Double(p.y)
        }
        let tauMean = sumTau / n, xMean = sumX / n, yMean = sumY / n
        var sxx = 0.0, sxy = 0.0, syy = 0.0
        for i in 0..<count {
            guard let p = gnss[slot(i)] else { continue }
            let dt = Double(stamps[slot(i)] &- tLast) / 1e9 - tauMean
            sxx += dt * dt
            sxy += dt * (Double(p.x) - xMean)
            syy += dt * (Double(p.y) - yMean)
        }
        let vx = sxx > 0 ? sxy / sxx : 0, vy = sxx > 0 ? syy / sxx : 0
        let baseX = xMean - vx * tauMean, baseY = yMean - vy * tauMean
        for k in 0..<future {
            let ahead = Double(anchor &+ Int64(k + 1) &* stepNs &- tLast) / 1e9
            out[2 * k] = Float(baseX + vx * ahead)
            out[2 * k + 1] = Float(baseY + vy * ahead)
        }
    }

    /// The newest GNSS fix of the window, or nil without one.
    func newestFix() -> SIMD2<Float>? {
        for i in stride(from: count - 1, through: 0, by: -1) { if let p = gnss[slot(i)] { return p } }
        return nil
    }

    /// The newest measured beam power (dBm) repeated for every step, or `fallback` without one.
    func coarsePower(future: Int, fallback: Float, into out: UnsafeMutablePointer<Float>) {
        var newest: Int?
        for i in stride(from: count - 1, through: 0, by: -1) where hasPower[slot(i)] { newest = slot(i); break }
        for k in 0..<future {
            if let s = newest {
                power.withUnsafeBufferPointer { (out + k * beams).update(from: $0.baseAddress! + s * beams, count: beams) }
            } else {
                (out + k * beams).update(repeating: fallback, count: beams)
            }
        }
    }
}

/// The task heads on per-step latents `z [F, zdim]` (`task_heads.*`), shared by both formats.
struct TaskHeadsLayer: Sendable {
    let zdim: Int
    let hidden: Int
    let beams: Int
    let future: Int
    let positionScale: Float
    let powerDefault: Float
    /// Whether the heads take the classical estimates (`coarse_inputs: classical`).
    let classical: Bool
    let locResidual: MLPLayer
    let beamProj: LinearLayer
    let beamGRU: GRUCellLayer
    let beamMLP: MLPLayer
    let powerResidual: MLPLayer
    let blockage: MLPLayer
    /// Taps of each beam filter (2J+1; `head_beam: filter`), 0 for the absolute beam head: the beam
    /// MLP then gives per step the taps for the classical logits, then those for the measured profile,
    /// then (`absoluteLogits`) a logit per beam added to the filtered ones.
    let filterTaps: Int
    /// Whether the beam MLP gives a logit per beam (always without filters).
    let absoluteLogits: Bool
    /// Classical mode: per-step gains of the classical beam logits, of the last measured power
    /// profile (both absolute beam head only) and of the classical blockage logit.
    let priorGain: [Float], powerGain: [Float], blockageGain: [Float]
    /// Classical mode: per-step shares of (constant-velocity − classical) and (newest fix − classical)
    /// added to the position.
    let cvGain: [Float], holdGain: [Float]

    /// Per-step inputs of the classical estimates beyond z and the position (model.py CLASSICAL_EXTRAS).
    static let classicalExtras = 3
    /// Classical mode with `head_power_profile`: the power and blockage heads also take the newest
    /// measured power profile relative to its peak (B values) and the peak level (1 value).
    let powerProfile: Bool

    init(_ r: inout WeightReader, zdim: Int, hidden hh: Int, beams: Int, future: Int, positionScale: Float,
         powerDefault: Float, classical: Bool, powerProfile: Bool = false,
         filterTaps: Int = 0, absoluteLogits: Bool = true) throws(ModelError) {
        self.zdim = zdim; hidden = hh; self.beams = beams; self.future = future; self.positionScale = positionScale
        self.filterTaps = classical ? filterTaps : 0
        self.absoluteLogits = absoluteLogits || self.filterTaps == 0
        self.powerDefault = powerDefault; self.classical = classical
        self.powerProfile = classical && powerProfile
        let extra = classical ? Self.classicalExtras : 0
        let profile = self.powerProfile ? beams + 1 : 0
        locResidual = try MLPLayer(&r, "task_heads.loc.residual", in: zdim + (classical ? 4 : 0), hidden: hh, out: 2)
        beamProj = try LinearLayer(&r, "task_heads.beam.proj", in: zdim + 2 + (classical ? 2 * beams + extra : 0), out: hh)
        beamGRU = try GRUCellLayer(&r, "task_heads.beam.gru", input: hh, hidden: hh)
        beamMLP = try MLPLayer(&r, "task_heads.beam.mlp", in: hh, hidden: hh, out: 2 * self.filterTaps + (self.absoluteLogits ? beams : 0))
        powerResidual = try MLPLayer(&r, "task_heads.power.residual", in: zdim + 2 + extra + profile, hidden: hh, out: beams)
        blockage = try MLPLayer(&r, "task_heads.blockage.mlp", in: zdim + 2 + extra + profile, hidden: hh, out: 1)
        if classical {
            cvGain = try r.take("task_heads.loc.cv_gain", [future])
            holdGain = try r.take("task_heads.loc.hold_gain", [future])
            if self.filterTaps > 0 {
                priorGain = []; powerGain = []
            } else {
                priorGain = try r.take("task_heads.beam.prior_gain", [future])
                powerGain = try r.take("task_heads.beam.power_gain", [future])
            }
            blockageGain = try r.take("task_heads.blockage.gain", [future])
        } else {
            priorGain = []; powerGain = []; blockageGain = []; cvGain = []; holdGain = []
        }
    }

    /// Neutral classical estimates (no position, flat logits, default power, blockage 0.5).
    func neutralEstimates() -> CoarseEstimates {
        CoarseEstimates(positions: [Float](repeating: 0, count: 2 * future), beamLogits: [Float](repeating: 0, count: future * beams),
                        powerDBm: [Float](repeating: powerDefault, count: future),
                        blockageProbability: [Float](repeating: 0.5, count: future), positionKnown: false)
    }

    /// Checks a frame's classical estimates against the heads' sizes.
    func validate(_ e: CoarseEstimates) throws(InputError) {
        let F = future
        guard e.positions.count == 2 * F, e.beamLogits.count == F * beams, e.powerDBm.count == F, e.blockageProbability.count == F else {
            throw .badCoarseEstimates("sizes \(e.positions.count)/\(e.beamLogits.count)/\(e.powerDBm.count)/\(e.blockageProbability.count), "
                                      + "expected \(2 * F)/\(F * beams)/\(F)/\(F)")
        }
        for (name, values) in [("positions", e.positions), ("beam logits", e.beamLogits), ("power", e.powerDBm),
                               ("blockage", e.blockageProbability)] {
            if let i = values.firstIndex(where: { !$0.isFinite }) { throw .badCoarseEstimates("\(name)[\(i)] is not finite") }
        }
    }

    /// Runs every head; `outputs` must already hold `latents`, `coarsePositions`, `coarsePower`.
    /// `estimates`: the frame's classical estimates (classical mode only; nil = neutral).
    func callAsFunction(_ o: inout ModelOutputs, future F: Int, estimates: CoarseEstimates?, scratch: Scratch) {
        let hh = hidden, B = beams
        let extra = classical ? Self.classicalExtras : 0
        let fusedWidth = zdim + 2 + extra
        let beamWidth = zdim + 2 + (classical ? 2 * B + extra : 0)
        let hiddenBuf = scratch.buffer(Slot.headHidden, F * max(hh, B))
        let fused = scratch.buffer(Slot.headFused, F * fusedWidth)
        let coarsePower = o.coarsePower, latents = o.latents
        let e = classical ? (estimates ?? neutralEstimates()) : nil
        // Position: the coarse estimate (the classical one when it knows the position) + residual;
        // classical mode adds cvGain·(constant velocity − classical), which the residual also sees (×0.1).
        let constantVelocity = o.coarsePositions
        var coarse = constantVelocity
        if let e, e.positionKnown { coarse = e.positions; o.coarsePositions = coarse }
        // Without any GNSS fix in the window (a classical position then comes from the LiDAR clouds
        // alone, if at all) both terms are zero.
        var diff = [Float](repeating: 0, count: 2 * F), hold = [Float](repeating: 0, count: 2 * F)
        if o.hasFix { for i in 0..<(2 * F) { diff[i] = constantVelocity[i] - coarse[i] } }
        if let e, e.positionKnown, o.hasFix {
            for k in 0..<F { hold[2 * k] = o.heldPosition[0] - coarse[2 * k]; hold[2 * k + 1] = o.heldPosition[1] - coarse[2 * k + 1] }
        }
        // Classical inputs per step: relative measured power profile (dB / 10, floored at −30 dB),
        // the blockage logit, and the extras [(power + 60) / 20, logit / 4, known].
        var rel = [Float](), peaks = [Float](), blockageLogit = [Float](), extras = [Float]()
        if let e {
            rel = [Float](repeating: 0, count: F * B)
            for k in 0..<F {
                var peak = -Float.infinity
                for b in 0..<B { peak = max(peak, coarsePower[k * B + b]) }
                peaks.append(peak)
                for b in 0..<B { rel[k * B + b] = max(coarsePower[k * B + b] - peak, -30) / 10 }
                let p = min(max(e.blockageProbability[k], 0.01), 0.99)
                let logit = logf(p / (1 - p))
                blockageLogit.append(logit)
                extras.append(contentsOf: [(e.powerDBm[k] + 60) / 20, logit / 4, e.positionKnown ? 1 : 0])
            }
        }
        var positions = [Float](repeating: 0, count: 2 * F)
        positions.withUnsafeMutableBufferPointer { pos in
            latents.withUnsafeBufferPointer { z in
                if classical {
                    let w = zdim + 4
                    let input = scratch.buffer(Slot.headLocInput, F * w)
                    for k in 0..<F {
                        (input + k * w).update(from: z.baseAddress! + k * zdim, count: zdim)
                        input[k * w + zdim] = diff[2 * k] * 0.1
                        input[k * w + zdim + 1] = diff[2 * k + 1] * 0.1
                        input[k * w + zdim + 2] = hold[2 * k] * 0.1
                        input[k * w + zdim + 3] = hold[2 * k + 1] * 0.1
                    }
                    locResidual(input, rows: F, hidden: hiddenBuf, into: pos.baseAddress!)
                    for k in 0..<F {
                        pos[2 * k] += cvGain[k] * diff[2 * k] + holdGain[k] * hold[2 * k]
                        pos[2 * k + 1] += cvGain[k] * diff[2 * k + 1] + holdGain[k] * hold[2 * k + 1]
                    }
                } else {
                    locResidual(z.baseAddress!, rows: F, hidden: hiddenBuf, into: pos.baseAddress!)
                }
                for k in 0..<F {
                    pos[2 * k] += coarse[2 * k]
                    pos[2 * k + 1] += coarse[2 * k + 1]
                    let row = fused + k * fusedWidth
                    row.update(from: z.baseAddress! + k * zdim, count: zdim)
                    row[zdim] = pos[2 * k] * positionScale
                    row[zdim + 1] = pos[2 * k + 1] * positionScale
                    for i in 0..<extra { row[zdim + 2 + i] = extras[k * extra + i] }
                }
            }
        }
        o.positions = positions
        // Beam: projection → GRU over the steps (h₀ = 0) → MLP (+ the classical terms).
        let beamInput: UnsafeMutablePointer<Float>
        if let e {
            beamInput = scratch.buffer(Slot.headBeamInput, F * beamWidth)
            for k in 0..<F {
                let row = beamInput + k * beamWidth
                let f = fused + k * fusedWidth
                row.update(from: f, count: zdim + 2)
                for b in 0..<B { row[zdim + 2 + b] = e.beamLogits[k * B + b] / 10 }
                for b in 0..<B { row[zdim + 2 + B + b] = rel[k * B + b] }
                for i in 0..<extra { row[zdim + 2 + 2 * B + i] = f[zdim + 2 + i] }
            }
        } else {
            beamInput = fused
        }
        let projected = scratch.buffer(Slot.headProjected, F * hh)
        let states = scratch.buffer(Slot.headStates, F * hh)
        beamProj(beamInput, rows: F, into: projected)
        let h = scratch.buffer(Slot.headState, hh)
        h.update(repeating: 0, count: hh)
        for k in 0..<F {
            beamGRU.step(projected + k * hh, h: h, scratch: scratch)
            (states + k * hh).update(from: h, count: hh)
        }
        var logits = [Float](repeating: 0, count: F * B)
        if let e, filterTaps > 0 {
            // The classical logits and the measured profile, each filtered along the beam axis with
            // this step's taps (edge beams repeated): model.py beam_filter.
            let T = filterTaps, J = (filterTaps - 1) / 2
            let width = 2 * T + (absoluteLogits ? B : 0)
            let taps = scratch.buffer(Slot.headBeamTaps, F * width)
            beamMLP(states, rows: F, hidden: hiddenBuf, into: taps)
            for k in 0..<F {
                let a = taps + k * width, c = a + T, absolute = a + 2 * T
                for b in 0..<B {
                    var sum: Float = absoluteLogits ? absolute[b] : 0
                    for j in 0..<T {
                        let i = min(max(b + j - J, 0), B - 1)
                        sum += a[j] * e.beamLogits[k * B + i] + c[j] * rel[k * B + i]
                    }
                    logits[k * B + b] = sum
                }
            }
        } else {
            logits.withUnsafeMutableBufferPointer { beamMLP(states, rows: F, hidden: hiddenBuf, into: $0.baseAddress!) }
            if let e {
                for k in 0..<F {
                    for b in 0..<B { logits[k * B + b] += priorGain[k] * e.beamLogits[k * B + b] + powerGain[k] * rel[k * B + b] }
                }
            }
        }
        // Power and blockage: the fused row, plus (head_power_profile) the relative measured power
        // profile and its peak level ((dBm + 60) / 20).
        var headInput = fused
        if powerProfile {
            let width = fusedWidth + B + 1
            headInput = scratch.buffer(Slot.headProfileInput, F * width)
            for k in 0..<F {
                let row = headInput + k * width
                row.update(from: fused + k * fusedWidth, count: fusedWidth)
                for b in 0..<B { row[fusedWidth + b] = rel[k * B + b] }
                row[fusedWidth + B] = (peaks[k] + 60) / 20
            }
        }
        var power = [Float](repeating: 0, count: F * B)
        power.withUnsafeMutableBufferPointer { p in
            powerResidual(headInput, rows: F, hidden: hiddenBuf, into: p.baseAddress!)
            for i in 0..<(F * B) { p[i] += coarsePower[i] }
        }
        var blockageLogits = [Float](repeating: 0, count: F)
        blockageLogits.withUnsafeMutableBufferPointer { blockage(headInput, rows: F, hidden: hiddenBuf, into: $0.baseAddress!) }
        if e != nil {
            for k in 0..<F { blockageLogits[k] += blockageGain[k] * blockageLogit[k] }
        }
        o.beamLogits = logits
        o.beamPower = power
        o.blockageLogits = blockageLogits
    }

    var parameterCount: Int {
        locResidual.parameterCount + beamProj.parameterCount + beamGRU.parameterCount + beamMLP.parameterCount
            + powerResidual.parameterCount + blockage.parameterCount + priorGain.count + powerGain.count + blockageGain.count + cvGain.count + holdGain.count
    }

    func flops(future F: Int) -> Int {
        locResidual.flops(rows: F) + blockage.flops(rows: F) + powerResidual.flops(rows: F) + beamMLP.flops(rows: F)
            + 2 * F * (beamProj.inFeatures * beamProj.outFeatures) + 2 * F * (6 * hidden * hidden)
            + 4 * F * beams * filterTaps
    }
}

/// Scratch-buffer slots (each names one reusable buffer; distinct uses never share a slot while live).
enum Slot {
    static let convColumns = 0, convPing = 1, convPong = 2, pooled = 3, tokensIn = 4
    static let gruGX = 20, gruGH = 21
    static let normed = 10, qkv = 11, scores = 12, heads = 13, delta = 14, mlpHidden = 15
    static let x = 30, context = 31, queries = 32, crossQ = 33, crossKV = 34, bias = 35, features = 36
    static let headHidden = 40, headFused = 41, headProjected = 42, headStates = 43, headState = 44, headBeamInput = 45, headLocInput = 46, headProfileInput = 47, headBeamTaps = 48
}
