import ForesightCore
import Foundation

/// The UE's track from its own vehicle in the LiDAR clouds.
///
/// The UE rides in a vehicle the LiDAR sees: near the GNSS track position at a cloud's stamp there is
/// a cluster of points above the road. The LiDAR sees the near side, one end and the roof, so the
/// cluster's extent along and across the direction of travel spans the whole vehicle and its
/// midpoint measures the UE position to a few decimetres — far better than a GNSS fix with its slowly
/// wandering metre-scale bias (the median of the points would sit on the visible faces, a metre or
/// two off). Found in at least `minFixes` clouds of the window, these positions replace the GNSS
/// fixes in the classical predictor's track filter; GNSS (corrected by the beam directions, see
/// ``BeamAnchoring``) only says where to look. Without beam power (a dead mmWave receiver) the
/// LiDAR alone still removes the GNSS bias.
///
/// Association is by distance: points within `gate` of the predicted position give a first centre
/// (their median); the vehicle is then gathered in a box of `length` × `width` (plus `margin`)
/// aligned with the direction of travel, twice, each time around the previous extent's midpoint. A
/// cluster needs `minPoints` points; an occluded or absent vehicle gives no measurement (never a
/// guess). A track over the clusters that moves otherwise than the GNSS track (by more than
/// `maxVelocityMismatch`) is something else — a parked car beside the lane — and is not used.
public struct LidarAnchoring: Sendable, Equatable, Codable {
    /// Whether the LiDAR track is used.
    public var enabled: Bool
    /// Search radius around the predicted UE position, metres (covers the GNSS bias).
    public var gate: Double
    /// The UE vehicle's length, metres (along the direction of travel).
    public var length: Double
    /// The UE vehicle's width, metres.
    public var width: Double
    /// Slack around the vehicle's box when gathering its points, metres.
    public var margin: Double
    /// Points below this height (site z, metres) are road, not vehicle.
    public var minHeight: Float
    /// Points above this height (site z, metres) are not the UE's car.
    public var maxHeight: Float
    /// Fewest points for a cluster to count.
    public var minPoints: Int
    /// Fraction of the points left out at each end of an extent (robust to a few stray points).
    public var trim: Double
    /// Found in at least this many clouds of the window, the vehicle's positions replace the GNSS fixes.
    public var minFixes: Int
    /// Measurement noise of those positions in the track filter, metres.
    public var fixSigma: Double
    /// Largest difference between the LiDAR track's and the GNSS track's velocity, m/s.
    public var maxVelocityMismatch: Double

    /// Creates LiDAR track parameters (defaults suit a passenger car seen from a mast).
    public init(enabled: Bool = true, gate: Double = 3.0, length: Double = 4.6, width: Double = 1.85, margin: Double = 0.5,
                minHeight: Float = 0.4, maxHeight: Float = 2.0, minPoints: Int = 8, trim: Double = 0.03, minFixes: Int = 3,
                fixSigma: Double = 0.3, maxVelocityMismatch: Double = 4) {
        self.enabled = enabled
        self.gate = gate
        self.length = length
        self.width = width
        self.margin = margin
        self.minHeight = minHeight
        self.maxHeight = maxHeight
        self.minPoints = minPoints
        self.trim = trim
        self.minFixes = minFixes
        self.fixSigma = fixSigma
        self.maxVelocityMismatch = maxVelocityMismatch
    }

