import Foundation

/// A 5×5 matrix, row-major (the CTRV filter's covariance and Jacobians).
struct Matrix5: Equatable {
    var e: [Double]

    init(repeating value: Double = 0) { e = [Double](repeating: value, count: 25) }

    static func diagonal(_ d: [Double]) -> Matrix5 {
        var m = Matrix5()
        for i in 0..<5 { m.e[i * 5 + i] = d[i] }
        return m
    }

    static var identity: Matrix5 { diagonal([1, 1, 1, 1, 1]) }

    subscript(_ r: Int, _ c: Int) -> Double {
        get { e[r * 5 + c] }
        set { e[r * 5 + c] = newValue }
    }

    /// `a · b`.
    static func * (a: Matrix5, b: Matrix5) -> Matrix5 {
        var out = Matrix5()
        for r in 0..<5 {
            for c in 0..<5 {
                var s = 0.0
                for k in 0..<5 { s += a.e[r * 5 + k] * b.e[k * 5 + c] }
                out.e[r * 5 + c] = s
            }
        }
        return out
    }

    static func + (a: Matrix5, b: Matrix5) -> Matrix5 {
        var out = a
        for i in 0..<25 { out.e[i] += b.e[i] }
        return out
    }

    var transposed: Matrix5 {
        var out = Matrix5()
        for r in 0..<5 { for c in 0..<5 { out.e[c * 5 + r] = e[r * 5 + c] } }
        return out
    }

    /// Makes the matrix exactly symmetric (guards against round-off drift).
    mutating func symmetrize() {
        for r in 0..<5 {
            for c in (r + 1)..<5 {
                let v = 0.5 * (e[r * 5 + c] + e[c * 5 + r])
                e[r * 5 + c] = v
                e[c * 5 + r] = v
            }
        }
    }
}

/// The state of a constant-turn-rate-and-velocity (CTRV) motion model.
public struct CTRVState: Sendable, Equatable {
    /// East, metres.
    public var x: Double
    /// North, metres.
    public var y: Double
    /// Speed along the heading, m/s.
    public var v: Double
    /// Heading (yaw), radians counter-clockwise from east.
    public var yaw: Double
    /// Turn rate, rad/s.
    public var yawRate: Double

    /// Creates a state.
    public init(x: Double, y: Double, v: Double, yaw: Double, yawRate: Double) {
        self.x = x
        self.y = y
        self.v = v
        self.yaw = yaw
        self.yawRate = yawRate
    }

    /// East/north position.
    public var position: SIMD2<Double> { SIMD2(x, y) }

    /// Turn rates below this magnitude use the straight-line limit of the CTRV equations.
    static let straightYawRate = 1e-4

    /// The state after `dt` seconds of constant speed and turn rate.
    public func propagated(by dt: Double) -> CTRVState {
        var s = self
        if abs(yawRate) < Self.straightYawRate {
            // First-order expansion in yawRate of the exact equations below (continuous at the switch).
            let c = cos(yaw), sn = sin(yaw), h = 0.5 * v * yawRate * dt * dt
            s.x += v * c * dt - h * sn
            s.y += v * sn * dt + h * c
        } else {
            let yaw1 = yaw + yawRate * dt
            s.x += v / yawRate * (sin(yaw1) - sin(yaw))
            s.y += v / yawRate * (cos(yaw) - cos(yaw1))
        }
        s.yaw = yaw + yawRate * dt
        return s
    }

    /// The Jacobian of `propagated(by:)` with respect to (x, y, v, yaw, yawRate).
    func jacobian(dt: Double) -> Matrix5 {
        var f = Matrix5.identity
        let c0 = cos(yaw), s0 = sin(yaw)
        if abs(yawRate) < Self.straightYawRate {
            let w = yawRate, h = 0.5 * dt * dt
            f[0, 2] = c0 * dt - h * w * s0
            f[0, 3] = -v * s0 * dt - h * v * w * c0
            f[0, 4] = -h * v * s0
            f[1, 2] = s0 * dt + h * w * c0
            f[1, 3] = v * c0 * dt - h * v * w * s0
            f[1, 4] = h * v * c0
        } else {
            let w = yawRate
            let c1 = cos(yaw + w * dt), s1 = sin(yaw + w * dt)
            f[0, 2] = (s1 - s0) / w
            f[0, 3] = v / w * (c1 - c0)
            f[0, 4] = -v / (w * w) * (s1 - s0) + v / w * dt * c1
            f[1, 2] = (c0 - c1) / w
            f[1, 3] = v / w * (s1 - s0)
            f[1, 4] = -v / (w * w) * (c0 - c1) + v / w * dt * s1
        }
        f[3, 4] = dt
        return f
    }
}

/// Noise parameters of the CTRV Kalman filter.
public struct MotionNoise: Sendable, Equatable, Codable {
    /// Standard deviation of a GNSS east/north fix, metres.
    public var gnssSigma: Double
    /// Standard deviation of the longitudinal acceleration (process noise), m/s².
    public var accelerationSigma: Double
    /// Standard deviation of the yaw acceleration (process noise), rad/s².
    public var yawAccelerationSigma: Double

