import ForesightCore
import Foundation
import Testing
@testable import ForesightPredict

@Suite struct BeamRankingTests {
    let angles = ClassicalPredictor.Configuration.uniformSteering(count: 64, fieldOfView: Double.pi / 2)

    @Test func picksTheBeamNearestTheAzimuth() throws {
        let ranker = try BeamRanker(steeringAngles: angles, sigma: nil, topK: 3)
        for target in [-0.7, -0.31, 0.0, 0.123, 0.5, 0.78] {
            let (beams, probs) = ranker.rank(azimuth: target)
            let nearest = angles.indices.min { abs(angles[$0] - target) < abs(angles[$1] - target) }!
            #expect(beams.first == nearest, "azimuth \(target)")
            #expect(beams.count == 3)
            // The other two are the angular neighbours, probabilities descending and within [0, 1].
            #expect(beams.allSatisfy { abs($0 - nearest) <= 2 })
            #expect(zip(probs, probs.dropFirst()).allSatisfy { $0 >= $1 })
            #expect(probs.allSatisfy { (0...1).contains($0) })
            #expect(probs.reduce(0, +) <= 1 + 1e-12)
        }
    }

    @Test func distanceWrapsAroundPi() throws {
        // Beams at −179° and +90°: an azimuth of +179° is 2° from the first, not 358°.
        let ranker = try BeamRanker(steeringAngles: [-179 * Double.pi / 180, Double.pi / 2], sigma: 0.1, topK: 1)
        #expect(ranker.rank(azimuth: 179 * Double.pi / 180).beams == [0])
        #expect(abs(BeamRanker.wrap(3 * Double.pi / 2) + Double.pi / 2) < 1e-12)
    }

    @Test func softmaxWidthDefaultsToBeamSpacing() throws {
        let ranker = try BeamRanker(steeringAngles: angles, sigma: nil, topK: 3)
        #expect(abs(ranker.sigma - (Double.pi / 2) / 63) < 1e-9)
        // Exactly on a beam: the neighbours are one σ away, so p(neighbour)/p(best) = e^−1.
        let (_, probs) = ranker.rank(azimuth: angles[20])
        #expect(abs(probs[1] / probs[0] - exp(-1)) < 1e-9)
    }

    @Test func rejectsUnusableCodebooks() {
        #expect(throws: PredictError.self) { try BeamRanker(steeringAngles: [], sigma: nil, topK: 3) }
        #expect(throws: PredictError.self) { try BeamRanker(steeringAngles: [0, .nan], sigma: nil, topK: 3) }
        #expect(throws: PredictError.self) { try BeamRanker(steeringAngles: [0, 0.1], sigma: nil, topK: 0) }
        #expect(throws: PredictError.self) { try BeamRanker(steeringAngles: [0.2, 0.2], sigma: nil, topK: 1) }
    }

    @Test func predictorPointsTheBeamAtTheFutureUEPosition() {
        // The UE drives east 20 m north of the array (boresight north), so its azimuth sweeps.
        let predictor = Fixture.predictor()
        let history = Fixture.stamps(frames: 8).map { s in
            FrameView(stamp: s, gnss: SIMD2(-15 + 10 * Fixture.seconds(s), 20))
        }
        let horizon = Fixture.horizon(after: 8)
        let set = predictor.predict(history: history, horizon: horizon)
        for (step, stamp) in zip(set.steps, horizon) {
            let ue = SIMD2(-15 + 10 * Fixture.seconds(stamp), 20.0)
            let relative = predictor.relativeAzimuth(of: ue)
            let expected = predictor.configuration.steeringAngles.indices.min {
                abs(predictor.configuration.steeringAngles[$0] - relative) < abs(predictor.configuration.steeringAngles[$1] - relative)
            }!
            #expect(abs(step.bestBeam - expected) <= 1, "predicted \(step.bestBeam), nearest \(expected)")
            #expect(step.powerBeam == step.bestBeam)
        }
        // Moving east = clockwise seen from the array: relative azimuth and beam index decrease.
        #expect(set.steps.first!.bestBeam > set.steps.last!.bestBeam)
    }
}

