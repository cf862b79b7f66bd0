import ForesightCore
/// A minimal JSON value used to build the protocol's schemas with a stable key order.
indirect enum JSONNode {
    case string(String)
    case number(Double)
    case bool(Bool)
    case array([JSONNode])
    case object([(String, JSONNode)])

    func render(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent + 1), end = String(repeating: "  ", count: indent)
        switch self {
        case .string(let s):
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .bool(let b): return b ? "true" : "false"
        case .array(let items):
            if items.allSatisfy({ if case .string = $0 { return true } else { return false } }) {
                return "[" + items.map { $0.render() }.joined(separator: ", ") + "]"
            }
            return "[\n" + items.map { pad + $0.render(indent: indent + 1) }.joined(separator: ",\n") + "\n\(end)]"
        case .object(let entries):
            if entries.isEmpty { return "{}" }
            return "{\n" + entries.map { "\(pad)\"\($0.0)\": \($0.1.render(indent: indent + 1))" }.joined(separator: ",\n") + "\n\(end)}"
        }
    }
}

/// Builds the JSON Schema of each message type.
enum WireSchemas {
    private static func type(_ t: String, _ description: String, _ extra: [(String, JSONNode)] = []) -> JSONNode {
        .object([("type", .string(t)), ("description", .string(description))] + extra)
    }
    private static func int(_ d: String, min: Double? = nil, max: Double? = nil) -> JSONNode {
        var extra: [(String, JSONNode)] = []
        if let min { extra.append(("minimum", .number(min))) }
        if let max { extra.append(("maximum", .number(max))) }
        return type("integer", d, extra)
    }
    private static func num(_ d: String, min: Double? = nil, max: Double? = nil) -> JSONNode {
        var extra: [(String, JSONNode)] = []
        if let min { extra.append(("minimum", .number(min))) }
        if let max { extra.append(("maximum", .number(max))) }
        return type("number", d, extra)
    }
    private static func str(_ d: String, enumValues: [String]? = nil) -> JSONNode {
        type("string", d, enumValues.map { [("enum", .array($0.map { .string($0) }))] } ?? [])
    }
    private static func bin(_ d: String) -> JSONNode {
        type("string", d + " (msgpack bin; base64 in a JSON view)", [("contentEncoding", .string("base64"))])
    }
    private static func array(_ d: String, _ items: JSONNode, minItems: Int? = nil, maxItems: Int? = nil) -> JSONNode {
        var extra: [(String, JSONNode)] = [("items", items)]
        if let minItems { extra.append(("minItems", .number(Double(minItems)))) }
        if let maxItems { extra.append(("maxItems", .number(Double(maxItems)))) }
        return type("array", d, extra)
    }
    private static func object(_ d: String, required: [String], _ properties: [(String, JSONNode)]) -> JSONNode {
        type("object", d, [("required", .array(required.map { .string($0) })), ("properties", .object(properties))])
    }

    private static let header: [(String, JSONNode)] = [
        ("stamp", int("Acquisition time in sensor time, nanoseconds since the Unix epoch (int64; any msgpack integer encoding)")),
        ("seq", int("Per-topic sequence number (uint32, wraps)", min: 0, max: 4_294_967_295)),
        ("frame_id", type("string", "The sensor's frame name in the site calibration", [("minLength", .number(1)), ("maxLength", .number(256))])),
    ]
    private static let headerKeys = ["stamp", "seq", "frame_id"]
    private static let predictionCommon: [(String, JSONNode)] = [
        ("model", type("string", "The model that produced the prediction", [("minLength", .number(1))])),
        ("horizon", array("Target stamp (ns) of each future step, increasing", int("Target stamp, ns"), minItems: 1)),
    ]

    private static func message(_ t: MessageType, _ description: String, required: [String], _ properties: [(String, JSONNode)],
                                common: [(String, JSONNode)] = header, commonKeys: [String] = headerKeys) -> JSONNode {
        .object([
            ("$schema", .string("https://json-schema.org/draft/2020-12/schema")),
            ("$id", .string("https://foresight.dev/protocol/v1/\(t.name).json")),
            ("title", .string(t.name)),
            ("description", .string(description + " Default topic: \(t.defaultTopic).")),
            ("type", .string("object")),
            ("required", .array((commonKeys + required).map { .string($0) })),
            ("properties", .object(common + properties)),
        ])
    }

