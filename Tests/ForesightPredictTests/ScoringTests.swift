import Foundation
import ForesightWire
import Testing
@testable import ForesightPredict

@Suite struct ScoringTests {
    let t0 = Fixture.t0
    func header(_ stamp: Int64) -> Header { Header(stamp: stamp, seq: 0, frameID: "truth") }

    /// Truth at t0+100 ms and t0+200 ms: best beams 5 and 9, UE at (0,0) and (10,0), blocked only at the second.
    func timeline() -> TruthTimeline {
        var tl = TruthTimeline(tolerance: 50_000_000)
        for (k, best) in [(1, 5), (2, 9)] {
            let stamp = t0 + Int64(k) * 100_000_000
            var power = [Float](repeating: 0.001, count: 16)   // −30 dBm
            power[best] = 1                                   // 0 dBm
            power[best + 1] = 0.1                             // −10 dBm
            tl.insert(TruthBeam(header: header(stamp), best: best, power: power))
            tl.insert(TruthUE(header: header(stamp), east: Double(k - 1) * 10, north: 0, velocityEast: 100, velocityNorth: 0, heading: 0))
            tl.insert(TruthBlockage(header: header(stamp), blocked: k == 2))
        }
        return tl
    }

    func step(_ east: Double, _ beams: [Int], power: Double, blockage: Double) -> PredictionSet.Step {
        PredictionSet.Step(east: east, north: 0, beams: beams, beamProbabilities: beams.map { _ in 0.2 },
                           powerBeam: beams[0], powerDBm: power, blockageProbability: blockage)
    }

    // Truth powers are float32 (0.001 mW is not exact), hence 1e-5 dB tolerances on power figures.
    @Test func handMadeCase() throws {
        var acc = ScoreAccumulator()
        // Horizon stamps 10 ms off the truth (within tolerance).
        let horizon = [t0 + 110_000_000, t0 + 210_000_000]
        // Set A: step 1 exact beam (5), position error 3 m, power exact, says clear (right);
        //        step 2 beam 10 (second in truth: −10 dB), true best 9 second in top-3, error 4 m,
        //        power −5 dBm vs −10 true (+5 dB), says blocked (right).
        let a = PredictionSet(model: "m", horizon: horizon, steps: [
            step(3, [5, 4, 6], power: 0, blockage: 0.1),
            step(14, [10, 9, 11], power: -5, blockage: 0.9),
        ])
        // Set B: step 1 beam 0 (−30 dB, best 5 not in top-3), error 1 m, power −40 vs −30 (−10 dB),
        //        says blocked (false positive); step 2 exact beam 9, error 0, power −2 vs 0, says clear (false negative).
        let b = PredictionSet(model: "m", horizon: horizon, steps: [
            step(-1, [0, 1, 2], power: -40, blockage: 0.7),
            step(10, [9, 8, 10], power: -2, blockage: 0.2),
        ])
        acc.add(a, truth: timeline())
        acc.add(b, truth: timeline())
        let r = acc.report
        #expect(r.predictions == 2 && r.steps.count == 2 && r.stepsWithoutTruth == 0)
        #expect(r.steps[0].top1 == 0.5 && r.steps[0].top3 == 0.5)
        #expect(r.steps[1].top1 == 0.5 && r.steps[1].top3 == 1.0)
        #expect(abs(r.steps[0].powerLossDB! - 15) < 1e-5)   // (0 + 30) / 2
        #expect(abs(r.steps[1].powerLossDB! - 5) < 1e-5)    // (10 + 0) / 2
        #expect(r.steps[0].positionErrorM == 2 && r.steps[1].positionErrorM == 2)
        #expect(abs(r.adeM! - 2) < 1e-12)                   // A: (3+4)/2, B: (1+0)/2 → mean 2
        #expect(abs(r.fdeM! - 2) < 1e-12)                   // (4 + 0) / 2
        #expect(abs(r.steps[0].powerMAEDB! - 5) < 1e-5)     // |0| and |−10|
        #expect(abs(r.steps[0].powerRMSEDB! - (50.0).squareRoot()) < 1e-5)
        #expect(abs(r.overall.powerMAEDB! - 17.0 / 4) < 1e-5)  // 0, 10, 5, 2
        #expect(r.overall.blockage == BinaryScore(truePositives: 1, falsePositives: 1, trueNegatives: 1, falseNegatives: 1))
        #expect(r.overall.blockage.f1 == 0.5 && r.overall.blockage.accuracy == 0.5)
        #expect(r.overall.top1 == 0.5 && r.overall.top3 == 0.75)
    }

    @Test func binaryRates() {
        let s = BinaryScore(truePositives: 6, falsePositives: 2, trueNegatives: 10, falseNegatives: 2)
        #expect(s.accuracy == 0.8 && s.precision == 0.75 && s.recall == 0.75 && s.f1 == 0.75)
        #expect(BinaryScore(trueNegatives: 3).f1 == nil)
        #expect(BinaryScore().accuracy == nil)
    }

