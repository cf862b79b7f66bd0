import ForesightCore
/// Fields shared by every prediction: the producing model and the target stamp of each step.
public protocol Prediction: WireMessage {
    /// The model that produced the prediction (e.g. `classical-ctrv`).
    var model: String { get }
    /// Target stamps (ns) of each future step, ascending.
    var horizon: [Int64] { get }
}

/// Reads `model` and `horizon` and checks that every per-step array has one entry per step.
struct PredictionCommon {
    var model: String
    var horizon: [Int64]

    init(_ fields: MessageFields) throws(WireError) {
        model = try fields.string("model")
        guard !model.isEmpty else { throw WireError(field: "model", reason: .outOfRange, detail: "model must not be empty") }
        horizon = try fields.int64Array("horizon")
        guard !horizon.isEmpty, horizon.count <= 1024 else {
            throw WireError(field: "horizon", reason: .outOfRange, detail: "horizon must have 1…1024 steps, got \(horizon.count)")
        }
        for i in 1..<max(1, horizon.count) where horizon[i] <= horizon[i - 1] {
            throw WireError(field: "horizon[\(i)]", reason: .outOfRange, detail: "horizon stamps must increase")
        }
    }

    func checkSteps(_ count: Int, _ key: String) throws(WireError) {
        guard count == horizon.count else {
            throw WireError(field: key, reason: .shapeMismatch, detail: "\(count) entries for \(horizon.count) horizon steps")
        }
    }

    static func probability(_ p: Double, field: String) throws(WireError) {
        guard (0...1).contains(p) else {
            throw WireError(field: field, reason: .outOfRange, detail: "probability \(p) is outside [0, 1]")
        }
    }
}

/// `predict/beam`: per future step, the best beam, the top-k beams and their probabilities.
public struct BeamPrediction: Prediction, Equatable {
    public static let messageType = MessageType.beamPrediction
    public var header: Header
    public var model: String
    public var horizon: [Int64]
    /// Best beam index per step.
    public var best: [Int]
    /// Top-k beam indices per step, most likely first.
    public var topk: [[Int]]
    /// Probability of each top-k beam per step.
    public var prob: [[Double]]

    /// Creates a prediction.
    public init(header: Header, model: String, horizon: [Int64], best: [Int], topk: [[Int]], prob: [[Double]]) {
        self.header = header
        self.model = model
        self.horizon = horizon
        self.best = best
        self.topk = topk
        self.prob = prob
    }

    public init(fields: MessageFields, limits: WireLimits) throws(WireError) {
        header = try fields.header()
        let common = try PredictionCommon(fields)
        (model, horizon) = (common.model, common.horizon)
        best = try fields.countArray("best", max: limits.maxBeams - 1)
        try common.checkSteps(best.count, "best")
        let topkValues = try fields.array("topk")
        let probValues = try fields.array("prob")
        try common.checkSteps(topkValues.count, "topk")
        try common.checkSteps(probValues.count, "prob")
        var topk: [[Int]] = [], prob: [[Double]] = []
        for step in 0..<horizon.count {
            let k = try MessageFields(values: ["topk": topkValues[step]]).countArray("topk", max: limits.maxBeams - 1)
            let p = try MessageFields(values: ["prob": probValues[step]]).doubleArray("prob")
            guard k.count == p.count else {
                throw WireError(field: "prob[\(step)]", reason: .shapeMismatch, detail: "\(p.count) probabilities for \(k.count) beams")
            }
            for (j, v) in p.enumerated() { try PredictionCommon.probability(v, field: "prob[\(step)][\(j)]") }
            topk.append(k)
            prob.append(p)
        }
        self.topk = topk
        self.prob = prob
    }

    public func encode(into writer: inout MessagePackWriter) {
        var map = MapBuilder()
        map.header(header)
        map.entry("model", model)
        map.entry("horizon", int64s: horizon)
        map.entry("best", ints: best)
        map.entry("topk") { w in
            w.writeArrayHeader(count: topk.count)
            for k in topk { w.writeArrayHeader(count: k.count); for b in k { w.write(b) } }
        }
        map.entry("prob") { w in
            w.writeArrayHeader(count: prob.count)
            for p in prob { w.writeArrayHeader(count: p.count); for v in p { w.write(v) } }
        }
        map.finish(into: &writer)
    }
}

