import ForesightSite
import Foundation

/// Casts the LiDAR's rays against the ground, the facades and the vehicle boxes and returns the
/// hits as `[x, y, z, intensity]` float32 points in the LiDAR frame.
///
/// Beam `i` has the elevation of `LidarCalibration.elevationDeg(beam:)`; column `j` the azimuth
/// `360°·j/columns` counter-clockwise from the body x axis. Range noise is Gaussian; intensity
/// is reflectivity × |cos incidence| (0...1). Hits of the static scene are computed once; each
/// frame only tests the vehicle boxes, and only the columns a box can cover.
public struct LidarModel: Sendable {
    let lidar: LidarCalibration
    let rangeNoise: Double
    let origin: SIMD3<Double>
    /// Ray directions, body frame and site frame, index = beam·columns + column.
    let bodyDirections: [SIMD3<Double>]
    let siteDirections: [SIMD3<Double>]
    let staticT: [Double]
    let staticIntensity: [Double]

    /// Number of rays per revolution.
    public var rayCount: Int { lidar.beams * lidar.columns }

    /// Precomputes the rays and their static hits.
    public init(lidar: LidarCalibration, scene: StaticScene, rangeNoise: Double) {
        self.lidar = lidar
        self.rangeNoise = rangeNoise
        origin = lidar.pose.position
        var body: [SIMD3<Double>] = [], site: [SIMD3<Double>] = [], ts: [Double] = [], intensity: [Double] = []
        let count = lidar.beams * lidar.columns
        body.reserveCapacity(count); site.reserveCapacity(count); ts.reserveCapacity(count); intensity.reserveCapacity(count)
        for beam in 0..<lidar.beams {
            let elevation = lidar.elevationDeg(beam: beam) * .pi / 180
            for column in 0..<lidar.columns {
                let azimuth = 2 * Double.pi * Double(column) / Double(lidar.columns)
                let b = SIMD3(cos(elevation) * cos(azimuth), cos(elevation) * sin(azimuth), sin(elevation))
                let s = lidar.pose.directionToSite(b)
                body.append(b)
                site.append(s)
                let hit = scene.intersect(origin: lidar.pose.position, direction: s, tMax: lidar.maxRangeM)
                ts.append(hit.surface == .none ? .infinity : hit.t)
                intensity.append(scene.reflectivity(hit.surface) * scene.cosIncidence(hit.surface, direction: s))
            }
        }
        bodyDirections = body
        siteDirections = site
        staticT = ts
        staticIntensity = intensity
    }

    /// Columns (possibly wrapping) that can see `box`, or nil for all columns.
    func columnRange(of box: OrientedBox) -> (first: Int, count: Int)? {
        let local = box.toLocal(origin)
        if abs(local.x) <= box.half.x + 0.1 && abs(local.y) <= box.half.y + 0.1 { return nil }
        let centerBody = lidar.pose.toBody(box.center)
        let centerAzimuth = atan2(centerBody.y, centerBody.x)
        var lo = 0.0, hi = 0.0
        for corner in box.corners {
            let c = lidar.pose.toBody(corner)
            var delta = atan2(c.y, c.x) - centerAzimuth
            if delta > .pi { delta -= 2 * .pi } else if delta < -.pi { delta += 2 * .pi }
            lo = min(lo, delta)
            hi = max(hi, delta)
        }
        if hi - lo > 1.2 * .pi { return nil }
        let step = 2 * Double.pi / Double(lidar.columns)
        let first = Int(((centerAzimuth + lo) / step).rounded(.down)) - 1
        let last = Int(((centerAzimuth + hi) / step).rounded(.up)) + 1
        return (first, min(lidar.columns, last - first + 1))
    }

    /// One revolution against the vehicles: interleaved `[x, y, z, intensity]` float32 points.
    public func scan(vehicles: [VehicleState], random: inout SimRandom) -> [Float] {
        var t = staticT
        var intensity = staticIntensity
        let columns = lidar.columns
        for vehicle in vehicles {
            let box = vehicle.box
            let localOrigin = box.toLocal(origin)
            let range = columnRange(of: box) ?? (0, columns)
            for k in 0..<range.count {
                var column = (range.first + k) % columns
                if column < 0 { column += columns }
                for beam in 0..<lidar.beams {
                    let index = beam * columns + column
                    let direction = box.directionToLocal(siteDirections[index])
                    let tMax = min(t[index], lidar.maxRangeM)
                    if let hit = box.intersectLocal(localOrigin: localOrigin, localDirection: direction, tMax: tMax) {
                        t[index] = hit.t
                        intensity[index] = 0.8 * abs(direction[hit.axis])
                    }
                }
            }
        }
        var points: [Float] = []
        points.reserveCapacity(4 * 32_768)
        for index in 0..<t.count where t[index] < lidar.maxRangeM {
            let r = t[index] + rangeNoise * random.gaussian()
            let d = bodyDirections[index]
            points.append(Float(d.x * r))
            points.append(Float(d.y * r))
            points.append(Float(d.z * r))
            points.append(Float(intensity[index]))
        }
        return points
    }
}
