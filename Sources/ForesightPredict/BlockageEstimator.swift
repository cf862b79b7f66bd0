import ForesightCore
import Foundation

/// Parameters of the line-of-sight blockage estimator.
public struct BlockageParameters: Sendable, Equatable, Codable {
    /// Lowest height (site z, metres) a point must have to count as an obstacle (above the road).
    public var minHeight: Float
    /// Highest height (site z, metres) a point may have to count (below e.g. street lights).
    public var maxHeight: Float
    /// Height of the array (site z, metres). When set, the line of sight is treated in 3D: a point
    /// only counts when it reaches up to the line's height there (minus `verticalMargin`), so low
    /// cars under a line from a mast do not count. Nil: the height band alone decides.
    public var arrayHeight: Float?
    /// Height of the UE antenna (site z, metres), the other end of the 3D line.
    public var ueHeight: Float
    /// Tolerance below the 3D line, metres.
    public var verticalMargin: Float
    /// Half-width of the corridor around the array→UE line, metres.
    public var corridorHalfWidth: Double
    /// Points within this distance of the UE along the line are the UE's own vehicle, metres.
    public var ueExclusion: Double
    /// Points within this distance of the array along the line are ignored (mounting), metres.
    public var arrayExclusion: Double
    /// Point count at which the blockage probability is 0.5.
    public var minPoints: Double
    /// Logistic softness in points (larger = smoother transition).
    public var pointSoftness: Double
    /// How many LiDAR points one radar detection in the corridor counts as.
    public var radarWeight: Double
    /// LiDAR point density falls with the square of the range, so a point at distance d from the
    /// array counts max(1, (d / referenceRange)²) points: evidence is in "points at the reference
    /// range" (a car 80 m away returns a handful of points, not hundreds). Nil: raw counts.
    public var referenceRange: Double?
    /// Without LiDAR and radar: the drop of the best-beam power below the window median, dB, at
    /// which the blockage probability is 0.5.
    public var powerDropDB: Double
    /// Logistic softness of the power-drop heuristic, dB.
    public var powerDropSoftnessDB: Double

    /// Creates blockage parameters (defaults suit cars and vans on a street).
    public init(minHeight: Float = 0.3, maxHeight: Float = 4.5, arrayHeight: Float? = nil, ueHeight: Float = 1.5,
                verticalMargin: Float = 0.2, corridorHalfWidth: Double = 0.75,
                ueExclusion: Double = 3.0, arrayExclusion: Double = 1.0, minPoints: Double = 15,
                pointSoftness: Double = 4, radarWeight: Double = 10, referenceRange: Double? = 10, powerDropDB: Double = 8,
                powerDropSoftnessDB: Double = 2) {
        self.minHeight = minHeight
        self.maxHeight = maxHeight
        self.arrayHeight = arrayHeight
        self.ueHeight = ueHeight
        self.verticalMargin = verticalMargin
        self.corridorHalfWidth = corridorHalfWidth
        self.ueExclusion = ueExclusion
        self.arrayExclusion = arrayExclusion
        self.minPoints = minPoints
        self.pointSoftness = pointSoftness
        self.radarWeight = radarWeight
        self.referenceRange = referenceRange
        self.powerDropDB = powerDropDB
        self.powerDropSoftnessDB = powerDropSoftnessDB
    }
}

/// Estimates the probability that obstacles block the line of sight from the array to a UE position.
///
/// Evidence is the range-weighted (see `referenceRange`) number of LiDAR points inside the
/// corridor (within `corridorHalfWidth` of the array→UE segment, between `arrayExclusion` from the array and `ueExclusion` before the UE, with
/// height in [minHeight, maxHeight] and, when `arrayHeight` is set, at least the height of the 3D
/// line there minus `verticalMargin`) plus `radarWeight` per radar detection in the same corridor;
/// `p = 1 / (1 + exp(−(evidence − minPoints) / pointSoftness))`.
public struct BlockageEstimator: Sendable, Equatable {
    /// The parameters.
    public let parameters: BlockageParameters
    /// Array position, east/north metres.
    public let array: SIMD2<Double>

    /// Creates an estimator for an array at `array`.
    public init(array: SIMD2<Double>, parameters: BlockageParameters) {
        self.array = array
        self.parameters = parameters
    }

    /// Logistic map from evidence to probability.
    static func logistic(_ x: Double, center: Double, softness: Double) -> Double {
        let p = 1 / (1 + exp(-(x - center) / max(softness, 1e-9)))
        return min(max(p, 0), 1)
    }

    /// Counts obstacle points per UE position in one pass over the cloud (one count per target).
    public func corridorCounts(points: [SIMD3<Float>], targets: [SIMD2<Double>]) -> [Int] {
        corridorEvidence(points: points, targets: targets, referenceRange: nil).map { Int($0) }
    }

    /// Range-weighted obstacle evidence per UE position (see `BlockageParameters.referenceRange`).
    public func corridorEvidence(points: [SIMD3<Float>], targets: [SIMD2<Double>]) -> [Double] {
        corridorEvidence(points: points, targets: targets, referenceRange: parameters.referenceRange)
    }

