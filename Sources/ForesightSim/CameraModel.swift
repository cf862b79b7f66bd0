import CTurboJPEG
import ForesightSite
import Foundation

/// Why a camera frame could not be encoded.
public enum SimError: Error, CustomStringConvertible, Equatable, Sendable {
    /// libjpeg-turbo refused the image.
    case jpeg(String)

    /// What went wrong and what to do.
    public var description: String {
        switch self {
        case .jpeg(let reason):
            return "JPEG encoding failed: \(reason); check the camera width/height in the site file and the libturbojpeg installation"
        }
    }
}

/// Renders the camera's view as an RGB image with a pinhole model: sky, road with markings,
/// sidewalks, facades with windows (computed once, the camera does not move) and vehicles as
/// shaded boxes (per frame, only inside each box's projected bounding rectangle, with a depth
/// buffer). Encodes JPEG with libjpeg-turbo.
public struct CameraModel: Sendable {
    let camera: CameraCalibration
    let quality: Int
    let origin: SIMD3<Double>
    let directions: [SIMD3<Double>]
    let background: [UInt8]
    let backgroundDepth: [Double]

    /// Precomputes the pixel rays and the static background.
    public init(camera: CameraCalibration, scene: StaticScene, quality: Int) {
        self.camera = camera
        self.quality = quality
        origin = camera.pose.position
        let count = camera.width * camera.height
        var directions: [SIMD3<Double>] = []
        directions.reserveCapacity(count)
        var rgb = [UInt8](repeating: 0, count: 3 * count)
        var depth = [Double](repeating: .infinity, count: count)
        for v in 0..<camera.height {
            for u in 0..<camera.width {
                let body = SIMD3(1, -(Double(u) + 0.5 - camera.cx) / camera.fx, -(Double(v) + 0.5 - camera.cy) / camera.fy)
                var site = camera.pose.directionToSite(body)
                site /= (site * site).sum().squareRoot()
                directions.append(site)
                let index = v * camera.width + u
                let hit = scene.intersect(origin: origin, direction: site, tMax: 2_000)
                let point = origin + site * hit.t
                var color = scene.color(surface: hit.surface, point: point, direction: site)
                if hit.surface != .none {
                    depth[index] = hit.t
                    // a little aerial perspective: far things fade towards the sky colour
                    let fade = min(0.6, hit.t / 400)
                    color = color * (1 - fade) + SIMD3(200, 215, 235) * fade
                }
                rgb[3 * index] = UInt8(max(0, min(255, color.x)))
                rgb[3 * index + 1] = UInt8(max(0, min(255, color.y)))
                rgb[3 * index + 2] = UInt8(max(0, min(255, color.z)))
            }
        }
        self.directions = directions
        background = rgb
        backgroundDepth = depth
    }

    /// Pixel coordinates of a site point, or nil when behind the camera.
    public func project(_ point: SIMD3<Double>) -> (u: Double, v: Double)? {
        let body = camera.pose.toBody(point)
        guard body.x > 0.05 else { return nil }
        return (camera.cx - camera.fx * body.y / body.x, camera.cy - camera.fy * body.z / body.x)
    }

    /// Renders the vehicles over the background: row-major RGB, `3·width·height` bytes.
    public func render(vehicles: [VehicleState]) -> [UInt8] {
        var rgb = background
        var depth = backgroundDepth
        let width = camera.width, height = camera.height
        let light = SIMD3(0.4, -0.3, 0.85)
        for vehicle in vehicles {
            let box = vehicle.box
            var u0 = Double(width), u1 = -1.0, v0 = Double(height), v1 = -1.0
            var clipped = false
            for corner in box.corners {
                guard let p = project(corner) else { clipped = true; break }
                u0 = min(u0, p.u); u1 = max(u1, p.u); v0 = min(v0, p.v); v1 = max(v1, p.v)
            }
            if clipped {
                // partly behind the camera: test the whole image (rare: only vehicles passing right by)
                let center = camera.pose.toBody(box.center)
                if center.x < -box.half.x - box.half.y { continue }
                (u0, u1, v0, v1) = (0, Double(width - 1), 0, Double(height - 1))
            }
            let ua = max(0, Int(u0.rounded(.down))), ub = min(width - 1, Int(u1.rounded(.up)))
            let va = max(0, Int(v0.rounded(.down))), vb = min(height - 1, Int(v1.rounded(.up)))
            guard ua <= ub, va <= vb else { continue }
            let localOrigin = box.toLocal(origin)
            let glassFrom = box.half.z * (box.half.z > 1.2 ? 0.45 : 0.1)
            for v in va...vb {
                for u in ua...ub {
                    let index = v * width + u
                    let direction = box.directionToLocal(directions[index])
                    guard let hit = box.intersectLocal(localOrigin: localOrigin, localDirection: direction, tMax: depth[index]) else {
                        continue
                    }
                    depth[index] = hit.t
                    var normal = SIMD3<Double>(0, 0, 0)
                    normal[hit.axis] = hit.sign
                    let siteNormal = box.directionToSite(normal)
                    let shade = 0.45 + 0.55 * max(0, (siteNormal * light).sum())
                    var color = vehicle.color * shade
                    if hit.axis != 2 {
                        let z = (localOrigin + direction * hit.t).z
                        if z > glassFrom, z < box.half.z - 0.15 { color = SIMD3(40, 50, 65) * shade + SIMD3(20, 25, 30) }
                    }
                    rgb[3 * index] = UInt8(max(0, min(255, color.x)))
                    rgb[3 * index + 1] = UInt8(max(0, min(255, color.y)))
                    rgb[3 * index + 2] = UInt8(max(0, min(255, color.z)))
                }
            }
        }
        return rgb
    }

    /// Encodes an RGB image of the camera's size as baseline JPEG (4:2:0).
    public func encodeJPEG(_ rgb: [UInt8]) throws(SimError) -> [UInt8] {
        guard rgb.count == 3 * camera.width * camera.height else {
            throw .jpeg("image has \(rgb.count) bytes, expected \(3 * camera.width * camera.height)")
        }
        guard let handle = tjInitCompress() else { throw .jpeg("tjInitCompress failed") }
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let status = rgb.withUnsafeBufferPointer { src in
            tjCompress2(handle, src.baseAddress, Int32(camera.width), 0, Int32(camera.height), Int32(TJPF_RGB.rawValue),
                        &buffer, &size, Int32(TJSAMP_420.rawValue), Int32(quality), 0)
        }
        defer { if let buffer { tjFree(buffer) } }
        guard status == 0, let buffer else {
            throw .jpeg(String(cString: tjGetErrorStr2(handle)))
        }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }
}