    @Test func missingTruthAndUnknownPositionsAreSkipped() {
        var acc = ScoreAccumulator()
        // Step 2 is 80 ms from any truth: beyond the 50 ms tolerance.
        let set = PredictionSet(model: "m:no-gnss", horizon: [t0 + 100_000_000, t0 + 280_000_000],
                                steps: [step(0, [5], power: 0, blockage: 0), step(0, [9], power: 0, blockage: 0)],
                                positionKnown: false)
        acc.add(set, truth: timeline())
        let r = acc.report
        #expect(r.stepsWithoutTruth == 1 && r.positionUnknown == 1)
        #expect(r.steps[0].beamSamples == 1 && r.steps[1].beamSamples == 0)
        #expect(r.steps[1].top1 == nil && r.adeM == nil && r.fdeM == nil)
        #expect(r.steps[0].positionSamples == 0)
    }

    @Test func timelineFindsNearestWithinTolerance() {
        var tl = TruthTimeline(tolerance: 30)
        for s in [100, 200, 150] as [Int64] { tl.insert(TruthBlockage(header: header(s), blocked: s == 150)) }
        #expect(tl.blockage(near: 160)?.header.stamp == 150)
        #expect(tl.blockage(near: 125)?.header.stamp == 100)   // tie → earlier
        #expect(tl.blockage(near: 70)?.header.stamp == 100)
        #expect(tl.blockage(near: 69) == nil)
        #expect(tl.blockage(near: 231) == nil)
        #expect(tl.blockage(near: Int64.min) == nil)
        #expect(tl.counts.blockage == 3)
    }

    @Test func tableAndJSON() throws {
        var acc = ScoreAccumulator()
        acc.add(PredictionSet(model: "classical-ctrv", horizon: [t0 + 100_000_000],
                              steps: [step(1, [5, 6, 4], power: 0, blockage: 0)]), truth: timeline())
        let r = acc.report
        let table = r.table()
        #expect(table.contains("classical-ctrv"))
        #expect(table.split(separator: "\n").count == 5)   // title, header, step 1, all, ADE/FDE
        let json = try JSONSerialization.jsonObject(with: try r.json()) as? [String: Any]
        let overall = json?["overall"] as? [String: Any]
        #expect(overall?["top1"] as? Double == 1)
        #expect((overall?["blockage"] as? [String: Any])?["f1"] is NSNull)
        #expect(try JSONDecoder().decode(ScoreReport.self, from: r.json()) == r)
    }
}

@Suite struct WireConversionTests {
    func sample() -> PredictionSet {
        let predictor = Fixture.predictor()
        let history = Fixture.stamps(frames: 8).map { s in FrameView(stamp: s, gnss: SIMD2(10 * Fixture.seconds(s), 25)) }
        return predictor.predict(history: history, horizon: Fixture.horizon(after: 8))
    }

    func geodetic(_ east: Double, _ north: Double) -> (lat: Double, lon: Double) {
        (33.42 + north / 111_320, -111.93 + east / (111_320 * cos(33.42 * Double.pi / 180)))
    }

    @Test func messagesDecodeWithValidation() throws {
        let set = sample()
        let header = Header(stamp: Fixture.t0 + 7 * Fixture.frameNs, seq: 12, frameID: "site")
        let m = try set.messages(header: header, geodetic: geodetic)
        let beam = try BeamPrediction.decode(m.beam.encoded())
        let position = try PositionPrediction.decode(m.position.encoded())
        let power = try PowerPrediction.decode(m.power.encoded())
        let blockage = try BlockagePrediction.decode(m.blockage.encoded())
        #expect(beam == m.beam && position == m.position && power == m.power && blockage == m.blockage)
        #expect(beam.model == "classical-ctrv" && beam.horizon == set.horizon && beam.header == header)
        #expect(beam.best == set.steps.map(\.bestBeam) && beam.topk.allSatisfy { $0.count == 3 })
        #expect(position.east == set.steps.map(\.east))
        #expect(abs(position.lat[0] - geodetic(set.steps[0].east, set.steps[0].north).lat) < 1e-12)
        #expect(power.beam == beam.best)
    }

    @Test func invalidSetsAreRejected() {
        let good = sample()
        var nan = good; nan.steps[2].east = .nan
        var backwards = good; backwards.horizon[3] = backwards.horizon[1]
        var short = good; short.steps.removeLast()
        var prob = good; prob.steps[0].blockageProbability = 1.5
        var empty = good; empty.horizon = []; empty.steps = []
        for bad in [nan, backwards, short, prob, empty] {
            #expect(throws: PredictError.self) { try bad.messages(header: Header(stamp: 0, seq: 0, frameID: "x"), geodetic: geodetic) }
        }
        #expect(throws: PredictError.self) {
            try good.messages(header: Header(stamp: 0, seq: 0, frameID: "x")) { _, _ in (95, 0) }
        }
    }

    @Test func configurationIsValidated() {
        var c = Fixture.configuration()
        c.motion.gnssSigma = 0
        #expect(throws: PredictError.self) { try ClassicalPredictor(configuration: c) }
        c = Fixture.configuration(); c.steeringAngles = []
        #expect(throws: PredictError.self) { try ClassicalPredictor(configuration: c) }
        c = Fixture.configuration(); c.arrayPosition = SIMD2(.infinity, 0)
        #expect(throws: PredictError.self) { try ClassicalPredictor(configuration: c) }
        let message = PredictError.invalidConfiguration(field: "topK", detail: "x").description
        #expect(message.contains("topK"))
    }
}
