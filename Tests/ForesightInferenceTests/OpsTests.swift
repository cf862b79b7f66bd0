import Foundation
import Testing
@testable import ForesightInference

/// Straightforward reference implementations (plain loops, Double accumulation).
enum Reference {
    static func linear(_ x: [Float], rows n: Int, _ w: [Float], _ b: [Float]?, inF: Int, outF: Int) -> [Float] {
        var y = [Float](repeating: 0, count: n * outF)
        for r in 0..<n { for o in 0..<outF {
            var s = Double(b?[o] ?? 0)
            for i in 0..<inF { s += Double(x[r * inF + i]) * Double(w[o * inF + i]) }
            y[r * outF + o] = Float(s)
        } }
        return y
    }

    static func conv2d(_ x: [Float], c: Int, h: Int, w: Int, weight: [Float], bias: [Float], cout: Int,
                       k: Int, s: Int, p: Int) -> [Float] {
        let ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1
        var y = [Float](repeating: 0, count: cout * ho * wo)
        for o in 0..<cout { for oy in 0..<ho { for ox in 0..<wo {
            var sum = Double(bias[o])
            for ci in 0..<c { for ky in 0..<k { for kx in 0..<k {
                let iy = oy * s - p + ky, ix = ox * s - p + kx
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                sum += Double(x[(ci * h + iy) * w + ix]) * Double(weight[((o * c + ci) * k + ky) * k + kx])
            } } }
            y[(o * ho + oy) * wo + ox] = Float(sum)
        } } }
        return y
    }

    static func softmax(_ row: [Float], valid: [Bool]? = nil) -> [Float] {
        let ok = valid ?? [Bool](repeating: true, count: row.count)
        guard let peak = row.indices.filter({ ok[$0] }).map({ row[$0] }).max() else { return [Float](repeating: 0, count: row.count) }
        let e = row.indices.map { ok[$0] ? exp(Double(row[$0] - peak)) : 0 }
        let total = e.reduce(0, +)
        return e.map { Float($0 / total) }
    }

    static func gelu(_ x: Float) -> Float { Float(0.5 * Double(x) * (1 + erf(Double(x) / 2.0.squareRoot()))) }
    static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
}

@Suite struct OpsTests {
    @Test("linear matches the reference at odd sizes", arguments: [(1, 1, 1), (7, 13, 5), (33, 17, 65)])
    func linear(_ sizes: (Int, Int, Int)) {
        let (n, inF, outF) = sizes
        var rng = TestRandom(1)
        let x = rng.array(n * inF), w = rng.array(outF * inF), b = rng.array(outF)
        var y = [Float](repeating: .nan, count: n * outF)
        Ops.linear(x, rows: n, inFeatures: inF, weight: w, bias: b, outFeatures: outF, into: &y)
        #expect(parityViolation(y, Reference.linear(x, rows: n, w, b, inF: inF, outF: outF), tolerance: 1e-5) == 0)
        var y0 = [Float](repeating: .nan, count: n * outF)
        Ops.linear(x, rows: n, inFeatures: inF, weight: w, bias: nil, outFeatures: outF, into: &y0)
        #expect(parityViolation(y0, Reference.linear(x, rows: n, w, nil, inF: inF, outF: outF), tolerance: 1e-5) == 0)
    }

    @Test("conv2d (im2col + sgemm) matches a direct convolution",
          arguments: [(3, 11, 9, 4, 3, 2, 1), (2, 7, 13, 5, 5, 3, 2), (1, 5, 5, 3, 1, 1, 0), (4, 9, 6, 2, 3, 1, 0), (2, 8, 8, 3, 4, 2, 3), (2, 6, 7, 3, 5, 1, 2), (1, 4, 3, 2, 3, 1, 4)])
    func conv(_ s: (Int, Int, Int, Int, Int, Int, Int)) {
        let (c, h, w, cout, k, stride, pad) = s
        var rng = TestRandom(2)
        let x = rng.array(c * h * w), weight = rng.array(cout * c * k * k), bias = rng.array(cout)
        let ho = Ops.outputExtent(h, kernel: k, stride: stride, padding: pad)
        let wo = Ops.outputExtent(w, kernel: k, stride: stride, padding: pad)
        var col = [Float](repeating: .nan, count: c * k * k * ho * wo)
        var y = [Float](repeating: .nan, count: cout * ho * wo)
        Ops.conv2d(x, channels: c, height: h, width: w, weight: weight, bias: bias, outChannels: cout,
                   kernel: k, stride: stride, padding: pad, col: &col, into: &y)
        let expected = Reference.conv2d(x, c: c, h: h, w: w, weight: weight, bias: bias, cout: cout, k: k, s: stride, p: pad)
        #expect(parityViolation(y, expected, tolerance: 1e-5) == 0)
    }

