import ForesightCore
import Foundation
import Testing
@testable import ForesightPredict

@Suite struct BlockageTests {
    let ue = SIMD2<Double>(0, 30)   // 30 m north of the array at the origin
    let estimator = BlockageEstimator(array: SIMD2(0, 0), parameters: BlockageParameters())

    /// A vertical wall of points across the line at `north`, `width` wide, heights 0…2.4 m.
    func wall(north: Float, width: Float = 3, east: Float = 0) -> [SIMD3<Float>] {
        var points: [SIMD3<Float>] = []
        for i in 0...30 { for j in 0...12 {
            points.append(SIMD3(east - width / 2 + width * Float(i) / 30, north, 2.4 * Float(j) / 12))
        } }
        return points
    }

    @Test func wallOnTheLineBlocks() {
        let p = estimator.probabilities(points: wall(north: 15), radar: nil, targets: [ue])
        #expect(p[0] > 0.99)
    }

    @Test func emptyOrOffsetCloudDoesNotBlock() {
        #expect(estimator.probabilities(points: [], radar: nil, targets: [ue])[0] < 0.05)
        // The same wall 5 m to the side, behind the UE, inside the UE's own box, or only ground points.
        let beside = wall(north: 15, east: 5)
        let behind = wall(north: 40)
        let ownCar = wall(north: 28.5)
        let ground = wall(north: 15).map { SIMD3($0.x, $0.y, 0.1) }
        for cloud in [beside, behind, ownCar, ground] {
            #expect(estimator.probabilities(points: cloud, radar: nil, targets: [ue])[0] < 0.05)
        }
    }

    @Test func countsFollowEachTarget() {
        // One wall at north 15 between x = −1.5…1.5: blocks the UE straight north, not one far east.
        let counts = estimator.corridorCounts(points: wall(north: 15), targets: [ue, SIMD2(30, 30)])
        #expect(counts[0] > 100)
        #expect(counts[1] == 0)
    }

    @Test func radarDetectionsOnTheLineAddEvidence() {
        let radar = RadarDetections(origin: SIMD2(0, 0), detections: [
            RadarDetection(range: 12, azimuth: Double.pi / 2, power: 1),
            RadarDetection(range: 14, azimuth: Double.pi / 2 + 0.01, power: 1),
        ])
        #expect(estimator.corridorCounts(radar: radar, targets: [ue]) == [2])
        #expect(estimator.probabilities(points: [], radar: radar, targets: [ue])[0] > 0.7)
        let aside = RadarDetections(origin: SIMD2(0, 0), detections: [RadarDetection(range: 12, azimuth: 0.3, power: 1)])
        #expect(estimator.probabilities(points: nil, radar: aside, targets: [ue])[0] < 0.05)
    }

    @Test func powerDropFallback() {
        #expect(estimator.probabilityFromPowerDrop(bestPowers: [-60, -60, -61, -60, -75]) > 0.95)
        #expect(estimator.probabilityFromPowerDrop(bestPowers: [-60, -60, -61, -60, -61]) < 0.05)
        #expect(estimator.probabilityFromPowerDrop(bestPowers: []) < 0.05)
    }

    @Test func predictorUsesTheNewestCloudAlongThePredictedLine() {
        let predictor = Fixture.predictor()
        let stamps = Fixture.stamps(frames: 8)
        let blocked = stamps.map { s in FrameView(stamp: s, gnss: SIMD2(0, 30), lidarPoints: wall(north: 15)) }
        let clear = stamps.map { s in FrameView(stamp: s, gnss: SIMD2(0, 30), lidarPoints: wall(north: 15, east: 6)) }
        let horizon = Fixture.horizon(after: 8)
        #expect(predictor.predict(history: blocked, horizon: horizon).steps.allSatisfy { $0.blockageProbability > 0.99 })
        #expect(predictor.predict(history: clear, horizon: horizon).steps.allSatisfy { $0.blockageProbability < 0.05 })
        // No LiDAR or radar: a sudden 20 dB drop of the best beam is read as blockage.
        let dropping = stamps.enumerated().map { i, s -> FrameView in
            var v = [Float](repeating: -100, count: 64)
            v[31] = i == 7 ? -80 : -60
            return FrameView(stamp: s, gnss: SIMD2(0, 30), beamPowerDBm: v)
        }
        #expect(predictor.predict(history: dropping, horizon: horizon).steps.allSatisfy { $0.blockageProbability > 0.95 })
    }

    @Test func distantPointsWeighMore() {
        // Five points on the line: at 80 m they stand for a vehicle (LiDAR returns are sparse
        // there), at 5 m they are noise.
        let far = SIMD2<Double>(0, 100), near = SIMD2<Double>(0, 12)
        let farPoints = (0..<5).map { SIMD3<Float>(0.1 * Float($0), 80, 1.2) }
        let nearPoints = (0..<5).map { SIMD3<Float>(0.1 * Float($0), 5, 1.2) }
        #expect(estimator.corridorEvidence(points: farPoints, targets: [far]) == [5 * 64])
        #expect(estimator.probabilities(points: farPoints, radar: nil, targets: [far])[0] > 0.99)
        #expect(estimator.probabilities(points: nearPoints, radar: nil, targets: [near])[0] < 0.1)
        var raw = BlockageParameters()
        raw.referenceRange = nil
        let unweighted = BlockageEstimator(array: SIMD2(0, 0), parameters: raw)
        #expect(unweighted.probabilities(points: farPoints, radar: nil, targets: [far])[0] < 0.1)
    }
}