/// `predict/position`: per future step, the UE position in the site frame and as latitude/longitude.
public struct PositionPrediction: Prediction, Equatable {
    public static let messageType = MessageType.positionPrediction
    public var header: Header
    public var model: String
    public var horizon: [Int64]
    /// East of the site origin, metres, per step.
    public var east: [Double]
    /// North of the site origin, metres, per step.
    public var north: [Double]
    /// Latitude, degrees, per step.
    public var lat: [Double]
    /// Longitude, degrees, per step.
    public var lon: [Double]

    /// Creates a prediction.
    public init(header: Header, model: String, horizon: [Int64], east: [Double], north: [Double], lat: [Double], lon: [Double]) {
        self.header = header
        self.model = model
        self.horizon = horizon
        self.east = east
        self.north = north
        self.lat = lat
        self.lon = lon
    }

    public init(fields: MessageFields, limits: WireLimits) throws(WireError) {
        header = try fields.header()
        let common = try PredictionCommon(fields)
        (model, horizon) = (common.model, common.horizon)
        east = try fields.doubleArray("east"); try common.checkSteps(east.count, "east")
        north = try fields.doubleArray("north"); try common.checkSteps(north.count, "north")
        lat = try fields.doubleArray("lat"); try common.checkSteps(lat.count, "lat")
        lon = try fields.doubleArray("lon"); try common.checkSteps(lon.count, "lon")
        for (i, v) in lat.enumerated() where !(-90...90).contains(v) {
            throw WireError(field: "lat[\(i)]", reason: .outOfRange, detail: "latitude \(v) is outside [-90, 90]")
        }
        for (i, v) in lon.enumerated() where !(-180...180).contains(v) {
            throw WireError(field: "lon[\(i)]", reason: .outOfRange, detail: "longitude \(v) is outside [-180, 180]")
        }
    }

    public func encode(into writer: inout MessagePackWriter) {
        var map = MapBuilder()
        map.header(header)
        map.entry("model", model)
        map.entry("horizon", int64s: horizon)
        map.entry("east", doubles: east)
        map.entry("north", doubles: north)
        map.entry("lat", doubles: lat)
        map.entry("lon", doubles: lon)
        map.finish(into: &writer)
    }
}

/// `predict/power`: per future step, the beam the power refers to and its received power in dBm.
public struct PowerPrediction: Prediction, Equatable {
    public static let messageType = MessageType.powerPrediction
    public var header: Header
    public var model: String
    public var horizon: [Int64]
    /// The beam whose power is predicted (the predicted best beam), per step.
    public var beam: [Int]
    /// Received power, dBm, per step.
    public var powerDBm: [Double]

    /// Creates a prediction.
    public init(header: Header, model: String, horizon: [Int64], beam: [Int], powerDBm: [Double]) {
        self.header = header
        self.model = model
        self.horizon = horizon
        self.beam = beam
        self.powerDBm = powerDBm
    }

    public init(fields: MessageFields, limits: WireLimits) throws(WireError) {
        header = try fields.header()
        let common = try PredictionCommon(fields)
        (model, horizon) = (common.model, common.horizon)
        beam = try fields.countArray("beam", max: limits.maxBeams - 1); try common.checkSteps(beam.count, "beam")
        powerDBm = try fields.doubleArray("power_dbm"); try common.checkSteps(powerDBm.count, "power_dbm")
    }

    public func encode(into writer: inout MessagePackWriter) {
        var map = MapBuilder()
        map.header(header)
        map.entry("model", model)
        map.entry("horizon", int64s: horizon)
        map.entry("beam", ints: beam)
        map.entry("power_dbm", doubles: powerDBm)
        map.finish(into: &writer)
    }
}

/// `predict/blockage`: per future step, the probability that the line of sight is blocked.
public struct BlockagePrediction: Prediction, Equatable {
    public static let messageType = MessageType.blockagePrediction
    public var header: Header
    public var model: String
    public var horizon: [Int64]
    /// Probability of blockage, per step, in [0, 1].
    public var prob: [Double]

    /// Creates a prediction.
    public init(header: Header, model: String, horizon: [Int64], prob: [Double]) {
        self.header = header
        self.model = model
        self.horizon = horizon
        self.prob = prob
    }

    public init(fields: MessageFields, limits: WireLimits) throws(WireError) {
        header = try fields.header()
        let common = try PredictionCommon(fields)
        (model, horizon) = (common.model, common.horizon)
        prob = try fields.doubleArray("prob"); try common.checkSteps(prob.count, "prob")
        for (i, p) in prob.enumerated() { try PredictionCommon.probability(p, field: "prob[\(i)]") }
    }