    @Test("batch-norm folding equals conv followed by batch norm")
    func foldBatchNorm() {
        let (c, h, w, cout, k) = (2, 6, 5, 3, 3)
        var rng = TestRandom(3)
        let x = rng.array(c * h * w), weight = rng.array(cout * c * k * k)
        let gamma = rng.array(cout), beta = rng.array(cout), mean = rng.array(cout)
        let variance = rng.array(cout).map { $0 + 1.5 }
        let eps: Float = 1e-5
        let raw = Reference.conv2d(x, c: c, h: h, w: w, weight: weight, bias: [0, 0, 0], cout: cout, k: k, s: 1, p: 1)
        let spatial = h * w
        let expected = raw.indices.map { i -> Float in
            let o = i / spatial
            return (raw[i] - mean[o]) / (variance[o] + eps).squareRoot() * gamma[o] + beta[o]
        }
        var folded = weight
        let bias = Ops.foldBatchNorm(weight: &folded, outChannels: cout, gamma: gamma, beta: beta, mean: mean, variance: variance, eps: eps)
        let y = Reference.conv2d(x, c: c, h: h, w: w, weight: folded, bias: bias, cout: cout, k: k, s: 1, p: 1)
        #expect(parityViolation(y, expected, tolerance: 1e-5) == 0)
    }

    @Test("average pooling with rectangular windows and strides")
    func avgPool() {
        let (c, h, w) = (2, 5, 7)
        let x = (0..<(c * h * w)).map { Float($0 % 11) - 3 }
        var y = [Float](repeating: .nan, count: c * 2 * 3)
        Ops.avgPool2d(x, channels: c, height: h, width: w, kernel: (2, 3), stride: (2, 2), into: &y)
        var expected: [Float] = []
        for ch in 0..<c { for oy in 0..<2 { for ox in 0..<3 {
            var s: Float = 0
            for ky in 0..<2 { for kx in 0..<3 { s += x[(ch * h + oy * 2 + ky) * w + ox * 2 + kx] } }
            expected.append(s / 6)
        } } }
        #expect(parityViolation(y, expected, tolerance: 1e-6) == 0)
    }

