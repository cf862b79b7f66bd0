import Foundation

/// The part of the scene that never moves: the ground plane (z = 0) with road markings and the
/// building facades (vertical wall rectangles from the ground to their height).
public struct StaticScene: Sendable {
    /// What a ray hit.
    public enum Surface: Sendable, Equatable {
        /// Nothing within range (sky).
        case none
        /// The ground.
        case ground
        /// Facade `index`.
        case facade(Int)
    }

    /// A facade prepared for ray casting: start point, unit direction along the wall, length,
    /// unit normal (plan view) and height.
    struct Wall: Sendable {
        var start: SIMD2<Double>
        var along: SIMD2<Double>
        var length: Double
        var normal: SIMD2<Double>
        var height: Double
        var color: SIMD3<Double>

        init(_ facade: Scenario.Facade) {
            start = facade.start
            let d = facade.end - facade.start
            length = (d * d).sum().squareRoot()
            along = d / max(length, 1e-12)
            normal = SIMD2(-along.y, along.x)
            height = facade.height
            color = facade.color
        }
    }

    let walls: [Wall]
    let roadNorth: ClosedRange<Double>
    let roadEast: ClosedRange<Double>?
    let crossNorth: ClosedRange<Double>
    let laneBoundaries: [(north: Double, solid: Bool)]
    let crossBoundaries: [(east: Double, solid: Bool)]

    /// Builds the static scene of a scenario.
    public init(scenario: Scenario) {
        walls = scenario.facades.map(Wall.init)
        let half = scenario.laneWidth / 2
        let main = scenario.lanes.filter { $0.direction.alongEast }
        let cross = scenario.lanes.filter { !$0.direction.alongEast }
        let norths = main.map(\.offset).sorted()
        roadNorth = (norths.first ?? 0) - half...(norths.last ?? 0) + half
        let easts = cross.map(\.offset).sorted()
        roadEast = easts.isEmpty ? nil : (easts[0] - half)...(easts[easts.count - 1] + half)
        crossNorth = (cross.map(\.extent.lowerBound).min() ?? 0)...(cross.map(\.extent.upperBound).max() ?? 0)
        func boundaries(_ lanes: [Scenario.Lane]) -> [(Double, Bool)] {
            let sorted = lanes.sorted { $0.offset < $1.offset }
            var result: [(Double, Bool)] = []
            for (a, b) in zip(sorted, sorted.dropFirst()) where b.offset - a.offset < scenario.laneWidth * 1.5 {
                result.append(((a.offset + b.offset) / 2, a.direction != b.direction))
            }
            return result
        }
        laneBoundaries = boundaries(main)
        crossBoundaries = boundaries(cross)
    }

    /// Nearest static hit of the ray `origin + t·dir`, 0 < t < tMax.
    @inline(__always)
    public func intersect(origin: SIMD3<Double>, direction d: SIMD3<Double>, tMax: Double) -> (t: Double, surface: Surface) {
        var best = tMax
        var surface = Surface.none
        if d.z < -1e-9 {
            let t = -origin.z / d.z
            if t > 0, t < best { best = t; surface = .ground }
        }
        for (i, wall) in walls.enumerated() {
            let denominator = wall.normal.x * d.x + wall.normal.y * d.y
            guard abs(denominator) > 1e-12 else { continue }
            let t = (wall.normal.x * (wall.start.x - origin.x) + wall.normal.y * (wall.start.y - origin.y)) / denominator
            guard t > 0, t < best else { continue }
            let z = origin.z + t * d.z
            guard z >= 0, z <= wall.height else { continue }
            let along = wall.along.x * (origin.x + t * d.x - wall.start.x) + wall.along.y * (origin.y + t * d.y - wall.start.y)
            if along >= 0, along <= wall.length { best = t; surface = .facade(i) }
        }
        return (best, surface)
    }

    /// |cos| of the angle between a ray direction and the normal of the surface it hit.
    public func cosIncidence(_ surface: Surface, direction d: SIMD3<Double>) -> Double {
        switch surface {
        case .none: return 0
        case .ground: return abs(d.z)
        case .facade(let i): return abs(walls[i].normal.x * d.x + walls[i].normal.y * d.y)
        }
    }

    /// Camera colour of a static hit at `point` (0...255 per channel).
    public func color(surface: Surface, point p: SIMD3<Double>, direction d: SIMD3<Double>) -> SIMD3<Double> {
        switch surface {
        case .none:
            let elevation = max(0, min(1, d.z * 3))
            return SIMD3(200, 220, 240) * (1 - elevation) + SIMD3(110, 160, 225) * elevation
        case .ground:
            let inCross = roadEast.map { $0.contains(p.x) && crossNorth.contains(p.y) } ?? false
            if inCross && !roadNorth.contains(p.y) {
                for boundary in crossBoundaries where abs(p.x - boundary.east) < 0.08 {
                    if boundary.solid { return SIMD3(220, 190, 40) }
                    let phase = p.y - 6 * (p.y / 6).rounded(.down)
                    if phase < 3 { return SIMD3(230, 230, 230) }
                }
                return SIMD3(72, 72, 78)
            }
            if roadNorth.contains(p.y) {
                if inCross { return SIMD3(72, 72, 78) }
                for boundary in laneBoundaries where abs(p.y - boundary.north) < 0.08 {
                    if boundary.solid { return SIMD3(220, 190, 40) }
                    let phase = p.x - 6 * (p.x / 6).rounded(.down)
                    if phase < 3 { return SIMD3(230, 230, 230) }
                }
                if abs(p.y - roadNorth.lowerBound) < 0.1 || abs(p.y - roadNorth.upperBound) < 0.1 { return SIMD3(230, 230, 230) }
                return SIMD3(72, 72, 78)
            }
            return SIMD3(165, 163, 158)
        case .facade(let index):
            let facade = walls[index]
            // windows: 1.6 m wide every 3.2 m, 1.5 m tall every 3.5 m storey, none on the ground floor
            let a = facade.along.x * (p.x - facade.start.x) + facade.along.y * (p.y - facade.start.y)
            let u = a - 3.2 * (a / 3.2).rounded(.down)
            let storey = p.z / 3.5
            let v = p.z - 3.5 * storey.rounded(.down)
            if storey >= 1, u > 0.8, u < 2.4, v > 1.0, v < 2.5 { return SIMD3(70, 85, 110) }
            return facade.color
        }
    }

    /// LiDAR reflectivity of a static surface (0...1).
    public func reflectivity(_ surface: Surface) -> Double {
        switch surface {
        case .none: return 0
        case .ground: return 0.25
        case .facade: return 0.55
        }
    }
}