    public func encode(into writer: inout MessagePackWriter) {
        var map = MapBuilder()
        map.header(header)
        map.entry("model", model)
        map.entry("horizon", int64s: horizon)
        map.entry("prob", doubles: prob)
        map.finish(into: &writer)
    }
}

/// `fusion/frame`: what the synchronizer assembled into one frame.
public struct FusionFrame: WireMessage, Equatable {
    public static let messageType = MessageType.fusionFrame

    /// One member message of the frame.
    public struct Member: Sendable, Equatable, Codable {
        /// The modality (`camera`, `radar`, `lidar`, `gnss`, `beam_power`).
        public var modality: String
        /// The topic it arrived on.
        public var topic: String
        /// Its stamp, ns.
        public var stamp: Int64
        /// Its sequence number.
        public var seq: UInt32

        /// Creates a member.
        public init(modality: String, topic: String, stamp: Int64, seq: UInt32) {
            self.modality = modality
            self.topic = topic
            self.stamp = stamp
            self.seq = seq
        }

        /// Creates a member of a known modality (its wire name goes on the wire).
        public init(modality: Modality, topic: String, stamp: Int64, seq: UInt32) {
            self.init(modality: modality.rawValue, topic: topic, stamp: stamp, seq: seq)
        }
    }

    public var header: Header
    /// The messages in the frame.
    public var members: [Member]
    /// Modalities absent from the frame (emitted at the deadline without them).
    public var missing: [String]
    /// Processing latency of the frame, ns (from the last member's arrival to publication).
    public var latencyNs: Int64

    /// Creates a frame record.
    public init(header: Header, members: [Member], missing: [String], latencyNs: Int64) {
        self.header = header
        self.members = members
        self.missing = missing
        self.latencyNs = latencyNs
    }

    /// Creates a frame record from typed missing modalities (their wire names go on the wire).
    public init(header: Header, members: [Member], missing: [Modality], latencyNs: Int64) {
        self.init(header: header, members: members, missing: missing.map(\.rawValue), latencyNs: latencyNs)
    }

    public init(fields: MessageFields, limits: WireLimits) throws(WireError) {
        header = try fields.header()
        var members: [Member] = []
        for (i, m) in try fields.mapArray("members").enumerated() {
            do {
                members.append(Member(modality: try m.string("modality"), topic: try m.string("topic"),
                                      stamp: try m.int64("stamp"), seq: try m.uint32("seq")))
            } catch {
                var e = error
                e.field = "members[\(i)].\(e.field)"
                throw e
            }
        }
        self.members = members
        missing = try fields.stringArray("missing")
        latencyNs = try fields.int64("latency_ns")
    }

    public func encode(into writer: inout MessagePackWriter) {
        var map = MapBuilder()
        map.header(header)
        map.entry("members") { w in
            w.writeArrayHeader(count: members.count)
            for m in members {
                w.writeMapHeader(count: 4)
                w.write("modality"); w.write(m.modality)
                w.write("topic"); w.write(m.topic)
                w.write("stamp"); w.write(m.stamp)
                w.write("seq"); w.write(UInt64(m.seq))
            }
        }
        map.entry("missing", strings: missing)
        map.entry("latency_ns", latencyNs)
        map.finish(into: &writer)
    }
}

/// `foresight/diagnostics`: the daemon's health, published at 1 Hz.
///
/// Counters are cumulative since start. Every list entry is a small map so clients in any
/// language can read it without knowing Swift.
public struct Diagnostics: WireMessage, Equatable {
    public static let messageType = MessageType.diagnostics

    /// Per input topic: arrival rate and totals.
    public struct TopicStats: Sendable, Equatable, Codable {
        /// The topic.
        public var topic: String
        /// Messages per second over the last interval.
        public var rateHz: Double
        /// Messages received (accepted and rejected).
        public var received: Int64
        /// Messages rejected for any reason.
        public var rejected: Int64
        /// Messages dropped by a bounded queue.
        public var dropped: Int64
        /// Whether the topic has been heard from within its silence threshold.
        public var alive: Bool

        /// Creates topic statistics.
        public init(topic: String, rateHz: Double, received: Int64, rejected: Int64, dropped: Int64, alive: Bool) {
            self.topic = topic
            self.rateHz = rateHz
            self.received = received
            self.rejected = rejected
            self.dropped = dropped
            self.alive = alive
        }
    }

