/// Parameters of the power predictor.
public struct PowerParameters: Sendable, Equatable, Codable {
    /// How many of the most recent frames with a beam-power scan the trend is fitted over (≥ 1).
    public var trendWindow: Int
    /// The fitted slope is clamped to ±this, dB per second (keeps extrapolation sane).
    public var maxSlopeDBPerSecond: Double
    /// The power reported when the window has no beam-power scan at all, dBm.
    public var fallbackDBm: Double

    /// Creates power parameters.
    public init(trendWindow: Int = 5, maxSlopeDBPerSecond: Double = 20, fallbackDBm: Double = -90) {
        self.trendWindow = trendWindow
        self.maxSlopeDBPerSecond = maxSlopeDBPerSecond
        self.fallbackDBm = fallbackDBm
    }
}

/// The recent trend of the best-beam received power: a least-squares line over the last frames.
///
/// The predicted beam is predicted to be the best beam, so its power at a future stamp is taken
/// from the trend of the per-frame maximum power: `P(t) = level + slope · (t − t_last)`, where
/// `level` is the fitted line at the newest scan and the slope is clamped.
public struct PowerTrend: Sendable, Equatable {
    /// Fitted best-beam power at `stamp`, dBm.
    public var level: Double
    /// Fitted slope, dB per second (clamped).
    public var slopeDBPerSecond: Double
    /// Stamp of the newest scan, ns.
    public var stamp: Int64
    /// Index of the strongest beam in the newest scan.
    public var latestArgmax: Int
    /// The newest scan (dBm), for callers that want a specific beam's latest power.
    public var latestScan: [Float]

    /// Fits the trend over `scans` (stamp, dBm vector; oldest first), or nil when there is none.
    /// Vectors with no finite value are skipped.
    public init?(scans: [(stamp: Int64, dbm: [Float])], parameters: PowerParameters) {
        var points: [(t: Int64, p: Double, argmax: Int, scan: [Float])] = []
        for scan in scans.reversed() {
            guard points.count < max(parameters.trendWindow, 1) else { break }
            var best = -Float.infinity, arg = -1
            for (i, v) in scan.dbm.enumerated() where v.isFinite && v > best { best = v; arg = i }
            if arg >= 0 { points.append((scan.stamp, Double(best), arg, scan.dbm)) }
        }
        guard let newest = points.first else { return nil }
        stamp = newest.t
        latestArgmax = newest.argmax
        latestScan = newest.scan
        // Least squares p = a + b·τ with τ in seconds relative to the newest scan.
        let n = Double(points.count)
        var st = 0.0, sp = 0.0, stt = 0.0, stp = 0.0
        for q in points {
            let tau = Double(q.t - newest.t) * 1e-9
            st += tau; sp += q.p; stt += tau * tau; stp += tau * q.p
        }
        let denom = n * stt - st * st
        var slope = 0.0
        if points.count >= 2, abs(denom) > 1e-12 { slope = (n * stp - st * sp) / denom }
        let limit = abs(parameters.maxSlopeDBPerSecond)
        slope = min(max(slope, -limit), limit)
        slopeDBPerSecond = slope
        level = points.count >= 2 ? (sp - slope * st) / n : newest.p
    }

    /// The predicted best-beam power at `target` (ns), dBm.
    public func power(at target: Int64) -> Double {
        level + slopeDBPerSecond * Double(target - stamp) * 1e-9
    }
}
