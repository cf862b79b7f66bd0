import ForesightCore
import Foundation

/// Correction of the GNSS track by the directions measured with the beam-power scans.
///
/// GNSS errors of a metre or two — mostly a slowly wandering bias — are several beams of azimuth at
/// street ranges, while the strongest beam of each scan (refined between its neighbours) measures
/// the direction of the UE. Anchoring estimates one constant east/north GNSS bias **b** over the
/// window: for every scan k with a clear peak, the corrected track position pₖ − **b** should lie
/// on the measured ray from the array, i.e. **n**ₖ·**b** = **n**ₖ·(pₖ − a) with **n**ₖ the ray's
/// normal. Weighted least squares (weight 1/((σ_az·rangeₖ)² + σ_track²)) with a zero-mean prior of σ_bias per
/// axis gives **b**; the predicted positions (hence azimuths and blockage corridors) are shifted by
/// −**b**. Rays from several directions pin down both axes; nearly parallel rays only the cross-range
/// one, and the prior keeps the other near zero.
public struct BeamAnchoring: Sendable, Equatable, Codable {
    /// Whether anchoring is used (off = pure GNSS geometry, the textbook baseline).
    public var enabled: Bool
    /// How many of the newest scans are used.
    public var window: Int
    /// Standard deviation of a measured direction, radians (sub-beam refined peak).
    public var azimuthSigma: Double
    /// Standard deviation of the filtered track position at a scan, metres (the part of the GNSS
    /// error that is not the common bias).
    public var trackSigma: Double
    /// Prior standard deviation of the GNSS bias per axis, metres.
    public var biasSigma: Double
    /// Estimated biases longer than this (metres) are not trusted (e.g. a reflection dominates).
    public var maxCorrection: Double
    /// A scan's peak must stand this far above its median (dB) to count as a measurement.
    public var minPeakDB: Double

    /// Creates anchoring parameters.
    public init(enabled: Bool = true, window: Int = 8, azimuthSigma: Double = 0.02, trackSigma: Double = 0.5,
                biasSigma: Double = 2, maxCorrection: Double = 6, minPeakDB: Double = 6) {
        self.enabled = enabled
        self.window = window
        self.azimuthSigma = azimuthSigma
        self.trackSigma = trackSigma
        self.biasSigma = biasSigma
        self.maxCorrection = maxCorrection
        self.minPeakDB = minPeakDB
    }
}