    /// One rejection counter: topic × reason (the documented reason names).
    public struct Rejection: Sendable, Equatable, Codable {
        /// The topic.
        public var topic: String
        /// The reason code (`RejectionReason.rawValue`, or a stream event such as `clock_jump`).
        public var reason: String
        /// Count since start.
        public var count: Int64

        /// Creates a counter entry.
        public init(topic: String, reason: String, count: Int64) {
            self.topic = topic
            self.reason = reason
            self.count = count
        }
    }

    /// One pipeline stage: its queue, its drops and its latency.
    public struct Stage: Sendable, Equatable, Codable {
        /// Stage name (`sync`, `camera`, `radar`, …, `predict`, `end_to_end`).
        public var stage: String
        /// Items waiting in the stage's input queue.
        public var queueDepth: Int64
        /// Items dropped by the stage's bounded queue.
        public var dropped: Int64
        /// Median latency, milliseconds.
        public var p50Ms: Double
        /// 99th percentile latency, milliseconds.
        public var p99Ms: Double

        /// Creates stage statistics.
        public init(stage: String, queueDepth: Int64, dropped: Int64, p50Ms: Double, p99Ms: Double) {
            self.stage = stage
            self.queueDepth = queueDepth
            self.dropped = dropped
            self.p50Ms = p50Ms
            self.p99Ms = p99Ms
        }
    }

    public var header: Header
    /// Seconds since the daemon started.
    public var uptimeS: Double
    /// Per-topic statistics.
    public var topics: [TopicStats]
    /// Rejection and stream-event counters.
    public var rejections: [Rejection]
    /// Per-stage statistics, including `end_to_end`.
    public var stages: [Stage]

    /// Creates a diagnostics message.
    public init(header: Header, uptimeS: Double, topics: [TopicStats], rejections: [Rejection], stages: [Stage]) {
        self.header = header
        self.uptimeS = uptimeS
        self.topics = topics
        self.rejections = rejections
        self.stages = stages
    }

    public init(fields: MessageFields, limits: WireLimits) throws(WireError) {
        header = try fields.header()
        uptimeS = try fields.double("uptime_s")
        topics = []
        for t in try fields.mapArray("topics") {
            topics.append(TopicStats(topic: try t.string("topic"), rateHz: try t.double("rate_hz"), received: try t.int64("received"),
                                     rejected: try t.int64("rejected"), dropped: try t.int64("dropped"), alive: try t.bool("alive")))
        }
        rejections = []
        for r in try fields.mapArray("rejections") {
            rejections.append(Rejection(topic: try r.string("topic"), reason: try r.string("reason"), count: try r.int64("count")))
        }
        stages = []
        for s in try fields.mapArray("stages") {
            stages.append(Stage(stage: try s.string("stage"), queueDepth: try s.int64("queue_depth"), dropped: try s.int64("dropped"),
                                p50Ms: try s.double("p50_ms"), p99Ms: try s.double("p99_ms")))
        }
    }

    public func encode(into writer: inout MessagePackWriter) {
        var map = MapBuilder()
        map.header(header)
        map.entry("uptime_s", uptimeS)
        map.entry("topics") { w in
            w.writeArrayHeader(count: topics.count)
            for t in topics {
                w.writeMapHeader(count: 6)
                w.write("topic"); w.write(t.topic)
                w.write("rate_hz"); w.write(t.rateHz)
                w.write("received"); w.write(t.received)
                w.write("rejected"); w.write(t.rejected)
                w.write("dropped"); w.write(t.dropped)
                w.write("alive"); w.write(t.alive)
            }
        }
        map.entry("rejections") { w in
            w.writeArrayHeader(count: rejections.count)
            for r in rejections {
                w.writeMapHeader(count: 3)
                w.write("topic"); w.write(r.topic)
                w.write("reason"); w.write(r.reason)
                w.write("count"); w.write(r.count)
            }
        }
        map.entry("stages") { w in
            w.writeArrayHeader(count: stages.count)
            for s in stages {
                w.writeMapHeader(count: 5)
                w.write("stage"); w.write(s.stage)
                w.write("queue_depth"); w.write(s.queueDepth)
                w.write("dropped"); w.write(s.dropped)
                w.write("p50_ms"); w.write(s.p50Ms)
                w.write("p99_ms"); w.write(s.p99Ms)
            }
        }
        map.finish(into: &writer)
    }
}
