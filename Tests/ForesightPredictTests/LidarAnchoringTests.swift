import ForesightCore
import Foundation
import Testing
@testable import ForesightPredict

@Suite struct LidarAnchoringTests {
    /// The LiDAR returns of a `length` × `width` × `height` car centred at `centre` heading `heading`,
    /// seen from a mast at the origin: points on every side face that faces the sensor and on the
    /// roof, on a 0.1 m grid, plus road points all around.
    static func car(at centre: SIMD2<Double>, heading: Double, length: Double = 4.6, width: Double = 1.85,
                    height: Double = 1.5) -> [SIMD3<Float>] {
        let u = SIMD2(cos(heading), sin(heading)), v = SIMD2(-sin(heading), cos(heading))
        var points: [SIMD3<Float>] = []
        func add(_ p: SIMD2<Double>, _ z: Double) { points.append(SIMD3(Float(p.x), Float(p.y), Float(z))) }
        // Side faces: (outward normal, face centre offset, half extent along the face, face direction).
        let faces: [(normal: SIMD2<Double>, half: Double, along: SIMD2<Double>)] = [
            (u, length / 2, v), (-u, length / 2, v), (v, width / 2, u), (-v, width / 2, u),
        ]
        for face in faces {
            let faceCentre = centre + face.normal * face.half
            guard ((SIMD2<Double>.zero - faceCentre) * face.normal).sum() > 0 else { continue }   // faces away
            let extent = face.normal == u || face.normal == -u ? width / 2 : length / 2
            for s in stride(from: -extent, through: extent, by: 0.1) {
                for z in stride(from: 0.3, through: height, by: 0.1) { add(faceCentre + face.along * s, z) }
            }
        }
        for a in stride(from: -length / 2, through: length / 2, by: 0.1) {
            for b in stride(from: -width / 2, through: width / 2, by: 0.1) { add(centre + u * a + v * b, height) }
        }
        for dx in stride(from: -6.0, through: 6.0, by: 0.25) {
            for dy in stride(from: -6.0, through: 6.0, by: 0.25) { add(centre + SIMD2(dx, dy), 0.02) }
        }
        return points
    }

