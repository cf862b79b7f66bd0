import Foundation

/// Confusion counts of a binary prediction (blockage) and the rates derived from them.
public struct BinaryScore: Sendable, Equatable, Codable {
    /// Predicted blocked, truly blocked.
    public var truePositives = 0
    /// Predicted blocked, truly clear.
    public var falsePositives = 0
    /// Predicted clear, truly clear.
    public var trueNegatives = 0
    /// Predicted clear, truly blocked.
    public var falseNegatives = 0

    /// Creates counts.
    public init(truePositives: Int = 0, falsePositives: Int = 0, trueNegatives: Int = 0, falseNegatives: Int = 0) {
        self.truePositives = truePositives
        self.falsePositives = falsePositives
        self.trueNegatives = trueNegatives
        self.falseNegatives = falseNegatives
    }

    /// Total samples.
    public var total: Int { truePositives + falsePositives + trueNegatives + falseNegatives }
    /// (TP + TN) / total, nil without samples.
    public var accuracy: Double? { total > 0 ? Double(truePositives + trueNegatives) / Double(total) : nil }
    /// TP / (TP + FP), nil when nothing was predicted blocked.
    public var precision: Double? {
        truePositives + falsePositives > 0 ? Double(truePositives) / Double(truePositives + falsePositives) : nil
    }
    /// TP / (TP + FN), nil when nothing was truly blocked.
    public var recall: Double? {
        truePositives + falseNegatives > 0 ? Double(truePositives) / Double(truePositives + falseNegatives) : nil
    }
    /// 2·TP / (2·TP + FP + FN) (the harmonic mean of precision and recall), nil when TP + FP + FN = 0.
    public var f1: Double? {
        let d = 2 * truePositives + falsePositives + falseNegatives
        return d > 0 ? Double(2 * truePositives) / Double(d) : nil
    }

    mutating func add(predicted: Bool, actual: Bool) {
        switch (predicted, actual) {
        case (true, true): truePositives += 1
        case (true, false): falsePositives += 1
        case (false, false): trueNegatives += 1
        case (false, true): falseNegatives += 1
        }
    }

    static func + (a: BinaryScore, b: BinaryScore) -> BinaryScore {
        BinaryScore(truePositives: a.truePositives + b.truePositives, falsePositives: a.falsePositives + b.falsePositives,
                    trueNegatives: a.trueNegatives + b.trueNegatives, falseNegatives: a.falseNegatives + b.falseNegatives)
    }

    enum CodingKeys: String, CodingKey {
        case truePositives = "tp", falsePositives = "fp", trueNegatives = "tn", falseNegatives = "fn"
        case accuracy, precision, recall, f1
    }

    /// Decodes the counts (the derived rates are recomputed).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        truePositives = try c.decode(Int.self, forKey: .truePositives)
        falsePositives = try c.decode(Int.self, forKey: .falsePositives)
        trueNegatives = try c.decode(Int.self, forKey: .trueNegatives)
        falseNegatives = try c.decode(Int.self, forKey: .falseNegatives)
    }

    /// Encodes the counts and the derived rates (null when undefined).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(truePositives, forKey: .truePositives)
        try c.encode(falsePositives, forKey: .falsePositives)
        try c.encode(trueNegatives, forKey: .trueNegatives)
        try c.encode(falseNegatives, forKey: .falseNegatives)
        try c.encode(accuracy, forKey: .accuracy)
        try c.encode(precision, forKey: .precision)
        try c.encode(recall, forKey: .recall)
        try c.encode(f1, forKey: .f1)
    }
}

/// Running sums of one horizon step (or of all steps pooled).
struct StepTally: Sendable, Equatable {
    var beamSamples = 0, top1Hits = 0, top3Hits = 0
    var powerLossSamples = 0, powerLossSum = 0.0
    var positionSamples = 0, positionErrorSum = 0.0
    var powerSamples = 0, powerSquaredSum = 0.0, powerAbsoluteSum = 0.0
    var blockage = BinaryScore()

    static func + (a: StepTally, b: StepTally) -> StepTally {
        var r = a
        r.beamSamples += b.beamSamples; r.top1Hits += b.top1Hits; r.top3Hits += b.top3Hits
        r.powerLossSamples += b.powerLossSamples; r.powerLossSum += b.powerLossSum
        r.positionSamples += b.positionSamples; r.positionErrorSum += b.positionErrorSum
        r.powerSamples += b.powerSamples; r.powerSquaredSum += b.powerSquaredSum; r.powerAbsoluteSum += b.powerAbsoluteSum
        r.blockage = a.blockage + b.blockage
        return r
    }

