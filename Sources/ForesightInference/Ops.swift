/// The engine's operators on contiguous float32 buffers (batch 1).
///
/// Every matrix product goes through ``BLAS``; the element-wise loops work on unsafe buffers and
/// never allocate per element. Shapes are the caller's contract (checked by the layers at load).
enum Ops {
    // MARK: Linear

    /// `y[n, out] = x[n, in] · wᵀ + b` with `w` stored `[out, in]` (PyTorch layout).
    /// `ldy` is the row stride of `y` (default `outFeatures`): a column block of a wider output can be
    /// written by passing the block's weight rows, bias, first column and the full row stride.
    static func linear(_ x: UnsafePointer<Float>, rows n: Int, inFeatures: Int,
                       weight w: UnsafePointer<Float>, bias b: UnsafePointer<Float>?, outFeatures: Int,
                       into y: UnsafeMutablePointer<Float>, ldx: Int? = nil, ldy: Int? = nil) {
        guard n > 0 else { return }
        let ldy = ldy ?? outFeatures
        if let b {
            for r in 0..<n { (y + r * ldy).update(from: b, count: outFeatures) }
        }
        BLAS.sgemm(transB: true, m: n, n: outFeatures, k: inFeatures, a: x, lda: ldx ?? inFeatures,
                   b: w, ldb: inFeatures, beta: b == nil ? 0 : 1, c: y, ldc: ldy)
    }

    // MARK: Convolution

    /// Output extent of a convolution or pooling window along one axis.
    static func outputExtent(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        (size + 2 * padding - kernel) / stride + 1
    }

