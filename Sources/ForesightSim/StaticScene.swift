import Foundation

/// The part of the scene that never moves: the ground plane (z = 0) with road markings and the
/// building facades (vertical planes `north = const`, from the ground to their height).
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

    let facades: [Scenario.Facade]
    let roadNorth: ClosedRange<Double>
    let laneBoundaries: [(north: Double, solid: Bool)]

    /// Builds the static scene of a scenario.
    public init(scenario: Scenario) {
        facades = scenario.facades
        let half = scenario.laneWidth / 2
        let norths = scenario.lanes.map(\.north).sorted()
        roadNorth = (norths.first ?? 0) - half...(norths.last ?? 0) + half
        var boundaries: [(Double, Bool)] = []
        let sorted = scenario.lanes.sorted { $0.north < $1.north }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.north - a.north < scenario.laneWidth * 1.5 {
            boundaries.append(((a.north + b.north) / 2, a.direction != b.direction))
        }
        laneBoundaries = boundaries
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
        if abs(d.y) > 1e-9 {
            for (i, facade) in facades.enumerated() {
                let t = (facade.north - origin.y) / d.y
                if t > 0, t < best {
                    let z = origin.z + t * d.z
                    if z >= 0, z <= facade.height { best = t; surface = .facade(i) }
                }
            }
        }
        return (best, surface)
    }

    /// Camera colour of a static hit at `point` (0...255 per channel).
    public func color(surface: Surface, point p: SIMD3<Double>, direction d: SIMD3<Double>) -> SIMD3<Double> {
        switch surface {
        case .none:
            let elevation = max(0, min(1, d.z * 3))
            return SIMD3(200, 220, 240) * (1 - elevation) + SIMD3(110, 160, 225) * elevation
        case .ground:
            if roadNorth.contains(p.y) {
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
            let facade = facades[index]
            // windows: 1.6 m wide every 3.2 m, 1.5 m tall every 3.5 m storey, none on the ground floor
            let u = p.x - 3.2 * (p.x / 3.2).rounded(.down)
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
