import ForesightSim
import ForesightSite
import Foundation

/// Shared fixtures: the package's own site and scenario files.
enum Fixtures {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static func site() throws -> Site {
        try Site.load(path: root + "/Calibration/sim-site.yaml")
    }

    static func scenario() throws -> Scenario {
        try Scenario.load(path: root + "/launch/scenarios/street.yaml")
    }

    /// The sim site with small sensors, so that debug-build tests stay fast.
    static func smallSite() throws -> Site {
        var site = try site()
        site.camera.width = 96
        site.camera.height = 54
        site.camera.fx = 62
        site.camera.fy = 62
        site.camera.cx = 48
        site.camera.cy = 27
        site.radar.samples = 64
        site.radar.chirps = 16
        site.lidar.columns = 128
        site.lidar.beams = 8
        return site
    }

    /// A vehicle state standing still (or moving) at a position.
    static func vehicle(id: Int, east: Double, north: Double, size: SIMD3<Double>, heading: Double = 0,
                        velocity: SIMD2<Double> = .zero, loss: Double = 25, isUE: Bool = false) -> VehicleState {
        VehicleState(id: id, isUE: isUE, east: east, north: north, velocityEast: velocity.x, velocityNorth: velocity.y,
                     heading: heading, box: OrientedBox(center: SIMD3(east, north, size.z / 2), size: size, yaw: heading),
                     color: SIMD3(200, 30, 30), rcs: 10, blockageLossDb: loss)
    }
}

/// A straightforward DFT for checking spectra in tests (sizes are small).
func dft(_ re: [Double], _ im: [Double], size: Int) -> [Double] {
    (0..<size).map { k in
        var sr = 0.0, si = 0.0
        for n in 0..<re.count {
            let angle = -2 * Double.pi * Double(k * n) / Double(size)
            sr += re[n] * cos(angle) - im[n] * sin(angle)
            si += re[n] * sin(angle) + im[n] * cos(angle)
        }
        return (sr * sr + si * si).squareRoot()
    }
}

func argmax(_ values: [Double]) -> Int {
    var best = 0
    for (i, v) in values.enumerated() where v > values[best] { best = i }
    return best
}
