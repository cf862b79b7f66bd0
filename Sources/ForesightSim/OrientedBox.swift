import Foundation

/// A box standing on the ground, rotated about the vertical axis: a vehicle body.
public struct OrientedBox: Sendable, Equatable {
    /// Centre of the box in the site frame (z is half the height for a box on the ground).
    public var center: SIMD3<Double>
    /// Half of the length (along the heading), width and height, metres.
    public var half: SIMD3<Double>
    /// Heading, radians counter-clockwise from east.
    public var yaw: Double
    private let cosYaw: Double
    private let sinYaw: Double

    /// Creates a box from its centre, full size `[length, width, height]` and heading.
    public init(center: SIMD3<Double>, size: SIMD3<Double>, yaw: Double) {
        self.center = center
        self.half = size / 2
        self.yaw = yaw
        self.cosYaw = cos(yaw)
        self.sinYaw = sin(yaw)
    }

    /// A site point expressed in the box frame (x along the heading, y left, z up, origin at the centre).
    @inline(__always)
    public func toLocal(_ p: SIMD3<Double>) -> SIMD3<Double> {
        let d = p - center
        return SIMD3(cosYaw * d.x + sinYaw * d.y, -sinYaw * d.x + cosYaw * d.y, d.z)
    }

    /// A site direction expressed in the box frame.
    @inline(__always)
    public func directionToLocal(_ d: SIMD3<Double>) -> SIMD3<Double> {
        SIMD3(cosYaw * d.x + sinYaw * d.y, -sinYaw * d.x + cosYaw * d.y, d.z)
    }

    /// A box-frame point in the site frame.
    public func toSite(_ p: SIMD3<Double>) -> SIMD3<Double> {
        center + SIMD3(cosYaw * p.x - sinYaw * p.y, sinYaw * p.x + cosYaw * p.y, p.z)
    }

    /// A box-frame direction in the site frame.
    public func directionToSite(_ d: SIMD3<Double>) -> SIMD3<Double> {
        SIMD3(cosYaw * d.x - sinYaw * d.y, sinYaw * d.x + cosYaw * d.y, d.z)
    }

    /// The eight corners in the site frame.
    public var corners: [SIMD3<Double>] {
        var result: [SIMD3<Double>] = []
        result.reserveCapacity(8)
        for sx in [-1.0, 1.0] { for sy in [-1.0, 1.0] { for sz in [-1.0, 1.0] {
            result.append(toSite(SIMD3(sx, sy, sz) * half))
        } } }
        return result
    }

    /// First intersection of the ray `origin + t·direction`, 0 < t < tMax, with the box surface:
    /// the ray parameter and the face axis hit (0 = x, 1 = y, 2 = z) with its sign.
    /// Works with the ray already expressed in the box frame (`localOrigin`, `localDirection`).
    @inline(__always)
    public func intersectLocal(localOrigin o: SIMD3<Double>, localDirection d: SIMD3<Double>, tMax: Double)
        -> (t: Double, axis: Int, sign: Double)? {
        var tNear = -Double.infinity, tFar = Double.infinity
        var axis = 0
        var sign = 1.0
        for i in 0..<3 {
            let h = half[i]
            if abs(d[i]) < 1e-12 {
                if abs(o[i]) > h { return nil }
                continue
            }
            let inv = 1 / d[i]
            var t1 = (-h - o[i]) * inv, t2 = (h - o[i]) * inv
            var faceSign = -1.0
            if t1 > t2 { swap(&t1, &t2); faceSign = 1 }
            if t1 > tNear { tNear = t1; axis = i; sign = faceSign }
            if t2 < tFar { tFar = t2 }
            if tNear > tFar { return nil }
        }
        guard tNear > 1e-9, tNear < tMax else { return nil }
        return (tNear, axis, sign)
    }

    /// First intersection of a site-frame ray with the box (see `intersectLocal`).
    public func intersect(origin: SIMD3<Double>, direction: SIMD3<Double>, tMax: Double) -> (t: Double, axis: Int, sign: Double)? {
        intersectLocal(localOrigin: toLocal(origin), localDirection: directionToLocal(direction), tMax: tMax)
    }

    /// Whether the segment from `a` to `b` passes through the box.
    public func intersectsSegment(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Bool {
        let o = toLocal(a), d = directionToLocal(b - a)
        var tNear = 0.0, tFar = 1.0
        for i in 0..<3 {
            if abs(d[i]) < 1e-12 {
                if abs(o[i]) > half[i] { return false }
                continue
            }
            var t1 = (-half[i] - o[i]) / d[i], t2 = (half[i] - o[i]) / d[i]
            if t1 > t2 { swap(&t1, &t2) }
            tNear = max(tNear, t1)
            tFar = min(tFar, t2)
            if tNear > tFar { return false }
        }
        return true
    }

    /// Distance from a site point to the box surface (0 on the surface).
    public func distanceToSurface(_ p: SIMD3<Double>) -> Double {
        let l = toLocal(p)
        let q = SIMD3(abs(l.x), abs(l.y), abs(l.z)) - half
        let outside = SIMD3(max(q.x, 0), max(q.y, 0), max(q.z, 0))
        let outsideLength = (outside * outside).sum().squareRoot()
        let inside = min(max(q.x, max(q.y, q.z)), 0)
        return abs(outsideLength + inside)
    }
}
