import ForesightCore
import Foundation
import Testing
@testable import ForesightPredict

@Suite struct PersistenceTests {
    static let steering = ClassicalPredictor.Configuration.uniformSteering(count: 64, fieldOfView: Double.pi / 2)

    func predictor(topK: Int = 3) throws -> PersistencePredictor {
        try PersistencePredictor(configuration: .init(arrayPosition: SIMD2(0, 0), steeringAngles: Self.steering, topK: topK))
    }

    /// A scan of −90 dBm everywhere except the given beams.
    func scan(_ peaks: [Int: Float]) -> [Float] {
        var p = [Float](repeating: -90, count: 64)
        for (b, v) in peaks { p[b] = v }
        return p
    }

    @Test func repeatsTheNewestScansStrongestBeamWithNaNIgnored() throws {
        var newest = scan([40: -60, 41: -63, 12: -70])
        newest[0] = .nan
        newest[5] = .nan
        let history = [
            FrameView(stamp: 0, gnss: SIMD2(1, 2), beamPowerDBm: scan([7: -50])),
            FrameView(stamp: 100, gnss: SIMD2(3, 4), beamPowerDBm: newest),
        ]
        let set = try predictor().predict(history: history, horizon: [200, 300, 400])
        #expect(set.model == "persistence" && set.positionKnown)
        #expect(set.steps.count == 3)
        for step in set.steps {
            #expect(step.beams == [40, 41, 12])
            #expect(step.powerBeam == 40 && step.powerDBm == -60)
            #expect(step.east == 3 && step.north == 4)
            #expect(step.blockageProbability == 0)   // no LiDAR: not blocked
            #expect(step.beamProbabilities[0] > step.beamProbabilities[1] && step.beamProbabilities[1] > step.beamProbabilities[2])
            #expect(step.beamProbabilities.allSatisfy { (0...1).contains($0) })
        }
        #expect(throws: Never.self) { try set.validate() }
    }

    @Test func rankingPutsNaNLastAndBreaksTiesByIndex() {
        #expect(PersistencePredictor.ranked(powerDBm: [.nan, -5, -3, -5, .nan]) == [2, 1, 3, 0, 4])
    }

    @Test func olderScanAndFixAreHeldWhenTheNewestFrameLacksThem() throws {
        let history = [
            FrameView(stamp: 0, gnss: SIMD2(5, 6), beamPowerDBm: scan([20: -55])),
            FrameView(stamp: 100),   // camera-only frame: nothing new to persist
        ]
        let set = try predictor(topK: 1).predict(history: history, horizon: [200])
        #expect(set.steps[0].beams == [20] && set.steps[0].east == 5 && set.steps[0].north == 6)
    }

    @Test func withoutGNSSOrScanItSaysSo() throws {
        let set = try predictor().predict(history: [FrameView(stamp: 0)], horizon: [100, 200])
        #expect(set.model == PersistencePredictor.noGNSSModelName)
        #expect(!set.positionKnown)
        // No scan: the beams nearest boresight (the two central beams of an even codebook first).
        #expect(Set(set.steps[0].beams.prefix(2)) == [31, 32])
        #expect(set.steps[0].powerDBm == -90)
        #expect(throws: Never.self) { try set.validate() }
    }

    @Test func blockageIsTheLidarCorridorStateNow() throws {
        // A wall across the line 15 m north of the array, the UE 30 m north.
        var wall: [SIMD3<Float>] = []
        for i in 0...30 { for j in 0...12 { wall.append(SIMD3(-1.5 + 3 * Float(i) / 30, 15, 2.4 * Float(j) / 12)) } }
        let blocked = try predictor().predict(history: [FrameView(stamp: 0, gnss: SIMD2(0, 30), lidarPoints: wall)], horizon: [100])
        #expect(blocked.steps[0].blockageProbability > 0.99)
        let clear = try predictor().predict(history: [FrameView(stamp: 0, gnss: SIMD2(30, 30), lidarPoints: wall)], horizon: [100])
        #expect(clear.steps[0].blockageProbability < 0.05)
    }

    @Test func invalidConfigurationsAreRejected() {
        #expect(throws: PredictError.self) { try PersistencePredictor(configuration: .init(arrayPosition: SIMD2(0, 0), steeringAngles: [])) }
        #expect(throws: PredictError.self) {
            try PersistencePredictor(configuration: .init(arrayPosition: SIMD2(0, 0), steeringAngles: [0], topK: 0))
        }
    }
}