    /// Creates noise parameters (defaults suit a car with consumer GNSS at ~10 Hz).
    public init(gnssSigma: Double = 1.0, accelerationSigma: Double = 2.0, yawAccelerationSigma: Double = 0.5) {
        self.gnssSigma = gnssSigma
        self.accelerationSigma = accelerationSigma
        self.yawAccelerationSigma = yawAccelerationSigma
    }
}

/// An extended Kalman filter with the CTRV motion model and east/north position measurements.
///
/// State (x, y, v, yaw, yawRate). Prediction uses the exact CTRV transition (its first-order
/// expansion in yawRate for |yawRate| < 1e-4 rad/s, where the exact form divides by ~0) and its Jacobian; process noise enters through longitudinal and
/// yaw accelerations. Measurements observe (x, y) with variance `gnssSigma²`.
public struct CTRVFilter: Sendable, Equatable {
    /// The current state estimate.
    public private(set) var state: CTRVState
    /// The stamp (ns) the state refers to.
    public private(set) var stamp: Int64
    var covariance: Matrix5
    let noise: MotionNoise

    /// Initializes from two fixes: position at the second, speed and heading from the displacement,
    /// zero turn rate. Heading variance grows when the displacement is small compared to the noise.
    public init(first: SIMD2<Double>, firstStamp: Int64, second: SIMD2<Double>, secondStamp: Int64, noise: MotionNoise) {
        let dt = max(Double(secondStamp - firstStamp) * 1e-9, 1e-3)
        let d = second - first
        let dist = (d * d).sum().squareRoot()
        let r2 = noise.gnssSigma * noise.gnssSigma
        state = CTRVState(x: second.x, y: second.y, v: dist / dt, yaw: dist > 0 ? atan2(d.y, d.x) : 0, yawRate: 0)
        stamp = secondStamp
        let yawVar = dist > 0 ? min(2 * r2 / (dist * dist), Double.pi * Double.pi) : Double.pi * Double.pi
        covariance = .diagonal([r2, r2, 2 * r2 / (dt * dt), yawVar, 0.25])
        self.noise = noise
    }

    /// Initializes at the first of several fixes: position from that fix, speed and heading from a
    /// least-squares constant-velocity fit over all of them (their variances from the fit, inflated
    /// ×4 because the filter then uses the same fixes again), zero turn rate. Nil with fewer than two
    /// distinct stamps. Two fixes 100 ms apart with metre-level noise give a useless heading; the
    /// whole window does not.
    public init?(fit fixes: [(stamp: Int64, position: SIMD2<Double>)], noise: MotionNoise) {
        guard let first = fixes.first, fixes.count >= 2 else { return nil }
        let n = Double(fixes.count)
        var st = 0.0, stt = 0.0
        var sp = SIMD2<Double>.zero, stp = SIMD2<Double>.zero
        for f in fixes {
            let t = Double(f.stamp - first.stamp) * 1e-9
            st += t; stt += t * t; sp += f.position; stp += t * f.position
        }
        let sxx = stt - st * st / n
        guard sxx > 1e-9 else { return nil }
        let velocity = (stp - st * sp / n) / sxx
        let speed = (velocity * velocity).sum().squareRoot()
        guard speed.isFinite else { return nil }
        let r2 = noise.gnssSigma * noise.gnssSigma
        let speedVar = 4 * r2 / sxx
        // The fitted heading is the mean over the span; a turn of up to ~0.5 rad/s moves it by half
        // the span's heading change from the heading at the first fix.
        let span = Double((fixes.last?.stamp ?? first.stamp) - first.stamp) * 1e-9
        let turnVar = (0.25 * span) * (0.25 * span)
        let yawVar = speed > 0 ? min(speedVar / (speed * speed) + turnVar + 1e-4, Double.pi * Double.pi) : Double.pi * Double.pi
        state = CTRVState(x: first.position.x, y: first.position.y, v: speed,
                          yaw: speed > 0 ? atan2(velocity.y, velocity.x) : 0, yawRate: 0)
        stamp = first.stamp
        covariance = .diagonal([r2, r2, speedVar, yawVar, 0.25])
        self.noise = noise
    }

    /// Initializes from a single fix: that position, unknown heading, zero speed with wide variance.
    public init(only: SIMD2<Double>, stamp: Int64, noise: MotionNoise) {
        let r2 = noise.gnssSigma * noise.gnssSigma
        state = CTRVState(x: only.x, y: only.y, v: 0, yaw: 0, yawRate: 0)
        self.stamp = stamp
        covariance = .diagonal([r2, r2, 100, Double.pi * Double.pi, 0.25])
        self.noise = noise
    }

