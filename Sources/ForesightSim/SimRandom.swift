import Foundation

/// The simulator's own seeded random generator: xoshiro256** seeded through SplitMix64, with
/// Box–Muller Gaussians. Never the system generator, so a seed reproduces a run bit for bit.
///
/// Each model draws from its own stream (`SimRandom(seed:stream:)`), so adding draws to one
/// model does not shift the numbers another model sees.
public struct SimRandom: Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    private var spare: Double?

    /// Creates a generator for `stream` of the run seeded with `seed`.
    public init(seed: UInt64, stream: UInt64 = 0) {
        var mix = seed ^ (stream &* 0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03
        func splitmix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(&mix); s1 = splitmix(&mix); s2 = splitmix(&mix); s3 = splitmix(&mix)
        if (s0 | s1 | s2 | s3) == 0 { s0 = 1 }
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// A uniform double in [0, 1).
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A uniform double in `range`.
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * uniform()
    }

    /// A uniform integer in `0..<count` (count > 0).
    public mutating func index(_ count: Int) -> Int {
        min(count - 1, Int(uniform() * Double(count)))
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool {
        uniform() < p
    }

    /// A standard normal deviate (Box–Muller, the second value of each pair is kept).
    public mutating func gaussian() -> Double {
        if let value = spare {
            spare = nil
            return value
        }
        let u1 = max(uniform(), 0x1.0p-60)
        let u2 = uniform()
        let radius = (-2 * log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spare = radius * sin(angle)
        return radius * cos(angle)
    }

    /// A cheap approximately normal deviate (zero mean, unit variance): the centred sum of the
    /// four 16-bit uniforms in one 64-bit draw (Irwin–Hall, bounded at ±3.46). For bulk thermal
    /// noise that is summed by FFTs afterwards, where the central limit theorem makes it
    /// indistinguishable from Gaussian noise; it costs one generator step and no transcendental.
    @inline(__always)
    public mutating func fastNormal() -> Float {
        let x = next()
        let sum = Int32(truncatingIfNeeded: x & 0xFFFF) + Int32(truncatingIfNeeded: (x >> 16) & 0xFFFF)
            + Int32(truncatingIfNeeded: (x >> 32) & 0xFFFF) + Int32(truncatingIfNeeded: x >> 48)
        return Float(sum - 131_070) * (1.7320508 / 65_536)
    }

    /// An exponential deviate with the given mean.
    public mutating func exponential(mean: Double) -> Double {
        -mean * log(max(1 - uniform(), 0x1.0p-60))
    }
}
