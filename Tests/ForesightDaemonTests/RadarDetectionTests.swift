import Foundation
import Testing
import ForesightPredict
import ForesightPreprocess
import ForesightSite
import ForesightTestSupport
import ForesightWire

/// The radar chain the classical predictor uses live: raw cube → range-angle map → detections in
/// the site frame, checked against a moving point target placed at a known site position.
@Suite struct RadarDetectionTests {
    /// A cube with one moving point target at body-frame range `range` and direction cosine `u`
    /// (positive to the left), the same signal model as the simulator's radar, plus weak noise.
    static func cube(radar: RadarCalibration, range: Double, u: Double, velocity: Double) -> [UInt8] {
        var values = [Float](repeating: 0, count: 2 * radar.rx * radar.samples * radar.chirps)
        let beat = 2 * radar.slopeHzPerS * range / 299_792_458.0
        var rng = SystemRandomNumberGenerator()
        for r in 0..<radar.rx {
            for n in 0..<radar.samples {
                for c in 0..<radar.chirps {
                    let phase = 2 * Double.pi * beat * Double(n) / radar.sampleRateHz
                        + 2 * Double.pi * (2 * velocity / radar.wavelength) * Double(c) * radar.chirpPeriodS
                        - Double.pi * Double(r) * u
                    let i = 2 * ((r * radar.samples + n) * radar.chirps + c)
                    values[i] = Float(cos(phase)) + Float.random(in: -0.05...0.05, using: &rng)
                    values[i + 1] = Float(sin(phase)) + Float.random(in: -0.05...0.05, using: &rng)
                }
            }
        }
        return PackedArray.bytes(values)
    }

    @Test func aMovingTargetIsDetectedWhereItIs() throws {
        let site = try Site.load(path: TestSupport.path("Calibration/sim-site.yaml"))
        let radar = site.radar
        let map = try RadarPreprocessor().process(cube: Self.cube(radar: radar, range: 12, u: 0.5, velocity: 6),
                                                  rx: radar.rx, samples: radar.samples, chirps: radar.chirps, type: .cf32)
        let detector = RadarDetector(rangeResolution: radar.rangeResolution, origin: SIMD2(radar.pose.position.x, radar.pose.position.y),
                                     height: radar.pose.position.z, yaw: radar.pose.yawDeg * .pi / 180, targetHeight: radar.pose.position.z)
        let found = detector.detect(map: map, angleBins: 64, rangeBins: radar.samples)
        let strongest = try #require(found.detections.first, "no detection")
        // The target: 12 m away, 30° to the left of the boresight (u = sin 30° = 0.5).
        let expected = radar.pose.yawDeg * .pi / 180 + asin(0.5)
        #expect(abs(strongest.range - 12) < 2 * radar.rangeResolution, "range \(strongest.range)")
        #expect(abs(strongest.azimuth - expected) < 0.06, "azimuth \(strongest.azimuth), expected \(expected)")
        // Noise alone gives (almost) nothing.
        #expect(found.detections.count <= 4, "\(found.detections.count) detections from one target")
        let empty = detector.detect(map: try RadarPreprocessor().process(cube: Self.cube(radar: radar, range: 12, u: 0.5, velocity: 0),
                                                                          rx: radar.rx, samples: radar.samples, chirps: radar.chirps, type: .cf32),
                                    angleBins: 64, rangeBins: radar.samples)
        #expect(empty.detections.count <= 2, "a static target (removed as clutter) left \(empty.detections.count) detections")
    }
}
