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
        let isEmbedding = name.hasPrefix("pos.") || name == "missing" || name == "mask_token"
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

    /// Names present in the file but never taken, sorted.
    var unused: [String] { tensors.keys.filter { !used.contains($0) }.sorted() }
}

/// A reusable scratch arena: grows to the largest request and is then reused without allocating.
final class Scratch {
    private var buffers: [UnsafeMutablePointer<Float>] = []
    private var capacities: [Int] = []
    /// Optional second thread for splitting attention heads (created by ``InferenceSession``).
    let helper: HelperThread?

    init(helper: HelperThread? = nil) { self.helper = helper }

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
        helper?.stop()
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
            let col = scratch.buffer(0, c * s.kernel * s.kernel * ho * wo)
            let y = scratch.buffer(1 + ping, s.outChannels * ho * wo)
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
        let pooled = scratch.buffer(3, c * ph * pw)
        Ops.avgPool2d(x, channels: c, height: h, width: w,
                      kernel: (config.pool.kernel[0], config.pool.kernel[1]),
                      stride: (config.pool.stride[0], config.pool.stride[1]), into: pooled)
        // [C, cells] → [cells, C]
        let cells = ph * pw
        let tokensIn = scratch.buffer(4, cells * c)
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

/// Pre-LN transformer layer: `x += Attn(LN(x))`, `x += MLP(LN(x))`.
struct TransformerBlockLayer: Sendable {
    let d: Int
    let heads: Int
    let norm1: LayerNormLayer
    let qkv: LinearLayer
    let out: LinearLayer
    let norm2: LayerNormLayer
    let mlp: MLPLayer

    init(_ r: inout WeightReader, _ prefix: String, d: Int, heads: Int, ratio: Int, eps: Float) throws(ModelError) {
        self.d = d; self.heads = heads
        norm1 = try LayerNormLayer(&r, "\(prefix).norm1", dim: d, eps: eps)
        qkv = try LinearLayer(&r, "\(prefix).attn.qkv", in: d, out: 3 * d)
        out = try LinearLayer(&r, "\(prefix).attn.out", in: d, out: d)
        norm2 = try LayerNormLayer(&r, "\(prefix).norm2", dim: d, eps: eps)
        mlp = try MLPLayer(&r, "\(prefix).mlp", in: d, hidden: ratio * d, out: d)
    }

    /// Updates `x [n, d]` in place.
    func callAsFunction(_ x: UnsafeMutablePointer<Float>, rows n: Int, keyValid: UnsafePointer<Bool>?, scratch: Scratch) {
        let normed = scratch.buffer(10, n * d)
        let qkvBuf = scratch.buffer(11, n * 3 * d)
        let scores = scratch.buffer(12, n * n)
        let scores2 = scratch.helper == nil ? scores : scratch.buffer(16, n * n)
        let heads = scratch.buffer(13, n * d)
        let delta = scratch.buffer(14, n * d)
        let hidden = scratch.buffer(15, n * mlp.fc1.outFeatures)
        norm1(x, rows: n, into: normed)
        qkv(normed, rows: n, into: qkvBuf)
        if let helper = scratch.helper, self.heads >= 2 {
            // Split the heads between the helper and this thread, each with single-threaded BLAS.
            let threads = BLAS.threads
            BLAS.configure(threads: 1)
            let split = self.heads / 2, all = self.heads, dim = d
            let (q, kv, s2, out) = (UnsafePointer(qkvBuf), keyValid, scores2, heads)
            helper.fork {
                Ops.attention(qkv: q, tokens: n, dim: dim, heads: all, headRange: 0..<split, keyValid: kv, scores: s2, into: out)
            }
            Ops.attention(qkv: qkvBuf, tokens: n, dim: d, heads: all, headRange: split..<all, keyValid: keyValid, scores: scores, into: heads)
            helper.join()
            BLAS.configure(threads: threads)
        } else {
            Ops.attention(qkv: qkvBuf, tokens: n, dim: d, heads: self.heads, keyValid: keyValid, scores: scores, into: heads)
        }
        out(heads, rows: n, into: delta)
        add(delta, into: x, count: n * d)
        norm2(x, rows: n, into: normed)
        mlp(normed, rows: n, hidden: hidden, into: delta)
        add(delta, into: x, count: n * d)
    }

    private func add(_ a: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] += a[i] }
    }

    var parameterCount: Int { norm1.parameterCount + qkv.parameterCount + out.parameterCount + norm2.parameterCount + mlp.parameterCount }

    func flops(rows n: Int) -> Int { 2 * n * (4 * d * d) + 4 * n * n * d + mlp.flops(rows: n) }
}

/// A stack of transformer layers with a final layer norm.
struct TransformerLayer: Sendable {
    let layers: [TransformerBlockLayer]
    let norm: LayerNormLayer

    init(_ r: inout WeightReader, _ prefix: String, count: Int, d: Int, heads: Int, ratio: Int, eps: Float) throws(ModelError) {
        var layers: [TransformerBlockLayer] = []
        for i in 0..<count {
            layers.append(try TransformerBlockLayer(&r, "\(prefix).layers.\(i)", d: d, heads: heads, ratio: ratio, eps: eps))
        }
        self.layers = layers
        norm = try LayerNormLayer(&r, "\(prefix).norm", dim: d, eps: eps)
    }

    /// Runs every layer over `x [n, d]` in place, then the final norm (also in place).
    func callAsFunction(_ x: UnsafeMutablePointer<Float>, rows n: Int, keyValid: UnsafePointer<Bool>?, scratch: Scratch) {
        for layer in layers { layer(x, rows: n, keyValid: keyValid, scratch: scratch) }
        norm(x, rows: n, into: x)
    }

    var parameterCount: Int { layers.reduce(norm.parameterCount) { $0 + $1.parameterCount } }
    func flops(rows n: Int) -> Int { layers.reduce(0) { $0 + $1.flops(rows: n) } }
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
        let gx = scratch.buffer(20, 3 * hidden)
        let gh = scratch.buffer(21, 3 * hidden)
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
