import Foundation
import ForesightDaemon
import ForesightPredict
import ForesightWire

/// The `foresight run --compare KIND` side of the live monitor: the reference predictor's sets
/// next to the published predictor's, shown side by side per horizon step in the live view, and
/// both score tables plus a one-line difference in the final summary. Not thread-safe: the
/// monitor keeps it inside its lock.
struct LiveComparison {
    /// One frame's predictions, as far as they have arrived.
    struct Frame {
        var seq: UInt64
        var stamp: Int64
        var primary: PredictionSet?
        var reference: PredictionSet?
        /// The horizon of whichever set arrived.
        var horizon: [Int64] { primary?.horizon ?? reference?.horizon ?? [] }
    }

    /// The reference kind asked for (`classical-ctrv`, `persistence`).
    let kind: String
    /// The reference predictor's sets with their frame seq, oldest first (bounded like the
    /// monitor's own predictions).
    private(set) var sets: [(seq: UInt64, set: PredictionSet)] = []
    /// The newest frames (for the side-by-side view).
    private var recent: [Frame] = []
    /// Frames kept for the side-by-side view: a few horizons' worth at 30 Hz.
    static let recentFrames = 64
    /// Frames in the rolling scores of the live view.
    static let rollingFrames = 300

    init(kind: String) { self.kind = kind }

    /// The reference model name as published in its sets (the kind until the first set).
    var model: String { sets.last?.set.model ?? kind }

    /// The first horizon stamp still needed for scoring (truth before it can go).
    var oldestStampNeeded: Int64? { sets.first?.set.horizon.first }

    /// Records the published predictor's set of a frame.
    mutating func addPrimary(_ set: PredictionSet, seq: UInt64, stamp: Int64) {
        update(seq: seq, stamp: stamp) { $0.primary = set }
    }

    /// Records the reference predictor's set of a frame; keeps at most `retained` sets.
    mutating func addReference(_ set: PredictionSet, seq: UInt64, stamp: Int64, retained: Int) {
        if sets.count >= retained { sets.removeFirst(retained / 2) }
        sets.append((seq, set))
        update(seq: seq, stamp: stamp) { $0.reference = set }
    }

    private mutating func update(seq: UInt64, stamp: Int64, _ change: (inout Frame) -> Void) {
        if let i = recent.lastIndex(where: { $0.seq == seq }) {
            change(&recent[i])
            return
        }
        var frame = Frame(seq: seq, stamp: stamp)
        change(&frame)
        recent.append(frame)
        if recent.count > Self.recentFrames { recent.removeFirst(recent.count - Self.recentFrames) }
    }

