import Foundation

/// Ranks codebook beams by the angular distance between their steering angle and a target azimuth.
///
/// Angles are radians in the site convention (counter-clockwise positive). Steering angles are
/// relative to the array's boresight; the azimuth given to `rank` is also relative to boresight.
/// Probabilities are a softmax over −(d/σ)² across the whole codebook, so the top-k probabilities
/// sum to at most 1.
public struct BeamRanker: Sendable, Equatable {
    /// Steering angle of every beam relative to boresight, radians.
    public let steeringAngles: [Double]
    /// Width σ of the softmax, radians.
    public let sigma: Double
    /// How many beams `rank` reports.
    public let topK: Int
    /// Beam indices sorted by steering angle (for angular neighbours).
    let angularOrder: [Int]
    /// Position of every beam in `angularOrder`.
    let angularRank: [Int]

    /// Creates a ranker. `sigma` nil uses the median spacing between adjacent sorted steering angles.
    public init(steeringAngles: [Double], sigma: Double?, topK: Int) throws(PredictError) {
        guard !steeringAngles.isEmpty, steeringAngles.count <= 4096 else {
            throw PredictError.invalidConfiguration(field: "steeringAngles",
                                                    detail: "needs 1…4096 beams, got \(steeringAngles.count)")
        }
        guard steeringAngles.allSatisfy({ $0.isFinite }) else {
            throw PredictError.invalidConfiguration(field: "steeringAngles", detail: "every steering angle must be finite")
        }
        guard topK >= 1 else {
            throw PredictError.invalidConfiguration(field: "topK", detail: "top-k must be at least 1, got \(topK)")
        }
        let width = sigma ?? BeamRanker.medianSpacing(steeringAngles)
        guard width.isFinite, width > 0 else {
            throw PredictError.invalidConfiguration(field: "beamSigma",
                                                    detail: "softmax width must be > 0 rad, got \(width) (give it explicitly when beams coincide)")
        }
        self.steeringAngles = steeringAngles
        self.sigma = width
        self.topK = min(topK, steeringAngles.count)
        let order = steeringAngles.indices.sorted { (steeringAngles[$0], $0) < (steeringAngles[$1], $1) }
        var rank = [Int](repeating: 0, count: order.count)
        for (k, b) in order.enumerated() { rank[b] = k }
        angularOrder = order
        angularRank = rank
    }

    /// Median gap between adjacent sorted steering angles (0.05 rad when there is one beam).
    static func medianSpacing(_ angles: [Double]) -> Double {
        let sorted = angles.sorted()
        guard sorted.count > 1 else { return 0.05 }
        let gaps = zip(sorted.dropFirst(), sorted).map { $0 - $1 }.filter { $0 > 0 }.sorted()
        guard !gaps.isEmpty else { return 0 }
        return gaps[gaps.count / 2]
    }

    /// Wraps an angle into (−π, π].
    public static func wrap(_ a: Double) -> Double {
        var r = remainder(a, 2 * Double.pi)
        if r <= -Double.pi { r += 2 * Double.pi }
        return r
    }

    /// The top-k beams nearest `azimuth` (relative to boresight, radians) and their probabilities.
    public func rank(azimuth: Double) -> (beams: [Int], probabilities: [Double]) {
        let n = steeringAngles.count
        var distance = [Double](repeating: 0, count: n)
        var minD = Double.infinity
        for i in 0..<n {
            let d = abs(BeamRanker.wrap(steeringAngles[i] - azimuth))
            distance[i] = d
            minD = min(minD, d)
        }
        // Softmax over −(d/σ)², shifted by the best logit for stability.
        var total = 0.0
        let best = -(minD / sigma) * (minD / sigma)
        for i in 0..<n { total += exp(-(distance[i] / sigma) * (distance[i] / sigma) - best) }
        // Partial selection of the k smallest distances (ties: lower index first).
        var chosen: [Int] = []
        chosen.reserveCapacity(topK)
        for i in 0..<n {
            var pos = chosen.count
            while pos > 0 && distance[chosen[pos - 1]] > distance[i] { pos -= 1 }
            if pos < topK {
                chosen.insert(i, at: pos)
                if chosen.count > topK { chosen.removeLast() }
            }
        }
        let probabilities = chosen.map { i -> Double in
            let p = exp(-(distance[i] / sigma) * (distance[i] / sigma) - best) / total
            return min(max(p, 0), 1)
        }
        return (chosen, probabilities)
    }

    /// The beams nearest to beam `index`'s own steering angle (it first), with probabilities.
    public func rank(around index: Int) -> (beams: [Int], probabilities: [Double]) {
        rank(azimuth: steeringAngles[min(max(index, 0), steeringAngles.count - 1)])
    }

    /// A score of every beam for `azimuth` (relative to boresight, radians): −d/σ with d the
    /// wrap-aware angular distance, floored at `−floor`. Linear in the distance (not −(d/σ)² as the
    /// softmax of ``rank(azimuth:)``) so that the order of every beam of the codebook survives the floor,
    /// also when the azimuth lies beyond the codebook's edge: sorted, these scores give ``rank(azimuth:)``'s
    /// order.
    public func logits(azimuth: Double, floor: Double = 64) -> [Float] {
        steeringAngles.map { angle in
            Float(-min(abs(BeamRanker.wrap(angle - azimuth)) / sigma, floor))
        }
    }

    /// The UE azimuth (relative to boresight) measured by a beam-power scan: the strongest beam's
    /// steering angle refined by a parabola through it and its two angular neighbours (dB), kept
    /// within half a beam spacing of the strongest beam. Nil when the scan does not match the
    /// codebook or its peak stands less than `minPeakDB` above the scan's median (no clear path).
    public func measuredAzimuth(powerDBm scan: [Float], minPeakDB: Double) -> Double? {
        guard scan.count == steeringAngles.count else { return nil }
        var best = -1
        var bestValue = -Float.infinity
        for (i, v) in scan.enumerated() where v.isFinite && v > bestValue { bestValue = v; best = i }
        guard best >= 0 else { return nil }
        let finite = scan.filter(\.isFinite).sorted()
        let median = Double(finite[finite.count / 2])
        guard Double(bestValue) - median >= minPeakDB else { return nil }
        let a0 = steeringAngles[best], p0 = Double(bestValue)
        let k = angularRank[best]
        guard k > 0, k < angularOrder.count - 1 else { return a0 }
        let lo = angularOrder[k - 1], hi = angularOrder[k + 1]
        let am = steeringAngles[lo], ap = steeringAngles[hi]
        let pm = scan[lo].isFinite ? Double(scan[lo]) : p0 - 30
        let pp = scan[hi].isFinite ? Double(scan[hi]) : p0 - 30
        // Vertex of the parabola through (am, pm), (a0, p0), (ap, pp).
        let num = (a0 - am) * (a0 - am) * (p0 - pp) - (a0 - ap) * (a0 - ap) * (p0 - pm)
        let den = (a0 - am) * (p0 - pp) - (a0 - ap) * (p0 - pm)
        guard abs(den) > 1e-12 else { return a0 }
        let vertex = a0 - 0.5 * num / den
        guard vertex.isFinite else { return a0 }
        return min(max(vertex, 0.5 * (am + a0)), 0.5 * (a0 + ap))
    }
}