    // swiftlint:disable:next function_body_length
    static func schema(for t: MessageType) -> JSONNode {
        let beams = "Power of each beam over the codebook"
        let powerVector: [(String, JSONNode)] = [
            ("power", bin(beams + ", little-endian float32")),
            ("dtype", str("Element type of power", enumValues: ["f32"])),
            ("shape", array("[beams]", int("Beam count", min: 1), minItems: 1, maxItems: 1)),
        ]
        switch t {
        case .image:
            return message(t, "A camera image, JPEG or tightly packed raw pixels.", required: ["width", "height", "encoding", "data"], [
                ("width", int("Width in pixels; must match the JPEG header", min: 1, max: 8192)),
                ("height", int("Height in pixels; must match the JPEG header", min: 1, max: 8192)),
                ("encoding", str("Pixel encoding (lowercase, exact)", enumValues: ImageEncoding.allCases.map(\.rawValue))),
                ("data", bin("JPEG file, or width*height*channels bytes with no row padding")),
            ])
        case .radarCube:
            return message(t, "Raw FMCW radar IF samples, row-major [rx, samples, chirps], I/Q interleaved.",
                           required: ["shape", "dtype", "data"], [
                ("shape", array("[rx, samples, chirps]", int("Dimension", min: 1), minItems: 3, maxItems: 3)),
                ("dtype", str("cf32: float32 I,Q pairs; ci16: int16 I,Q pairs", enumValues: RadarSampleType.allCases.map(\.rawValue))),
                ("data", bin("rx*samples*chirps complex samples, little-endian; no NaN or infinity")),
            ])
        case .pointCloud:
            return message(t, "A LiDAR point cloud of float32 fields, point-major.", required: ["fields", "dtype", "count", "data"], [
                ("fields", array("Field names per point; x, y, z required, any order, extras carried", type("string", "Field name"), minItems: 3)),
                ("dtype", str("Element type", enumValues: ["f32"])),
                ("count", int("Number of points", min: 0, max: 2_000_000)),
                ("data", bin("count*len(fields) little-endian float32; points with non-finite x/y/z are dropped and counted")),
            ])
        case .gnssFix:
            return message(t, "A GNSS fix of the UE.", required: ["lat", "lon", "alt", "hdop", "fix"], [
                ("lat", num("Latitude, degrees in [-90, 90]; NaN only with fix none")),
                ("lon", num("Longitude, degrees in [-180, 180]; NaN only with fix none")),
                ("alt", num("Altitude, metres; NaN when unknown")),
                ("hdop", num("Horizontal dilution of precision, >= 0")),
                ("fix", str("Fix quality", enumValues: GnssFixType.allCases.map(\.rawValue))),
            ])
        case .beamPower:
            return message(t, "The per-beam received power of the mmWave array.", required: ["power", "dtype", "shape", "unit"],
                           powerVector + [("unit", str("mw: linear milliwatts (>= 0); dbm", enumValues: PowerUnit.allCases.map(\.rawValue)))])
        case .truthUE:
            return message(t, "The UE's true state in the site frame.", required: ["east", "north", "velocity_east", "velocity_north", "heading"], [
                ("east", num("Metres east of the site origin")),
                ("north", num("Metres north of the site origin")),
                ("velocity_east", num("m/s")),
                ("velocity_north", num("m/s")),
                ("heading", num("Direction of travel, radians counter-clockwise from east")),
            ])
        case .truthBeam:
            return message(t, "The true best beam and the noiseless power of every beam.", required: ["best", "power", "dtype", "shape", "unit"],
                           [("best", int("Index of the best beam (argmax of power)", min: 0))] + powerVector
                           + [("unit", str("Always mw", enumValues: ["mw"]))])
        case .truthBlockage:
            return message(t, "Whether the line of sight is blocked, and (optional) which propagation paths are blocked.", required: ["blocked"], [
                ("blocked", type("boolean", "True when a vehicle body (or a building) intersects the line of sight")),
                ("paths", array("Optional: names of the paths reaching the array (los, ground, facade:N, vehicle:ID, a+b for two reflections, UE side first)",
                                str("Path name"))),
                ("paths_blocked", array("Optional, with paths: whether a vehicle body (for los also a building) crosses each path",
                                        type("boolean", "Blocked"))),
            ])
        case .truthChannel:
            return message(t, "Every propagation path from the UE antenna to the array (simulator, optional) and the vehicle bodies of the scene.",
                           required: ["paths", "delay_s", "azimuth_deg", "elevation_deg", "gain_re", "gain_im", "blocked", "ue_antenna",
                                      "vehicle_ids", "vehicle_is_ue", "vehicle_boxes"], [
                ("paths", array("Path names (see foresight.TruthBlockage)", str("Path name"))),
                ("delay_s", array("Propagation delay per path, s", num("s", min: 0))),
                ("azimuth_deg", array("Arrival azimuth per path in the array body frame, degrees, positive left of boresight", num("deg"))),
                ("elevation_deg", array("Arrival elevation per path in the array body frame, degrees", num("deg"))),
                ("gain_re", array("Complex amplitude per path at the array reference point (incl. element pattern), real part", num("amplitude"))),
                ("gain_im", array("Complex amplitude per path, imaginary part", num("amplitude"))),
                ("blocked", array("Whether a vehicle body (for los also a building) crosses the path", type("boolean", "Blocked"))),
                ("ue_antenna", array("UE antenna position [east, north, up], site frame, m", num("m"), minItems: 3, maxItems: 3)),
                ("vehicle_ids", array("Vehicle ids (the UE included)", int("Vehicle id", min: 0))),
                ("vehicle_is_ue", array("Whether each vehicle is the UE", type("boolean", "Is the UE"))),
                ("vehicle_boxes", array("Six numbers per vehicle: east, north (m), heading (rad, counter-clockwise from east), length, width, height (m)",
                                        num("value"))),
            ])
        case .beamPrediction:
            return message(t, "Future best beams: per step the best beam, the top-k beams and their probabilities.",
                           required: ["model", "horizon", "best", "topk", "prob"], [
                ("best", array("Best beam index per step", int("Beam index", min: 0))),
                ("topk", array("Top-k beam indices per step, most likely first", array("Beams", int("Beam index", min: 0)))),
                ("prob", array("Probability of each top-k beam per step", array("Probabilities", num("Probability", min: 0, max: 1)))),
            ], common: header + predictionCommon, commonKeys: headerKeys)
        case .positionPrediction:
            return message(t, "Future UE positions per step, in the site frame and as latitude/longitude.",
                           required: ["model", "horizon", "east", "north", "lat", "lon"], [
                ("east", array("Metres east of the site origin per step", num("m"))),
                ("north", array("Metres north of the site origin per step", num("m"))),
                ("lat", array("Latitude per step", num("deg", min: -90, max: 90))),
                ("lon", array("Longitude per step", num("deg", min: -180, max: 180))),
            ], common: header + predictionCommon, commonKeys: headerKeys)
        case .powerPrediction:
            return message(t, "Future received power per step, of the predicted beam.", required: ["model", "horizon", "beam", "power_dbm"], [
                ("beam", array("The beam the power refers to, per step", int("Beam index", min: 0))),
                ("power_dbm", array("Received power, dBm, per step", num("dBm"))),
            ], common: header + predictionCommon, commonKeys: headerKeys)
        case .blockagePrediction:
            return message(t, "Future line-of-sight blockage probability per step.", required: ["model", "horizon", "prob"], [
                ("prob", array("Probability the line of sight is blocked, per step", num("Probability", min: 0, max: 1))),
            ], common: header + predictionCommon, commonKeys: headerKeys)
        case .fusionFrame:
            return message(t, "One frame assembled by the synchronizer.", required: ["members", "missing", "latency_ns"], [
                ("members", array("The messages in the frame", object("A member", required: ["modality", "topic", "stamp", "seq"], [
                    ("modality", str("camera, radar, lidar, gnss or beam_power")),
                    ("topic", str("Topic it arrived on")),
                    ("stamp", int("Its stamp, ns")),
                    ("seq", int("Its seq", min: 0, max: 4_294_967_295)),
                ]))),
                ("missing", array("Modalities absent from the frame", type("string", "Modality"))),
                ("latency_ns", int("Processing latency of the frame, ns")),
            ])
        case .diagnostics:
            return message(t, "The daemon's health, published at 1 Hz; counters are cumulative.",
                           required: ["uptime_s", "topics", "rejections", "stages"], [
                ("uptime_s", num("Seconds since start", min: 0)),
                ("topics", array("Per input topic", object("Topic statistics", required: ["topic", "rate_hz", "received", "rejected", "dropped", "alive"], [
                    ("topic", str("Topic")), ("rate_hz", num("Messages per second")), ("received", int("Received", min: 0)),
                    ("rejected", int("Rejected", min: 0)), ("dropped", int("Dropped by bounded queues", min: 0)),
                    ("alive", type("boolean", "Heard from within the silence threshold")),
                ]))),
                ("rejections", array("Counters per topic and documented reason", object("Counter", required: ["topic", "reason", "count"], [
                    ("topic", str("Topic")), ("reason", str("Documented reason or stream event name")), ("count", int("Count", min: 0)),
                ]))),
                ("stages", array("Per pipeline stage", object("Stage", required: ["stage", "queue_depth", "dropped", "p50_ms", "p99_ms"], [
                    ("stage", str("Stage name")), ("queue_depth", int("Queued items", min: 0)), ("dropped", int("Dropped", min: 0)),
                    ("p50_ms", num("Median latency, ms")), ("p99_ms", num("99th percentile latency, ms")),
                ]))),
            ])
        }
    }
}