/// The classical baseline predictor (`model: "classical-ctrv"`).
///
/// - Position: a CTRV extended Kalman filter over the window's GNSS fixes (after the last jump,
///   `maxSpeed`), propagated to every horizon stamp — or, when the UE's car shows in the LiDAR
///   clouds around that track, over the car's positions instead (`LidarAnchoring`).
/// - Beam: codebook beams ranked by the wrap-aware distance between their steering angle and the
///   predicted UE azimuth seen from the array (relative to boresight); softmax probabilities. The
///   track is corrected by the directions measured in the beam-power scans (`BeamAnchoring`)
///   unless that is turned off.
/// - Power: the best-beam power trend of the window, evaluated at each horizon stamp, reported for
///   the predicted best beam.
/// - Blockage: LiDAR points (and radar detections) inside the corridor between the array and the
///   predicted UE position of each step; without either, a power-drop heuristic.
///
/// Without any GNSS fix in the window the model name becomes `classical-ctrv:no-gnss` and the track
/// comes from the LiDAR clouds alone: the first vehicle along each frame's measured beam direction
/// (``LidarAnchoring/alongRay(points:origin:azimuth:grid:)``), found in at least `minFixes` clouds. When
/// that fails too, the beam is held at the azimuth measured by the newest beam-power scan (its
/// strongest beam and angular neighbours), the set's `positionKnown` is false and the reported
/// positions are the array position (a placeholder — the wire does not allow NaN); scoring skips
/// such positions. Without GNSS, LiDAR and beam power the beam is the beam nearest boresight.
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
        /// Anchoring of the GNSS azimuth on the measured beam-power peak.
        public var anchoring: BeamAnchoring
        /// The track from the UE's vehicle in the LiDAR clouds, used instead of the GNSS track when found.
        public var lidarAnchoring: LidarAnchoring
        /// Highest plausible UE speed, m/s: two consecutive fixes further apart than this speed
        /// (plus `jumpTolerance`) allows are a jump — a GNSS glitch, or a new drive of the same UE —
        /// and the track restarts at the later fix (earlier fixes are ignored).
        public var maxSpeed: Double
        /// Distance added to `maxSpeed` × elapsed time before two fixes count as a jump, metres
        /// (GNSS noise; fixes with nearly equal stamps).
        public var jumpTolerance: Double

        /// Creates a configuration.
        public init(arrayPosition: SIMD2<Double>, boresightAzimuth: Double, steeringAngles: [Double], topK: Int = 3,
                    beamSigma: Double? = nil, motion: MotionNoise = MotionNoise(), blockage: BlockageParameters = BlockageParameters(),
                    power: PowerParameters = PowerParameters(), anchoring: BeamAnchoring = BeamAnchoring(),
                    lidarAnchoring: LidarAnchoring = LidarAnchoring(), maxSpeed: Double = 70, jumpTolerance: Double = 5) {
            self.arrayPosition = arrayPosition
            self.boresightAzimuth = boresightAzimuth
            self.steeringAngles = steeringAngles
            self.topK = topK
            self.beamSigma = beamSigma
            self.motion = motion
            self.blockage = blockage
            self.power = power
            self.anchoring = anchoring
            self.lidarAnchoring = lidarAnchoring
            self.maxSpeed = maxSpeed
            self.jumpTolerance = jumpTolerance
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
    /// The codebook ranker the beams are chosen with (its width is the configuration's `beamSigma`).
    public let ranker: BeamRanker
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
    public func predict(history: [FrameView], horizon: [Int64]) -> PredictionSet {
        let frames = history.sorted { $0.stamp < $1.stamp }
        let lastStamp = frames.last?.stamp ?? (horizon.first ?? 0)
        let beamCount = configuration.steeringAngles.count

        // Beam-power scans that match the codebook, at their own stamps.
        let scans = frames.compactMap { f -> (stamp: Int64, dbm: [Float])? in
            guard let p = f.beamPowerDBm, p.count == beamCount else { return nil }
            return (f.beamPowerStamp ?? f.stamp, p)
        }.sorted { $0.stamp < $1.stamp }
        let trend = PowerTrend(scans: scans, parameters: configuration.power)

        // Positions per step from the CTRV filter over the fixes at their own stamps (those after the
        // last jump).
        let fixes = frames.map { f -> (stamp: Int64, position: SIMD2<Double>?) in
            (f.gnssStamp ?? f.stamp, f.finiteGNSS)
        }.sorted { $0.stamp < $1.stamp }
        let gnssTrack = CTRVFilter.trackWithEstimates(afterLastJump(fixes), noise: configuration.motion)
        // Without any fix: the first vehicle along each measured beam direction in the LiDAR clouds.
        let tracked = gnssTrack ?? rayTrack(frames: frames)
        var positions: [SIMD2<Double>] = []
        positions.reserveCapacity(horizon.count)
        if let tracked {
            // The UE's car in the LiDAR clouds, found around the GNSS track, is the better track when
            // seen often enough; no beam correction on top (the beam directions were measured less
            // precisely than the car: with them, top-1 fell on the training drives). Otherwise the
            // GNSS track corrected by the bias the beam directions reveal. A track found along the
            // beam directions has no bias to correct; it is refined the same way (car boxes aligned
            // with its heading).
            let beamBias = gnssTrack == nil ? .zero : gnssBias(scans: scans, estimates: tracked.estimates)
            let filter: CTRVFilter
            let bias: SIMD2<Double>
            if let seen = lidarTrack(frames: frames, gnss: tracked, beamBias: beamBias) {
                filter = seen
                bias = .zero
            } else {
                filter = tracked.filter
                bias = beamBias
            }
            for t in horizon {
                let p = filter.state.propagated(by: Double(t - filter.stamp) * 1e-9).position
                positions.append((p.x.isFinite && p.y.isFinite ? p : filter.state.position) - bias)
            }
        } else {
            positions = [SIMD2<Double>](repeating: configuration.arrayPosition, count: horizon.count)
        }

        // Beams per step.
        let ranked: [(beams: [Int], probabilities: [Double])]
        if tracked != nil {
            ranked = positions.map { ranker.rank(azimuth: relativeAzimuth(of: $0)) }
        } else {
            let held: (beams: [Int], probabilities: [Double])
            if let scan = scans.last, let az = ranker.measuredAzimuth(powerDBm: scan.dbm, minPeakDB: 0) {
                held = ranker.rank(azimuth: az)
            } else {
                held = ranker.rank(azimuth: 0)
            }
            ranked = [(beams: [Int], probabilities: [Double])](repeating: held, count: horizon.count)
        }

        // Blockage per step from the newest frame carrying LiDAR / radar.
        let lidar = frames.last(where: { $0.lidarPoints != nil })?.lidarPoints
        let radar = frames.last(where: { $0.radar != nil })?.radar
        let blockageProbabilities: [Double]
        if (lidar != nil || radar != nil) && tracked != nil {
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
        return PredictionSet(model: gnssTrack == nil ? Self.noGNSSModelName : Self.modelName, horizon: horizon,
                             steps: steps, positionKnown: tracked != nil)
    }

    /// Without GNSS: the track of the first vehicle along each frame's measured beam direction in
    /// its LiDAR cloud (``LidarAnchoring/alongRay(points:origin:azimuth:grid:)``, from the array), after
    /// the last jump, or nil when it was found in fewer than `minFixes` clouds.
    func rayTrack(frames: [FrameView]) -> (filter: CTRVFilter, estimates: [(stamp: Int64, state: CTRVState)])? {
        let l = configuration.lidarAnchoring
        let beamCount = configuration.steeringAngles.count
        guard l.enabled, l.minFixes >= 1, l.fixSigma > 0 else { return nil }
        // Towards end-fire the beams of a DFT codebook widen (1/cos of the angle off boresight) and a
        // measured direction is too coarse to pick a vehicle: only directions where the codebook's
        // local spacing is at most twice its median spacing are trusted (about ±60° for a uniform
        // sine grid).
        let steering = configuration.steeringAngles.sorted()
        func trusted(_ azimuth: Double) -> Bool {
            guard let upper = steering.firstIndex(where: { $0 >= azimuth }), upper > 0 else { return false }
            return steering[upper] - steering[upper - 1] <= 2 * ranker.sigma
        }
        var fixes: [(stamp: Int64, position: SIMD2<Double>?)] = []
        for f in frames {
            guard let points = f.lidarPoints, let scan = f.beamPowerDBm, scan.count == beamCount,
                  let measured = ranker.measuredAzimuth(powerDBm: scan, minPeakDB: configuration.anchoring.minPeakDB),
                  trusted(measured) else { continue }
            fixes.append((f.stamp, l.alongRay(points: points, origin: configuration.arrayPosition,
                                              azimuth: configuration.boresightAzimuth + measured, grid: f.lidarGrid)))
        }
        let kept = afterLastJump(fixes)
        guard kept.count(where: { $0.position != nil }) >= l.minFixes else { return nil }
        var noise = configuration.motion
        noise.gnssSigma = l.fixSigma
        return CTRVFilter.trackWithEstimates(kept, noise: noise)
    }

    /// `fixes` (time-ordered) with every fix before the last jump removed (see `maxSpeed`).
    func afterLastJump(_ fixes: [(stamp: Int64, position: SIMD2<Double>?)]) -> [(stamp: Int64, position: SIMD2<Double>?)] {
        let c = configuration
        guard c.maxSpeed > 0, c.maxSpeed.isFinite, c.jumpTolerance >= 0 else { return fixes }
        var previous: (stamp: Int64, position: SIMD2<Double>)?
        var start = 0
        for (i, fix) in fixes.enumerated() {
            guard let p = fix.position else { continue }
            if let q = previous {
                let d = p - q.position
                let seconds = Double(fix.stamp - q.stamp) * 1e-9
                if (d * d).sum().squareRoot() > c.maxSpeed * max(0, seconds) + c.jumpTolerance { start = i }
            }
            previous = (fix.stamp, p)
        }
        guard start > 0 else { return fixes }
        return fixes.enumerated().map { i, fix in i < start ? (fix.stamp, nil) : fix }
    }

    /// The state of a track at `stamp`: the newest estimate not after it, propagated.
    static func state(at stamp: Int64, in estimates: [(stamp: Int64, state: CTRVState)]) -> CTRVState {
        let base = estimates.last(where: { $0.stamp <= stamp }) ?? estimates[0]
        return base.state.propagated(by: Double(stamp - base.stamp) * 1e-9)
    }

    /// The track of the UE's vehicle in the window's LiDAR clouds (see `LidarAnchoring`), searched
    /// around the GNSS track corrected by `beamBias` (what the beam directions say, ``gnssBias``), or
    /// nil when it was found in fewer than `minFixes` clouds or moves otherwise than the GNSS track
    /// (`maxVelocityMismatch`: a parked car beside the lane, not the UE).
    func lidarTrack(frames: [FrameView], gnss: (filter: CTRVFilter, estimates: [(stamp: Int64, state: CTRVState)]),
                    beamBias: SIMD2<Double>) -> CTRVFilter? {
        let l = configuration.lidarAnchoring
        guard l.enabled, l.minFixes >= 1, l.fixSigma > 0, let start = gnss.estimates.first?.stamp else { return nil }
        // Clouds from before the track's start (e.g. before a jump) would be searched in the wrong place.
        let clouds = frames.compactMap { f in f.lidarPoints.map { (stamp: f.stamp, points: $0, grid: f.lidarGrid) } }
            .filter { $0.stamp >= start }
        guard clouds.count >= l.minFixes else { return nil }
        var fixes: [(stamp: Int64, position: SIMD2<Double>?)] = []
        var found = 0
        for cloud in clouds {
            let s = Self.state(at: cloud.stamp, in: gnss.estimates)
            let seen = s.x.isFinite && s.y.isFinite
                ? l.locate(points: cloud.points, near: s.position - beamBias, heading: s.yaw, grid: cloud.grid) : nil
            if seen != nil { found += 1 }
            fixes.append((cloud.stamp, seen))
        }
        guard found >= l.minFixes else { return nil }
        var noise = configuration.motion
        noise.gnssSigma = l.fixSigma
        guard let track = CTRVFilter.trackWithEstimates(fixes, noise: noise)?.filter else { return nil }
        func velocity(_ s: CTRVState) -> SIMD2<Double> { SIMD2(cos(s.yaw), sin(s.yaw)) * s.v }
        let mismatch = velocity(track.state) - velocity(gnss.filter.state)
        guard (mismatch * mismatch).sum().squareRoot() <= l.maxVelocityMismatch else { return nil }
        return track
    }

    /// The GNSS bias (east, north) estimated from the newest scans' measured directions (see
    /// `BeamAnchoring`), or zero when anchoring is off, no scan has a clear peak, or the estimate
    /// exceeds `maxCorrection`.
    func gnssBias(scans: [(stamp: Int64, dbm: [Float])], estimates: [(stamp: Int64, state: CTRVState)]) -> SIMD2<Double> {
        let a = configuration.anchoring
        guard a.enabled, a.window >= 1, !estimates.isEmpty, a.azimuthSigma > 0, a.trackSigma >= 0, a.biasSigma > 0 else { return .zero }
        // Normal equations M·b = v of the weighted least squares with the prior.
        let prior = 1 / (a.biasSigma * a.biasSigma)
        var m00 = prior, m01 = 0.0, m11 = prior, v0 = 0.0, v1 = 0.0
        var used = 0
        for scan in scans.reversed() {
            guard used < a.window else { break }
            guard let measured = ranker.measuredAzimuth(powerDBm: scan.dbm, minPeakDB: a.minPeakDB) else { continue }
            // The track at the scan's stamp.
            let position = Self.state(at: scan.stamp, in: estimates).position
            let d = position - configuration.arrayPosition
            let range = (d * d).sum().squareRoot()
            guard position.x.isFinite, position.y.isFinite, range > 0.5 else { continue }
            let phi = configuration.boresightAzimuth + measured
            let n = SIMD2(-sin(phi), cos(phi))
            let r = (n * d).sum()
            let w = 1 / (a.azimuthSigma * range * a.azimuthSigma * range + a.trackSigma * a.trackSigma)
            m00 += w * n.x * n.x; m01 += w * n.x * n.y; m11 += w * n.y * n.y
            v0 += w * n.x * r; v1 += w * n.y * r
            used += 1
        }
        let det = m00 * m11 - m01 * m01
        guard used > 0, det.isFinite, det > 0 else { return .zero }
        let b = SIMD2((m11 * v0 - m01 * v1) / det, (m00 * v1 - m01 * v0) / det)
        guard b.x.isFinite, b.y.isFinite, (b * b).sum().squareRoot() <= a.maxCorrection else { return .zero }
        return b
    }
}