    /// The live view's comparison block: the newest frame whose whole horizon of truth has arrived
    /// (else the newest frame, truth pending), one row per step with the truth and each
    /// predictor's beams, position, power and blockage; then rolling scores of both predictors.
    func render(primary: ArraySlice<(seq: UInt64, set: PredictionSet)>, truth: TruthTimeline) -> [String] {
        let newestTruth = truth.newestStamp ?? .min
        guard let frame = recent.last(where: { ($0.horizon.last ?? .max) <= newestTruth }) ?? recent.last else { return [] }
        let primaryModel = primary.last?.set.model ?? "published"
        var lines: [String] = []
        let age = Double(recent.last.map { $0.stamp - frame.stamp } ?? 0) / 1e9
        let arrived = (frame.horizon.last ?? .max) <= newestTruth ? "its truth has arrived" : "truth pending"
        lines.append("  side by side: frame \(frame.seq) (" + String(format: "%.1f", age) + " s before the newest; \(arrived)); * = top-1 hit")
        let widths = [9, 5, 14, 7, 5, 12, 14, 7, 6, 12, 14, 7, 6]
        func row(_ cells: [String]) -> String {
            "  " + zip(cells, widths).map { c, w in c.count >= w ? c + " " : c + String(repeating: " ", count: w - c.count) }.joined()
        }
        func fit(_ name: String, _ width: Int) -> String { name.count < width ? name : String(name.prefix(width - 2)) + "…" }
        lines.append(row(["", "truth", "", "", "", fit(primaryModel, 38), "", "", "", fit(model, 38)]))
        lines.append(row(["step", "beam", "position", "dBm", "blk", "beams", "position", "dBm", "blk", "beams", "position", "dBm", "blk"]))
        for (i, stamp) in frame.horizon.enumerated() {
            let beam = truth.beam(near: stamp), ue = truth.ue(near: stamp), blocked = truth.blockage(near: stamp)
            var cells = [String(format: "+%.0f ms", Double(stamp - frame.stamp) / 1e6)]
            cells.append(beam.map { String($0.best) } ?? "…")
            cells.append(ue.map { String(format: "(%.1f, %.1f)", $0.east, $0.north) } ?? "…")
            cells.append(beam.flatMap { b in b.power.indices.contains(b.best) ? String(format: "%.1f", TruthTimeline.dBm(milliwatts: b.power[b.best])) : nil } ?? "…")
            cells.append(blocked.map { $0.blocked ? "yes" : "no" } ?? "…")
            for set in [frame.primary, frame.reference] {
                guard let set, set.steps.indices.contains(i) else { cells += ["—", "", "", ""]; continue }
                let step = set.steps[i]
                let hit = beam.map { $0.best == step.bestBeam } == true ? "*" : ""
                cells.append(step.beams.prefix(3).map(String.init).joined(separator: ",") + hit)
                cells.append(set.positionKnown ? String(format: "(%.1f, %.1f)", step.east, step.north) : "?")
                cells.append(String(format: "%.1f", step.powerDBm))
                cells.append(String(format: "%.2f", step.blockageProbability))
            }
            lines.append(row(cells))
        }
        let mine = Self.score(primary.suffix(Self.rollingFrames).map(\.set), truth: truth)
        let theirs = Self.score(sets.suffix(Self.rollingFrames).map(\.set), truth: truth)
        lines.append("  last \(Self.rollingFrames) frames: " + Self.brief(primaryModel, mine) + "  |  " + Self.brief(model, theirs))
        return lines
    }

    /// The final summary's reference part: its score table, and the difference to the published
    /// predictor on the frames both predicted (top-1, top-3, ADE).
    func summary(primary: [(seq: UInt64, set: PredictionSet)], truth: TruthTimeline) -> String {
        let primaryModel = primary.last?.set.model ?? "published"
        var text = "\n== reference \(model) (--compare \(kind); not published): \(sets.count) frames\n"
        text += Self.score(sets.map(\.set), truth: truth).table()
        let common = Set(sets.map(\.seq)).intersection(primary.map(\.seq))
        let a = Self.score(primary.filter { common.contains($0.seq) }.map(\.set), truth: truth)
        let b = Self.score(sets.filter { common.contains($0.seq) }.map(\.set), truth: truth)
        text += "\n" + Self.difference(primaryModel, a, model, b, frames: common.count) + "\n"
        return text
    }

    /// `A − B on N frames: top-1 +0.052, top-3 +0.031, ADE −0.42 m (…)`.
    static func difference(_ nameA: String, _ a: ScoreReport, _ nameB: String, _ b: ScoreReport, frames: Int) -> String {
        func delta(_ x: Double?, _ y: Double?, _ format: String) -> String {
            guard let x, let y else { return "—" }
            return String(format: format, x - y).replacingOccurrences(of: "-", with: "−")
        }
        return "\(nameA) − \(nameB) on the \(frames) frames both predicted: top-1 \(delta(a.overall.top1, b.overall.top1, "%+.3f")), "
            + "top-3 \(delta(a.overall.top3, b.overall.top3, "%+.3f")), ADE \(delta(a.adeM, b.adeM, "%+.2f")) m "
            + "(higher top-k and lower ADE favour \(nameA))"
    }

    static func score(_ sets: [PredictionSet], truth: TruthTimeline) -> ScoreReport {
        var accumulator = ScoreAccumulator()
        for set in sets { accumulator.add(set, truth: truth) }
        return accumulator.report
    }

    static func brief(_ name: String, _ r: ScoreReport) -> String {
        func f(_ v: Double?, _ format: String) -> String { v.map { String(format: format, $0) } ?? "—" }
        return "\(name) top-1 \(f(r.overall.top1, "%.2f")) top-3 \(f(r.overall.top3, "%.2f")) ADE \(f(r.adeM, "%.2f")) m"
    }
}
