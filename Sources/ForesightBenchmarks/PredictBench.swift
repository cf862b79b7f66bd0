import Foundation
import ForesightCore
import ForesightPredict
import ForesightWire

/// The classical predictor per frame: an 8-frame window with GNSS, 64-beam power scans and a
/// 20k-point LiDAR cloud in the newest frame (and in every frame, with the UE's car in it: the
/// LiDAR track), 5 horizon steps; plus scoring and wire encoding.
let predictBenchmark = Benchmark(name: "predict") { report in
    let steering = (0..<64).map { asin(-1 + (2 * Double($0) + 1) / 64) }
    var blockage = BlockageParameters()
    blockage.arrayHeight = 3.0
    blockage.ueHeight = 1.65
    let configuration = ClassicalPredictor.Configuration(arrayPosition: SIMD2(0, 0), boresightAzimuth: Double.pi / 2,
                                                         steeringAngles: steering, blockage: blockage)
    let predictor = try ClassicalPredictor(configuration: configuration)
    let t0: Int64 = 1_767_225_600_000_000_000
    var state: UInt64 = 42
    func uniform() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 24)
    }
    // A street-like cloud: ground, facades and some vehicles, 20,000 points in the site frame.
    let cloud: [SIMD3<Float>] = (0..<20_000).map { _ in
        SIMD3(-50 + 100 * uniform(), -4 + 27 * uniform(), 4 * uniform())
    }
    var history: [FrameView] = []
    for k in 0..<8 {
        let stamp = t0 + Int64(k) * 100_000_000
        let east = -10 + Double(k)
        let az = atan2(8.5, east) - Double.pi / 2
        let scan: [Float] = steering.map { a in Float(-60 - 200 * (a - az) * (a - az)) }
        history.append(FrameView(stamp: stamp, gnss: SIMD2(east + 0.5, 8.2), beamPowerDBm: scan,
                                        lidarPoints: k == 7 ? cloud : nil))
    }
    let horizon = (1...5).map { t0 + Int64(7 + $0) * 100_000_000 }

    var set = predictor.predict(history: history, horizon: horizon)
    let latency = measure(iterations: 500) { set = predictor.predict(history: history, horizon: horizon) }
    report.recordLatency("predict, 20k LiDAR pts", latency)

    // A cloud in every frame with the UE's car (4.6 × 1.85 × 1.5 m) at its true position: the LiDAR track.
    var tracked = history
    for k in 0..<8 {
        let centre = SIMD2<Float>(Float(-10 + Double(k)), 8.5)
        var c = cloud
        for i in 0..<400 {
            let a = Float(i % 40) / 39 - 0.5, h = Float(i / 40) / 9
            c.append(SIMD3(centre.x + 4.6 * a, centre.y - 0.925, 0.4 + 1.1 * h))   // near side
            c.append(SIMD3(centre.x + 4.6 * a, centre.y - 0.925 + 1.85 * h, 1.5))  // roof
        }
        tracked[k].lidarPoints = c
        tracked[k].lidarGrid = LidarGrid(points: c)   // as the daemon's observation builder does, once per frame
    }
    let everyFrame = measure(iterations: 300) { set = predictor.predict(history: tracked, horizon: horizon) }
    report.recordLatency("predict, 20k LiDAR pts in every frame (LiDAR track)", everyFrame)

    var noLidar = history
    noLidar[7].lidarPoints = nil
    let geometry = measure(iterations: 2_000) { set = predictor.predict(history: noLidar, horizon: horizon) }
    report.recordLatency("predict, no LiDAR", geometry)

    let header = Header(stamp: history[7].stamp, seq: 1, frameID: "site")
    let encode = try measure(iterations: 2_000) {
        let m = try set.messages(header: header) { e, n in (33.42 + n / 111_320, -111.93 + e / 92_900) }
        _ = m.beam.encoded(); _ = m.position.encoded(); _ = m.power.encoded(); _ = m.blockage.encoded()
    }
    report.recordLatency("set to 4 wire messages", encode)

    var truth = TruthTimeline()
    for (k, t) in horizon.enumerated() {
        let h = Header(stamp: t, seq: UInt32(k), frameID: "truth")
        truth.insert(TruthBeam(header: h, best: 30, power: [Float](repeating: 1e-6, count: 64)))
        truth.insert(TruthUE(header: h, east: 0, north: 8.5, velocityEast: 1, velocityNorth: 0, heading: 0))
        truth.insert(TruthBlockage(header: h, blocked: false))
    }
    var accumulator = ScoreAccumulator()
    let scoring = measure(iterations: 5_000) { accumulator.add(set, truth: truth) }
    report.recordLatency("score one set", scoring)
}