    func score(step: Int?) -> StepScore {
        func ratio(_ a: Double, _ n: Int) -> Double? { n > 0 ? a / Double(n) : nil }
        return StepScore(step: step, beamSamples: beamSamples, top1: ratio(Double(top1Hits), beamSamples),
                         top3: ratio(Double(top3Hits), beamSamples), powerLossDB: ratio(powerLossSum, powerLossSamples),
                         positionSamples: positionSamples, positionErrorM: ratio(positionErrorSum, positionSamples),
                         powerSamples: powerSamples, powerRMSEDB: ratio(powerSquaredSum, powerSamples).map { $0.squareRoot() },
                         powerMAEDB: ratio(powerAbsoluteSum, powerSamples), blockage: blockage)
    }
}

/// Scores of one horizon step (or of all steps pooled, `step` nil). Rates are nil without samples.
public struct StepScore: Sendable, Equatable, Codable {
    /// Step index (0 = first future step), nil for the pooled row.
    public var step: Int?
    /// Samples with beam truth.
    public var beamSamples: Int
    /// Fraction whose predicted best beam is the true best beam.
    public var top1: Double?
    /// Fraction whose true best beam is among the first three predicted beams.
    public var top3: Double?
    /// Mean 10·log10(P_best / P_chosen) with the true powers, dB.
    public var powerLossDB: Double?
    /// Samples with UE truth and a known predicted position.
    public var positionSamples: Int
    /// Mean Euclidean position error, metres.
    public var positionErrorM: Double?
    /// Samples with beam truth for the power prediction.
    public var powerSamples: Int
    /// RMSE of the predicted power against the true power of the predicted beam, dB.
    public var powerRMSEDB: Double?
    /// MAE of the same, dB.
    public var powerMAEDB: Double?
    /// Blockage confusion counts and rates (threshold 0.5).
    public var blockage: BinaryScore
}

/// The result of scoring a run: per-step and pooled scores plus ADE/FDE.
public struct ScoreReport: Sendable, Equatable, Codable {
    /// Models seen in the scored predictions, sorted.
    public var models: [String]
    /// Prediction sets scored.
    public var predictions: Int
    /// Prediction sets without a position estimate (no GNSS): positions not scored.
    public var positionUnknown: Int
    /// Steps whose horizon stamp had no truth within the tolerance (any kind).
    public var stepsWithoutTruth: Int
    /// Predicted beams outside the truth's codebook (counted as misses, no power figures).
    public var beamsOutOfRange: Int
    /// Average displacement error: the mean over prediction sets of their mean step error, metres.
    public var adeM: Double?
    /// Final displacement error: the mean error at the last step, metres.
    public var fdeM: Double?
    /// Prediction sets that entered ADE (those with at least one scored position); lets reports of
    /// several drives be pooled (weighted by this count).
    public var adeSets: Int = 0
    /// Prediction sets that entered FDE.
    public var fdeSets: Int = 0
    /// Per-step scores.
    public var steps: [StepScore]
    /// All steps pooled.
    public var overall: StepScore

    /// A fixed-width text table of the report.
    public func table() -> String {
        func f(_ v: Double?, _ digits: Int = 3) -> String { v.map { String(format: "%.\(digits)f", $0) } ?? "—" }
        func row(_ cells: [String]) -> String {
            let widths = [7, 7, 7, 7, 8, 9, 9, 9, 8, 8]
            return zip(cells, widths).map { c, w in String(repeating: " ", count: max(0, w - c.count)) + c }.joined(separator: " ")
        }
        var lines = ["models: \(models.joined(separator: ", "))  predictions: \(predictions)"
            + "  positions unknown: \(positionUnknown)  steps without truth: \(stepsWithoutTruth)"]
        lines.append(row(["step", "n", "top1", "top3", "loss dB", "pos m", "pwr RMSE", "pwr MAE", "blk acc", "blk F1"]))
        for s in steps + [overall] {
            lines.append(row([s.step.map { "\($0 + 1)" } ?? "all", "\(s.beamSamples)", f(s.top1), f(s.top3), f(s.powerLossDB, 2),
                              f(s.positionErrorM, 2), f(s.powerRMSEDB, 2), f(s.powerMAEDB, 2), f(s.blockage.accuracy),
                              f(s.blockage.f1)]))
        }
        lines.append("ADE \(f(adeM, 2)) m   FDE \(f(fdeM, 2)) m")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The report as pretty-printed JSON (undefined rates are null).
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}

/// Accumulates (prediction set, ground truth) pairs into per-horizon-step scores.
///
/// For each step i with horizon stamp tᵢ the truth nearest tᵢ (within the timeline's tolerance)
/// is used: the beam is a top-1 hit when `beams[0]` is the true best beam and a top-3 hit when the
/// true best beam is among `beams.prefix(3)`; the power loss is 10·log10(P_best / P_chosen) with
/// the true linear powers (chosen = `beams[0]`); the position error is the Euclidean distance to
/// the true east/north; the power error is `powerDBm − 10·log10(P_true[powerBeam])`; blockage is
/// predicted blocked when its probability ≥ 0.5.
public struct ScoreAccumulator: Sendable {
    private var tallies: [StepTally] = []
    private var models: Set<String> = []
    private var predictions = 0
    private var positionUnknown = 0
    private var stepsWithoutTruth = 0
    private var beamsOutOfRange = 0
    private var adeSum = 0.0, adeCount = 0
    private var fdeSum = 0.0, fdeCount = 0

