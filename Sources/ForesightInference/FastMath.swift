/// Vectorised transcendental functions for the hot loops (softmax, GELU, sigmoid/tanh in the GRU).
///
/// `exp` uses a Cephes-style range reduction (relative error about 2e-7); `erf` uses
/// Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7). Both are far inside the 1e-4 parity budget.
enum FastMath {
    typealias V = SIMD8<Float>

    @inline(__always)
    static func exp(_ input: V) -> V {
        // Clamp with masks (the generic `clamped` is not specialised and is slow here).
        let low = V(repeating: -87.3), high = V(repeating: 88.3)
        var x = input.replacing(with: low, where: input .< low)
        x.replace(with: high, where: x .> high)
        // Round to nearest with the 1.5·2²³ trick: the sum's low mantissa bits hold the integer.
        let shifted = x * 1.442_695_04 + 12_582_912
        let fx = shifted - 12_582_912
        var r = x - fx * 0.693_359_375
        r = r + fx * 2.121_944_4e-4
        var p = V(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_6e-2
        p = p * r + 0.166_666_66
        p = p * r + 0.5
        p = p * (r * r) + r + 1
        let n = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127
        let scale = unsafeBitCast(n &<< 23, to: V.self)
        return p * scale
    }

    @inline(__always)
    static func erf(_ x: V) -> V {
        let a = x.replacing(with: -x, where: x .< 0)
        let t = 1 / (1 + 0.327_591_1 * a)
        var poly = V(repeating: 1.061_405_429)
        poly = poly * t - 1.453_152_027
        poly = poly * t + 1.421_413_741
        poly = poly * t - 0.284_496_736
        poly = poly * t + 0.254_829_592
        poly = poly * t
        let y = 1 - poly * exp(V(repeating: 0) - a * a)
        return y.replacing(with: -y, where: x .< 0)
    }

    /// Exact-form GELU, `0.5 · x · (1 + erf(x / √2))`, in place over a buffer.
    static func gelu(_ buffer: UnsafeMutableBufferPointer<Float>) {
        let n = buffer.count
        guard let base = buffer.baseAddress else { return }
        var i = 0
        while i + 8 <= n {
            let x = UnsafeRawPointer(base + i).loadUnaligned(as: V.self)
            let y = 0.5 * x * (1 + erf(x * 0.707_106_78))
            UnsafeMutableRawPointer(base + i).storeBytes(of: y, as: V.self)
            i += 8
        }
        if i < n {
            var tail = V(repeating: 0)
            for j in i..<n { tail[j - i] = base[j] }
            let y = 0.5 * tail * (1 + erf(tail * 0.707_106_78))
            for j in i..<n { base[j] = y[j - i] }
        }
    }

    /// `exp(x - shift)` in place over a buffer; returns the sum of the results.
    static func expShifted(_ base: UnsafeMutablePointer<Float>, count n: Int, shift: Float) -> Float {
        var sum = V(repeating: 0)
        var i = 0
        while i + 8 <= n {
            let x = UnsafeRawPointer(base + i).loadUnaligned(as: V.self)
            let y = exp(x - shift)
            UnsafeMutableRawPointer(base + i).storeBytes(of: y, as: V.self)
            sum += y
            i += 8
        }
        var total = sum.sum()
        if i < n {
            var tail = V(repeating: -.infinity)
            for j in i..<n { tail[j - i] = base[j] }
            let y = exp(tail - shift)
            for j in i..<n { base[j] = y[j - i]; total += y[j - i] }
        }
        return total
    }

    /// Largest element of a non-empty buffer.
    static func maximum(_ base: UnsafePointer<Float>, count n: Int) -> Float {
        var i = 0
        var best = V(repeating: -.infinity)
        while i + 8 <= n {
            let x = UnsafeRawPointer(base + i).loadUnaligned(as: V.self)
            best.replace(with: x, where: x .> best)
            i += 8
        }
        var result = best.max()
        while i < n { result = Swift.max(result, base[i]); i += 1 }
        return result
    }

    /// Multiplies a buffer by a scalar in place.
    static func scale(_ base: UnsafeMutablePointer<Float>, count n: Int, by factor: Float) {
        var i = 0
        while i + 8 <= n {
            let x = UnsafeRawPointer(base + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(base + i).storeBytes(of: x * factor, as: V.self)
            i += 8
        }
        while i < n { base[i] *= factor; i += 1 }
    }

    /// Scalar logistic sigmoid.
    @inline(__always)
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(V(repeating: -x))[0]) }

    /// Scalar hyperbolic tangent via `2σ(2x) − 1`.
    @inline(__always)
    static func tanh(_ x: Float) -> Float { 2 * sigmoid(2 * x) - 1 }
}