    func corridorEvidence(points: [SIMD3<Float>], targets: [SIMD2<Double>], referenceRange: Double?) -> [Double] {
        struct Segment { var ox, oy, dx, dy, lo, hi, z0, dzPerMetre: Float }
        let par = parameters
        let segments: [Segment] = targets.map { t in
            let d = t - array
            let len = (d * d).sum().squareRoot()
            let inv = len > 1e-6 ? 1 / len : 0
            // Without an array height the "line height" is −∞, so only the height band applies.
            let z0 = par.arrayHeight ?? -Float.infinity
            let slope = par.arrayHeight.map { len > 1e-6 ? (par.ueHeight - $0) / Float(len) : 0 } ?? 0
            return Segment(ox: Float(array.x), oy: Float(array.y), dx: Float(d.x * inv), dy: Float(d.y * inv),
                           lo: Float(par.arrayExclusion), hi: Float(len - par.ueExclusion),
                           z0: z0 - par.verticalMargin, dzPerMetre: slope)
        }
        var counts = [Double](repeating: 0, count: targets.count)
        let invRef2: Float = referenceRange.map { $0 > 0 ? Float(1 / ($0 * $0)) : 0 } ?? 0
        let half = Float(par.corridorHalfWidth), zLo = par.minHeight, zHi = par.maxHeight
        // Bounding box of every corridor: most of a street cloud lies outside and is skipped with
        // four comparisons.
        var lo = SIMD2<Float>(Float(array.x), Float(array.y)), hi = lo
        for t in targets where t.x.isFinite && t.y.isFinite {
            lo = pointwiseMin(lo, SIMD2(Float(t.x), Float(t.y)))
            hi = pointwiseMax(hi, SIMD2(Float(t.x), Float(t.y)))
        }
        lo -= SIMD2(repeating: half)
        hi += SIMD2(repeating: half)
        points.withUnsafeBufferPointer { pts in
            segments.withUnsafeBufferPointer { segs in
                counts.withUnsafeMutableBufferPointer { out in
                    for p in pts where p.z >= zLo && p.z <= zHi && p.x >= lo.x && p.x <= hi.x && p.y >= lo.y && p.y <= hi.y {
                        for j in 0..<segs.count {
                            let s = segs[j]
                            guard s.hi > s.lo else { continue }
                            let rx = p.x - s.ox, ry = p.y - s.oy
                            let along = rx * s.dx + ry * s.dy
                            guard along >= s.lo && along <= s.hi else { continue }
                            let across = abs(rx * s.dy - ry * s.dx)
                            if across <= half && p.z >= s.z0 + s.dzPerMetre * along {
                                out[j] += Double(max(1, along * along * invRef2))
                            }
                        }
                    }
                }
            }
        }
        return counts
    }

    /// Counts radar detections in each corridor (no height information: all detections count).
    public func corridorCounts(radar: RadarDetections, targets: [SIMD2<Double>]) -> [Int] {
        targets.map { t in
            let d = t - array
            let len = (d * d).sum().squareRoot()
            guard len > 1e-6, len - parameters.ueExclusion > parameters.arrayExclusion else { return 0 }
            let u = d / len
            var n = 0
            for det in radar.detections where det.range.isFinite && det.azimuth.isFinite {
                let r = det.position(from: radar.origin) - array
                let along = (r * u).sum()
                let across = abs(r.x * u.y - r.y * u.x)
                if along >= parameters.arrayExclusion, along <= len - parameters.ueExclusion,
                   across <= parameters.corridorHalfWidth { n += 1 }
            }
            return n
        }
    }

    /// Blockage probabilities for each UE position from LiDAR points and/or radar detections.
    public func probabilities(points: [SIMD3<Float>]?, radar: RadarDetections?, targets: [SIMD2<Double>]) -> [Double] {
        let lidar = points.map { corridorEvidence(points: $0, targets: targets) } ?? [Double](repeating: 0, count: targets.count)
        let radarCounts = radar.map { corridorCounts(radar: $0, targets: targets) } ?? [Int](repeating: 0, count: targets.count)
        return (0..<targets.count).map { j in
            let evidence = lidar[j] + parameters.radarWeight * Double(radarCounts[j])
            return BlockageEstimator.logistic(evidence, center: parameters.minPoints, softness: parameters.pointSoftness)
        }
    }

    /// The fallback without LiDAR or radar: how far the newest best-beam power fell below the
    /// median of the window's best-beam powers, mapped through a logistic.
    public func probabilityFromPowerDrop(bestPowers: [Double]) -> Double {
        guard let newest = bestPowers.last, bestPowers.count >= 2 else {
            return BlockageEstimator.logistic(0, center: parameters.powerDropDB, softness: parameters.powerDropSoftnessDB)
        }
        let sorted = bestPowers.sorted()
        let median = sorted[sorted.count / 2]
        return BlockageEstimator.logistic(median - newest, center: parameters.powerDropDB, softness: parameters.powerDropSoftnessDB)
    }
}