    static func distance(_ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Double { ((a - b) * (a - b)).sum().squareRoot() }

    @Test func theVehicleCentreComesFromTheExtentOfItsVisibleFaces() throws {
        let anchoring = LidarAnchoring()
        for centre in [SIMD2(-30.0, 8.5), SIMD2(-6.0, 12.0), SIMD2(0.0, 15.5), SIMD2(12.0, 8.5), SIMD2(45.0, 15.5)] {
            for heading in [0.0, Double.pi] {
                let cloud = Self.car(at: centre, heading: heading)
                // Searched from a GNSS-like position 1.8 m off.
                let seen = try #require(anchoring.locate(points: cloud, near: centre + SIMD2(1.5, -1.0), heading: heading))
                #expect(Self.distance(seen, centre) < 0.2, "car at \(centre) heading \(heading): seen \(seen)")
                // The median of the points would sit on the visible faces, far from the centre.
                let xs = cloud.filter { $0.z >= 0.4 }.map(\.x).sorted(), ys = cloud.filter { $0.z >= 0.4 }.map(\.y).sorted()
                let median = SIMD2(Double(LidarAnchoring.quantile(sorted: xs, 0.5)), Double(LidarAnchoring.quantile(sorted: ys, 0.5)))
                #expect(Self.distance(median, centre) > Self.distance(seen, centre))
            }
        }
    }

    /// A deterministic cluttered street: `count` points over 100 × 27 × 4 m, plus a car.
    static func clutter(count: Int, seed: UInt64, car centre: SIMD2<Double>) -> [SIMD3<Float>] {
        var state = seed
        func uniform() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24)
        }
        var cloud = (0..<count).map { _ in SIMD3(-50 + 100 * uniform(), -4 + 27 * uniform(), 4 * uniform()) }
        cloud += car(at: centre, heading: 0)
        return cloud
    }

    @Test func theGridFindsExactlyWhatTheScanFinds() throws {
        let anchoring = LidarAnchoring()
        var found = 0
        for seed in UInt64(1)...12 {
            let centre = SIMD2(Double(seed) * 7 - 45, seed % 2 == 0 ? 8.5 : 12.0)
            let cloud = Self.clutter(count: 4_000 + Int(seed) * 500, seed: seed, car: centre)
            let grid = try #require(LidarGrid(points: cloud))
            #expect(grid.points.count == cloud.count)
            for offset in [SIMD2(0.0, 0.0), SIMD2(1.5, -1.0), SIMD2(-2.5, 0.7), SIMD2(30.0, 3.0)] {
                for heading in [0.0, 0.3, Double.pi] {
                    let scanned = anchoring.locate(points: cloud, near: centre + offset, heading: heading)
                    let gridded = anchoring.locate(points: cloud, near: centre + offset, heading: heading, grid: grid)
                    #expect(scanned == gridded, "seed \(seed) offset \(offset) heading \(heading)")
                    if scanned != nil { found += 1 }
                }
            }
        }
        #expect(found > 50)
    }

    @Test func theGridLeavesOutNonFinitePointsAndRefusesAbsurdSpreads() throws {
        let cloud: [SIMD3<Float>] = [SIMD3(1, 1, 1), SIMD3(.nan, 2, 1), SIMD3(3, .infinity, 1), SIMD3(2, 2, .nan)]
        let grid = try #require(LidarGrid(points: cloud))
        #expect(grid.points.count == 2)
        #expect(LidarGrid(points: []) == nil)
        #expect(LidarGrid(points: [SIMD3(.nan, 0, 0)]) == nil)
        #expect(LidarGrid(points: [SIMD3(0, 0, 0), SIMD3(1e7, 1e7, 0)]) == nil)
        #expect(LidarGrid(points: cloud, cellSize: 0) == nil)
        var seen = 0
        grid.withPoints(near: SIMD2(1.5, 1.5), within: 1) { seen += $0.count }
        #expect(seen == 2)
        grid.withPoints(near: SIMD2(500, 500), within: 1) { seen += $0.count }
        #expect(seen == 2)
    }

    @Test func selectionGivesTheSortedQuantiles() {
        var state: UInt64 = 9
        for n in [1, 2, 3, 7, 50, 333, 1000] {
            for _ in 0..<5 {
                var values = (0..<n).map { _ -> Float in
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    return Float(Int(state >> 54)) / 8   // many ties
                }
                let sorted = values.sorted()
                for (lo, hi) in [(Float(0.5), Float(0.5)), (0.03, 0.97), (0, 1), (0.2, 0.21)] {
                    var v = values
                    let q = LidarAnchoring.quantiles(&v, lo, hi)
                    #expect(q.low == LidarAnchoring.quantile(sorted: sorted, lo) && q.high == LidarAnchoring.quantile(sorted: sorted, hi),
                            "n \(n) q \(lo)/\(hi)")
                }
                values.reverse()
            }
        }
    }

    @Test func noVehicleNearTheTrackGivesNoMeasurement() {
        let anchoring = LidarAnchoring()
        let cloud = Self.car(at: SIMD2(20, 12), heading: 0)
        // The car is 10 m from where the UE should be: nothing within the gate but road.
        #expect(anchoring.locate(points: cloud, near: SIMD2(10, 12), heading: 0) == nil)
        // Road points alone never make a vehicle.
        let road = cloud.filter { $0.z < 0.1 }
        #expect(anchoring.locate(points: road, near: SIMD2(20, 12), heading: 0) == nil)
        #expect(anchoring.locate(points: [], near: SIMD2(20, 12), heading: 0) == nil)
        #expect(anchoring.locate(points: cloud, near: SIMD2(.nan, 12), heading: 0) == nil)
    }

    func predictor(lidar: Bool) throws -> ClassicalPredictor {
        var c = Fixture.configuration(gnssSigma: 1.0)
        c.lidarAnchoring.enabled = lidar
        return try ClassicalPredictor(configuration: c)
    }

    @Test func theLidarTrackRemovesTheGnssBiasWithoutBeamPower() throws {
        // A car driving east at 10 m/s, 12 m in front of the array; GNSS is 1.5 m east and 1.2 m
        // south of the truth with 0.3 m of white noise; no beam-power scans (a dead mmWave receiver).
        var rng = SeededGenerator(state: 11)
        func truth(_ stamp: Int64) -> SIMD2<Double> { SIMD2(-20 + 10 * Fixture.seconds(stamp), 12) }
        let history = Fixture.stamps(frames: 8).map { s in
            FrameView(stamp: s, gnss: truth(s) + SIMD2(1.5, -1.2) + SIMD2(0.3 * rng.gaussian(), 0.3 * rng.gaussian()),
                      lidarPoints: Self.car(at: truth(s), heading: 0))
        }
        let horizon = Fixture.horizon(after: 8)
        let anchored = try predictor(lidar: true).predict(history: history, horizon: horizon)
        let plain = try predictor(lidar: false).predict(history: history, horizon: horizon)
        for (k, t) in horizon.enumerated() {
            let a = SIMD2(anchored.steps[k].east, anchored.steps[k].north), p = SIMD2(plain.steps[k].east, plain.steps[k].north)
            #expect(Self.distance(a, truth(t)) < 0.4, "step \(k): anchored \(a), truth \(truth(t))")
            #expect(Self.distance(p, truth(t)) > 1.2, "step \(k): GNSS only \(p), truth \(truth(t))")
        }
        // The beams follow: the anchored prediction picks the true beam (±1) at every step.
        let p = try predictor(lidar: true)
        for (k, t) in horizon.enumerated() {
            let az = p.relativeAzimuth(of: truth(t))
            let beam = p.configuration.steeringAngles.indices.min {
                abs(p.configuration.steeringAngles[$0] - az) < abs(p.configuration.steeringAngles[$1] - az)
            } ?? -1
            #expect(abs(anchored.steps[k].bestBeam - beam) <= 1, "step \(k): \(anchored.steps[k].bestBeam) vs \(beam)")
        }
    }

    @Test func withoutTheVehicleInTheCloudsTheGnssTrackStays() throws {
        // Clouds with the car 15 m away from the UE: nothing is found, the prediction equals the
        // one without LiDAR anchoring.
        func truth(_ stamp: Int64) -> SIMD2<Double> { SIMD2(-20 + 10 * Fixture.seconds(stamp), 12) }
        let history = Fixture.stamps(frames: 8).map { s in
            FrameView(stamp: s, gnss: truth(s) + SIMD2(1.5, -1.2), lidarPoints: Self.car(at: truth(s) + SIMD2(15, 0), heading: 0))
        }
        let horizon = Fixture.horizon(after: 8)
        let anchored = try predictor(lidar: true).predict(history: history, horizon: horizon)
        let plain = try predictor(lidar: false).predict(history: history, horizon: horizon)
        for k in horizon.indices {
            #expect(anchored.steps[k].east == plain.steps[k].east && anchored.steps[k].north == plain.steps[k].north)
        }
    }

    @Test func aParkedCarBesideTheLaneIsNotTakenForTheUE() throws {
        // The UE (not in the clouds: occluded) drives east at 10 m/s; a car is parked 2 m from its
        // GNSS track. Found in every cloud, the parked car does not move with the track: not used.
        func truth(_ stamp: Int64) -> SIMD2<Double> { SIMD2(-2 + 10 * Fixture.seconds(stamp), 12) }
        let parked = Self.car(at: SIMD2(1, 10.5), heading: 0)
        let history = Fixture.stamps(frames: 8).map { s in FrameView(stamp: s, gnss: truth(s), lidarPoints: parked) }
        let horizon = Fixture.horizon(after: 8)
        let p = try predictor(lidar: true)
        #expect(p.configuration.lidarAnchoring.locate(points: parked, near: truth(Fixture.t0 + 300_000_000), heading: 0) != nil)
        let anchored = p.predict(history: history, horizon: horizon)
        let plain = try predictor(lidar: false).predict(history: history, horizon: horizon)
        for k in horizon.indices {
            #expect(anchored.steps[k].east == plain.steps[k].east && anchored.steps[k].north == plain.steps[k].north)
        }
    }

    @Test func theFirstVehicleAlongARayIsFoundAndAWallIsNot() throws {
        let anchoring = LidarAnchoring()
        var wall: [SIMD3<Float>] = []
        for x in stride(from: -30.0, through: 30.0, by: 0.1) {
            for z in stride(from: 0.5, through: 1.9, by: 0.2) { wall.append(SIMD3(Float(x), 20, Float(z))) }
        }
        #expect(anchoring.alongRay(points: wall, origin: .zero, azimuth: atan2(20, 5)) == nil)
        let ue = SIMD2(5.0, 12.0)
        let cloud = wall + Self.car(at: ue, heading: 0)
        let seen = try #require(anchoring.alongRay(points: cloud, origin: .zero, azimuth: atan2(12, 5)))
        #expect(Self.distance(seen, ue) < 0.3, "seen \(seen)")
        #expect(anchoring.alongRay(points: cloud, origin: .zero, azimuth: atan2(12, 5), grid: LidarGrid(points: cloud)) == seen)
        // A ray that misses the car reaches only the wall.
        #expect(anchoring.alongRay(points: cloud, origin: .zero, azimuth: atan2(12, -20)) == nil)
        #expect(anchoring.alongRay(points: cloud, origin: SIMD2(.nan, 0), azimuth: 1) == nil)
    }

    @Test func withoutGnssTheFirstVehicleAlongTheMeasuredBeamIsTracked() throws {
        // The UE's car drives east at 10 m/s, 12 m in front of the array; GNSS is dead. A second car
        // further out on the same bearing is behind the UE, not taken for it.
        func truth(_ stamp: Int64) -> SIMD2<Double> { SIMD2(-10 + 10 * Fixture.seconds(stamp), 12) }
        let p = try predictor(lidar: true)
        let steering = p.configuration.steeringAngles
        func scan(toward q: SIMD2<Double>) -> [Float] {
            let az = p.relativeAzimuth(of: q)
            return steering.map { Float(-60 - 200 * ($0 - az) * ($0 - az)) }
        }
        let history = Fixture.stamps(frames: 8).map { s in
            FrameView(stamp: s, beamPowerDBm: scan(toward: truth(s)),
                      lidarPoints: Self.car(at: truth(s), heading: 0) + Self.car(at: truth(s) * 1.5, heading: 0), missing: [.gnss])
        }
        let horizon = Fixture.horizon(after: 8)
        let set = p.predict(history: history, horizon: horizon)
        #expect(set.model == ClassicalPredictor.noGNSSModelName)
        #expect(set.positionKnown)
        for (k, t) in horizon.enumerated() {
            let q = SIMD2(set.steps[k].east, set.steps[k].north)
            #expect(Self.distance(q, truth(t)) < 0.6, "step \(k): \(q), truth \(truth(t))")
        }
        // Without the clouds the position stays unknown (the beam is held from the newest scan).
        let blind = history.map { f -> FrameView in
            var o = f
            o.lidarPoints = nil
            return o
        }
        #expect(!p.predict(history: blind, horizon: horizon).positionKnown)
    }
}
