import ForesightCore
import Foundation

/// The persistence baseline (`model: "persistence"`): tomorrow looks like today.
///
/// Every horizon step repeats the newest measurement of the window:
/// - beam: the strongest beam of the newest beam-power scan (a NaN-aware argmax; ties go to the
///   lower index); the top-k are the k strongest measured beams, with softmax probabilities of
///   their powers (width `softmaxWidthDB`). Without any scan: the beam nearest boresight.
/// - position: the newest GNSS fix. Without one, `positionKnown` is false, the model name becomes
///   `persistence:no-gnss` and the placeholder position is the array position (as for the
///   classical predictor; scoring skips it).
/// - power: the newest scan's power of the predicted beam, dBm (`fallbackDBm` without a scan).
/// - blockage: the LiDAR corridor state now — the classical blockage estimator over the newest
///   cloud (and radar detections) towards the newest fix; without LiDAR/radar or a fix, "not
///   blocked" (probability 0).
///
/// Stateless over the window like the classical predictor.
public struct PersistencePredictor: Predictor {
    /// The model name published when GNSS is available.
    public static let modelName = "persistence"
    /// The model name published when the window has no GNSS fix.
    public static let noGNSSModelName = "persistence:no-gnss"

    /// What the persistence baseline needs from the site.
    public struct Configuration: Sendable, Equatable {
        /// Array position, east/north metres (placeholder position and corridor start).
        public var arrayPosition: SIMD2<Double>
        /// Steering angle of every beam relative to boresight, radians (codebook size and the
        /// fallback beam nearest boresight).
        public var steeringAngles: [Double]
        /// Beams reported per step.
        public var topK: Int
        /// Blockage corridor parameters (the classical estimator's).
        public var blockage: BlockageParameters
        /// Softmax width over measured powers, dB.
        public var softmaxWidthDB: Double
        /// Power reported without any scan, dBm.
        public var fallbackDBm: Double

        /// Creates a configuration.
        public init(arrayPosition: SIMD2<Double>, steeringAngles: [Double], topK: Int = 3,
                    blockage: BlockageParameters = BlockageParameters(), softmaxWidthDB: Double = 3, fallbackDBm: Double = -90) {
            self.arrayPosition = arrayPosition
            self.steeringAngles = steeringAngles
            self.topK = topK
            self.blockage = blockage
            self.softmaxWidthDB = softmaxWidthDB
            self.fallbackDBm = fallbackDBm
        }
    }

    /// The configuration.
    public let configuration: Configuration
    private let estimator: BlockageEstimator
    /// Beams by distance of their steering angle from boresight (ties: lower index).
    private let nearBoresight: [Int]

    /// `persistence`.
    public var model: String { Self.modelName }

    /// Creates the predictor, rejecting configurations that cannot work.
    public init(configuration: Configuration) throws(PredictError) {
        let c = configuration
        guard !c.steeringAngles.isEmpty, c.steeringAngles.allSatisfy(\.isFinite) else {
            throw PredictError.invalidConfiguration(field: "steeringAngles", detail: "need at least one finite steering angle")
        }
        guard c.topK >= 1 else { throw PredictError.invalidConfiguration(field: "topK", detail: "must be ≥ 1, got \(c.topK)") }
        guard c.softmaxWidthDB.isFinite, c.softmaxWidthDB > 0 else {
            throw PredictError.invalidConfiguration(field: "softmaxWidthDB", detail: "must be a finite value > 0")
        }
        guard c.fallbackDBm.isFinite, c.arrayPosition.x.isFinite, c.arrayPosition.y.isFinite else {
            throw PredictError.invalidConfiguration(field: "fallbackDBm", detail: "fallback power and array position must be finite")
        }
        self.configuration = c
        estimator = BlockageEstimator(array: c.arrayPosition, parameters: c.blockage)
        let angles = c.steeringAngles
        nearBoresight = angles.indices.sorted { abs(angles[$0]) < abs(angles[$1]) || (abs(angles[$0]) == abs(angles[$1]) && $0 < $1) }
    }

    /// Beam indices sorted by measured power, strongest first; NaN powers rank last, ties by index.
    public static func ranked(powerDBm: [Float]) -> [Int] {
        powerDBm.indices.sorted { a, b in
            let pa = powerDBm[a], pb = powerDBm[b]
            switch (pa.isNaN, pb.isNaN) {
            case (false, true): return true
            case (true, false): return false
            case (true, true): return a < b
            case (false, false): return pa > pb || (pa == pb && a < b)
            }
        }
    }

    /// Repeats the window's newest measurements over the horizon (see the type's documentation).
    public func predict(history: [FrameView], horizon: [Int64]) -> PredictionSet {
        let frames = history.sorted { $0.stamp < $1.stamp }
        let beamCount = configuration.steeringAngles.count
        let scan = frames.last(where: { f in f.beamPowerDBm.map { $0.count == beamCount && $0.contains { !$0.isNaN } } ?? false })?.beamPowerDBm
        let fix = frames.last(where: { $0.finiteGNSS != nil })?.finiteGNSS

        let k = min(configuration.topK, beamCount)
        var beams: [Int]
        var probabilities: [Double]
        var power = configuration.fallbackDBm
        if let scan {
            beams = Array(Self.ranked(powerDBm: scan).prefix(k))
            let top = Double(scan[beams[0]])
            let weights = beams.map { b -> Double in scan[b].isNaN ? 0 : exp((Double(scan[b]) - top) / configuration.softmaxWidthDB) }
            // Normalised over the whole codebook so the reported top-k sum to at most 1.
            let total = scan.reduce(0.0) { $0 + ($1.isNaN ? 0 : exp((Double($1) - top) / configuration.softmaxWidthDB)) }
            probabilities = weights.map { total > 0 ? min(1, $0 / total) : 0 }
            if top.isFinite { power = top }
        } else {
            beams = Array(nearBoresight.prefix(k))
            probabilities = [Double](repeating: 1 / Double(beamCount), count: beams.count)
        }

        let position = fix ?? configuration.arrayPosition
        var blocked = 0.0
        let lidar = frames.last(where: { $0.lidarPoints != nil })?.lidarPoints
        let radar = frames.last(where: { $0.radar != nil })?.radar
        if let fix, lidar != nil || radar != nil {
            blocked = estimator.probabilities(points: lidar, radar: radar, targets: [fix])[0]
            if !blocked.isFinite { blocked = 0 }
        }
        let step = PredictionSet.Step(east: position.x, north: position.y, beams: beams, beamProbabilities: probabilities,
                                      powerBeam: beams[0], powerDBm: power, blockageProbability: min(1, max(0, blocked)))
        return PredictionSet(model: fix == nil ? Self.noGNSSModelName : Self.modelName, horizon: horizon,
                             steps: [PredictionSet.Step](repeating: step, count: horizon.count), positionKnown: fix != nil)
    }
}
