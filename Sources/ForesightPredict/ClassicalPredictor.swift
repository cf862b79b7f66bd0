import Foundation

/// The classical baseline predictor (`model: "classical-ctrv"`).
///
/// - Position: a CTRV extended Kalman filter over the window's GNSS fixes, propagated to every
///   horizon stamp.
/// - Beam: codebook beams ranked by the wrap-aware distance between their steering angle and the
///   predicted UE azimuth seen from the array (relative to boresight); softmax probabilities.
/// - Power: the best-beam power trend of the window, evaluated at each horizon stamp, reported for
///   the predicted best beam.
/// - Blockage: LiDAR points (and radar detections) inside the corridor between the array and the
///   predicted UE position of each step; without either, a power-drop heuristic.
///
/// Without any GNSS fix in the window the beam is held at the newest beam-power argmax (and its
/// angular neighbours), the model name becomes `classical-ctrv:no-gnss`, the set's
/// `positionKnown` is false and the reported positions are the array position (a placeholder —
/// the wire does not allow NaN); scoring skips such positions. Without GNSS and beam power the beam
/// is the beam nearest boresight.
public struct ClassicalPredictor: Predictor {
    /// Everything the classical predictor needs from the site calibration and tuning.
    public struct Configuration: Sendable, Equatable {
        /// Array position, east/north metres in the site frame.
        public var arrayPosition: SIMD2<Double>
        /// Array boresight azimuth, radians counter-clockwise from east (site frame).
        public var boresightAzimuth: Double
        /// Steering angle of every codebook beam relative to boresight, radians, counter-clockwise
        /// positive (the same sense as site azimuths), indexed by beam number.
        public var steeringAngles: [Double]
        /// How many beams each step reports.
        public var topK: Int
        /// Softmax width σ, radians (nil = median spacing of the steering angles).
        public var beamSigma: Double?
        /// Kalman filter noise.
        public var motion: MotionNoise
        /// Blockage estimator parameters.
        public var blockage: BlockageParameters
        /// Power trend parameters.
        public var power: PowerParameters

        /// Creates a configuration.
        public init(arrayPosition: SIMD2<Double>, boresightAzimuth: Double, steeringAngles: [Double], topK: Int = 3,
                    beamSigma: Double? = nil, motion: MotionNoise = MotionNoise(), blockage: BlockageParameters = BlockageParameters(),
                    power: PowerParameters = PowerParameters()) {
            self.arrayPosition = arrayPosition
            self.boresightAzimuth = boresightAzimuth
            self.steeringAngles = steeringAngles
            self.topK = topK
            self.beamSigma = beamSigma
            self.motion = motion
            self.blockage = blockage
            self.power = power
        }

        /// `count` beams spread uniformly over `fieldOfView` radians centred on boresight, beam 0 at
        /// the clockwise (negative) edge — a DFT-like codebook for tests and the simulator.
        public static func uniformSteering(count: Int, fieldOfView: Double) -> [Double] {
            guard count > 1 else { return [0] }
            return (0..<count).map { -fieldOfView / 2 + fieldOfView * Double($0) / Double(count - 1) }
        }
    }

    /// The model name published when GNSS is available.
    public static let modelName = "classical-ctrv"
    /// The model name published when the window has no GNSS fix.
    public static let noGNSSModelName = "classical-ctrv:no-gnss"

    /// `classical-ctrv`.
    public var model: String { Self.modelName }
    /// The configuration.
    public let configuration: Configuration
    let ranker: BeamRanker
    let blockage: BlockageEstimator

    /// Creates the predictor, rejecting configurations that cannot work.
    public init(configuration: Configuration) throws(PredictError) {
        let c = configuration
        guard c.arrayPosition.x.isFinite, c.arrayPosition.y.isFinite else {
            throw PredictError.invalidConfiguration(field: "arrayPosition", detail: "array position must be finite")
        }
        guard c.boresightAzimuth.isFinite else {
            throw PredictError.invalidConfiguration(field: "boresightAzimuth", detail: "boresight azimuth must be finite")
        }
        for (name, v) in [("motion.gnssSigma", c.motion.gnssSigma), ("motion.accelerationSigma", c.motion.accelerationSigma),
                          ("motion.yawAccelerationSigma", c.motion.yawAccelerationSigma),
                          ("blockage.pointSoftness", c.blockage.pointSoftness),
                          ("blockage.powerDropSoftnessDB", c.blockage.powerDropSoftnessDB)] where !(v.isFinite && v > 0) {
            throw PredictError.invalidConfiguration(field: name, detail: "must be a finite value > 0, got \(v)")
        }
        guard c.blockage.corridorHalfWidth.isFinite, c.blockage.corridorHalfWidth > 0,
              c.blockage.minHeight <= c.blockage.maxHeight else {
            throw PredictError.invalidConfiguration(field: "blockage",
                                                    detail: "corridor half-width must be > 0 and minHeight ≤ maxHeight")
        }
        guard c.power.trendWindow >= 1, c.power.fallbackDBm.isFinite, c.power.maxSlopeDBPerSecond.isFinite else {
            throw PredictError.invalidConfiguration(field: "power", detail: "trend window must be ≥ 1 and values finite")
        }
        ranker = try BeamRanker(steeringAngles: c.steeringAngles, sigma: c.beamSigma, topK: c.topK)
        blockage = BlockageEstimator(array: c.arrayPosition, parameters: c.blockage)
        self.configuration = c
    }

