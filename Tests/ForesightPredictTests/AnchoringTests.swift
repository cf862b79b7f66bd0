import ForesightCore
import Foundation
import Testing
@testable import ForesightPredict

@Suite struct AnchoringTests {
    let angles = SyntheticDriveTests.angles

    func predictor(anchoring: Bool = true) throws -> ClassicalPredictor {
        var c = ClassicalPredictor.Configuration(arrayPosition: SIMD2(0, 0), boresightAzimuth: Double.pi / 2,
                                                 steeringAngles: angles, motion: MotionNoise(gnssSigma: 1.0))
        c.anchoring.enabled = anchoring
        return try ClassicalPredictor(configuration: c)
    }

    func scan(relativeAzimuth az: Double, range: Double = 10) -> [Float] {
        SyntheticDriveTests.beamPowers(relativeAzimuth: az, range: range).map { Float(10 * log10(Double($0))) }
    }

    @Test func peakIsRefinedBetweenBeams() throws {
        let ranker = try BeamRanker(steeringAngles: angles, sigma: nil, topK: 3)
        // Between two beams the refined azimuth is much closer than the strongest beam's angle.
        for az in [-0.9, -0.41, -0.05, 0.013, 0.3, 0.77] {
            let measured = try #require(ranker.measuredAzimuth(powerDBm: scan(relativeAzimuth: az), minPeakDB: 6))
            let nearest = angles.min { abs($0 - az) < abs($1 - az) }!
            #expect(abs(measured - az) < 0.01, "azimuth \(az): measured \(measured)")
            #expect(abs(measured - az) <= abs(nearest - az) + 1e-9)
        }
        // A flat scan has no clear peak; a scan of the wrong length is not a measurement.
        #expect(ranker.measuredAzimuth(powerDBm: [Float](repeating: -80, count: 64), minPeakDB: 6) == nil)
        #expect(ranker.measuredAzimuth(powerDBm: [0, 1], minPeakDB: 6) == nil)
    }

    @Test func biasIsRecoveredFromDirections() throws {
        let p = try predictor()
        let bias = SIMD2(1.2, -0.9)
        // A UE passing 8.5 m in front of the array: rays from many directions fix both axes.
        var scans: [(stamp: Int64, dbm: [Float])] = []
        var estimates: [(stamp: Int64, state: CTRVState)] = []
        for k in 0..<8 {
            let t = 2.0 + Double(k) * 0.1
            let truth = SyntheticDriveTests.truePosition(t)
            let stamp = Fixture.t0 + Int64(t * 1e9)
            scans.append((stamp, scan(relativeAzimuth: p.relativeAzimuth(of: truth), range: (truth * truth).sum().squareRoot())))
            let biased = truth + bias
            estimates.append((stamp, CTRVState(x: biased.x, y: biased.y, v: 10, yaw: 0, yawRate: 0)))
        }
        let b = p.gnssBias(scans: scans, estimates: estimates)
        #expect(((b - bias) * (b - bias)).sum().squareRoot() < 0.15, "estimated \(b), true \(bias)")
        // Turned off: no correction.
        #expect(try predictor(anchoring: false).gnssBias(scans: scans, estimates: estimates) == .zero)
    }

    @Test func anchoredBeamFollowsTheMeasuredDirection() throws {
        // GNSS is 2 m off sideways; the scans show the true direction. The anchored prediction
        // picks the beam of the true future azimuth, the plain one is off by several beams.
        let anchored = try predictor(), plain = try predictor(anchoring: false)
        let history = Fixture.stamps(frames: 8).map { s -> FrameView in
            let truth = SIMD2(-3 + 2 * Fixture.seconds(s), 12.0)   // slow: 2 m/s
            return FrameView(stamp: s, gnss: truth + SIMD2(2, -1),
                                    beamPowerDBm: scan(relativeAzimuth: anchored.relativeAzimuth(of: truth)))
        }
        let horizon = Fixture.horizon(after: 8)
        let truthBeams = horizon.map { t -> Int in
            let az = anchored.relativeAzimuth(of: SIMD2(-3 + 2 * Fixture.seconds(t), 12.0))
            return angles.indices.min { abs(angles[$0] - az) < abs(angles[$1] - az) }!
        }
        let a = anchored.predict(history: history, horizon: horizon)
        let b = plain.predict(history: history, horizon: horizon)
        for (k, beam) in truthBeams.enumerated() {
            #expect(abs(a.steps[k].bestBeam - beam) <= 1, "step \(k): anchored \(a.steps[k].bestBeam), truth \(beam)")
            #expect(abs(b.steps[k].bestBeam - beam) >= 3, "step \(k): plain \(b.steps[k].bestBeam), truth \(beam)")
        }
    }

    @Test func perModalityStampsAreUsed() throws {
        // Fixes stamped 80 ms after the frame stamp: a filter fed the frame stamps would lag 0.8 m at 10 m/s.
        let p = try predictor(anchoring: false)
        let frames = Fixture.stamps(frames: 8)
        let history = frames.map { s in
            FrameView(stamp: s, gnss: SIMD2(10 * Fixture.seconds(s + 80_000_000), 20), gnssStamp: s + 80_000_000)
        }
        let horizon = Fixture.horizon(after: 8)
        let set = p.predict(history: history, horizon: horizon)
        for (step, t) in zip(set.steps, horizon) {
            #expect(abs(step.east - 10 * Fixture.seconds(t)) < 0.05)
        }
    }
}

@Suite struct LineOfSightHeightTests {
    /// A box of LiDAR points (its south face) across the line 10 m north of the array, `height` tall.
    func vehicle(height: Float, north: Float = 10) -> [SIMD3<Float>] {
        var points: [SIMD3<Float>] = []
        for i in 0...20 { for j in 0...15 {
            points.append(SIMD3(-2 + 4 * Float(i) / 20, north, 0.3 + (height - 0.3) * Float(j) / 15))
        } }
        return points
    }

    @Test func lowCarsUnderAMastLineDoNotBlock() {
        // Array at 3.0 m, UE antenna at 1.65 m, UE 15 m north: the line is at 2.1 m at 10 m.
        var params = BlockageParameters()
        params.arrayHeight = 3.0
        params.ueHeight = 1.65
        let estimator = BlockageEstimator(array: SIMD2(0, 0), parameters: params)
        let ue = SIMD2<Double>(0, 15)
        #expect(estimator.probabilities(points: vehicle(height: 1.5), radar: nil, targets: [ue])[0] < 0.05)
        #expect(estimator.probabilities(points: vehicle(height: 2.3), radar: nil, targets: [ue])[0] > 0.95)
        #expect(estimator.probabilities(points: vehicle(height: 3.8), radar: nil, targets: [ue])[0] > 0.99)
        // Without heights (2D corridor) the car counts too.
        let flat = BlockageEstimator(array: SIMD2(0, 0), parameters: BlockageParameters())
        #expect(flat.probabilities(points: vehicle(height: 1.5), radar: nil, targets: [ue])[0] > 0.95)
    }
}
