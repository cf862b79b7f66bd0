import Foundation

/// The centre line a vehicle follows, parameterised by distance travelled: straight lines and
/// circular arcs (a turn at an intersection), in the site plane (east, north).
public struct Route: Sendable, Equatable {
    /// One piece of the route.
    public enum Segment: Sendable, Equatable {
        /// A straight line from `start` along the unit vector `direction`.
        case line(start: SIMD2<Double>, direction: SIMD2<Double>, length: Double)
        /// A circular arc about `center`, starting at polar angle `startAngle` and sweeping
        /// `sweep` radians (positive = counter-clockwise, a left turn).
        case arc(center: SIMD2<Double>, radius: Double, startAngle: Double, sweep: Double)

        var length: Double {
            switch self {
            case .line(_, _, let length): return length
            case .arc(_, let radius, _, let sweep): return radius * abs(sweep)
            }
        }
    }

    /// The pieces in driving order.
    public var segments: [Segment]

    /// Total length, metres.
    public var length: Double { segments.reduce(0) { $0 + $1.length } }

    /// A straight route.
    public static func straight(start: SIMD2<Double>, direction: SIMD2<Double>, length: Double) -> Route {
        Route(segments: [.line(start: start, direction: direction, length: length)])
    }

    /// From the start of lane `from` to the end of lane `to`, turning at the crossing of their
    /// centre lines along an arc of `radius` tangent to both; nil when the lanes do not form a turn
    /// (the crossing is behind the start or beyond the end).
    public static func turn(from a: Scenario.Lane, to b: Scenario.Lane, radius: Double) -> Route? {
        let da = a.direction.unit, db = b.direction.unit
        let cross = da.x * db.y - da.y * db.x
        guard abs(cross) > 0.5 else { return nil }
        let corner = a.direction.alongEast ? SIMD2(b.offset, a.offset) : SIMD2(a.offset, b.offset)
        let p1 = corner - da * radius
        let p2 = corner + db * radius
        let before = ((p1 - a.start) * da).sum()
        let endB = b.start + db * b.length
        let after = ((endB - p2) * db).sum()
        guard before > 0, after > 0 else { return nil }
        let sigma: Double = cross > 0 ? 1 : -1
        let center = p1 + a.leftNormal * (radius * sigma)
        let start = atan2(p1.y - center.y, p1.x - center.x)
        return Route(segments: [
            .line(start: a.start, direction: da, length: before),
            .arc(center: center, radius: radius, startAngle: start, sweep: sigma * .pi / 2),
            .line(start: p2, direction: db, length: after),
        ])
    }

    /// Position and unit tangent after `s` metres (clamped to the route; beyond the ends the
    /// first/last line is extended).
    public func point(at s: Double) -> (position: SIMD2<Double>, tangent: SIMD2<Double>) {
        var remaining = s
        for (index, segment) in segments.enumerated() {
            let isLast = index == segments.count - 1
            let length = segment.length
            if remaining <= length || isLast {
                switch segment {
                case .line(let start, let direction, _):
                    return (start + direction * remaining, direction)
                case .arc(let center, let radius, let startAngle, let sweep):
                    let u = max(0, min(remaining, length)) / max(length, 1e-12)
                    let angle = startAngle + sweep * u
                    let sign: Double = sweep >= 0 ? 1 : -1
                    return (center + SIMD2(cos(angle), sin(angle)) * radius, SIMD2(-sin(angle), cos(angle)) * sign)
                }
            }
            remaining -= length
        }
        return (.zero, SIMD2(1, 0))
    }
}

/// A vehicle's planned motion: piecewise constant-acceleration travel along its route plus a
/// smooth (raised-cosine) lateral lane change. Evaluated analytically at any time, so sensors
/// sampling at jittered stamps see exactly consistent positions.
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

    /// A lateral lane change: the offset to the left of the route grows from 0 to `offset`.
    public struct LaneChange: Sendable, Equatable {
        /// Start time, s.
        public var start: Double
        /// Duration, s.
        public var duration: Double
        /// Final lateral offset, metres to the left of the direction of travel.
        public var offset: Double
    }

    /// The centre line followed.
    public var route: Route
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
        let (position, tangent) = route.point(at: s)
        let left = SIMD2(-tangent.y, tangent.x)
        var lateral = 0.0, lateralRate = 0.0
        if let change = laneChange {
            let u = (t - change.start) / change.duration
            if u >= 1 {
                lateral = change.offset
            } else if u > 0 {
                lateral = change.offset * (1 - cos(.pi * u)) / 2
                lateralRate = change.offset * .pi / (2 * change.duration) * sin(.pi * u)
            }
        }
        let p = position + left * lateral
        let velocity = tangent * v + left * lateralRate
        return (p.x, p.y, velocity.x, velocity.y)
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