@Suite struct PowerTrendTests {
    func scans(_ best: [Float], beam: Int = 10) -> [(stamp: Int64, dbm: [Float])] {
        best.enumerated().map { i, p in
            var v = [Float](repeating: -100, count: 64)
            v[beam] = p
            return (Fixture.t0 + Int64(i) * Fixture.frameNs, v)
        }
    }

    @Test func linearTrendIsExtrapolated() throws {
        // +1 dB per 100 ms frame = +10 dB/s.
        let trend = try #require(PowerTrend(scans: scans([-70, -69, -68, -67, -66]), parameters: PowerParameters()))
        #expect(abs(trend.slopeDBPerSecond - 10) < 1e-9)
        #expect(abs(trend.level + 66) < 1e-9)
        #expect(abs(trend.power(at: trend.stamp + 500_000_000) + 61) < 1e-9)
        #expect(trend.latestArgmax == 10)
    }

    @Test func slopeIsClampedAndWindowed() throws {
        // Only the last 3 scans count; their slope of 100 dB/s is clamped to 20 dB/s.
        let params = PowerParameters(trendWindow: 3, maxSlopeDBPerSecond: 20, fallbackDBm: -90)
        let trend = try #require(PowerTrend(scans: scans([-20, -20, -70, -60, -50]), parameters: params))
        #expect(trend.slopeDBPerSecond == 20)
        // Level = mean + slope·(mean τ): (−60) + 20·0.1 = −58 at the newest scan.
        #expect(abs(trend.level + 58) < 1e-9)
    }

    @Test func predictorUsesTrendAndFallsBack() {
        let predictor = Fixture.predictor()
        let stamps = Fixture.stamps(frames: 8)
        let power = scans([-80, -79, -78, -77, -76, -75, -74, -73])
        let history = stamps.enumerated().map { i, s in
            FrameView(stamp: s, gnss: SIMD2(Fixture.seconds(s) * 5, 20), beamPowerDBm: power[i].dbm)
        }
        let horizon = Fixture.horizon(after: 8)
        let set = predictor.predict(history: history, horizon: horizon)
        for (k, step) in set.steps.enumerated() { #expect(abs(step.powerDBm - (-73 + Double(k + 1))) < 1e-6) }
        // No beam power (or a vector of the wrong length): the configured fallback.
        let bare = history.map { FrameView(stamp: $0.stamp, gnss: $0.gnss, beamPowerDBm: [1, 2, 3]) }
        #expect(predictor.predict(history: bare, horizon: horizon).steps.allSatisfy { $0.powerDBm == -90 })
    }

    @Test func withoutGNSSTheBeamIsHeldFromBeamPower() throws {
        let predictor = Fixture.predictor()
        let history = Fixture.stamps(frames: 8).enumerated().map { i, s in
            FrameView(stamp: s, beamPowerDBm: scans([Float](repeating: -60, count: 8), beam: 42)[i].dbm, missing: [.gnss])
        }
        let set = predictor.predict(history: history, horizon: Fixture.horizon(after: 8))
        #expect(set.model == "classical-ctrv:no-gnss")
        #expect(!set.positionKnown)
        #expect(set.steps.allSatisfy { $0.bestBeam == 42 && Set($0.beams) == [41, 42, 43] })
        #expect(set.steps.allSatisfy { $0.east == 0 && $0.north == 0 })
        try set.validate()
        // Nothing at all: beam nearest boresight, fallback power, still publishable.
        let empty = predictor.predict(history: [], horizon: Fixture.horizon(after: 1))
        #expect([31, 32].contains(empty.steps[0].bestBeam))
        try empty.validate()
    }
}