    @Test("layer norm normalizes each row then scales and shifts")
    func layerNorm() {
        let (n, d) = (3, 37)
        var rng = TestRandom(4)
        let x = rng.array(n * d).map { $0 * 5 + 2 }, g = rng.array(d), b = rng.array(d)
        var y = [Float](repeating: .nan, count: n * d)
        Ops.layerNorm(x, rows: n, dim: d, gamma: g, beta: b, eps: 1e-5, into: &y)
        var expected: [Float] = []
        for r in 0..<n {
            let row = x[(r * d)..<((r + 1) * d)].map(Double.init)
            let mean = row.reduce(0, +) / Double(d)
            let v = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d)
            for i in 0..<d { expected.append(Float((row[i] - mean) / (v + 1e-5).squareRoot()) * g[i] + b[i]) }
        }
        #expect(parityViolation(y, expected, tolerance: 1e-5) == 0)
    }

    @Test("GELU and the vectorised exp are accurate over a wide range")
    func activations() {
        let x = stride(from: -12.0 as Float, through: 12, by: 0.0137).map { $0 }
        var y = x
        y.withUnsafeMutableBufferPointer { Ops.gelu($0.baseAddress!, count: $0.count) }
        #expect(parityViolation(y, x.map(Reference.gelu), tolerance: 1e-6) == 0)
        let e = stride(from: -80.0 as Float, through: 80, by: 0.731).map { $0 }
        var out = e
        _ = out.withUnsafeMutableBufferPointer { FastMath.expShifted($0.baseAddress!, count: $0.count, shift: 0) }
        for (i, v) in e.enumerated() { #expect(abs(out[i] - expf(v)) <= 1e-6 * expf(v) + 1e-30) }
        for v in [-9, -1, -1e-3, 0, 0.5, 3, 20] as [Float] {
            #expect(abs(FastMath.tanh(v) - tanhf(v)) < 1e-6)
            #expect(abs(FastMath.sigmoid(v) - Float(Reference.sigmoid(Double(v)))) < 1e-6)
        }
    }

    @Test("softmax with a key mask; fully masked rows become zeros")
    func softmaxMasked() {
        let m = 13
        var rng = TestRandom(5)
        let rows = rng.array(3 * m).map { $0 * 10 }
        let valid = (0..<m).map { $0 % 3 != 1 }
        var y = rows
        valid.withUnsafeBufferPointer { v in
            y.withUnsafeMutableBufferPointer { Ops.softmaxRows($0.baseAddress!, rows: 3, cols: m, keyValid: v.baseAddress) }
        }
        var expected: [Float] = []
        for r in 0..<3 { expected += Reference.softmax(Array(rows[(r * m)..<((r + 1) * m)]), valid: valid) }
        #expect(parityViolation(y, expected, tolerance: 1e-6) == 0)
        var none = rows
        let blocked = [Bool](repeating: false, count: m)
        blocked.withUnsafeBufferPointer { v in
            none.withUnsafeMutableBufferPointer { Ops.softmaxRows($0.baseAddress!, rows: 3, cols: m, keyValid: v.baseAddress) }
        }
        #expect(none.allSatisfy { $0 == 0 })
    }

    @Test("multi-head attention matches per-head reference, with and without mask",
          arguments: [(11, 12, 3, false), (11, 12, 3, true), (5, 8, 1, true), (17, 20, 4, true)])
    func attention(_ s: (Int, Int, Int, Bool)) {
        let (n, d, heads, masked) = s
        let dh = d / heads
        var rng = TestRandom(6)
        let qkv = rng.array(n * 3 * d).map { $0 * 2 }
        let valid = (0..<n).map { !masked || $0 % 4 != 0 }
        var scores = [Float](repeating: 0, count: n * n)
        var out = [Float](repeating: .nan, count: n * d)
        valid.withUnsafeBufferPointer { v in
            Ops.attention(qkv: qkv, tokens: n, dim: d, heads: heads, keyValid: masked ? v.baseAddress : nil,
                          scores: &scores, into: &out)
        }
        var expected = [Float](repeating: 0, count: n * d)
        for h in 0..<heads { for i in 0..<n {
            let logits = (0..<n).map { j -> Float in
                var s: Float = 0
                for e in 0..<dh { s += qkv[i * 3 * d + h * dh + e] * qkv[j * 3 * d + d + h * dh + e] }
                return s / Float(dh).squareRoot()
            }
            let p = Reference.softmax(logits, valid: valid)
            for e in 0..<dh {
                var acc: Float = 0
                for j in 0..<n { acc += p[j] * qkv[j * 3 * d + 2 * d + h * dh + e] }
                expected[i * d + h * dh + e] = acc
            }
        } }
        #expect(parityViolation(out, expected, tolerance: 1e-5) == 0)
    }

    @Test("GRU cell follows PyTorch's gate equations")
    func gru() {
        let (inSize, hidden) = (5, 7)
        var rng = TestRandom(7)
        let x = rng.array(inSize), h0 = rng.array(hidden)
        let wih = rng.array(3 * hidden * inSize), whh = rng.array(3 * hidden * hidden)
        let bih = rng.array(3 * hidden), bhh = rng.array(3 * hidden)
        var h = h0
        var gx = [Float](repeating: 0, count: 3 * hidden), gh = gx
        Ops.gruCell(x: x, inputSize: inSize, h: &h, hidden: hidden, weightIH: wih, weightHH: whh,
                    biasIH: bih, biasHH: bhh, gx: &gx, gh: &gh)
        let ax = Reference.linear(x, rows: 1, wih, bih, inF: inSize, outF: 3 * hidden)
        let ah = Reference.linear(h0, rows: 1, whh, bhh, inF: hidden, outF: 3 * hidden)
        let expected = (0..<hidden).map { i -> Float in
            let r = Reference.sigmoid(Double(ax[i] + ah[i]))
            let z = Reference.sigmoid(Double(ax[hidden + i] + ah[hidden + i]))
            let nn = tanh(Double(ax[2 * hidden + i]) + r * Double(ah[2 * hidden + i]))
            return Float((1 - z) * nn + z * Double(h0[i]))
        }
        #expect(parityViolation(h, expected, tolerance: 1e-5) == 0)
    }
}
