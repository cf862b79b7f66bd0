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
///
/// Without any GNSS fix (a dead receiver) the search starts from the beam-power scan instead
/// (``alongRay(points:origin:azimuth:grid:)``): with a line of sight, the strongest beam points at the UE
/// and the UE's vehicle is the first one along that ray — anything nearer would block it.
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
    /// Without GNSS: half-width of the corridor around the measured beam direction searched for the
    /// first vehicle, metres at the array, widening by `rayAngularHalfWidth` radians with range.
    public var rayHalfWidth: Double
    /// Without GNSS: how fast the corridor widens with range, radians (the measured direction's error).
    public var rayAngularHalfWidth: Double
    /// Without GNSS: points nearer to the array than this are the mast's surroundings, metres.
    public var rayMinRange: Double

    /// Creates LiDAR track parameters (defaults suit a passenger car seen from a mast).
    public init(enabled: Bool = true, gate: Double = 3.0, length: Double = 4.6, width: Double = 1.85, margin: Double = 0.5,
                minHeight: Float = 0.4, maxHeight: Float = 2.0, minPoints: Int = 8, trim: Double = 0.03, minFixes: Int = 3,
                fixSigma: Double = 0.3, maxVelocityMismatch: Double = 4, rayHalfWidth: Double = 1.0,
                rayAngularHalfWidth: Double = 0.04, rayMinRange: Double = 2.0) {
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
        self.rayHalfWidth = rayHalfWidth
        self.rayAngularHalfWidth = rayAngularHalfWidth
        self.rayMinRange = rayMinRange
    }

    /// The position of the first vehicle along the ray from `origin` (east/north metres) at site
    /// azimuth `azimuth` (radians counter-clockwise from east), or nil when the corridor around the
    /// ray holds no cluster of `minPoints` points above the road.
    ///
    /// The first cluster is the nearest stretch of `width` + `margin` metres along the ray holding
    /// `minPoints` points of the corridor. Its vehicle is then gathered as in
    /// ``locate(points:near:heading:)`` around the point half a width behind the near face, with the
    /// heading of the points' principal axis there (the vehicle's long visible side; the sign does
    /// not matter to its box).
    /// With `grid` (the same points bucketed) the searches around the first cluster read only its cells.
    public func alongRay(points: [SIMD3<Float>], origin: SIMD2<Double>, azimuth: Double, grid: LidarGrid? = nil) -> SIMD2<Double>? {
        guard origin.x.isFinite, origin.y.isFinite, azimuth.isFinite, width > 0, rayHalfWidth >= 0, rayAngularHalfWidth >= 0
        else { return nil }
        let need = max(1, minPoints)
        let u = SIMD2<Float>(Float(cos(azimuth)), Float(sin(azimuth)))
        let o = SIMD2<Float>(Float(origin.x), Float(origin.y))
        let w0 = Float(rayHalfWidth), slope = Float(rayAngularHalfWidth), minRange = Float(rayMinRange)
        var ranges: [Float] = []
        points.withUnsafeBufferPointer { pts in
            for p in pts where p.z >= minHeight && p.z <= maxHeight {
                let d = SIMD2(p.x, p.y) - o
                let a = d.x * u.x + d.y * u.y
                guard a >= minRange else { continue }
                let b = d.y * u.x - d.x * u.y
                if abs(b) <= w0 + slope * a { ranges.append(a) }
            }
        }
        guard ranges.count >= need else { return nil }
        ranges.sort()
        let depth = Float(width + margin)
        var j = 0
        var nearFace: Float?
        for i in ranges.indices {
            if j < i { j = i }
            while j < ranges.count && ranges[j] <= ranges[i] + depth { j += 1 }
            if j - i >= need { nearFace = ranges[i]; break }
        }
        guard let face = nearFace else { return nil }
        let guess = o + (face + Float(width / 2)) * u
        // The heading: the principal axis of the points within the gate around the guess.
        let r2 = Float(gate * gate)
        var n = 0
        var mean = SIMD2<Float>.zero
        var sxx: Float = 0, sxy: Float = 0, syy: Float = 0
        func gather(_ pts: UnsafeBufferPointer<SIMD3<Float>>) {
            for p in pts where p.z >= minHeight && p.z <= maxHeight {
                let d = SIMD2(p.x, p.y) - guess
                guard (d * d).sum() <= r2 else { continue }
                n += 1
                mean += d
                sxx += d.x * d.x; sxy += d.x * d.y; syy += d.y * d.y
            }
        }
        // (A scan in cloud order even with a grid: the sums, hence the heading, stay bit for bit the same.)
        points.withUnsafeBufferPointer(gather)
        guard n >= need else { return nil }
        let m = mean / Float(n)
        let cxx = sxx / Float(n) - m.x * m.x, cxy = sxy / Float(n) - m.x * m.y, cyy = syy / Float(n) - m.y * m.y
        let heading = 0.5 * atan2(2 * Double(cxy), Double(cxx - cyy))
        guard let centre = locate(points: points, near: SIMD2(Double(guess.x), Double(guess.y)), heading: heading, grid: grid),
              isolated(points: points, centre: centre, heading: heading, grid: grid) else { return nil }
        return centre
    }

    /// Whether the vehicle box at `centre` stands alone: within two metres beyond its ends lie fewer
    /// than a quarter as many points as in it — along a wall or a bus or truck the points go on.
    func isolated(points: [SIMD3<Float>], centre: SIMD2<Double>, heading: Double, grid: LidarGrid? = nil) -> Bool {
        let u = SIMD2<Float>(Float(cos(heading)), Float(sin(heading)))
        let c = SIMD2<Float>(Float(centre.x), Float(centre.y))
        let half = Float(length / 2 + margin), beyond = half + 2, across = Float(width / 2 + margin)
        var inside = 0, outside = 0
        func count(_ pts: UnsafeBufferPointer<SIMD3<Float>>) {
            for p in pts where p.z >= minHeight && p.z <= maxHeight {
                let d = SIMD2(p.x, p.y) - c
                let a = abs(d.x * u.x + d.y * u.y), b = abs(d.y * u.x - d.x * u.y)
                guard b <= across, a <= beyond else { continue }
                if a <= half { inside += 1 } else { outside += 1 }
            }
        }
        if let grid {
            grid.withPoints(near: c, within: (beyond * beyond + across * across).squareRoot() + 0.01, count)
        } else {
            points.withUnsafeBufferPointer(count)
        }
        return 4 * outside < inside
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