    /// The UE position (east/north metres) the cloud shows near `predicted` for a vehicle heading
    /// `heading` (radians counter-clockwise from east), or nil when fewer than `minPoints` points
    /// lie within `gate` or within the vehicle's box. With `grid` (the same points bucketed, see
    /// ``LidarGrid``) only the cells around the prediction are read; the result is the same.
    public func locate(points: [SIMD3<Float>], near predicted: SIMD2<Double>, heading: Double,
                       grid: LidarGrid? = nil) -> SIMD2<Double>? {
        guard predicted.x.isFinite, predicted.y.isFinite, heading.isFinite, gate > 0, length > 0, width > 0 else { return nil }
        let need = max(1, minPoints)
        let u = SIMD2<Float>(Float(cos(heading)), Float(sin(heading)))
        // One pass over the cloud (or the grid's cells around the prediction): the points above the
        // road that any later pass can reach.
        let reach = Float(gate + length + width + 2 * margin)
        let p0 = SIMD2<Float>(Float(predicted.x), Float(predicted.y))
        var near: [SIMD2<Float>] = []
        func gather(_ pts: UnsafeBufferPointer<SIMD3<Float>>) {
            for p in pts where p.z >= minHeight && p.z <= maxHeight {
                let d = SIMD2(p.x, p.y) - p0
                if (d * d).sum() <= reach * reach { near.append(SIMD2(p.x, p.y)) }
            }
        }
        if let grid {
            grid.withPoints(near: p0, within: reach, gather)
        } else {
            points.withUnsafeBufferPointer(gather)
        }
        // Pass 1: a first centre from the points near the prediction.
        let r2 = Float(gate * gate)
        var xs: [Float] = [], ys: [Float] = []
        for p in near {
            let d = p - p0
            if (d * d).sum() <= r2 { xs.append(p.x); ys.append(p.y) }
        }
        guard xs.count >= need else { return nil }
        // Passes 2 and 3: the vehicle's box around the centre; its extent's midpoint is the next centre.
        // The first box reaches a whole length each way (the first centre may sit on an end face).
        var centre = SIMD2(Self.quantiles(&xs, 0.5, 0.5).low, Self.quantiles(&ys, 0.5, 0.5).low)
        var along: [Float] = [], across: [Float] = []
        for (halfAlong, halfAcross) in [(length + margin, width / 2 + margin), (length / 2 + margin, width / 2 + margin)] {
            along.removeAll(keepingCapacity: true)
            across.removeAll(keepingCapacity: true)
            let ha = Float(halfAlong), hc = Float(halfAcross)
            for p in near {
                let d = p - centre
                let a = d.x * u.x + d.y * u.y, b = d.y * u.x - d.x * u.y
                if abs(a) <= ha && abs(b) <= hc { along.append(a); across.append(b) }
            }
            guard along.count >= need else { return nil }
            let q = Float(min(max(trim, 0), 0.49))
            let a = Self.quantiles(&along, q, 1 - q), b = Self.quantiles(&across, q, 1 - q)
            let midAlong = (a.low + a.high) / 2
            let midAcross = (b.low + b.high) / 2
            centre += midAlong * u + midAcross * SIMD2(-u.y, u.x)
        }
        return SIMD2(Double(centre.x), Double(centre.y))
    }

    /// The `q` quantile (nearest rank) of a sorted, non-empty buffer.
    static func quantile(sorted values: [Float], _ q: Float) -> Float {
        values[rank(q, count: values.count)]
    }

    /// The nearest rank of quantile `q` among `count` values.
    static func rank(_ q: Float, count: Int) -> Int {
        min(max(Int((Float(count - 1) * q).rounded()), 0), count - 1)
    }

    /// The `lowQ` and `highQ` quantiles (nearest rank, `lowQ` ≤ `highQ`) of a non-empty buffer — the
    /// values ``quantile(sorted:_:)`` gives on the sorted buffer — found by selection in linear
    /// time; `values` is left partly reordered.
    static func quantiles(_ values: inout [Float], _ lowQ: Float, _ highQ: Float) -> (low: Float, high: Float) {
        let n = values.count
        let lo = rank(lowQ, count: n), hi = max(rank(highQ, count: n), lo)
        return values.withUnsafeMutableBufferPointer { v in
            select(v, lo, from: 0, to: n - 1)
            if hi > lo { select(v, hi, from: lo + 1, to: n - 1) }
            return (v[lo], v[hi])
        }
    }

    /// Reorders `v[from...to]` so that `v[k]` holds the value a sort would put there, smaller-or-equal
    /// values before it and greater-or-equal ones after it (quickselect, median-of-three pivot).
    static func select(_ v: UnsafeMutableBufferPointer<Float>, _ k: Int, from: Int, to: Int) {
        var left = from, right = to
        while right > left {
            let mid = left + (right - left) / 2
            // Median of three to v[mid], then Hoare partition around it.
            if v[mid] < v[left] { v.swapAt(mid, left) }
            if v[right] < v[left] { v.swapAt(right, left) }
            if v[right] < v[mid] { v.swapAt(right, mid) }
            let pivot = v[mid]
            var i = left, j = right
            while i <= j {
                while v[i] < pivot { i += 1 }
                while pivot < v[j] { j -= 1 }
                if i <= j { v.swapAt(i, j); i += 1; j -= 1 }
            }
            if k <= j { right = j } else if k >= i { left = i } else { return }
        }
    }
}
