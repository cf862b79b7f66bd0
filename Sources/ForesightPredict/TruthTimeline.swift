import Foundation
import ForesightWire

/// Values kept sorted by stamp, looked up by the nearest stamp within a tolerance.
struct StampedSeries<Value: Sendable>: Sendable {
    private(set) var stamps: [Int64] = []
    private(set) var values: [Value] = []

    /// Inserts keeping stamps sorted (appending is O(1) for in-order data); a duplicate stamp replaces.
    mutating func insert(_ value: Value, at stamp: Int64) {
        if let last = stamps.last, stamp > last {
            stamps.append(stamp); values.append(value); return
        }
        let i = lowerBound(stamp)
        if i < stamps.count && stamps[i] == stamp { values[i] = value; return }
        stamps.insert(stamp, at: i)
        values.insert(value, at: i)
    }

    /// The first index whose stamp is ≥ `stamp`.
    func lowerBound(_ stamp: Int64) -> Int {
        var lo = 0, hi = stamps.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if stamps[mid] < stamp { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The value whose stamp is nearest `target`, if within `tolerance` ns (ties: the earlier).
    func nearest(_ target: Int64, tolerance: Int64) -> Value? {
        let i = lowerBound(target)
        var best: Int?
        var bestGap = UInt64.max
        for j in [i - 1, i] where j >= 0 && j < stamps.count {
            let (gap, overflow) = stamps[j].subtractingReportingOverflow(target)
            if !overflow, gap.magnitude < bestGap { best = j; bestGap = gap.magnitude }
        }
        guard let best, tolerance >= 0, bestGap <= UInt64(tolerance) else { return nil }
        return values[best]
    }

    var count: Int { stamps.count }

    /// Forgets every value stamped before `stamp`.
    mutating func removeAll(before stamp: Int64) {
        let i = lowerBound(stamp)
        guard i > 0 else { return }
        stamps.removeFirst(i)
        values.removeFirst(i)
    }
}

/// Ground truth of a bag (`truth/ue`, `truth/beam`, `truth/blockage`) indexed by stamp.
///
/// `foresight eval` inserts every truth message it reads, then asks for the truth nearest each
/// prediction's horizon stamp; truth further than `tolerance` away counts as absent.
public struct TruthTimeline: Sendable {
    /// The largest accepted gap between a horizon stamp and a truth stamp, ns.
    public var tolerance: Int64
    private var ues = StampedSeries<TruthUE>()
    private var beams = StampedSeries<TruthBeam>()
    private var blockages = StampedSeries<TruthBlockage>()

    /// Creates an empty timeline (default tolerance 50 ms).
    public init(tolerance: Int64 = 50_000_000) {
        self.tolerance = tolerance
    }

    /// Adds a `truth/ue` sample.
    public mutating func insert(_ ue: TruthUE) { ues.insert(ue, at: ue.header.stamp) }
    /// Adds a `truth/beam` sample.
    public mutating func insert(_ beam: TruthBeam) { beams.insert(beam, at: beam.header.stamp) }
    /// Adds a `truth/blockage` sample.
    public mutating func insert(_ blockage: TruthBlockage) { blockages.insert(blockage, at: blockage.header.stamp) }

    /// The UE truth nearest `stamp` within the tolerance.
    public func ue(near stamp: Int64) -> TruthUE? { ues.nearest(stamp, tolerance: tolerance) }
    /// The beam truth nearest `stamp` within the tolerance.
    public func beam(near stamp: Int64) -> TruthBeam? { beams.nearest(stamp, tolerance: tolerance) }
    /// The blockage truth nearest `stamp` within the tolerance.
    public func blockage(near stamp: Int64) -> TruthBlockage? { blockages.nearest(stamp, tolerance: tolerance) }

    /// Forgets every sample stamped before `stamp` (a long-running consumer keeps a window).
    public mutating func removeAll(before stamp: Int64) {
        ues.removeAll(before: stamp)
        beams.removeAll(before: stamp)
        blockages.removeAll(before: stamp)
    }

    /// The newest stored stamp of any kind, if any.
    public var newestStamp: Int64? {
        [ues.stamps.last, beams.stamps.last, blockages.stamps.last].compactMap { $0 }.max()
    }

    /// Number of stored samples per kind.
    public var counts: (ue: Int, beam: Int, blockage: Int) { (ues.count, beams.count, blockages.count) }
}

/// The ground truth at one horizon stamp: what `foresight eval` scores a step against and what
/// `foresight dataset` writes as that step's training target. Both call ``TruthTimeline/truth(at:)``.
public struct HorizonTruth: Sendable {
    /// UE position truth, nil when none is within the tolerance.
    public var ue: TruthUE?
    /// Best beam and noiseless per-beam power truth, nil when none is within the tolerance.
    public var beam: TruthBeam?
    /// Line-of-sight blockage truth, nil when none is within the tolerance.
    public var blockage: TruthBlockage?

    /// Whether every kind of truth is present.
    public var complete: Bool { ue != nil && beam != nil && blockage != nil }
}

extension TruthTimeline {
    /// The truth nearest `stamp` (within the tolerance) of every kind.
    public func truth(at stamp: Int64) -> HorizonTruth {
        HorizonTruth(ue: ue(near: stamp), beam: beam(near: stamp), blockage: blockage(near: stamp))
    }

    /// Linear milliwatts → dBm, floored at −300 dBm for non-positive powers (the scorer's rule).
    public static func dBm(milliwatts: Float) -> Double { 10 * log10(max(Double(milliwatts), 1e-30)) }
}

/// The horizon of a prediction: `steps` stamps `step` ns apart after the frame stamp
/// (stamp + (k + 1)·step for k = 0…steps−1). The daemon, `foresight eval` and `foresight dataset`
/// all use this one rule.
public enum Horizon {
    /// The horizon stamps after a frame stamped `stamp`.
    public static func stamps(after stamp: Int64, steps: Int, step: Int64) -> [Int64] {
        (0..<max(0, steps)).map { stamp + Int64($0 + 1) * step }
    }
}
