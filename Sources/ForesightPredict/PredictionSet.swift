import ForesightWire

/// A predictor's output for one frame: one `Step` per horizon stamp.
public struct PredictionSet: Sendable, Equatable {
    /// The prediction of one future step.
    public struct Step: Sendable, Equatable {
        /// Predicted UE position east of the site origin, metres.
        public var east: Double
        /// Predicted UE position north of the site origin, metres.
        public var north: Double
        /// Top-k beam indices, most likely first (the first is the predicted best beam).
        public var beams: [Int]
        /// Probability of each beam in `beams` (same order; each in [0, 1]).
        public var beamProbabilities: [Double]
        /// The beam `powerDBm` refers to (normally `beams[0]`).
        public var powerBeam: Int
        /// Predicted received power of `powerBeam`, dBm.
        public var powerDBm: Double
        /// Probability that the line of sight is blocked, in [0, 1].
        public var blockageProbability: Double

        /// Creates a step.
        public init(east: Double, north: Double, beams: [Int], beamProbabilities: [Double],
                    powerBeam: Int, powerDBm: Double, blockageProbability: Double) {
            self.east = east
            self.north = north
            self.beams = beams
            self.beamProbabilities = beamProbabilities
            self.powerBeam = powerBeam
            self.powerDBm = powerDBm
            self.blockageProbability = blockageProbability
        }

        /// The predicted best beam (`beams[0]`, or `powerBeam` when `beams` is empty).
        public var bestBeam: Int { beams.first ?? powerBeam }
    }

    /// The model that produced the set (e.g. `classical-ctrv`).
    public var model: String
    /// Target stamps (ns), one per step, strictly increasing.
    public var horizon: [Int64]
    /// One prediction per horizon stamp.
    public var steps: [Step]
    /// False when no position could be estimated (no GNSS in the window): positions then hold a
    /// placeholder (see the predictor's documentation) and scoring skips them.
    public var positionKnown: Bool

    /// Creates a prediction set.
    public init(model: String, horizon: [Int64], steps: [Step], positionKnown: Bool = true) {
        self.model = model
        self.horizon = horizon
        self.steps = steps
        self.positionKnown = positionKnown
    }

    /// The four wire messages of one prediction set.
    public struct Messages: Sendable, Equatable {
        /// `predict/beam`.
        public var beam: BeamPrediction
        /// `predict/position`.
        public var position: PositionPrediction
        /// `predict/power`.
        public var power: PowerPrediction
        /// `predict/blockage`.
        public var blockage: BlockagePrediction
    }

    /// Checks the set against the wire rules (non-empty increasing horizon, one step per stamp,
    /// finite values, probabilities in [0, 1], beam indices ≥ 0).
    public func validate() throws(PredictError) {
        guard !model.isEmpty else { throw PredictError.invalidPrediction(field: "model", detail: "model name is empty") }
        guard !horizon.isEmpty else { throw PredictError.invalidPrediction(field: "horizon", detail: "horizon has no steps") }
        for i in horizon.indices.dropFirst() where horizon[i] <= horizon[i - 1] {
            throw PredictError.invalidPrediction(field: "horizon[\(i)]", detail: "stamps must strictly increase")
        }
        guard steps.count == horizon.count else {
            throw PredictError.invalidPrediction(field: "steps", detail: "\(steps.count) steps for \(horizon.count) horizon stamps")
        }
        for (i, s) in steps.enumerated() {
            guard s.east.isFinite, s.north.isFinite else {
                throw PredictError.invalidPrediction(field: "steps[\(i)].position", detail: "position (\(s.east), \(s.north)) is not finite")
            }
            guard s.powerDBm.isFinite else {
                throw PredictError.invalidPrediction(field: "steps[\(i)].powerDBm", detail: "power \(s.powerDBm) is not finite")
            }
            guard !s.beams.isEmpty, s.beams.count == s.beamProbabilities.count else {
                throw PredictError.invalidPrediction(field: "steps[\(i)].beams",
                                                     detail: "\(s.beams.count) beams with \(s.beamProbabilities.count) probabilities")
            }
            guard s.powerBeam >= 0, s.beams.allSatisfy({ $0 >= 0 }) else {
                throw PredictError.invalidPrediction(field: "steps[\(i)].beams", detail: "beam indices must be ≥ 0")
            }
            for p in s.beamProbabilities + [s.blockageProbability] where !(0...1).contains(p) {
                throw PredictError.invalidPrediction(field: "steps[\(i)]", detail: "probability \(p) is outside [0, 1]")
            }
        }
    }

    /// Builds `predict/beam`, `predict/position`, `predict/power` and `predict/blockage`.
    ///
    /// - Parameters:
    ///   - header: the header of every message (stamp = the frame the prediction was made from).
    ///   - geodetic: converts site east/north metres to latitude/longitude degrees.
    public func messages(header: Header,
                         geodetic: (_ east: Double, _ north: Double) -> (lat: Double, lon: Double)) throws(PredictError) -> Messages {
        try validate()
        var lat: [Double] = [], lon: [Double] = []
        lat.reserveCapacity(steps.count)
        lon.reserveCapacity(steps.count)
        for (i, s) in steps.enumerated() {
            let g = geodetic(s.east, s.north)
            guard (-90...90).contains(g.lat), (-180...180).contains(g.lon) else {
                throw PredictError.invalidPrediction(field: "steps[\(i)].geodetic",
                                                     detail: "conversion gave lat \(g.lat), lon \(g.lon), outside the valid range")
            }
            lat.append(g.lat)
            lon.append(g.lon)
        }
        return Messages(
            beam: BeamPrediction(header: header, model: model, horizon: horizon, best: steps.map(\.bestBeam),
                                 topk: steps.map(\.beams), prob: steps.map(\.beamProbabilities)),
            position: PositionPrediction(header: header, model: model, horizon: horizon,
                                         east: steps.map(\.east), north: steps.map(\.north), lat: lat, lon: lon),
            power: PowerPrediction(header: header, model: model, horizon: horizon,
                                   beam: steps.map(\.powerBeam), powerDBm: steps.map(\.powerDBm)),
            blockage: BlockagePrediction(header: header, model: model, horizon: horizon, prob: steps.map(\.blockageProbability))
        )
    }
}