    /// Creates an empty accumulator.
    public init() {}

    /// Linear mW → dBm, floored at −300 dBm for non-positive powers.
    static func dBm(_ mw: Float) -> Double { TruthTimeline.dBm(milliwatts: mw) }

    /// Scores one prediction set against the truth nearest each of its horizon stamps.
    public mutating func add(_ set: PredictionSet, truth: TruthTimeline) {
        predictions += 1
        models.insert(set.model)
        if !set.positionKnown { positionUnknown += 1 }
        let n = min(set.horizon.count, set.steps.count)
        while tallies.count < n { tallies.append(StepTally()) }
        var errorSum = 0.0, errorCount = 0
        for i in 0..<n {
            let stamp = set.horizon[i], step = set.steps[i]
            let target = truth.truth(at: stamp)
            let ue = target.ue, beam = target.beam, blockage = target.blockage
            if ue == nil || beam == nil || blockage == nil { stepsWithoutTruth += 1 }
            if let beam {
                tallies[i].beamSamples += 1
                let chosen = step.bestBeam
                if chosen == beam.best { tallies[i].top1Hits += 1 }
                if step.beams.prefix(3).contains(beam.best) { tallies[i].top3Hits += 1 }
                if beam.power.indices.contains(chosen), beam.power.indices.contains(beam.best) {
                    tallies[i].powerLossSamples += 1
                    tallies[i].powerLossSum += Self.dBm(beam.power[beam.best]) - Self.dBm(beam.power[chosen])
                } else {
                    beamsOutOfRange += 1
                }
                if beam.power.indices.contains(step.powerBeam), step.powerDBm.isFinite {
                    let e = step.powerDBm - Self.dBm(beam.power[step.powerBeam])
                    tallies[i].powerSamples += 1
                    tallies[i].powerSquaredSum += e * e
                    tallies[i].powerAbsoluteSum += abs(e)
                }
            }
            if let ue, set.positionKnown {
                let de = step.east - ue.east, dn = step.north - ue.north
                let e = (de * de + dn * dn).squareRoot()
                if e.isFinite {
                    tallies[i].positionSamples += 1
                    tallies[i].positionErrorSum += e
                    errorSum += e
                    errorCount += 1
                    if i == n - 1 { fdeSum += e; fdeCount += 1 }
                }
            }
            if let blockage {
                tallies[i].blockage.add(predicted: step.blockageProbability >= 0.5, actual: blockage.blocked)
            }
        }
        if errorCount > 0 { adeSum += errorSum / Double(errorCount); adeCount += 1 }
    }

    /// The scores so far.
    public var report: ScoreReport {
        let pooled = tallies.reduce(StepTally(), +)
        return ScoreReport(models: models.sorted(), predictions: predictions, positionUnknown: positionUnknown,
                           stepsWithoutTruth: stepsWithoutTruth, beamsOutOfRange: beamsOutOfRange,
                           adeM: adeCount > 0 ? adeSum / Double(adeCount) : nil,
                           fdeM: fdeCount > 0 ? fdeSum / Double(fdeCount) : nil, adeSets: adeCount, fdeSets: fdeCount,
                           steps: tallies.enumerated().map { $1.score(step: $0) }, overall: pooled.score(step: nil))
    }
}
