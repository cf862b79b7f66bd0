import Foundation

/// A rigid pose in the site frame (east, north, up metres).
///
/// The body frame of every sensor is x forward (boresight), y left, z up. The orientation is
/// yaw about up (counter-clockwise from east, degrees), then pitch (positive tilts the boresight
/// up), then roll about the boresight (right-handed about x: positive raises the left side).
/// `rotation` maps body vectors into the site frame: `site = R · body + position`.
public struct Pose: Sendable, Equatable {
    /// Position of the body origin in the site frame, metres `[east, north, up]`.
    public var position: SIMD3<Double>
    /// Yaw in degrees, counter-clockwise from east (90 = facing north).
    public var yawDeg: Double
    /// Pitch in degrees, positive tilts the boresight upwards.
    public var pitchDeg: Double
    /// Roll in degrees about the boresight (right-handed).
    public var rollDeg: Double

    /// Creates a pose.
    public init(position: SIMD3<Double>, yawDeg: Double, pitchDeg: Double = 0, rollDeg: Double = 0) {
        self.position = position
        self.yawDeg = yawDeg
        self.pitchDeg = pitchDeg
        self.rollDeg = rollDeg
    }

    /// The body-to-site rotation as three columns (the body x, y, z axes in site coordinates).
    public var rotation: (x: SIMD3<Double>, y: SIMD3<Double>, z: SIMD3<Double>) {
        let yaw = yawDeg * .pi / 180, pitch = pitchDeg * .pi / 180, roll = rollDeg * .pi / 180
        let (cy, sy, cp, sp, cr, sr) = (cos(yaw), sin(yaw), cos(pitch), sin(pitch), cos(roll), sin(roll))
        // R = Rz(yaw) · Ry(-pitch) · Rx(roll)
        let forward = SIMD3(cy * cp, sy * cp, sp)
        let leftLevel = SIMD3(-sy, cy, 0.0)
        let upTilted = SIMD3(-cy * sp, -sy * sp, cp)
        let left = leftLevel * cr + upTilted * sr
        let up = upTilted * cr - leftLevel * sr
        return (forward, left, up)
    }

    /// Transforms a point from this body frame into the site frame.
    public func toSite(_ body: SIMD3<Double>) -> SIMD3<Double> {
        let r = rotation
        return position + r.x * body.x + r.y * body.y + r.z * body.z
    }

    /// Transforms a point from the site frame into this body frame.
    public func toBody(_ site: SIMD3<Double>) -> SIMD3<Double> {
        let r = rotation
        let d = site - position
        return SIMD3((r.x * d).sum(), (r.y * d).sum(), (r.z * d).sum())
    }

    /// Rotates a direction from the body frame into the site frame (no translation).
    public func directionToSite(_ body: SIMD3<Double>) -> SIMD3<Double> {
        let r = rotation
        return r.x * body.x + r.y * body.y + r.z * body.z
    }

    /// Rotates a direction from the site frame into the body frame.
    public func directionToBody(_ site: SIMD3<Double>) -> SIMD3<Double> {
        let r = rotation
        return SIMD3((r.x * site).sum(), (r.y * site).sum(), (r.z * site).sum())
    }

    /// Reads `{position: [x, y, z], yaw_deg, pitch_deg, roll_deg}`.
    static func read(_ map: ConfigMapping) throws(ConfigError) -> Pose {
        let position = try map.doubles("position", count: 3)
        let pose = Pose(position: SIMD3(position[0], position[1], position[2]),
                        yawDeg: try map.double("yaw_deg", in: -360...360),
                        pitchDeg: try map.double("pitch_deg", default: 0, in: -90...90),
                        rollDeg: try map.double("roll_deg", default: 0, in: -180...180))
        try map.finish()
        return pose
    }
}
