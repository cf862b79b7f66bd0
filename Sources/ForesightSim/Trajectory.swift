import Foundation

/// A vehicle's planned motion along the street: piecewise constant-acceleration travel along
/// its direction plus smooth (raised-cosine) lateral lane changes. Evaluated analytically at any
/// time, so sensors sampling at jittered stamps see exactly consistent positions.
public struct Trajectory: Sendable, Equatable {
    /// A longitudinal piece: from `start` for `duration` seconds, distance `s0` at speed `v0`
    /// with constant acceleration `a`.
    public struct Piece: Sendable, Equatable {
        /// Start time, s.
        public var start: Double
        /// Duration, s.
        public var duration: Double
        /// Distance travelled at the start, metres.
        public var s0: Double
        /// Speed at the start, m/s.
        public var v0: Double
        /// Acceleration, m/s².
        public var a: Double
    }

    /// A lateral lane change.
    public struct LaneChange: Sendable, Equatable {
        /// Start time, s.
        public var start: Double
        /// Duration, s.
        public var duration: Double
        /// Lateral position (north, metres) before and after.
        public var fromNorth: Double
        /// Lateral position after, metres north.
        public var toNorth: Double
    }

    /// East coordinate where travel starts.
    public var startEast: Double
    /// +1 eastbound, -1 westbound.
    public var directionSign: Double
    /// Lane centre (north) at the start.
    public var north: Double
    /// Longitudinal pieces in time order (contiguous).
    public var pieces: [Piece]
    /// Lane change, if any.
    public var laneChange: LaneChange?

    /// First time the vehicle exists.
    public var startTime: Double { pieces.first?.start ?? 0 }
    /// Last time the vehicle exists.
    public var endTime: Double { pieces.last.map { $0.start + $0.duration } ?? 0 }

    /// Kinematic state at time `t` (clamped to the trajectory's time span).
    public func state(at t: Double) -> (east: Double, north: Double, velocityEast: Double, velocityNorth: Double) {
        var piece = pieces[pieces.count - 1]
        for p in pieces where t < p.start + p.duration {
            piece = p
            break
        }
        let tau = min(max(t - piece.start, 0), piece.duration)
        let s = piece.s0 + piece.v0 * tau + 0.5 * piece.a * tau * tau
        let v = piece.v0 + piece.a * tau
        var north = self.north
        var vNorth = 0.0
        if let change = laneChange {
            let u = (t - change.start) / change.duration
            if u >= 1 {
                north = change.toNorth
            } else if u > 0 {
                let delta = change.toNorth - change.fromNorth
                north = change.fromNorth + delta * (1 - cos(.pi * u)) / 2
                vNorth = delta * .pi / (2 * change.duration) * sin(.pi * u)
            }
        }
        return (startEast + directionSign * s, north, directionSign * v, vNorth)
    }

    /// Appends a piece continuing from the end of the previous one.
    mutating func append(duration: Double, a: Double) {
        guard duration > 0 else { return }
        if let last = pieces.last {
            let s = last.s0 + last.v0 * last.duration + 0.5 * last.a * last.duration * last.duration
            let v = max(0, last.v0 + last.a * last.duration)
            pieces.append(Piece(start: last.start + last.duration, duration: duration, s0: s, v0: v, a: a))
        }
    }
}
