import Foundation
import ForesightWire
import Testing
@testable import ForesightPredict

/// A synthetic drive-by modelled on the simulated street site, scored end to end: noisy, biased
/// GNSS and noisy beam power in; predictions scored against exact truth with `ScoreAccumulator`.
///
/// Array at the origin facing north, 16-element half-wavelength ULA with the 64-beam 4×-oversampled
/// DFT codebook (sin θ_b = −1 + (2b + 1)/64), line of sight only; the UE drives east at 10 m/s in a
/// lane 8.5 m north of the array; GNSS has a 1.5 m bias plus 0.7 m white noise. A van parked
/// between the array and the lane (x −2…2 m, y 3.5…5.5 m, 2.5 m high) blocks the line of sight
/// for about a fifth of the drive; the LiDAR sees its surfaces every frame.
@Suite struct SyntheticDriveTests {
    static let elements = 16
    static let sines = (0..<64).map { -1 + (2 * Double($0) + 1) / 64 }
    static let angles = sines.map { asin($0) }

    static func truePosition(_ t: Double) -> SIMD2<Double> { SIMD2(-25 + 10 * t, 8.5) }

    /// The parked van's footprint and height.
    static let van = (x: -2.0...2.0, y: 3.5...5.5, height: 2.5)

    /// Whether the van blocks the line from the array (origin) to the UE at `p`.
    static func blocked(_ p: SIMD2<Double>) -> Bool {
        // The segment crosses the van's y band between these x values; blocked when that
        // interval overlaps the van's x extent.
        let a = p.x * van.y.lowerBound / p.y, b = p.x * van.y.upperBound / p.y
        return min(a, b) <= van.x.upperBound && max(a, b) >= van.x.lowerBound
    }

    /// LiDAR returns from the van's long faces and roof, every 0.25 m (site frame).
    static let vanPoints: [SIMD3<Float>] = {
        var points: [SIMD3<Float>] = []
        let xs = stride(from: van.x.lowerBound, through: van.x.upperBound, by: 0.25)
        for x in xs {
            for z in stride(from: 0.4, through: van.height - 0.1, by: 0.25) {
                points.append(SIMD3(Float(x), Float(van.y.lowerBound), Float(z)))
                points.append(SIMD3(Float(x), Float(van.y.upperBound), Float(z)))
            }
            for y in stride(from: van.y.lowerBound, through: van.y.upperBound, by: 0.25) {
                points.append(SIMD3(Float(x), Float(y), Float(van.height)))
            }
        }
        return points
    }()

    /// Noiseless LoS power of every beam, mW: P_tx·(λ/4πd)²·|w_bᴴ a(θ)|² with 27 dBm and λ = 5 mm.
    static func beamPowers(relativeAzimuth az: Double, range d: Double) -> [Float] {
        let gain = 500 * pow(0.005 / (4 * Double.pi * d), 2)
        return sines.map { u in
            var re = 0.0, im = 0.0
            for e in 0..<elements {
                let phase = Double.pi * Double(e) * (sin(az) - u)
                re += cos(phase); im += sin(phase)
            }
            return Float(gain * (re * re + im * im) / Double(elements))
        }
    }

