import Foundation
@testable import ForesightPredict

/// Deterministic pseudo-random numbers (SplitMix64) for reproducible noisy tracks.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A standard normal sample (Box–Muller).
    mutating func gaussian() -> Double {
        let u1 = max(Double.random(in: 0..<1, using: &self), 1e-12), u2 = Double.random(in: 0..<1, using: &self)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

enum Fixture {
    static let t0: Int64 = 1_700_000_000_000_000_000
    static let frameNs: Int64 = 100_000_000

    /// 64 beams over ±45° around a boresight pointing north, array at the origin.
    static func configuration(gnssSigma: Double = 0.5) -> ClassicalPredictor.Configuration {
        ClassicalPredictor.Configuration(
            arrayPosition: SIMD2(0, 0), boresightAzimuth: Double.pi / 2,
            steeringAngles: ClassicalPredictor.Configuration.uniformSteering(count: 64, fieldOfView: Double.pi / 2),
            motion: MotionNoise(gnssSigma: gnssSigma))
    }

    static func predictor(gnssSigma: Double = 0.5) -> ClassicalPredictor {
        // The fixture configuration is valid; a failure here is a test bug reported by #require.
        (try? ClassicalPredictor(configuration: configuration(gnssSigma: gnssSigma)))!
    }

    /// Frame stamps 0…count−1 and horizon stamps after the last frame.
    static func stamps(frames: Int) -> [Int64] { (0..<frames).map { t0 + Int64($0) * frameNs } }
    static func horizon(after frames: Int, steps: Int = 5) -> [Int64] {
        (1...steps).map { t0 + Int64(frames - 1 + $0) * frameNs }
    }

    /// The exact CTRV trajectory position at time `t` seconds.
    static func ctrv(start: SIMD2<Double>, speed: Double, heading: Double, yawRate: Double, t: Double) -> SIMD2<Double> {
        CTRVState(x: start.x, y: start.y, v: speed, yaw: heading, yawRate: yawRate).propagated(by: t).position
    }

    static func seconds(_ stamp: Int64) -> Double { Double(stamp - t0) * 1e-9 }
}