    /// The predicted UE azimuth relative to boresight for a site position.
    public func relativeAzimuth(of position: SIMD2<Double>) -> Double {
        let d = position - configuration.arrayPosition
        return BeamRanker.wrap(atan2(d.y, d.x) - configuration.boresightAzimuth)
    }

    /// Predicts every horizon step from the window (see the type's documentation).
    public func predict(history: [FrameObservation], horizon: [Int64]) -> PredictionSet {
        let frames = history.sorted { $0.stamp < $1.stamp }
        let lastStamp = frames.last?.stamp ?? (horizon.first ?? 0)
        let beamCount = configuration.steeringAngles.count

        // Power trend over scans that match the codebook.
        let scans = frames.compactMap { f -> (stamp: Int64, dbm: [Float])? in
            guard let p = f.beamPowerDBm, p.count == beamCount else { return nil }
            return (f.stamp, p)
        }
        let trend = PowerTrend(scans: scans, parameters: configuration.power)

        // Positions per step.
        let filter = CTRVFilter.track(frames.map { ($0.stamp, $0.gnss.flatMap { g in g.x.isFinite && g.y.isFinite ? g : nil }) },
                                      noise: configuration.motion)
        var positions: [SIMD2<Double>] = []
        positions.reserveCapacity(horizon.count)
        if let filter {
            for t in horizon {
                let dt = Double(t - filter.stamp) * 1e-9
                let p = filter.state.propagated(by: max(dt, 0)).position
                positions.append(p.x.isFinite && p.y.isFinite ? p : filter.state.position)
            }
        } else {
            positions = [SIMD2<Double>](repeating: configuration.arrayPosition, count: horizon.count)
        }

        // Beams per step.
        let ranked: [(beams: [Int], probabilities: [Double])]
        if filter != nil {
            ranked = positions.map { ranker.rank(azimuth: relativeAzimuth(of: $0)) }
        } else {
            let held = trend.map { ranker.rank(around: $0.latestArgmax) } ?? ranker.rank(azimuth: 0)
            ranked = [(beams: [Int], probabilities: [Double])](repeating: held, count: horizon.count)
        }

        // Blockage per step from the newest frame carrying LiDAR / radar.
        let lidar = frames.last(where: { $0.lidarPoints != nil })?.lidarPoints
        let radar = frames.last(where: { $0.radar != nil })?.radar
        let blockageProbabilities: [Double]
        if (lidar != nil || radar != nil) && filter != nil {
            blockageProbabilities = blockage.probabilities(points: lidar, radar: radar, targets: positions)
        } else {
            let bests = scans.suffix(configuration.power.trendWindow * 2).compactMap { s in
                s.dbm.filter(\.isFinite).max().map(Double.init)
            }
            blockageProbabilities = [Double](repeating: blockage.probabilityFromPowerDrop(bestPowers: bests), count: horizon.count)
        }

        var steps: [PredictionSet.Step] = []
        steps.reserveCapacity(horizon.count)
        for (i, t) in horizon.enumerated() {
            let best = ranked[i].beams.first ?? 0
            var power = trend?.power(at: max(t, lastStamp)) ?? configuration.power.fallbackDBm
            if !power.isFinite { power = configuration.power.fallbackDBm }
            steps.append(PredictionSet.Step(east: positions[i].x, north: positions[i].y, beams: ranked[i].beams,
                                            beamProbabilities: ranked[i].probabilities, powerBeam: best, powerDBm: power,
                                            blockageProbability: blockageProbabilities[i]))
        }
        return PredictionSet(model: filter == nil ? Self.noGNSSModelName : Self.modelName, horizon: horizon,
                             steps: steps, positionKnown: filter != nil)
    }
}