    static func run(anchoring: Bool) -> ScoreReport {
        var configuration = ClassicalPredictor.Configuration(
            arrayPosition: SIMD2(0, 0), boresightAzimuth: Double.pi / 2, steeringAngles: angles,
            motion: MotionNoise(gnssSigma: 1.0))
        configuration.anchoring.enabled = anchoring
        // The configuration is valid by construction.
        guard let predictor = try? ClassicalPredictor(configuration: configuration) else { return ScoreAccumulator().report }
        var rng = SeededGenerator(state: 2026)
        let bias = SIMD2(1.2, -0.9)
        let frames = 50
        var truth = TruthTimeline()
        var observations: [FrameView] = []
        for i in 0..<(frames + 5) {
            let stamp = Fixture.t0 + Int64(i) * Fixture.frameNs
            let p = truePosition(Fixture.seconds(stamp))
            let power = beamPowers(relativeAzimuth: predictor.relativeAzimuth(of: p), range: (p * p).sum().squareRoot())
            let best = power.indices.max { power[$0] < power[$1] } ?? 0
            let h = Header(stamp: stamp, seq: UInt32(i), frameID: "site")
            truth.insert(TruthUE(header: h, east: p.x, north: p.y, velocityEast: 10, velocityNorth: 0, heading: 0))
            truth.insert(TruthBeam(header: h, best: best, power: power))
            truth.insert(TruthBlockage(header: h, blocked: blocked(p)))
            let gnss = p + bias + SIMD2(rng.gaussian(), rng.gaussian()) * 0.7
            // Measured power: noiseless plus complex Gaussian noise of −85 dBm, floored at −85 dBm.
            let noise = pow(10, -85.0 / 10)
            let dbm = power.map { mw -> Float in
                let re = Double(mw).squareRoot() + (noise / 2).squareRoot() * rng.gaussian()
                let im = (noise / 2).squareRoot() * rng.gaussian()
                return Float(max(10 * log10(re * re + im * im), -85))
            }
            observations.append(FrameView(stamp: stamp, gnss: gnss, beamPowerDBm: dbm, lidarPoints: vanPoints))
        }
        var accumulator = ScoreAccumulator()
        for end in 8...frames {
            let window = Array(observations[(end - 8)..<end])
            let horizon = (1...5).map { window[7].stamp + Int64($0) * Fixture.frameNs }
            accumulator.add(predictor.predict(history: window, horizon: horizon), truth: truth)
        }
        return accumulator.report
    }

    @Test func beamTopThreeIsFarAboveChance() {
        let anchored = Self.run(anchoring: true)
        let plain = Self.run(anchoring: false)
        print("anchored on beam power:\n" + anchored.table() + "GNSS geometry only:\n" + plain.table())
        // Chance is 1/64 ≈ 0.016 (top-1) and 3/64 ≈ 0.047 (top-3). Measured (seed 2026): anchored
        // top-1 0.46, top-3 0.81, loss 1.7 dB; GNSS only top-1 0.26, top-3 0.67, loss 4.4 dB.
        #expect(anchored.overall.beamSamples == 43 * 5)
        #expect(anchored.overall.top3! > 0.75)
        #expect(anchored.overall.top1! > 0.4)
        #expect(anchored.overall.powerLossDB! < 2.5)
        #expect(plain.overall.top3! > 0.4)
        #expect(anchored.overall.top3! > plain.overall.top3! + 0.1)
        #expect(anchored.overall.powerLossDB! < plain.overall.powerLossDB!)
        #expect(anchored.adeM! < 2.5)
        // The van blocks the line of sight for part of the drive (truth has both classes), and the
        // LiDAR corridor evidence finds it: an estimator that never (or always) predicted blockage
        // would fail the F1 and accuracy bounds.
        let blockedSteps = (8...50).flatMap { end in (1...5).map { Fixture.t0 + Int64(end - 1 + $0) * Fixture.frameNs } }
            .filter { Self.blocked(Self.truePosition(Fixture.seconds($0))) }.count
        #expect(blockedSteps > 20 && blockedSteps < 43 * 5 / 2, "blocked steps \(blockedSteps)")
        // Measured (seed 2026): accuracy 0.85, F1 0.66 (errors at the edges of the blocked stretch,
        // where the predicted position is ~1.8 m off). Saying "clear" always would score
        // 1 − blocked/total on accuracy and 0 on F1.
        let alwaysClear = 1 - Double(blockedSteps) / Double(43 * 5)
        #expect(anchored.overall.blockage.accuracy! > alwaysClear, "always-clear baseline \(alwaysClear)")
        #expect(anchored.overall.blockage.f1! > 0.55)
    }
}