    /// Predicts the state to `target` (no-op when `target` is not after the current stamp).
    public mutating func predict(to target: Int64) {
        guard target > stamp else { return }
        let dt = Double(target - stamp) * 1e-9
        let f = state.jacobian(dt: dt)
        // Process noise: G · diag(σa², σψ̈²) · Gᵀ with G mapping (a, ψ̈) into the state.
        let c = cos(state.yaw), s = sin(state.yaw), h = 0.5 * dt * dt
        let g: [(Double, Double)] = [(h * c, 0), (h * s, 0), (dt, 0), (0, h), (0, dt)]
        let qa = noise.accelerationSigma * noise.accelerationSigma
        let qw = noise.yawAccelerationSigma * noise.yawAccelerationSigma
        var q = Matrix5()
        for r in 0..<5 { for col in 0..<5 { q[r, col] = g[r].0 * g[col].0 * qa + g[r].1 * g[col].1 * qw } }
        state = state.propagated(by: dt)
        covariance = f * covariance * f.transposed + q
        covariance.symmetrize()
        stamp = target
    }

    /// Fuses one east/north fix.
    public mutating func update(_ z: SIMD2<Double>) {
        let r2 = noise.gnssSigma * noise.gnssSigma
        let p = covariance
        // S = H P Hᵀ + R, with H selecting (x, y).
        let s00 = p[0, 0] + r2, s01 = p[0, 1], s10 = p[1, 0], s11 = p[1, 1] + r2
        let det = s00 * s11 - s01 * s10
        guard det.isFinite, abs(det) > 1e-12 else { return }
        let i00 = s11 / det, i01 = -s01 / det, i10 = -s10 / det, i11 = s00 / det
        let yx = z.x - state.x, yy = z.y - state.y
        // K = P Hᵀ S⁻¹ (5×2).
        var k = [Double](repeating: 0, count: 10)
        for r in 0..<5 {
            k[r * 2] = p[r, 0] * i00 + p[r, 1] * i10
            k[r * 2 + 1] = p[r, 0] * i01 + p[r, 1] * i11
        }
        let dx = (0..<5).map { k[$0 * 2] * yx + k[$0 * 2 + 1] * yy }
        state.x += dx[0]
        state.y += dx[1]
        state.v += dx[2]
        state.yaw += dx[3]
        state.yawRate += dx[4]
        // P = (I − K H) P.
        var out = p
        for r in 0..<5 {
            for c in 0..<5 { out[r, c] = p[r, c] - k[r * 2] * p[0, c] - k[r * 2 + 1] * p[1, c] }
        }
        out.symmetrize()
        covariance = out
    }

    /// Runs the filter over time-ordered fixes (nil = missing, predicted through) and returns it
    /// positioned at the last stamp, or nil when there is no fix at all. Fixes that go back in time
    /// are ignored. The filter starts at the first fix, initialized by `init(fit:noise:)` over the
    /// first `initialFitFixes` fixes.
    public static func track(_ fixes: [(stamp: Int64, position: SIMD2<Double>?)], noise: MotionNoise) -> CTRVFilter? {
        trackWithEstimates(fixes, noise: noise)?.filter
    }

    /// How many of the first fixes initialize the filter (a short span limits the heading bias of a
    /// straight-line fit during a turn; several fixes average the noise).
    public static let initialFitFixes = 5

    /// Like `track`, also returning the filtered state at every stamp from the filter's start on.
    public static func trackWithEstimates(_ fixes: [(stamp: Int64, position: SIMD2<Double>?)], noise: MotionNoise)
        -> (filter: CTRVFilter, estimates: [(stamp: Int64, state: CTRVState)])? {
        // Time-ordered items, dropping any that go back in time.
        var items: [(stamp: Int64, position: SIMD2<Double>?)] = []
        items.reserveCapacity(fixes.count)
        for item in fixes where item.stamp >= (items.last?.stamp ?? Int64.min) { items.append(item) }
        let valid = items.compactMap { i in i.position.map { (stamp: i.stamp, position: $0) } }
        guard let firstFix = valid.first, let lastStamp = items.last?.stamp else { return nil }
        guard var filter = CTRVFilter(fit: Array(valid.prefix(initialFitFixes)), noise: noise) else {
            // One fix (or all at one stamp): hold that position.
            var f = CTRVFilter(only: firstFix.position, stamp: firstFix.stamp, noise: noise)
            f.predict(to: lastStamp)
            return (f, [(firstFix.stamp, f.state)])
        }
        var estimates: [(stamp: Int64, state: CTRVState)] = [(filter.stamp, filter.state)]
        var skippedFirst = false
        for item in items where item.stamp >= firstFix.stamp {
            if !skippedFirst, item.stamp == firstFix.stamp, item.position != nil { skippedFirst = true; continue }
            filter.predict(to: item.stamp)
            if let z = item.position { filter.update(z) }
            estimates.append((item.stamp, filter.state))
        }
        filter.predict(to: lastStamp)
        return (filter, estimates)
    }
}