    /// Unfolds `[c, h, w]` into columns `[c·k·k, ho·wo]` (zero padding) for a k×k convolution.
    static func im2col(_ x: UnsafePointer<Float>, channels c: Int, height h: Int, width w: Int,
                       kernel k: Int, stride s: Int, padding p: Int,
                       into col: UnsafeMutablePointer<Float>) {
        let ho = outputExtent(h, kernel: k, stride: s, padding: p)
        let wo = outputExtent(w, kernel: k, stride: s, padding: p)
        var row = 0
        for ch in 0..<c {
            let plane = x + ch * h * w
            for ky in 0..<k {
                for kx in 0..<k {
                    let dst = col + row * ho * wo
                    for oy in 0..<ho {
                        let iy = oy * s - p + ky
                        let line = dst + oy * wo
                        if iy < 0 || iy >= h {
                            line.update(repeating: 0, count: wo)
                            continue
                        }
                        // Output columns whose input column ix = ox·s − p + kx lies inside [0, w).
                        let lo = min(wo, kx >= p ? 0 : (p - kx + s - 1) / s)
                        let hi = max(lo, min(wo, w - 1 + p - kx < 0 ? 0 : (w - 1 + p - kx) / s + 1))
                        if lo > 0 { line.update(repeating: 0, count: lo) }
                        if hi < wo { (line + hi).update(repeating: 0, count: wo - hi) }
                        let first = iy * w - p + kx   // plane index for ox = 0 (may be out of range; never read)
                        if s == 1 {
                            if hi > lo { (line + lo).update(from: plane + (first + lo), count: hi - lo) }
                        } else if s == 2 {
                            // Even elements of 16 consecutive inputs give 8 outputs; stay inside the plane.
                            var ox = lo
                            while ox + 8 <= hi && first + 2 * ox + 16 <= h * w {
                                let pair = UnsafeRawPointer(plane + (first + 2 * ox)).loadUnaligned(as: SIMD16<Float>.self)
                                UnsafeMutableRawPointer(line + ox).storeBytes(of: pair.evenHalf, as: SIMD8<Float>.self)
                                ox += 8
                            }
                            while ox < hi { line[ox] = plane[first + ox * 2]; ox += 1 }
                        } else {
                            for ox in lo..<hi { line[ox] = plane[first + ox * s] }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// k×k convolution `[cin, h, w] → [cout, ho, wo]` as im2col + sgemm; `weight` is `[cout, cin·k·k]`.
    /// `col` must hold `cin·k·k·ho·wo` floats.
    static func conv2d(_ x: UnsafePointer<Float>, channels cin: Int, height h: Int, width w: Int,
                       weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, outChannels cout: Int,
                       kernel k: Int, stride s: Int, padding p: Int,
                       col: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        let ho = outputExtent(h, kernel: k, stride: s, padding: p)
        let wo = outputExtent(w, kernel: k, stride: s, padding: p)
        let spatial = ho * wo
        im2col(x, channels: cin, height: h, width: w, kernel: k, stride: s, padding: p, into: col)
        for o in 0..<cout { (y + o * spatial).update(repeating: bias[o], count: spatial) }
        BLAS.sgemm(m: cout, n: spatial, k: cin * k * k, a: weight, lda: cin * k * k,
                   b: col, ldb: spatial, beta: 1, c: y, ldc: spatial)
    }

    /// Folds an inference-mode batch norm into the preceding bias-free convolution:
    /// `w'[o] = w[o] · γ[o] / √(var[o] + ε)`, `b'[o] = β[o] − mean[o] · γ[o] / √(var[o] + ε)`.
    static func foldBatchNorm(weight: inout [Float], outChannels: Int, gamma: [Float], beta: [Float],
                              mean: [Float], variance: [Float], eps: Float) -> [Float] {
        let per = weight.count / outChannels
        var bias = [Float](repeating: 0, count: outChannels)
        for o in 0..<outChannels {
            let scale = gamma[o] / (variance[o] + eps).squareRoot()
            for i in 0..<per { weight[o * per + i] *= scale }
            bias[o] = beta[o] - mean[o] * scale
        }
        return bias
    }

    /// Average pooling `[c, h, w] → [c, ho, wo]` with a `kh×kw` window and strides `sh, sw` (no padding).
    static func avgPool2d(_ x: UnsafePointer<Float>, channels c: Int, height h: Int, width w: Int,
                          kernel: (Int, Int), stride: (Int, Int), into y: UnsafeMutablePointer<Float>) {
        let ho = outputExtent(h, kernel: kernel.0, stride: stride.0, padding: 0)
        let wo = outputExtent(w, kernel: kernel.1, stride: stride.1, padding: 0)
        let inv = 1 / Float(kernel.0 * kernel.1)
        for ch in 0..<c {
            let plane = x + ch * h * w
            for oy in 0..<ho {
                for ox in 0..<wo {
                    var sum: Float = 0
                    for ky in 0..<kernel.0 {
                        let line = plane + (oy * stride.0 + ky) * w + ox * stride.1
                        for kx in 0..<kernel.1 { sum += line[kx] }
                    }
                    y[(ch * ho + oy) * wo + ox] = sum * inv
                }
            }
        }
    }

    // MARK: Normalisation and activations

    /// Layer norm over the last dimension of `[n, d]`, `y = (x − μ)/√(σ² + ε) · γ + β` (may be in place).
    static func layerNorm(_ x: UnsafePointer<Float>, rows n: Int, dim d: Int,
                          gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                          into y: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        let vectorEnd = d - d % 8
        for r in 0..<n {
            let src = x + r * d
            let dst = y + r * d
            var acc = V(repeating: 0)
            var i = 0
            while i < vectorEnd { acc += UnsafeRawPointer(src + i).loadUnaligned(as: V.self); i += 8 }
            var sum = acc.sum()
            while i < d { sum += src[i]; i += 1 }
            let mean = sum / Float(d)
            acc = V(repeating: 0)
            i = 0
            while i < vectorEnd {
                let v = UnsafeRawPointer(src + i).loadUnaligned(as: V.self) - mean
                acc += v * v
                i += 8
            }
            var variance = acc.sum()
            while i < d { let v = src[i] - mean; variance += v * v; i += 1 }
            let inv = 1 / (variance / Float(d) + eps).squareRoot()
            i = 0
            while i < vectorEnd {
                let v = UnsafeRawPointer(src + i).loadUnaligned(as: V.self)
                let g = UnsafeRawPointer(gamma + i).loadUnaligned(as: V.self)
                let b = UnsafeRawPointer(beta + i).loadUnaligned(as: V.self)
                UnsafeMutableRawPointer(dst + i).storeBytes(of: (v - mean) * inv * g + b, as: V.self)
                i += 8
            }
            while i < d { dst[i] = (src[i] - mean) * inv * gamma[i] + beta[i]; i += 1 }
        }
    }

    /// Exact GELU in place.
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        FastMath.gelu(UnsafeMutableBufferPointer(start: x, count: count))
    }

    /// Row-wise softmax of `[n, m]` in place; keys with `keyValid[j] == false` get probability 0.
    /// A row whose keys are all masked becomes all zeros.
    static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows n: Int, cols m: Int,
                            keyValid: UnsafePointer<Bool>?) {
        for r in 0..<n {
            let row = x + r * m
            if let keyValid {
                var peak = -Float.infinity
                for j in 0..<m where keyValid[j] { peak = max(peak, row[j]) }
                if peak == -.infinity { row.update(repeating: 0, count: m); continue }
                for j in 0..<m where !keyValid[j] { row[j] = -.infinity }
                let total = FastMath.expShifted(row, count: m, shift: peak)
                let inv = 1 / total
                for j in 0..<m { row[j] = keyValid[j] ? row[j] * inv : 0 }
            } else {
                let peak = FastMath.maximum(row, count: m)
                FastMath.scale(row, count: m, by: 1 / FastMath.expShifted(row, count: m, shift: peak))
            }
        }
    }

    // MARK: Attention

    /// Multi-head self-attention on a fused QKV buffer `[n, 3d]` (q | k | v, heads contiguous inside
    /// each): writes the concatenated head outputs `[n, d]`. `scores` must hold `n·n` floats.
    static func attention(qkv: UnsafePointer<Float>, tokens n: Int, dim d: Int, heads: Int,
                          keyValid: UnsafePointer<Bool>?, scores: UnsafeMutablePointer<Float>,
                          into out: UnsafeMutablePointer<Float>) {
        attend(q: qkv, ldq: 3 * d, rows: n, k: qkv + d, v: qkv + 2 * d, ldkv: 3 * d, keys: n, dim: d, heads: heads,
               bias: nil, keyValid: keyValid, scores: scores, into: out, ldo: d)
    }

    /// Multi-head scaled dot-product attention on strided row-major buffers, per head `h`:
    /// `out[:, h] = softmax(q_h · k_hᵀ / √dh + bias[h]) · v_h`, with keys where `keyValid` is false
    /// excluded. `q` is `[n, ·]` (row stride `ldq`), `k`/`v` are `[m, ·]` (row stride `ldkv`), head `h`
    /// occupies columns `h·dh..<(h+1)·dh` of each; `bias` is `[heads, m]` (or nil); `scores` holds `n·m`.
    static func attend(q: UnsafePointer<Float>, ldq: Int, rows n: Int,
                       k: UnsafePointer<Float>, v: UnsafePointer<Float>, ldkv: Int, keys m: Int,
                       dim d: Int, heads: Int, bias: UnsafePointer<Float>?, keyValid: UnsafePointer<Bool>?,
                       scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>, ldo: Int) {
        for h in 0..<heads {
            attendHead(h, q: q, ldq: ldq, rows: n, k: k, v: v, ldkv: ldkv, keys: m, dim: d, heads: heads,
                       bias: bias, keyValid: keyValid, scores: scores, into: out, ldo: ldo)
        }
    }

    /// Head `h` of ``attend(q:ldq:rows:k:v:ldkv:keys:dim:heads:bias:keyValid:scores:into:ldo:)``: writes
    /// columns `h·dh..<(h+1)·dh` of `out`. Heads are independent, so they may run on different threads
    /// (each with its own `scores` buffer of `n·m` floats).
    static func attendHead(_ h: Int, q: UnsafePointer<Float>, ldq: Int, rows n: Int,
                           k: UnsafePointer<Float>, v: UnsafePointer<Float>, ldkv: Int, keys m: Int,
                           dim d: Int, heads: Int, bias: UnsafePointer<Float>?, keyValid: UnsafePointer<Bool>?,
                           scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>, ldo: Int) {
        let dh = d / heads
        let scale = 1 / Float(dh).squareRoot()
        BLAS.sgemm(transB: true, m: n, n: m, k: dh, alpha: scale, a: q + h * dh, lda: ldq,
                   b: k + h * dh, ldb: ldkv, c: scores, ldc: m)
        if let bias { addRow(bias + h * m, to: scores, rows: n, cols: m) }
        softmaxRows(scores, rows: n, cols: m, keyValid: keyValid)
        BLAS.sgemm(m: n, n: dh, k: m, a: scores, lda: m, b: v + h * dh, ldb: ldkv, c: out + h * dh, ldc: ldo)
    }

    /// `x[r, :] += row` for every row of `[n, m]`.
    static func addRow(_ row: UnsafePointer<Float>, to x: UnsafeMutablePointer<Float>, rows n: Int, cols m: Int) {
        typealias V = SIMD8<Float>
        let vectorEnd = m - m % 8
        for r in 0..<n {
            let dst = x + r * m
            var i = 0
            while i < vectorEnd {
                let sum = UnsafeRawPointer(dst + i).loadUnaligned(as: V.self) + UnsafeRawPointer(row + i).loadUnaligned(as: V.self)
                UnsafeMutableRawPointer(dst + i).storeBytes(of: sum, as: V.self)
                i += 8
            }
            while i < m { dst[i] += row[i]; i += 1 }
        }
    }

    /// `x += a` element-wise.
    static func add(_ a: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, count: Int) {
        addRow(a, to: x, rows: 1, cols: count)
    }

    // MARK: Recurrent

    /// One GRU step (PyTorch gate order r, z, n): `gx = W_ih·x + b_ih`, `gh = W_hh·h + b_hh`,
    /// `r = σ(gx_r + gh_r)`, `z = σ(gx_z + gh_z)`, `n = tanh(gx_n + r ⊙ gh_n)`, `h' = (1 − z) ⊙ n + z ⊙ h`.
    /// `gx` and `gh` are scratch of `3·hidden` floats each; `h` is updated in place.
    static func gruCell(x: UnsafePointer<Float>, inputSize: Int, h: UnsafeMutablePointer<Float>, hidden: Int,
                        weightIH: UnsafePointer<Float>, weightHH: UnsafePointer<Float>,
                        biasIH: UnsafePointer<Float>, biasHH: UnsafePointer<Float>,
                        gx: UnsafeMutablePointer<Float>, gh: UnsafeMutablePointer<Float>) {
        linear(x, rows: 1, inFeatures: inputSize, weight: weightIH, bias: biasIH, outFeatures: 3 * hidden, into: gx)
        linear(h, rows: 1, inFeatures: hidden, weight: weightHH, bias: biasHH, outFeatures: 3 * hidden, into: gh)
        for i in 0..<hidden {
            let r = FastMath.sigmoid(gx[i] + gh[i])
            let z = FastMath.sigmoid(gx[hidden + i] + gh[hidden + i])
            let n = FastMath.tanh(gx[2 * hidden + i] + r * gh[2 * hidden + i])
            h[i] = (1 - z) * n + z * h[i]
        }
    }
}
